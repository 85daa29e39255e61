//! Audio input: decode a file, average its channels, resample it.

pub mod decode;
pub mod resample;

use std::path::Path;

use crate::error::Result;

/// Mono float32 audio at `sample_rate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Audio {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub original_sample_rate: u32,
    pub channels: u16,
}

/// `librosa.load(path, sr=target_sr)`: decode, average channels, resample
/// when `target_sr` is given and differs from the file's rate.
pub fn load(path: &Path, target_sr: Option<u32>) -> Result<Audio> {
    let decoded = decode::decode_file(path)?;
    let sample_rate = target_sr.unwrap_or(decoded.sample_rate);
    let samples = resample::resample(&decoded.samples, decoded.sample_rate, sample_rate)?;
    Ok(Audio {
        samples,
        sample_rate,
        original_sample_rate: decoded.sample_rate,
        channels: decoded.channels,
    })
}
