//! mfcc_rs: the feature frontend of glam.
//!
//! Decodes audio, resamples it, computes MFCCs that match
//! `librosa.feature.mfcc`, cuts utterances into overlapping windows and does
//! it for many files in parallel. The crate is plain Rust; the optional
//! `python` feature adds the thin PyO3 adapter in [`python`].

pub mod audio;
pub mod augment;
pub mod batch;
pub mod config;
pub mod dsp;
pub mod error;
pub mod featurize;
pub mod window;

#[cfg(feature = "python")]
mod python;

pub use config::{FeatureConfig, MelNorm, MelScale, Output, PadMode, ShortPolicy};
pub use error::{Error, Result};
