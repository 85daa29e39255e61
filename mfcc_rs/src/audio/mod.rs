//! Audio input as `librosa.load(path, sr=target)` does it: decode to
//! float32, average the channels, resample with soxr's HQ response.

pub mod decode;
pub mod resample;

use std::path::Path;

use crate::error::{Error, Result};

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
    to_rate(decode::decode_file(path)?, target_sr, path)
}

/// [`load`] for a file already in memory: `hint_ext` is its extension (a
/// format hint) and `label` names it in errors.
pub fn load_bytes(
    bytes: Vec<u8>,
    hint_ext: Option<&str>,
    label: &Path,
    target_sr: Option<u32>,
) -> Result<Audio> {
    to_rate(
        decode::decode_bytes(bytes, hint_ext, label)?,
        target_sr,
        label,
    )
}

fn to_rate(decoded: decode::Decoded, target_sr: Option<u32>, label: &Path) -> Result<Audio> {
    if target_sr == Some(0) {
        return Err(Error::Config(
            "the target sample rate must be positive".into(),
        ));
    }
    let sample_rate = target_sr.unwrap_or(decoded.sample_rate);
    // With a valid target, a rate that cannot be converted is the file's.
    let samples = resample::resample(&decoded.samples, decoded.sample_rate, sample_rate).map_err(
        |e| match e {
            Error::Config(reason) => Error::decode(label, reason),
            other => other,
        },
    )?;
    Ok(Audio {
        samples,
        sample_rate,
        original_sample_rate: decoded.sample_rate,
        channels: decoded.channels,
    })
}
