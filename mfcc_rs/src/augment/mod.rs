//! Channel augmentation: the audio of a training copy as if it had been
//! recorded in another room, through another microphone or line, at another
//! level, with noise, or re-encoded, so that a model learns what does not
//! change with the recording. Applied to the mono signal at the configured
//! rate (after resampling and speed), before it is cut into windows; the
//! signal keeps its length, so an augmented copy has the windows of the
//! original.
//!
//! The effects, in the order the chain applies them whatever order they are
//! named in (`FeatureConfig::augment`), each with the probability that a
//! copy gets it and its parameters' ranges (uniform unless said otherwise):
//!
//! | effect      | p    | what, and its parameters |
//! |-------------|------|--------------------------|
//! | `noise`     | 0.5  | white, pink, brown or mains hum (50/60 Hz), one in four each ([`noise`]), at an SNR of 5 to 30 dB against the clean utterance (powers over the whole utterance); the room and channel then colour it with the speech |
//! | `reverb`    | 0.4  | a generated room response ([`reverb`]): RT60 0.2 to 1.0 s, direct-to-reverberant ratio -3 to 10 dB, the response cut 40 dB down |
//! | `eq`        | 0.4  | a microphone or channel response: low shelf at 80 to 400 Hz, bell at 300 Hz to 5 kHz with Q 0.5 to 2, high shelf at 2 to 6 kHz (frequencies and Q log-uniform, at most 0.4 of the rate), each -10 to 10 dB |
//! | `telephone` | 0.2  | a telephone line's 300 to 3400 Hz band (4th-order Butterworth on both sides, [`filters::telephone`]) |
//! | `gain`      | 0.5  | the recording level: -12 to +6 dB (louder would clip most corpora in `codec`) |
//! | `codec`     | 0.2  | G.711 mu-law re-encoding, 8 bits a sample, clipping beyond full scale ([`codec`]) |
//!
//! `reverb`, `eq` and `telephone` change the spectrum, not the level: the
//! utterance through a copy's room, microphone and line is brought back to
//! its mean square, and the level is `gain`'s. With a room, the filters are
//! folded into its response (they ring out within [`RING_S`]) and the
//! three are one convolution.
//!
//! A copy whose draws leave every effect out gets one of the set, drawn
//! uniformly, so that no copy repeats the unperturbed windows. With every
//! effect in the set a copy gets 2.2 of them on average. The
//! probabilities keep the cost within twice that of featurising without
//! augmentation (docs/benchmarks.md): a room costs about as much as the
//! features themselves, the others a fifth to a half of it.
//!
//! Each file and copy draws its own chain from a seed that hashes the
//! file's path (as given), the copy number (`FeatureConfig::augment_copy`)
//! and the effect set: featurising again gives the same windows bit for
//! bit, whatever the thread count or file order, and copies differ.
//!
//! MP3 or Vorbis re-encoding is left out: the encoders for them on
//! crates.io are bindings to C libraries (LAME, libvorbis) or young
//! single-author pure-Rust ports (`rusty_mp3`, `shine-rs`), and a
//! perceptual encoder and decoder per copy would likely take the whole
//! cost budget on their own (an estimate: none was measured).

pub mod codec;
pub mod filters;
pub mod noise;
pub mod reverb;
pub mod rng;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use self::filters::Biquad;
use self::noise::NoiseKind;
use self::rng::{seed_of, Rng};

/// One effect, listed in the order the chain applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Noise,
    Reverb,
    Eq,
    Telephone,
    Gain,
    Codec,
}

impl Effect {
    /// Every effect, in the chain's order.
    pub const ALL: [Effect; 6] = [
        Effect::Noise,
        Effect::Reverb,
        Effect::Eq,
        Effect::Telephone,
        Effect::Gain,
        Effect::Codec,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Effect::Reverb => "reverb",
            Effect::Noise => "noise",
            Effect::Eq => "eq",
            Effect::Telephone => "telephone",
            Effect::Gain => "gain",
            Effect::Codec => "codec",
        }
    }

    /// The probability that a copy gets this effect (see the module's table).
    pub fn probability(self) -> f64 {
        match self {
            Effect::Noise | Effect::Gain => 0.5,
            Effect::Reverb | Effect::Eq => 0.4,
            Effect::Telephone | Effect::Codec => 0.2,
        }
    }

    fn bit(self) -> u8 {
        1 << Effect::ALL.iter().position(|&e| e == self).expect("listed")
    }
}

/// The reverberation times drawn, in seconds.
pub const RT60_S: (f64, f64) = (0.2, 1.0);
/// The direct-to-reverberant ratios drawn, in dB.
pub const DRR_DB: (f64, f64) = (-3.0, 10.0);
/// The signal-to-noise ratios drawn, in dB.
pub const SNR_DB: (f64, f64) = (5.0, 30.0);
/// The gains of each EQ band, in dB.
pub const EQ_DB: (f64, f64) = (-10.0, 10.0);
/// The recording level changes drawn, in dB.
pub const GAIN_DB: (f64, f64) = (-12.0, 6.0);
/// EQ frequencies stay below this fraction of the sample rate, where the
/// bilinear transform still places them where asked.
const EQ_MAX_FRACTION: f64 = 0.4;
/// How long the EQ and telephone filters' responses are kept, in seconds:
/// the slowest (the low shelf at 80 Hz) has fallen 100 dB after 35 ms.
pub const RING_S: f64 = 0.1;

/// A set of effects: written as their names, comma-separated, in the
/// chain's order; empty for none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Effects(u8);

impl Effects {
    /// The effects `text` names, comma-separated in any order (spaces
    /// around a name are ignored); the empty text, or `none` (as a command
    /// line writes an empty list), names none.
    ///
    /// # Errors
    /// An unknown, empty or repeated name, in words for the user.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut set = Effects::default();
        if text.trim().is_empty() || text.trim().eq_ignore_ascii_case("none") {
            return Ok(set);
        }
        for name in text.split(',').map(str::trim) {
            let Some(&effect) = Effect::ALL.iter().find(|e| e.name() == name) else {
                return Err(if name.is_empty() {
                    format!("an empty effect name in {text:?}")
                } else {
                    format!("unknown effect {name:?} (known: {})", names())
                });
            };
            if set.contains(effect) {
                return Err(format!("{name:?} is named twice"));
            }
            set.0 |= effect.bit();
        }
        Ok(set)
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, effect: Effect) -> bool {
        self.0 & effect.bit() != 0
    }

    /// The effects of the set in the chain's order.
    pub fn iter(self) -> impl Iterator<Item = Effect> {
        Effect::ALL.into_iter().filter(move |&e| self.contains(e))
    }
}

/// Every effect's name, in the chain's order, comma-separated.
pub fn names() -> String {
    Effect::ALL.map(Effect::name).join(", ")
}

impl fmt::Display for Effects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Effect::name).collect();
        f.write_str(&names.join(","))
    }
}

impl Serialize for Effects {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Effects {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Effects::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// One effect with the parameters a copy drew.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Noise {
        kind: NoiseKind,
        snr_db: f64,
        /// Seeds the noise's samples.
        seed: u64,
    },
    Reverb {
        rt60_s: f64,
        drr_db: f64,
        /// Seeds the response's noise and reflections.
        seed: u64,
    },
    /// Low shelf, bell and high shelf.
    Eq {
        sections: [Biquad; 3],
    },
    Telephone,
    Gain {
        db: f64,
    },
    Codec,
}

/// The effects one copy of one file gets, with their parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Chain {
    pub steps: Vec<Step>,
}

impl Chain {
    /// The chain of copy `copy` of the file named `key` (its path's bytes)
    /// for `effects` at `sample_rate`: the same arguments always give the
    /// same chain.
    pub fn draw(effects: Effects, key: &[u8], copy: u32, sample_rate: u32) -> Chain {
        let mut rng = Rng::new(seed_of(&[
            b"glam channel augmentation",
            key,
            &copy.to_le_bytes(),
            &[effects.0],
        ]));
        let mut chosen: Vec<Effect> = effects
            .iter()
            .filter(|e| rng.chance(e.probability()))
            .collect();
        if chosen.is_empty() && !effects.is_empty() {
            let all: Vec<Effect> = effects.iter().collect();
            chosen.push(all[rng.below(all.len())]);
        }
        let steps = chosen
            .into_iter()
            .map(|effect| Self::draw_step(effect, sample_rate, &mut rng))
            .collect();
        Chain { steps }
    }

    fn draw_step(effect: Effect, sample_rate: u32, rng: &mut Rng) -> Step {
        let highest = EQ_MAX_FRACTION * f64::from(sample_rate);
        match effect {
            Effect::Noise => Step::Noise {
                kind: NoiseKind::ALL[rng.below(NoiseKind::ALL.len())],
                snr_db: rng.range(SNR_DB.0, SNR_DB.1),
                seed: rng.next_u64(),
            },
            Effect::Reverb => Step::Reverb {
                rt60_s: rng.range(RT60_S.0, RT60_S.1),
                drr_db: rng.range(DRR_DB.0, DRR_DB.1),
                seed: rng.next_u64(),
            },
            Effect::Eq => {
                let low = Biquad::low_shelf(
                    rng.log_range(80.0, 400.0).min(highest),
                    rng.range(EQ_DB.0, EQ_DB.1),
                    sample_rate,
                );
                let bell = Biquad::peaking(
                    rng.log_range(300.0, 5000.0).min(highest),
                    rng.log_range(0.5, 2.0),
                    rng.range(EQ_DB.0, EQ_DB.1),
                    sample_rate,
                );
                let high = Biquad::high_shelf(
                    rng.log_range(2000.0, 6000.0).min(highest),
                    rng.range(EQ_DB.0, EQ_DB.1),
                    sample_rate,
                );
                Step::Eq {
                    sections: [low, bell, high],
                }
            }
            Effect::Telephone => Step::Telephone,
            Effect::Gain => Step::Gain {
                db: rng.range(GAIN_DB.0, GAIN_DB.1),
            },
            Effect::Codec => Step::Codec,
        }
    }

    /// The chain of copy `copy` of the file at `path`, or `None` without
    /// effects.
    pub fn for_file(effects: Effects, copy: u32, path: &Path, sample_rate: u32) -> Option<Chain> {
        (!effects.is_empty()).then(|| {
            Self::draw(
                effects,
                path.as_os_str().as_encoded_bytes(),
                copy,
                sample_rate,
            )
        })
    }

    /// Applies the chain to `x`, a whole utterance at `sample_rate`, in
    /// place. Finite samples stay finite.
    pub fn apply(&self, x: &mut [f32], sample_rate: u32) {
        let mut room = None;
        let mut sections = Vec::new();
        for step in &self.steps {
            match step {
                Step::Noise { kind, snr_db, seed } => {
                    let n = noise::noise(*kind, x.len(), sample_rate, &mut Rng::new(*seed));
                    noise::add_at_snr(x, &n, *snr_db);
                }
                Step::Reverb {
                    rt60_s,
                    drr_db,
                    seed,
                } => {
                    let mut rng = Rng::new(*seed);
                    room = Some(reverb::impulse_response(
                        sample_rate,
                        *rt60_s,
                        *drr_db,
                        &mut rng,
                    ));
                }
                Step::Eq { sections: eq } => sections.extend_from_slice(eq),
                Step::Telephone => sections.extend(filters::telephone(sample_rate)),
                Step::Gain { db } => {
                    colour(x, room.take(), &std::mem::take(&mut sections), sample_rate);
                    gain(x, *db);
                }
                Step::Codec => {
                    colour(x, room.take(), &std::mem::take(&mut sections), sample_rate);
                    codec::mu_law(x);
                }
            }
        }
        colour(x, room, &sections, sample_rate);
    }
}

/// `x` through the room response `room` (if any) and the filter
/// `sections`, then brought back to its mean square before (a silent `x`
/// stays silent). With a room the filters are folded into its response,
/// and the two are one convolution.
pub fn colour(x: &mut [f32], room: Option<Vec<f32>>, sections: &[Biquad], sample_rate: u32) {
    let before = noise::power(x);
    match room {
        None if sections.is_empty() => return,
        None => filters::cascade(sections, x),
        Some(mut response) => {
            if !sections.is_empty() {
                let ring = (RING_S * f64::from(sample_rate)) as usize;
                response.resize(response.len() + ring, 0.0);
                filters::cascade(sections, &mut response);
                // Cut where the ringing stays 120 dB below the peak: it
                // costs convolution for nothing, and its last samples are
                // subnormal floats, whose every product takes a hundred
                // times as long.
                let peak = response.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let keep = response
                    .iter()
                    .rposition(|v| v.abs() > peak * 1e-6)
                    .map_or(1, |last| last + 1);
                response.truncate(keep);
            }
            reverb::convolve_in_place(x, &response);
        }
    }
    let after = noise::power(x);
    if after > 0.0 {
        let scale = (before / after).sqrt() as f32;
        for v in x {
            *v *= scale;
        }
    }
}

/// `x` `db` louder.
pub fn gain(x: &mut [f32], db: f64) {
    let factor = 10f64.powf(db / 20.0) as f32;
    for v in x {
        *v *= factor;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speech_like(n: usize) -> Vec<f32> {
        // A 150 Hz buzz with harmonics, its level rising and falling.
        (0..n)
            .map(|k| {
                let t = k as f64 / 16000.0;
                let buzz: f64 = (1..20)
                    .map(|h| (std::f64::consts::TAU * 150.0 * h as f64 * t).sin() / h as f64)
                    .sum();
                (0.2 * buzz * (std::f64::consts::TAU * 3.0 * t).sin().abs()) as f32
            })
            .collect()
    }

    #[test]
    fn sets_parse_in_any_order_and_write_in_the_chains() {
        let set = Effects::parse("gain, telephone,eq,noise,reverb,codec").unwrap();
        assert_eq!(set.to_string(), "noise,reverb,eq,telephone,gain,codec");
        assert_eq!(Effects::parse(&set.to_string()).unwrap(), set);
        assert_eq!(
            Effects::parse("codec,noise").unwrap().to_string(),
            "noise,codec"
        );
        assert!(Effects::parse("").unwrap().is_empty());
        assert!(Effects::parse(" None ").unwrap().is_empty());
        assert_eq!(Effects::default().to_string(), "");
        let err = Effects::parse("noise,echo").unwrap_err();
        assert_eq!(
            err,
            "unknown effect \"echo\" (known: noise, reverb, eq, telephone, gain, codec)"
        );
        assert!(Effects::parse("noise,,gain")
            .unwrap_err()
            .contains("empty effect name"));
        assert!(Effects::parse("noise,gain,noise")
            .unwrap_err()
            .contains("named twice"));
        assert_eq!(
            serde_json::to_string(&set).unwrap(),
            "\"noise,reverb,eq,telephone,gain,codec\""
        );
        let back: Effects = serde_json::from_str("\"eq,gain\"").unwrap();
        assert_eq!(back, Effects::parse("gain,eq").unwrap());
        assert!(serde_json::from_str::<Effects>("\"hiss\"").is_err());
    }

    #[test]
    fn gain_is_exact() {
        let mut x = vec![0.5f32, -0.25, 0.0];
        gain(&mut x, 20.0 * 2f64.log10());
        assert_eq!(x, [1.0, -0.5, 0.0]);
        gain(&mut x, -6.0);
        assert!((x[0] - 10f32.powf(-0.3)).abs() < 1e-6);
    }

    #[test]
    fn the_room_and_channel_are_one_response_that_keeps_the_level() {
        let rate = 16000;
        let clean = speech_like(rate as usize * 2);
        let sections = [
            Biquad::low_shelf(80.0, 10.0, rate),
            Biquad::peaking(1000.0, 2.0, -10.0, rate),
        ]
        .into_iter()
        .chain(filters::telephone(rate))
        .collect::<Vec<_>>();
        // The filters run sample by sample, at the utterance's level.
        let mut filtered = clean.clone();
        colour(&mut filtered, None, &sections, rate);
        let mut expected = clean.clone();
        filters::cascade(&sections, &mut expected);
        let scale = (noise::power(&clean) / noise::power(&expected)).sqrt() as f32;
        expected.iter_mut().for_each(|v| *v *= scale);
        assert_eq!(filtered, expected);
        // Folded into a room's response (here the direct path alone) and
        // convolved, they give the same to within 1e-5 of the level.
        let mut folded = clean.clone();
        colour(&mut folded, Some(vec![1.0]), &sections, rate);
        let error: f64 = filtered
            .iter()
            .zip(&folded)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / clean.len() as f64;
        assert!(error / noise::power(&clean) < 1e-10, "{error}");
        // A room smears clicks 0.5 s apart into decaying sound between
        // them, at the clicks' level.
        let mut clicks = vec![0.0f32; rate as usize * 2];
        for k in (0..clicks.len()).step_by(8000) {
            clicks[k] = 1.0;
        }
        let before = noise::power(&clicks);
        let room = reverb::impulse_response(rate, 0.6, 0.0, &mut Rng::new(8));
        colour(&mut clicks, Some(room), &[], rate);
        assert!((noise::power(&clicks) / before - 1.0).abs() < 1e-4);
        let energy = |a: usize, b: usize| {
            clicks[a..b]
                .iter()
                .map(|&v| f64::from(v).powi(2))
                .sum::<f64>()
        };
        let (early, late) = (energy(100, 1000), energy(5000, 6000));
        assert!(
            early > 0.0 && late > 0.0 && early > 10.0 * late,
            "{early} {late}"
        );
        // Nothing to do, and silence, pass unchanged.
        let mut same = clean.clone();
        colour(&mut same, None, &[], rate);
        assert_eq!(same, clean);
        let mut silent = vec![0.0f32; 500];
        colour(&mut silent, None, &sections, rate);
        assert!(silent.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn chains_are_drawn_from_the_file_the_copy_and_the_set() {
        let all = Effects::parse("gain,telephone,eq,noise,reverb,codec").unwrap();
        let chain = Chain::draw(all, b"/a/b.wav", 1, 16000);
        assert_eq!(chain, Chain::draw(all, b"/a/b.wav", 1, 16000));
        assert_ne!(chain, Chain::draw(all, b"/a/b.wav", 2, 16000));
        assert_ne!(chain, Chain::draw(all, b"/a/c.wav", 1, 16000));
        let noise = Effects::parse("noise").unwrap();
        assert_ne!(
            Chain::draw(noise, b"/a/b.wav", 1, 16000),
            Chain::draw(Effects::parse("noise,gain").unwrap(), b"/a/b.wav", 1, 16000)
        );
        assert!(Chain::for_file(Effects::default(), 1, Path::new("x.wav"), 16000).is_none());
        // Over many files: each effect at its probability (more often when
        // the rule that every copy gets one picks it), every copy changed,
        // in the chain's order, each parameter in its range.
        let n = 4000;
        let mut counts = [0usize; 6];
        for i in 0..n {
            let chain = Chain::draw(all, format!("/corpus/{i}.wav").as_bytes(), 1, 16000);
            assert!(!chain.steps.is_empty());
            let positions: Vec<usize> = chain
                .steps
                .iter()
                .map(|s| {
                    let k = match s {
                        Step::Noise { snr_db, .. } => {
                            assert!((SNR_DB.0..SNR_DB.1).contains(snr_db));
                            0
                        }
                        Step::Reverb { rt60_s, drr_db, .. } => {
                            assert!((RT60_S.0..RT60_S.1).contains(rt60_s));
                            assert!((DRR_DB.0..DRR_DB.1).contains(drr_db));
                            1
                        }
                        Step::Eq { .. } => 2,
                        Step::Telephone => 3,
                        Step::Gain { db } => {
                            assert!((GAIN_DB.0..GAIN_DB.1).contains(db));
                            4
                        }
                        Step::Codec => 5,
                    };
                    counts[k] += 1;
                    k
                })
                .collect();
            assert!(positions.windows(2).all(|p| p[0] < p[1]), "{positions:?}");
        }
        for (effect, count) in Effect::ALL.iter().zip(counts) {
            let rate = count as f64 / n as f64;
            let p = effect.probability();
            // The fallback adds at most P(no effect) / 6, about 0.2%.
            assert!(rate > p - 0.03 && rate < p + 0.03, "{effect:?}: {rate}");
        }
        let one = Effects::parse("codec").unwrap();
        for i in 0..50 {
            let chain = Chain::draw(one, format!("{i}").as_bytes(), 3, 16000);
            assert_eq!(chain.steps, [Step::Codec]);
        }
    }

    #[test]
    fn every_chain_keeps_the_length_and_gives_finite_samples() {
        let all = Effects::parse("gain,telephone,eq,noise,reverb,codec").unwrap();
        let clean = speech_like(16000 * 2);
        for rate in [8000, 16000, 44100] {
            for i in 0..40 {
                let chain = Chain::draw(all, format!("{i}.wav").as_bytes(), 1, rate);
                let mut x = clean.clone();
                chain.apply(&mut x, rate);
                assert_eq!(x.len(), clean.len());
                assert!(x.iter().all(|v| v.is_finite()), "{chain:?}");
                assert_ne!(x, clean);
                let mut again = clean.clone();
                chain.apply(&mut again, rate);
                assert_eq!(x, again);
            }
        }
        // Silence and an empty signal pass.
        let chain = Chain::draw(all, b"x", 1, 16000);
        let mut silent = vec![0.0f32; 1000];
        chain.apply(&mut silent, 16000);
        assert!(silent.iter().all(|v| v.is_finite()));
        chain.apply(&mut [], 16000);
    }
}
