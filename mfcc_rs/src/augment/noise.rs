//! Synthetic noises, mixed in at a signal-to-noise ratio: nothing to
//! download, and every kind is a stand-in for a common recording noise.

use super::rng::Rng;

/// What the noise sounds like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseKind {
    /// Flat spectrum: electronic hiss (uniform samples: the spectrum, not
    /// the distribution, is what a feature sees).
    White,
    /// -3 dB per octave: fans, air conditioning, distant traffic.
    Pink,
    /// -6 dB per octave: rumble, wind.
    Brown,
    /// Mains hum: 50 or 60 Hz and its harmonics up to 1 kHz, each at
    /// 1/k of the fundamental's amplitude, in random phases.
    Hum,
}

impl NoiseKind {
    pub const ALL: [NoiseKind; 4] = [
        NoiseKind::White,
        NoiseKind::Pink,
        NoiseKind::Brown,
        NoiseKind::Hum,
    ];
}

/// `n` samples of `kind` noise, at no particular level.
pub fn noise(kind: NoiseKind, n: usize, sample_rate: u32, rng: &mut Rng) -> Vec<f32> {
    let mut out = vec![0.0f32; n];
    match kind {
        NoiseKind::White => rng.fill_uniform(&mut out),
        NoiseKind::Pink => {
            rng.fill_uniform(&mut out);
            pink(&mut out);
        }
        NoiseKind::Brown => {
            rng.fill_uniform(&mut out);
            // A leaky integrator: -6 dB per octave above its corner
            // (0.002 * rate / 2 pi, 5 Hz at 16 kHz), flat below it, so
            // the noise does not drift.
            let mut level = 0.0f32;
            for v in &mut out {
                level = 0.998 * level + *v;
                *v = level;
            }
        }
        NoiseKind::Hum => {
            let mains = if rng.chance(0.5) { 50.0 } else { 60.0 };
            let nyquist = f64::from(sample_rate) / 2.0;
            let harmonics: Vec<(f64, f64)> = (1..)
                .map(|k| f64::from(k) * mains)
                .take_while(|&hz| hz <= 1000.0 && hz < nyquist)
                .map(|hz| (hz, rng.range(0.0, std::f64::consts::TAU)))
                .collect();
            // The hum repeats every rate / gcd(rate, mains) samples (320 at
            // 16 kHz and 50 Hz): one period is computed and repeated.
            let period = (sample_rate / gcd(sample_rate, mains as u32)) as usize;
            let mut cycle = vec![0.0f64; period.min(n)];
            for &(hz, phase) in &harmonics {
                // A phasor turned sample by sample: a sine each costs more.
                let (mut re, mut im) = (phase.cos(), phase.sin());
                let (sin, cos) = (std::f64::consts::TAU * hz / f64::from(sample_rate)).sin_cos();
                for v in &mut cycle {
                    *v += im * mains / hz;
                    (re, im) = (re * cos - im * sin, re * sin + im * cos);
                }
            }
            for (v, c) in out.iter_mut().zip(cycle.iter().cycle()) {
                *v = *c as f32;
            }
        }
    }
    out
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// White to pink in place: Paul Kellet's economy filter, three poles
/// within 0.5 dB of -3 dB per octave over all but the lowest 0.05% of the
/// band (designed at 44.1 kHz, where that is 10 Hz).
fn pink(x: &mut [f32]) {
    let mut b = [0.0f32; 3];
    for v in x {
        let white = *v;
        b[0] = 0.99765 * b[0] + white * 0.099_046;
        b[1] = 0.96300 * b[1] + white * 0.296_516_4;
        b[2] = 0.57000 * b[2] + white * 1.052_691_3;
        *v = b[0] + b[1] + b[2] + white * 0.1848;
    }
}

/// Mean square of `x`.
pub fn power(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    // Eight running sums: one would wait on each addition in turn.
    let mut sums = [0.0f64; 8];
    let mut chunks = x.chunks_exact(8);
    for chunk in &mut chunks {
        for (sum, &v) in sums.iter_mut().zip(chunk) {
            *sum += f64::from(v) * f64::from(v);
        }
    }
    let rest: f64 = chunks
        .remainder()
        .iter()
        .map(|&v| f64::from(v).powi(2))
        .sum();
    (sums.iter().sum::<f64>() + rest) / x.len() as f64
}

/// Adds `noise` to `signal` scaled so that the ratio of their powers (mean
/// squares over the whole signal) is `snr_db`. A silent signal, or a
/// silent noise, is left as it is.
pub fn add_at_snr(signal: &mut [f32], noise: &[f32], snr_db: f64) {
    let (p_signal, p_noise) = (power(signal), power(noise));
    if p_signal == 0.0 || p_noise == 0.0 {
        return;
    }
    let scale = (p_signal / (p_noise * 10f64.powf(snr_db / 10.0))).sqrt() as f32;
    for (s, n) in signal.iter_mut().zip(noise) {
        *s += scale * n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;

    /// Mean power of `x` in each octave band `[lo, 2 lo)`, from a
    /// Hann-windowed periodogram averaged over 4096-sample blocks.
    fn octave_powers(x: &[f32], rate: u32, bands: &[f64]) -> Vec<f64> {
        let n = 4096;
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n);
        let hann: Vec<f32> = (0..n)
            .map(|k| (0.5 - 0.5 * (std::f64::consts::TAU * k as f64 / n as f64).cos()) as f32)
            .collect();
        let mut psd = vec![0.0f64; n / 2 + 1];
        for block in x.chunks_exact(n) {
            let mut input: Vec<f32> = block.iter().zip(&hann).map(|(v, w)| v * w).collect();
            let mut spectrum = fft.make_output_vec();
            fft.process(&mut input, &mut spectrum).unwrap();
            for (p, c) in psd.iter_mut().zip(&spectrum) {
                *p += f64::from(c.norm_sqr());
            }
        }
        let hz = |bin: usize| bin as f64 * f64::from(rate) / n as f64;
        bands
            .iter()
            .map(|&lo| {
                let inside: Vec<f64> = (0..psd.len())
                    .filter(|&k| hz(k) >= lo && hz(k) < 2.0 * lo)
                    .map(|k| psd[k])
                    .collect();
                inside.iter().sum::<f64>() / inside.len() as f64
            })
            .collect()
    }

    /// The spectral slope in dB per octave, fitted over the octaves from
    /// 125 Hz to 4 kHz.
    fn slope(kind: NoiseKind) -> f64 {
        let rate = 16000;
        let x = noise(kind, rate as usize * 20, rate, &mut Rng::new(3));
        let bands = [125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0];
        let db: Vec<f64> = octave_powers(&x, rate, &bands)
            .iter()
            .map(|p| 10.0 * p.log10())
            .collect();
        let n = db.len() as f64;
        let mean_x = (n - 1.0) / 2.0;
        let mean_y = db.iter().sum::<f64>() / n;
        let cov: f64 = db
            .iter()
            .enumerate()
            .map(|(i, y)| (i as f64 - mean_x) * (y - mean_y))
            .sum();
        let var: f64 = (0..db.len()).map(|i| (i as f64 - mean_x).powi(2)).sum();
        cov / var
    }

    #[test]
    fn each_colour_has_its_slope() {
        assert!(
            slope(NoiseKind::White).abs() < 0.3,
            "{}",
            slope(NoiseKind::White)
        );
        assert!(
            (slope(NoiseKind::Pink) + 3.0).abs() < 0.5,
            "{}",
            slope(NoiseKind::Pink)
        );
        assert!(
            (slope(NoiseKind::Brown) + 6.0).abs() < 0.5,
            "{}",
            slope(NoiseKind::Brown)
        );
    }

    #[test]
    fn hum_is_the_mains_and_its_harmonics() {
        let rate = 16000;
        let x = noise(NoiseKind::Hum, rate as usize * 4, rate, &mut Rng::new(9));
        let bands = [40.0, 1100.0, 2200.0];
        let p = octave_powers(&x, rate, &bands);
        // Energy at the mains frequency, none above 1 kHz.
        assert!(p[0] > 1e6 * p[1].max(p[2]), "{p:?}");
        // 0.1 s later (five cycles of 50 Hz, six of 60) it is where it
        // was: the repeated period joins up.
        let spread = (0..x.len() - 1600)
            .map(|i| (x[i] - x[i + 1600]).abs())
            .fold(0.0f32, f32::max);
        assert!(spread < 1e-4 && power(&x) > 0.1, "{spread}");
        assert!(x.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn noise_is_mixed_in_at_the_snr() {
        let rate = 16000;
        let speech: Vec<f32> = (0..rate as usize * 3)
            .map(|k| ((k as f32 * 0.05).sin() * (k as f32 * 0.0003).sin()) * 0.3)
            .collect();
        for kind in NoiseKind::ALL {
            for snr in [5.0, 17.5, 30.0] {
                let n = noise(kind, speech.len(), rate, &mut Rng::new(4));
                let mut mixed = speech.clone();
                add_at_snr(&mut mixed, &n, snr);
                let added: Vec<f32> = mixed.iter().zip(&speech).map(|(m, s)| m - s).collect();
                let measured = 10.0 * (power(&speech) / power(&added)).log10();
                assert!((measured - snr).abs() < 0.01, "{kind:?} {snr}: {measured}");
            }
        }
        let mut silent = vec![0.0f32; 100];
        add_at_snr(&mut silent, &[1.0; 100], 10.0);
        assert!(silent.iter().all(|&v| v == 0.0));
    }
}
