//! Typed errors of the feature frontend. Every fallible function of the crate
//! returns [`Error`]; the PyO3 adapter maps each variant to one Python
//! exception class, so nothing here ever panics across the boundary.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read (missing, a directory, no permission).
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file was read but is not usable audio: empty, not audio, truncated,
    /// an unsupported encoding, zero samples, or NaN / infinite samples.
    #[error("{}: {reason}", path.display())]
    Decode { path: PathBuf, reason: String },
    /// An in-memory signal that cannot be featurised (NaN, infinite, empty).
    #[error("invalid signal: {0}")]
    Signal(String),
    /// A feature or window setting that cannot work.
    #[error("invalid feature configuration: {0}")]
    Config(String),
}

impl Error {
    pub fn decode(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Decode {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
