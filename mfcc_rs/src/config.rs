//! Every setting of the frontend in one struct, with its defaults, its
//! validation, its derived sizes and the description of each field. The
//! Python `FeatureConfig` is this struct (see the `python` adapter), so the
//! two languages cannot disagree about a default, a rounding or a limit, and
//! a feature store or checkpoint records exactly what produced its arrays.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::augment::Effects;
use crate::error::{Error, Result};

/// How `center=True` pads the signal before framing: zeros in librosa >= 0.10,
/// reflection in the older librosa that the GLAM authors used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PadMode {
    Constant,
    Reflect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MelScale {
    Slaney,
    Htk,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MelNorm {
    Slaney,
    None,
}

/// What happens to an utterance shorter than one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShortPolicy {
    Drop,
    Tile,
    Zero,
    /// The GLAM authors' padding: whole copies of the utterance, as many as
    /// it takes to cover one window, then windows cut at the usual hop, so
    /// a 1.5 s utterance gives two 2 s training windows at a 1 s hop.
    Repeat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Output {
    Mfcc,
    LogMel,
}

/// Field order is the order of [`FIELDS`], of the JSON text and of the
/// Python constructor's keywords.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeatureConfig {
    pub sample_rate: u32,
    pub n_mfcc: usize,
    pub n_mels: usize,
    pub n_fft: usize,
    pub hop_length: usize,
    pub fmin: f64,
    /// `None` means the Nyquist frequency, as in librosa.
    pub fmax: Option<f64>,
    pub mel_scale: MelScale,
    pub mel_norm: MelNorm,
    /// `None` disables librosa's per-window clamp to `max - top_db`.
    pub top_db: Option<f64>,
    pub pad_mode: PadMode,
    pub window_s: f64,
    pub overlap_s: f64,
    pub pad: ShortPolicy,
    pub output: Output,
    /// Speed perturbation (see [`crate::audio::perturbed_rate`]). Left out of
    /// the JSON text at 1, so a configuration without perturbation writes the
    /// text it wrote before the field existed, and the stores and caches
    /// keyed by that text stay valid.
    #[serde(skip_serializing_if = "is_unperturbed")]
    pub speed: f64,
    /// Channel augmentation (see [`crate::augment`]); left out of the JSON
    /// text when empty, as `speed` is at 1.
    #[serde(skip_serializing_if = "Effects::is_empty")]
    pub augment: Effects,
    /// Which augmented copy: each draws its own chains. Left out of the
    /// JSON text at 1.
    #[serde(skip_serializing_if = "is_first_copy")]
    pub augment_copy: u32,
}

/// Speed perturbation's range: Kaldi's recipes use 0.9 and 1.1; beyond
/// half or twice the speed speech is no longer natural.
pub const SPEED_RANGE: std::ops::RangeInclusive<f64> = 0.5..=2.0;

fn is_unperturbed(speed: &f64) -> bool {
    *speed == 1.0
}

fn is_first_copy(copy: &u32) -> bool {
    *copy == 1
}

/// The Python type of a field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Int,
    Float,
    Str,
}

impl FieldKind {
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Int => "int",
            FieldKind::Float => "float",
            FieldKind::Str => "str",
        }
    }
}

/// What a user needs to know to set one field (command-line flags and their
/// help are generated from this).
#[derive(Clone, Copy, Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    /// Whether `None` (JSON `null`) is a valid value.
    pub optional: bool,
    pub choices: Option<&'static [&'static str]>,
    pub help: &'static str,
}

const fn field(name: &'static str, kind: FieldKind, help: &'static str) -> FieldSpec {
    FieldSpec {
        name,
        kind,
        optional: false,
        choices: None,
        help,
    }
}

const fn optional(name: &'static str, help: &'static str) -> FieldSpec {
    FieldSpec {
        optional: true,
        ..field(name, FieldKind::Float, help)
    }
}

const fn choice(
    name: &'static str,
    choices: &'static [&'static str],
    help: &'static str,
) -> FieldSpec {
    FieldSpec {
        choices: Some(choices),
        ..field(name, FieldKind::Str, help)
    }
}

/// Every field of [`FeatureConfig`] in declaration order.
pub const FIELDS: [FieldSpec; 18] = [
    field("sample_rate", FieldKind::Int, "sample rate in Hz that audio is resampled to before featurising"),
    field("n_mfcc", FieldKind::Int, "MFCC coefficients per frame (rows of an MFCC matrix); at most --n-mels"),
    field("n_mels", FieldKind::Int, "mel bands of the filterbank (rows of a log-mel matrix)"),
    field("n_fft", FieldKind::Int, "FFT length in samples; even"),
    field("hop_length", FieldKind::Int, "samples between the starts of consecutive STFT frames"),
    field("fmin", FieldKind::Float, "lowest frequency of the mel filterbank in Hz"),
    optional("fmax", "highest frequency of the mel filterbank in Hz; None: half the sample rate (Nyquist)"),
    choice("mel_scale", &["slaney", "htk"], "mel scale of the filterbank: librosa's default 'slaney' or 'htk'"),
    choice("mel_norm", &["slaney", "none"], "filterbank normalisation: 'slaney' (area-normalised, librosa's default) or 'none'"),
    optional("top_db", "per-window clamp of the dB mel energies to max - top_db, in dB; None: no clamp"),
    choice("pad_mode", &["constant", "reflect"], "centre padding of the STFT: 'constant' (zeros, librosa >= 0.10) or 'reflect' (older librosa)"),
    field("window_s", FieldKind::Float, "length of one feature window in seconds"),
    field("overlap_s", FieldKind::Float, "overlap of consecutive windows in seconds; must be shorter than --window-s"),
    choice("pad", &["drop", "tile", "zero", "repeat"], "utterances shorter than one window: 'drop' them, 'tile' or 'zero'-pad them to one window, or 'repeat' them whole until a window is covered (the GLAM authors' padding)"),
    choice("output", &["mfcc", "log_mel"], "features of a window: 'mfcc' (--n-mfcc rows) or 'log_mel' (--n-mels rows of dB mel energies)"),
    field("speed", FieldKind::Float, "speed perturbation, from 0.5 to 2: audio is resampled as if its sample rate were this times its own, so it lasts 1/speed as long at speed times the pitch (Kaldi's 0.9 and 1.1); 1: unchanged"),
    field("augment", FieldKind::Str, "channel augmentation of the audio, comma-separated effects: noise (white, pink, brown or hum at 5 to 30 dB SNR), reverb (a generated room), eq (a random microphone response), telephone (the 300 to 3400 Hz band), gain (-12 to +6 dB), codec (G.711 mu-law); applied in that order, each with its probability, a chain drawn per file from its path and --augment-copy (docs/features.md); none: no augmentation"),
    field("augment_copy", FieldKind::Int, "which augmented copy of each file, from 1: each copy draws its own chains; 1 without --augment"),
];

impl Default for FeatureConfig {
    /// The GLAM paper's test setting with librosa 0.10+ defaults.
    fn default() -> Self {
        FeatureConfig {
            sample_rate: 16_000,
            n_mfcc: 26,
            n_mels: 128,
            n_fft: 2048,
            hop_length: 512,
            fmin: 0.0,
            fmax: None,
            mel_scale: MelScale::Slaney,
            mel_norm: MelNorm::Slaney,
            top_db: Some(80.0),
            pad_mode: PadMode::Constant,
            window_s: 2.0,
            overlap_s: 1.6,
            pad: ShortPolicy::Drop,
            output: Output::Mfcc,
            speed: 1.0,
            augment: Effects::default(),
            augment_copy: 1,
        }
    }
}

impl FeatureConfig {
    /// A configuration from a JSON object; missing fields take their defaults.
    pub fn from_json(text: &str) -> Result<Self> {
        match serde_json::from_str(text) {
            Ok(Value::Object(values)) => FeatureConfig::default().with_values(values),
            Ok(other) => Err(Error::Config(format!(
                "expected a JSON object of settings, got {other}"
            ))),
            Err(e) => Err(Error::Config(e.to_string())),
        }
    }

    /// Compact JSON with the fields in declaration order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a FeatureConfig always serialises")
    }

    /// Every field's value, in declaration order.
    pub fn values(&self) -> Vec<(&'static str, Value)> {
        let Ok(Value::Object(mut map)) = serde_json::to_value(self) else {
            unreachable!("a FeatureConfig serialises to a JSON object")
        };
        // The JSON text leaves these out at their defaults (see the fields).
        map.insert("speed".into(), Value::from(self.speed));
        map.insert("augment".into(), Value::from(self.augment.to_string()));
        map.insert("augment_copy".into(), Value::from(self.augment_copy));
        FIELDS
            .iter()
            .map(|f| (f.name, map.remove(f.name).unwrap_or(Value::Null)))
            .collect()
    }

    /// This configuration with `changes` applied and validated. Every unknown
    /// name is reported at once; a value of the wrong type names its field.
    pub fn with_values(mut self, changes: Map<String, Value>) -> Result<Self> {
        let unknown: Vec<&str> = changes
            .keys()
            .map(String::as_str)
            .filter(|k| !FIELDS.iter().any(|f| f.name == *k))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::Config(format!(
                "unknown FeatureConfig fields: {} (known: {})",
                unknown.join(", "),
                FIELDS.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
            )));
        }
        for (name, value) in changes {
            self.set(&name, value)?;
        }
        self.validate()?;
        Ok(self)
    }

    fn set(&mut self, name: &str, value: Value) -> Result<()> {
        fn put<T: DeserializeOwned>(slot: &mut T, name: &str, value: Value) -> Result<()> {
            *slot =
                serde_json::from_value(value).map_err(|e| Error::Config(format!("{name}: {e}")))?;
            Ok(())
        }
        match name {
            "sample_rate" => put(&mut self.sample_rate, name, value),
            "n_mfcc" => put(&mut self.n_mfcc, name, value),
            "n_mels" => put(&mut self.n_mels, name, value),
            "n_fft" => put(&mut self.n_fft, name, value),
            "hop_length" => put(&mut self.hop_length, name, value),
            "fmin" => put(&mut self.fmin, name, value),
            "fmax" => put(&mut self.fmax, name, value),
            "mel_scale" => put(&mut self.mel_scale, name, value),
            "mel_norm" => put(&mut self.mel_norm, name, value),
            "top_db" => put(&mut self.top_db, name, value),
            "pad_mode" => put(&mut self.pad_mode, name, value),
            "window_s" => put(&mut self.window_s, name, value),
            "overlap_s" => put(&mut self.overlap_s, name, value),
            "pad" => put(&mut self.pad, name, value),
            "output" => put(&mut self.output, name, value),
            "speed" => put(&mut self.speed, name, value),
            "augment" => put(&mut self.augment, name, value),
            "augment_copy" => put(&mut self.augment_copy, name, value),
            _ => Err(Error::Config(format!(
                "unknown FeatureConfig field: {name}"
            ))),
        }
    }

    pub fn fmax_hz(&self) -> f64 {
        self.fmax.unwrap_or(self.sample_rate as f64 / 2.0)
    }

    /// Window length in samples.
    pub fn window_len(&self) -> usize {
        (self.window_s * self.sample_rate as f64).round() as usize
    }

    /// Distance between consecutive window starts in samples.
    pub fn window_hop(&self) -> usize {
        ((self.window_s - self.overlap_s) * self.sample_rate as f64).round() as usize
    }

    /// Rows of one feature matrix: MFCC coefficients or mel bands.
    pub fn n_features(&self) -> usize {
        match self.output {
            Output::Mfcc => self.n_mfcc,
            Output::LogMel => self.n_mels,
        }
    }

    /// Frames of a centred STFT over `n_samples` samples.
    pub fn n_frames_for(&self, n_samples: usize) -> usize {
        1 + n_samples / self.hop_length
    }

    /// Frames of one window.
    pub fn n_frames(&self) -> usize {
        self.n_frames_for(self.window_len())
    }

    // The negated comparisons are deliberate: they also reject NaN.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn validate(&self) -> Result<()> {
        let fail = |msg: String| Err(Error::Config(msg));
        if self.sample_rate == 0 {
            return fail("sample_rate must be positive".into());
        }
        // The STFT packs pairs of real samples into one complex FFT input.
        if self.n_fft < 2 || self.n_fft % 2 != 0 {
            return fail(format!(
                "n_fft ({}) must be even and at least 2",
                self.n_fft
            ));
        }
        if self.hop_length == 0 {
            return fail("hop_length must be positive".into());
        }
        if self.n_mels == 0 {
            return fail("n_mels must be positive".into());
        }
        if self.output == Output::Mfcc && (self.n_mfcc == 0 || self.n_mfcc > self.n_mels) {
            return fail(format!(
                "n_mfcc ({}) must be between 1 and n_mels ({})",
                self.n_mfcc, self.n_mels
            ));
        }
        let nyquist = self.sample_rate as f64 / 2.0;
        let fmax = self.fmax_hz();
        if !(self.fmin >= 0.0 && self.fmin < fmax && fmax <= nyquist) {
            return fail(format!(
                "need 0 <= fmin ({}) < fmax ({fmax}) <= sample_rate / 2 ({nyquist})",
                self.fmin
            ));
        }
        if let Some(top_db) = self.top_db {
            if !(top_db >= 0.0) {
                return fail(format!("top_db ({top_db}) must be non-negative"));
            }
        }
        if !(self.window_s > 0.0) || self.window_len() == 0 {
            return fail(format!("window_s ({}) must be positive", self.window_s));
        }
        if !(self.overlap_s >= 0.0 && self.overlap_s < self.window_s) || self.window_hop() == 0 {
            return fail(format!(
                "overlap_s ({}) must be at least 0 and shorter than window_s ({})",
                self.overlap_s, self.window_s
            ));
        }
        if !SPEED_RANGE.contains(&self.speed) {
            return fail(format!(
                "speed ({}) must be between {} and {}",
                self.speed,
                SPEED_RANGE.start(),
                SPEED_RANGE.end()
            ));
        }
        if self.augment_copy == 0 {
            return fail("augment_copy must be at least 1".into());
        }
        // One text per set of windows: copies mean nothing unaugmented.
        if self.augment.is_empty() && self.augment_copy != 1 {
            return fail(format!(
                "augment_copy ({}) needs augment: without it every copy is the file itself",
                self.augment_copy
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_papers_test_setting() {
        let c = FeatureConfig::default();
        assert_eq!(c.window_len(), 32_000);
        assert_eq!(c.window_hop(), 6_400);
        assert_eq!(c.n_frames(), 63);
        assert_eq!(c.n_features(), 26);
        c.validate().unwrap();
    }

    #[test]
    fn json_round_trip_and_partial_json() {
        let c = FeatureConfig {
            pad: ShortPolicy::Tile,
            fmax: Some(7600.0),
            ..FeatureConfig::default()
        };
        assert_eq!(FeatureConfig::from_json(&c.to_json()).unwrap(), c);
        let partial = FeatureConfig::from_json(r#"{"window_s": 1.8}"#).unwrap();
        assert_eq!(partial.n_frames(), 57);
    }

    #[test]
    fn bad_settings_are_rejected_with_the_reason() {
        let err = FeatureConfig::from_json(r#"{"n_mfcc": 200}"#).unwrap_err();
        assert!(err.to_string().contains("n_mfcc (200)"), "{err}");
        let err = FeatureConfig::from_json(r#"{"overlap_s": 2.0}"#).unwrap_err();
        assert!(err.to_string().contains("overlap_s"), "{err}");
        let err = FeatureConfig::from_json(r#"{"hop": 3, "n_mfcc": 20, "x": 1}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown FeatureConfig fields: hop, x (known: sample_rate,"),
            "{err}"
        );
        let err = FeatureConfig::from_json(r#"{"window_s": "2"}"#).unwrap_err();
        assert!(err.to_string().contains("window_s: invalid type"), "{err}");
        let err = FeatureConfig::from_json(r#"{"n_fft": 2047}"#).unwrap_err();
        assert!(
            err.to_string().contains("n_fft (2047) must be even"),
            "{err}"
        );
        assert!(FeatureConfig::from_json("[1]").is_err());
    }

    #[test]
    fn the_field_table_describes_every_field_in_order() {
        // Every field in the text: speed and augmentation are left out at
        // their defaults.
        let json = FeatureConfig {
            speed: 0.9,
            augment: Effects::parse("noise").unwrap(),
            augment_copy: 2,
            ..FeatureConfig::default()
        }
        .to_json();
        let mut last = 0;
        for spec in FIELDS {
            let at = json.find(&format!("\"{}\":", spec.name)).unwrap();
            assert!(at >= last, "{} is out of order", spec.name);
            last = at;
        }
        let values = FeatureConfig::default().values();
        assert_eq!(values.len(), FIELDS.len());
        for ((name, default), spec) in values.into_iter().zip(FIELDS) {
            assert_eq!(name, spec.name);
            let sample = match (spec.kind, &default) {
                (_, Value::Null) => Value::from(7000.0),
                _ => default.clone(),
            };
            let matches = match spec.kind {
                FieldKind::Int => sample.is_u64(),
                FieldKind::Float => sample.is_f64(),
                FieldKind::Str => sample.is_string(),
            };
            assert!(matches, "{name}: {sample} is not {:?}", spec.kind);
            assert_eq!(spec.optional, spec.name == "fmax" || spec.name == "top_db");
            if spec.optional {
                let cleared = [(name.to_string(), Value::Null)].into_iter().collect();
                FeatureConfig::default().with_values(cleared).unwrap();
            }
            if let Some(choices) = spec.choices {
                assert!(choices.contains(&default.as_str().unwrap()), "{name}");
                for c in choices {
                    // Other choices may need other settings to validate.
                    let mut config = FeatureConfig::default();
                    config.set(name, Value::from(*c)).unwrap();
                    assert_eq!(config.values().iter().find(|v| v.0 == name).unwrap().1, *c);
                }
                assert!(FeatureConfig::default()
                    .set(name, Value::from("nope"))
                    .is_err());
            }
            assert!(!spec.help.is_empty() && !spec.help.ends_with('.'), "{name}");
        }
    }

    #[test]
    fn speed_is_validated_and_in_the_text_only_when_it_perturbs() {
        // The text of every configuration that predates the field.
        let unperturbed = FeatureConfig::default().to_json();
        assert!(!unperturbed.contains("speed"), "{unperturbed}");
        assert!(
            unperturbed.ends_with(r#""output":"mfcc"}"#),
            "{unperturbed}"
        );
        assert_eq!(FeatureConfig::from_json(&unperturbed).unwrap().speed, 1.0);
        let slow = FeatureConfig::from_json(r#"{"speed": 0.9}"#).unwrap();
        assert!(slow.to_json().ends_with(r#""speed":0.9}"#));
        assert_eq!(FeatureConfig::from_json(&slow.to_json()).unwrap(), slow);
        let values = FeatureConfig::default().values();
        assert!(values.contains(&("speed", Value::from(1.0))));
        assert_eq!(
            FeatureConfig::from_json(r#"{"speed": 2}"#).unwrap().speed,
            2.0
        );
        for bad in ["0.49", "2.01", "0", "-1"] {
            let err = FeatureConfig::from_json(&format!(r#"{{"speed": {bad}}}"#)).unwrap_err();
            assert!(matches!(err, Error::Config(_)), "{err}");
            assert!(
                err.to_string().contains("must be between 0.5 and 2"),
                "{err}"
            );
        }
        let nan = FeatureConfig {
            speed: f64::NAN,
            ..FeatureConfig::default()
        };
        assert!(nan.validate().is_err());
        let err = FeatureConfig::from_json(r#"{"speed": "fast"}"#).unwrap_err();
        assert!(err.to_string().contains("speed: invalid type"), "{err}");
    }

    #[test]
    fn augmentation_is_validated_and_in_the_text_only_when_set() {
        let plain = FeatureConfig::default().to_json();
        assert!(!plain.contains("augment"), "{plain}");
        let values = FeatureConfig::default().values();
        assert_eq!(
            &values[values.len() - 2..],
            [
                ("augment", Value::from("")),
                ("augment_copy", Value::from(1))
            ]
        );
        let copy =
            FeatureConfig::from_json(r#"{"augment": "gain, noise", "augment_copy": 3}"#).unwrap();
        // The set is written in the chain's order, so equal sets key one cache.
        assert_eq!(copy.augment.to_string(), "noise,gain");
        assert!(copy
            .to_json()
            .ends_with(r#""augment":"noise,gain","augment_copy":3}"#));
        assert_eq!(FeatureConfig::from_json(&copy.to_json()).unwrap(), copy);
        let first = FeatureConfig::from_json(r#"{"augment": "codec"}"#).unwrap();
        assert!(first.to_json().ends_with(r#""augment":"codec"}"#));
        for (bad, why) in [
            (
                r#"{"augment": "noise,echo"}"#,
                "augment: unknown effect \"echo\" (known: noise,",
            ),
            (r#"{"augment": "noise,"}"#, "augment: an empty effect name"),
            (r#"{"augment": 3}"#, "augment: invalid type"),
            (
                r#"{"augment": "eq", "augment_copy": 0}"#,
                "augment_copy must be at least 1",
            ),
            (r#"{"augment_copy": -1}"#, "augment_copy: invalid value"),
            (r#"{"augment_copy": 2}"#, "augment_copy (2) needs augment"),
        ] {
            let err = FeatureConfig::from_json(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn window_sizes_round_half_away_from_zero() {
        // 2.5 samples: Python's round() (half to even) would give 2.
        let c = FeatureConfig {
            sample_rate: 2,
            window_s: 1.25,
            overlap_s: 0.0,
            ..FeatureConfig::default()
        };
        assert_eq!((c.window_len(), c.window_hop()), (3, 3));
    }
}
