//! Signal processing of librosa's MFCC, one stage per module.

pub mod db;
pub mod dct;
pub mod dot;
pub mod frames;
pub mod mel;
pub mod mfcc;
pub mod stft;
