//! Every setting of the frontend in one struct. The Python `FeatureConfig`
//! dataclass serialises to the same JSON, so a feature store or checkpoint
//! records exactly what produced its arrays.

use serde::{Deserialize, Serialize};

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
}

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
        }
    }
}

impl FeatureConfig {
    pub fn from_json(text: &str) -> Result<Self> {
        let config: FeatureConfig =
            serde_json::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a FeatureConfig always serialises")
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
        if self.n_fft < 2 || self.hop_length == 0 || self.n_mels == 0 {
            return fail(format!(
                "n_fft ({}) must be at least 2, hop_length ({}) and n_mels ({}) positive",
                self.n_fft, self.hop_length, self.n_mels
            ));
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
        let err = FeatureConfig::from_json(r#"{"hop": 3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
