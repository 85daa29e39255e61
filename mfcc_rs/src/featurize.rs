//! Features of every window of one utterance. Windows that overlap share
//! frames: a frame that lies wholly inside its window reads the same samples
//! in every window that contains it, so its dB mel energies are computed once
//! and copied. Only the frames that reach into a window's centre padding, and
//! the per-window clamp and DCT, are computed per window.

use rayon::prelude::*;
use rayon::ThreadPool;

use crate::config::{FeatureConfig, ShortPolicy};
use crate::dsp::frames::frame_first;
use crate::dsp::mfcc::{check_signal, Pipeline, Scratch};
use crate::error::Result;
use crate::window::{count_windows, pad_short, window_starts};

/// Windows whose shared frames are cached together; bounds the cache for
/// hour-long recordings while keeping nearly all of the sharing.
const WINDOWS_PER_BLOCK: usize = 64;

/// What became of one utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct UtteranceWindows {
    pub n_windows: usize,
    /// Why the utterance yielded fewer windows than one might expect
    /// (dropped, tiled or zero-padded because it was short).
    pub note: Option<String>,
}

/// Appends the `[n_features, n_frames]` matrix of each window of `signal` to
/// `out`.
pub fn featurize_utterance(
    pipe: &Pipeline,
    signal: &[f32],
    scratch: &mut Scratch,
    out: &mut Vec<f32>,
) -> Result<UtteranceWindows> {
    check_signal(signal)?;
    let config = pipe.config();
    let n_windows = featurize_windows(pipe, signal, scratch, out);
    if n_windows > 0 {
        return Ok(UtteranceWindows {
            n_windows,
            note: None,
        });
    }
    Ok(featurize_short(pipe, signal, scratch, out, config))
}

/// An utterance with no full window, as `config.pad` says.
fn featurize_short(
    pipe: &Pipeline,
    signal: &[f32],
    scratch: &mut Scratch,
    out: &mut Vec<f32>,
    config: &FeatureConfig,
) -> UtteranceWindows {
    let seconds = signal.len() as f64 / config.sample_rate as f64;
    let policy = config.pad;
    let note = format!(
        "{seconds:.3} s is shorter than one {:.3} s window: {}",
        config.window_s,
        match policy {
            ShortPolicy::Drop => "dropped",
            ShortPolicy::Tile => "tiled to one window",
            ShortPolicy::Zero => "zero-padded to one window",
            ShortPolicy::Repeat => "repeated whole until it covers a window",
        }
    );
    let n_windows = match pad_short(signal, config.window_len(), policy) {
        Some(padded) => featurize_windows(pipe, &padded, scratch, out),
        None => 0,
    };
    UtteranceWindows {
        n_windows,
        note: Some(note),
    }
}

/// Every full window of `signal`, in blocks that share frames; the count.
fn featurize_windows(
    pipe: &Pipeline,
    signal: &[f32],
    scratch: &mut Scratch,
    out: &mut Vec<f32>,
) -> usize {
    let config = pipe.config();
    let starts = window_starts(signal.len(), config.window_len(), config.window_hop());
    for block in starts.chunks(WINDOWS_PER_BLOCK) {
        featurize_block(pipe, signal, block, scratch, out);
    }
    starts.len()
}

/// The windows of an utterance that arrives in pieces, bit for bit those
/// of [`featurize_utterance`] on the whole of it: a window is featurised
/// from its own samples alone, so one that spans two pieces is featurised
/// once both are there. Only the samples from the next window's start on
/// are kept. The samples are a decoded file's, which the decoder checked
/// (finite, within [`crate::audio::decode::MAX_LEVEL`]); they are not
/// checked again here.
pub struct WindowCutter {
    /// Samples from absolute position `offset` on.
    buffer: Vec<f32>,
    offset: usize,
    /// Windows cut so far; the next starts at `n_windows * hop`.
    n_windows: usize,
    /// Samples pushed so far.
    n_samples: usize,
}

impl Default for WindowCutter {
    fn default() -> Self {
        Self::new()
    }
}

impl WindowCutter {
    pub fn new() -> Self {
        WindowCutter {
            buffer: Vec::new(),
            offset: 0,
            n_windows: 0,
            n_samples: 0,
        }
    }

    /// Takes the next samples of the utterance.
    pub fn push(&mut self, samples: &[f32]) {
        self.buffer.extend_from_slice(samples);
        self.n_samples += samples.len();
    }

    /// Samples taken so far.
    pub fn n_samples(&self) -> usize {
        self.n_samples
    }

    /// Full windows whose samples are all there and not yet cut.
    pub fn ready(&self, config: &FeatureConfig) -> usize {
        let (length, hop) = (config.window_len(), config.window_hop());
        count_windows(self.n_samples, length, hop) - self.n_windows
    }

    /// Appends up to `max` ready windows to `out`, featurising blocks of
    /// them on `pool`'s threads; the count.
    pub fn cut(
        &mut self,
        pipe: &Pipeline,
        pool: &ThreadPool,
        max: usize,
        out: &mut Vec<f32>,
    ) -> usize {
        let config = pipe.config();
        let hop = config.window_hop();
        let n = self.ready(config).min(max);
        let starts: Vec<usize> = (self.n_windows..self.n_windows + n)
            .map(|k| k * hop - self.offset)
            .collect();
        let buffer = &self.buffer;
        let blocks: Vec<Vec<f32>> = pool.install(|| {
            starts
                .par_chunks(WINDOWS_PER_BLOCK)
                .map_init(
                    || pipe.scratch(),
                    |scratch, block| {
                        let mut part = Vec::new();
                        featurize_block(pipe, buffer, block, scratch, &mut part);
                        part
                    },
                )
                .collect()
        });
        for part in blocks {
            out.extend_from_slice(&part);
        }
        self.n_windows += n;
        let next = self.n_windows * hop;
        if next > self.offset {
            let drop = (next - self.offset).min(self.buffer.len());
            self.buffer.drain(..drop);
            self.offset += drop;
        }
        n
    }

    /// Ends the utterance once every ready window was cut: an utterance
    /// with no full window is padded (or dropped) as `config.pad` says,
    /// its windows appended to `out`. The count of all windows and the note.
    pub fn finish(
        self,
        pipe: &Pipeline,
        scratch: &mut Scratch,
        out: &mut Vec<f32>,
    ) -> UtteranceWindows {
        debug_assert_eq!(self.ready(pipe.config()), 0, "windows left uncut");
        if self.n_windows > 0 {
            return UtteranceWindows {
                n_windows: self.n_windows,
                note: None,
            };
        }
        // No window: nothing was dropped, the buffer is the utterance.
        featurize_short(pipe, &self.buffer, scratch, out, pipe.config())
    }
}

/// Frames of a window that need no centre padding: frame `t` covers window
/// samples `t * hop - n_fft / 2 ..` for `n_fft` samples.
fn interior_frames(config: &FeatureConfig) -> std::ops::Range<usize> {
    let (hop, length) = (config.hop_length, config.window_len());
    let half = config.n_fft / 2;
    let right = config.n_fft - half;
    let first = half.div_ceil(hop);
    let end = match length.checked_sub(right) {
        Some(room) => (room / hop + 1).min(config.n_frames()),
        None => 0,
    };
    first..end.max(first)
}

fn featurize_block(
    pipe: &Pipeline,
    signal: &[f32],
    starts: &[usize],
    scratch: &mut Scratch,
    out: &mut Vec<f32>,
) {
    let config = pipe.config();
    let (hop, n_fft, length) = (config.hop_length, config.n_fft, config.window_len());
    let n_frames = config.n_frames();
    let n_mels = pipe.n_mels();
    let interior = interior_frames(config);

    let mut offsets: Vec<isize> = starts
        .iter()
        .flat_map(|&s| {
            interior
                .clone()
                .map(move |t| s as isize + frame_first(t, hop, n_fft))
        })
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    let mut shared = vec![0.0f32; offsets.len() * n_mels];
    for (&first, row) in offsets.iter().zip(shared.chunks_exact_mut(n_mels)) {
        pipe.log_mel_frame(signal, first, scratch, row);
    }

    let matrix = config.n_features() * n_frames;
    let mut log_mel = vec![0.0f32; n_frames * n_mels];
    for &start in starts {
        let window = &signal[start..start + length];
        for (t, row) in log_mel.chunks_exact_mut(n_mels).enumerate() {
            let first = frame_first(t, hop, n_fft);
            if interior.contains(&t) {
                let k = offsets
                    .binary_search(&(start as isize + first))
                    .expect("every interior frame was cached");
                row.copy_from_slice(&shared[k * n_mels..(k + 1) * n_mels]);
            } else {
                pipe.log_mel_frame(window, first, scratch, row);
            }
        }
        let at = out.len();
        out.resize(at + matrix, 0.0);
        pipe.finish(&mut log_mel, n_frames, &mut out[at..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PadMode;

    fn signal(n: usize) -> Vec<f32> {
        let mut state = 12345u32;
        (0..n)
            .map(|i| {
                state = state.wrapping_mul(1664525).wrapping_add(1013904223);
                let noise = (state >> 8) as f32 / (1 << 24) as f32 - 0.5;
                0.3 * (i as f32 * 0.03).sin() + 0.05 * noise
            })
            .collect()
    }

    /// Sharing frames must give exactly what featurising each window alone gives.
    fn assert_shared_equals_independent(config: FeatureConfig, n: usize) {
        let pipe = Pipeline::new(&config).unwrap();
        let mut s = pipe.scratch();
        let y = signal(n);
        let mut shared = Vec::new();
        let info = featurize_utterance(&pipe, &y, &mut s, &mut shared).unwrap();
        let starts = window_starts(n, config.window_len(), config.window_hop());
        assert_eq!(info.n_windows, starts.len());
        let mut alone = Vec::new();
        for st in starts {
            alone.extend(
                pipe.features(&y[st..st + config.window_len()], &mut s)
                    .unwrap(),
            );
        }
        assert_eq!(shared, alone);
    }

    #[test]
    fn shared_frames_are_bit_identical() {
        assert_shared_equals_independent(FeatureConfig::default(), 16000 * 5 + 123);
        let reflect = FeatureConfig {
            pad_mode: PadMode::Reflect,
            ..FeatureConfig::default()
        };
        assert_shared_equals_independent(reflect, 16000 * 4);
        let train = FeatureConfig {
            overlap_s: 1.0,
            ..FeatureConfig::default()
        };
        assert_shared_equals_independent(train, 16000 * 7);
        let long_windows = FeatureConfig {
            window_s: 1.8,
            ..FeatureConfig::default()
        };
        assert_shared_equals_independent(long_windows, 16000 * 6);
    }

    #[test]
    fn many_blocks_of_windows() {
        // 200 windows span several cache blocks.
        assert_shared_equals_independent(FeatureConfig::default(), 32000 + 199 * 6400);
    }

    #[test]
    fn short_utterance_policies() {
        let y = signal(20000);
        for (policy, windows) in [
            (ShortPolicy::Drop, 0),
            (ShortPolicy::Tile, 1),
            (ShortPolicy::Zero, 1),
            // 20000 samples twice: 40000, room for two windows at the 6400 hop.
            (ShortPolicy::Repeat, 2),
        ] {
            let config = FeatureConfig {
                pad: policy,
                ..FeatureConfig::default()
            };
            let pipe = Pipeline::new(&config).unwrap();
            let mut out = Vec::new();
            let info = featurize_utterance(&pipe, &y, &mut pipe.scratch(), &mut out).unwrap();
            assert_eq!(info.n_windows, windows);
            assert_eq!(out.len(), windows * 26 * 63);
            assert!(info
                .note
                .unwrap()
                .contains("shorter than one 2.000 s window"));
        }
    }
}
