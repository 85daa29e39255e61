//! Audio input as `librosa.load(path, sr=target)` does it: decode to
//! float32, average the channels, resample with soxr's HQ response.
//! [`AudioReader`] does it piece by piece, in bounded memory, with the same
//! samples as [`load`], and can change the audio's speed on the way
//! ([`perturbed_rate`]) or read only a [`Segment`] of a recording.

pub mod decode;
pub mod resample;

use std::path::{Path, PathBuf};

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
    AudioReader::open(path, target_sr, 1.0)?.collect()
}

/// The rate audio recorded at `rate` Hz is taken to have when it is played
/// `speed` times as fast: resampling from this rate to the wanted one gives
/// audio `1 / speed` as long with every frequency times `speed`, as sox's
/// `speed` effect does for Kaldi's speed perturbation.
///
/// The resampler converts between whole rates (its filter is designed for
/// their reduced ratio), so `rate * speed` is rounded to the nearest Hz:
/// the speed applied differs from the one asked for by at most `0.5 / rate`
/// (6e-5 at 8 kHz, 1e-5 at 44.1 kHz), and a speed of 1 leaves the rate, and
/// so the samples, exactly as they were.
pub fn perturbed_rate(rate: u32, speed: f64) -> u32 {
    // `as` saturates; a rate out of range is refused by the resampler.
    (f64::from(rate) * speed).round() as u32
}

/// A part of a recording: from `start_s` seconds to `end_s`, or to the end
/// of the file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    start_s: f64,
    end_s: Option<f64>,
}

impl Segment {
    /// Refuses (a configuration error) times that are not finite, a
    /// negative start, and an end not after the start.
    pub fn new(start_s: f64, end_s: Option<f64>) -> Result<Self> {
        if !(start_s.is_finite() && start_s >= 0.0) {
            return Err(Error::Config(format!(
                "a segment's start ({start_s}) must be a finite number of seconds >= 0"
            )));
        }
        if let Some(end) = end_s.filter(|e| !(e.is_finite() && *e > start_s)) {
            return Err(Error::Config(format!(
                "a segment's end ({end}) must be a finite number of seconds after its start ({start_s})"
            )));
        }
        Ok(Segment { start_s, end_s })
    }

    pub fn start_s(&self) -> f64 {
        self.start_s
    }

    pub fn end_s(&self) -> Option<f64> {
        self.end_s
    }

    /// The segment's first frame and its end (exclusive) in a file of
    /// `rate` Hz: each time rounded to the nearest frame, halves away from
    /// zero.
    pub fn frames(&self, rate: u32) -> (u64, Option<u64>) {
        // `as` saturates: a time past any file is refused when read.
        let frame = |t: f64| (t * f64::from(rate)).round() as u64;
        (frame(self.start_s), self.end_s.map(frame))
    }
}

/// [`load`] for a file already in memory: `hint_ext` is its extension (a
/// format hint) and `label` names it in errors.
pub fn load_bytes(
    bytes: impl AsRef<[u8]> + Send + Sync + 'static,
    hint_ext: Option<&str>,
    label: &Path,
    target_sr: Option<u32>,
) -> Result<Audio> {
    AudioReader::from_bytes(bytes, hint_ext, label, target_sr, 1.0, None)?.collect()
}

/// A file decoded and resampled a piece at a time; the pieces joined are
/// what [`load`] returns (at speed 1).
pub struct AudioReader {
    stream: decode::AudioStream,
    resampler: resample::Resampler,
    sample_rate: u32,
    decoded: Vec<f32>,
    label: PathBuf,
    ended: bool,
}

impl AudioReader {
    /// Opens `path` (reading its header) to be read at `target_sr` Hz, or
    /// at its own rate when `None`, played `speed` times as fast (1: as
    /// recorded; see [`perturbed_rate`]).
    pub fn open(path: &Path, target_sr: Option<u32>, speed: f64) -> Result<Self> {
        Self::open_segment(path, target_sr, speed, None)
    }

    /// [`AudioReader::open`] that reads only `segment` of the file (all of
    /// it when `None`): the frames of the segment at the file's rate
    /// ([`decode::AudioStream::select`]), then resampled, so the samples
    /// are those of the segment cut from the decoded file and resampled
    /// alone (the resampler's edges fall at the segment's ends, as for a
    /// file holding only the segment).
    pub fn open_segment(
        path: &Path,
        target_sr: Option<u32>,
        speed: f64,
        segment: Option<Segment>,
    ) -> Result<Self> {
        let mut stream = decode::AudioStream::open(path)?;
        if let Some(segment) = segment {
            let (start, end) = segment.frames(stream.sample_rate());
            stream.select(start, end)?;
        }
        Self::new(stream, target_sr, speed, path)
    }

    /// [`AudioReader::open_segment`] for a file already in memory:
    /// `hint_ext` is its extension (a format hint) and `label` names it in
    /// errors.
    pub fn from_bytes(
        bytes: impl AsRef<[u8]> + Send + Sync + 'static,
        hint_ext: Option<&str>,
        label: &Path,
        target_sr: Option<u32>,
        speed: f64,
        segment: Option<Segment>,
    ) -> Result<Self> {
        let mut stream = decode::AudioStream::from_bytes(bytes, hint_ext, label)?;
        if let Some(segment) = segment {
            let (start, end) = segment.frames(stream.sample_rate());
            stream.select(start, end)?;
        }
        Self::new(stream, target_sr, speed, label)
    }

    fn new(
        stream: decode::AudioStream,
        target_sr: Option<u32>,
        speed: f64,
        label: &Path,
    ) -> Result<Self> {
        if target_sr == Some(0) {
            return Err(Error::Config(
                "the target sample rate must be positive".into(),
            ));
        }
        if !(speed.is_finite() && speed > 0.0) {
            return Err(Error::Config(format!("speed ({speed}) must be positive")));
        }
        let sample_rate = target_sr.unwrap_or(stream.sample_rate());
        let from = perturbed_rate(stream.sample_rate(), speed);
        // With a valid target and speed, a rate that cannot be converted is the file's.
        let resampler = resample::Resampler::new(from, sample_rate).map_err(|e| match e {
            Error::Config(reason) => Error::decode(label, reason),
            other => other,
        })?;
        Ok(AudioReader {
            stream,
            resampler,
            sample_rate,
            decoded: Vec::new(),
            label: label.to_path_buf(),
            ended: false,
        })
    }

    /// The rate of the samples [`AudioReader::read`] gives.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The file's own rate.
    pub fn original_sample_rate(&self) -> u32 {
        self.stream.sample_rate()
    }

    /// The file's name in errors.
    pub fn label(&self) -> &Path {
        &self.label
    }

    /// Appends the next samples to `out`; `false` once the file has ended
    /// and everything was given.
    pub fn read(&mut self, out: &mut Vec<f32>) -> Result<bool> {
        if self.ended {
            return Ok(false);
        }
        self.decoded.clear();
        let more = self.stream.read(&mut self.decoded)?;
        let before = out.len();
        self.resampler.push(&self.decoded, out);
        if !more {
            self.resampler.finish(out);
            self.ended = true;
        }
        Ok(more || out.len() > before)
    }

    /// Every remaining sample.
    pub fn collect(mut self) -> Result<Audio> {
        let mut samples = Vec::new();
        while self.read(&mut samples)? {}
        Ok(Audio {
            samples,
            sample_rate: self.sample_rate,
            original_sample_rate: self.stream.sample_rate(),
            channels: self.stream.channels(),
        })
    }
}
