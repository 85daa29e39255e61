//! Audio input as `librosa.load(path, sr=target)` does it: decode to
//! float32, average the channels, resample with soxr's HQ response.

pub mod decode;
pub mod resample;

use std::path::Path;

use crate::error::Result;

/// Mono float32 audio at `sample_rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// The file's own rate, before resampling.
    pub original_sample_rate: u32,
    /// Channels in the file, before averaging.
    pub channels: u16,
}

/// `librosa.load(path, sr=target_sr)`: decode, average channels, resample
/// when `target_sr` is given and differs from the file's rate.
pub fn load(path: &Path, target_sr: Option<u32>) -> Result<Audio> {
    to_rate(decode::decode_file(path)?, target_sr)
}

/// [`load`] for a file already in memory: `hint_ext` is its extension (a
/// format hint) and `label` names it in errors.
pub fn load_bytes(bytes: Vec<u8>, hint_ext: Option<&str>, label: &Path, target_sr: Option<u32>) -> Result<Audio> {
    to_rate(decode::decode_bytes(bytes, hint_ext, label)?, target_sr)
}

fn to_rate(decoded: decode::Decoded, target_sr: Option<u32>) -> Result<Audio> {
    let sample_rate = target_sr.unwrap_or(decoded.sample_rate);
    Ok(Audio {
        samples: resample::resample(&decoded.samples, decoded.sample_rate, sample_rate)?,
        sample_rate,
        original_sample_rate: decoded.sample_rate,
        channels: decoded.channels,
    })
}
