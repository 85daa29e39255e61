//! The librosa feature pipeline, frame by frame: centred frame -> power
//! spectrum -> mel energies -> dB, then per matrix: top-dB clamp -> DCT.
//! Splitting it at the dB stage is what lets overlapping windows share
//! frames: everything before the clamp depends on one frame alone.

use std::sync::{Arc, Mutex, OnceLock};

use crate::config::{FeatureConfig, Output};
use crate::dsp::db::{clamp_to_top_db, power_to_db};
use crate::dsp::dct::Dct2;
use crate::dsp::frames::{fill_frame, frame_first};
use crate::dsp::mel::{MelFilterbank, MelSpec};
use crate::dsp::stft::{Stft, StftScratch};
use crate::error::{Error, Result};

/// Immutable and `Sync`: one per configuration, shared by all threads.
pub struct Pipeline {
    config: FeatureConfig,
    stft: Stft,
    mel: MelFilterbank,
    dct: Option<Dct2>,
    /// Whether this CPU runs the AVX2 + FMA build of the per-frame code.
    avx2: bool,
}

/// Per-thread buffers for [`Pipeline`].
pub struct Scratch {
    stft: StftScratch,
    frame: Vec<f32>,
    power: Vec<f32>,
}

impl Pipeline {
    pub fn new(config: &FeatureConfig) -> Result<Self> {
        config.validate()?;
        let mel = MelFilterbank::new(&MelSpec {
            sample_rate: config.sample_rate,
            n_fft: config.n_fft,
            n_mels: config.n_mels,
            fmin: config.fmin,
            fmax: config.fmax_hz(),
            scale: config.mel_scale,
            norm: config.mel_norm,
        });
        let dct = match config.output {
            Output::Mfcc => Some(Dct2::new(config.n_mels, config.n_mfcc)),
            Output::LogMel => None,
        };
        Ok(Pipeline {
            config: config.clone(),
            stft: Stft::new(config.n_fft),
            mel,
            dct,
            avx2: has_avx2_fma(),
        })
    }

    /// A pipeline for `config`, built once per distinct configuration and
    /// then shared: planning the FFT and the filterbank costs more than
    /// featurising one window, and callers featurise window by window.
    pub fn shared(config: &FeatureConfig) -> Result<Arc<Pipeline>> {
        // A handful of configurations per process: a list compared field by
        // field beats hashing floats.
        const MAX_CACHED: usize = 16;
        static CACHE: OnceLock<Mutex<Vec<Arc<Pipeline>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let cached =
            |pipes: &Vec<Arc<Pipeline>>| pipes.iter().find(|p| p.config == *config).cloned();
        if let Some(pipe) = cached(&cache.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(pipe);
        }
        let pipe = Arc::new(Pipeline::new(config)?);
        let mut pipes = cache.lock().unwrap_or_else(|e| e.into_inner());
        if pipes.len() >= MAX_CACHED {
            pipes.remove(0);
        }
        pipes.push(pipe.clone());
        Ok(pipe)
    }

    pub fn config(&self) -> &FeatureConfig {
        &self.config
    }

    pub fn scratch(&self) -> Scratch {
        Scratch {
            stft: self.stft.scratch(),
            frame: vec![0.0; self.config.n_fft],
            power: vec![0.0; self.stft.n_bins()],
        }
    }

    pub fn n_mels(&self) -> usize {
        self.mel.n_mels()
    }

    /// Unclamped dB mel energies of the frame whose first padded sample is
    /// `signal[first]`; samples outside `signal` come from the pad mode.
    pub fn log_mel_frame(&self, signal: &[f32], first: isize, s: &mut Scratch, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is set only where the CPU reported AVX2 and FMA.
            return unsafe { self.log_mel_frame_avx2(signal, first, s, out) };
        }
        self.log_mel_frame_portable(signal, first, s, out)
    }

    /// The same code compiled for AVX2 + FMA: the windowing, split step, mel
    /// sums and logarithms then run eight lanes wide. The FFT does its own
    /// runtime dispatch.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn log_mel_frame_avx2(
        &self,
        signal: &[f32],
        first: isize,
        s: &mut Scratch,
        out: &mut [f32],
    ) {
        self.log_mel_frame_portable(signal, first, s, out)
    }

    #[inline(always)]
    fn log_mel_frame_portable(
        &self,
        signal: &[f32],
        first: isize,
        s: &mut Scratch,
        out: &mut [f32],
    ) {
        fill_frame(signal, first, self.config.pad_mode, &mut s.frame);
        self.stft.power(&s.frame, &mut s.stft, &mut s.power);
        self.mel.apply(&s.power, out);
        power_to_db(out);
    }

    /// Turns `[n_frames, n_mels]` dB frames into the `[n_features, n_frames]`
    /// matrix librosa returns; `log_mel` is clamped in place.
    pub fn finish(&self, log_mel: &mut [f32], n_frames: usize, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: as in `log_mel_frame`.
            return unsafe { self.finish_avx2(log_mel, n_frames, out) };
        }
        self.finish_portable(log_mel, n_frames, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn finish_avx2(&self, log_mel: &mut [f32], n_frames: usize, out: &mut [f32]) {
        self.finish_portable(log_mel, n_frames, out)
    }

    #[inline(always)]
    fn finish_portable(&self, log_mel: &mut [f32], n_frames: usize, out: &mut [f32]) {
        if let Some(top_db) = self.config.top_db {
            clamp_to_top_db(log_mel, top_db as f32);
        }
        let n_mels = self.n_mels();
        for (t, frame) in log_mel.chunks_exact(n_mels).enumerate() {
            match &self.dct {
                Some(dct) => dct.apply_strided(frame, &mut out[t..], n_frames),
                None => {
                    for (m, v) in frame.iter().enumerate() {
                        out[m * n_frames + t] = *v;
                    }
                }
            }
        }
    }

    /// `librosa.feature.mfcc` (or the log-mel spectrogram) of a whole signal:
    /// `[n_features, 1 + len / hop]`, row-major.
    pub fn features(&self, signal: &[f32], s: &mut Scratch) -> Result<Vec<f32>> {
        check_signal(signal)?;
        let n_frames = self.config.n_frames_for(signal.len());
        let n_mels = self.n_mels();
        let mut log_mel = vec![0.0; n_frames * n_mels];
        for (t, row) in log_mel.chunks_exact_mut(n_mels).enumerate() {
            let first = frame_first(t, self.config.hop_length, self.config.n_fft);
            self.log_mel_frame(signal, first, s, row);
        }
        let mut out = vec![0.0; self.config.n_features() * n_frames];
        self.finish(&mut log_mel, n_frames, &mut out);
        Ok(out)
    }
}

fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// librosa refuses empty and non-finite input; so do we, with the position.
pub fn check_signal(signal: &[f32]) -> Result<()> {
    if signal.is_empty() {
        return Err(Error::Signal("the signal is empty".into()));
    }
    if let Some(i) = signal.iter().position(|v| !v.is_finite()) {
        return Err(Error::Signal(format!(
            "sample {i} is {} (NaN or infinite samples cannot be featurised)",
            signal[i]
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_follows_librosa() {
        let pipe = Pipeline::new(&FeatureConfig::default()).unwrap();
        let y: Vec<f32> = (0..32000).map(|i| (i as f32 * 0.01).sin() * 0.1).collect();
        let f = pipe.features(&y, &mut pipe.scratch()).unwrap();
        assert_eq!(f.len(), 26 * 63);
        let short = pipe.features(&y[..100], &mut pipe.scratch()).unwrap();
        assert_eq!(short.len(), 26);
    }

    #[test]
    fn silence_is_the_amin_floor() {
        let pipe = Pipeline::new(&FeatureConfig::default()).unwrap();
        let f = pipe
            .features(&vec![0.0; 4000], &mut pipe.scratch())
            .unwrap();
        let n_frames = 8;
        // All 128 bands at -100 dB: c0 = -100 * sqrt(128), the rest 0.
        for t in 0..n_frames {
            assert!((f[t] - (-100.0 * 128f32.sqrt())).abs() < 1e-2);
            assert!(f[n_frames + t].abs() < 1e-3);
        }
    }

    #[test]
    fn bad_signals_are_errors() {
        let pipe = Pipeline::new(&FeatureConfig::default()).unwrap();
        let mut s = pipe.scratch();
        assert!(pipe
            .features(&[], &mut s)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        let err = pipe.features(&[0.0, f32::NAN], &mut s).unwrap_err();
        assert!(err.to_string().contains("sample 1 is NaN"), "{err}");
    }
}
