//! librosa's mel filterbank (`librosa.filters.mel`), stored sparsely: each
//! band keeps only the FFT bins where its triangle is non-zero.

use crate::config::{MelNorm, MelScale};
use crate::dsp::dot::dot;

const SLANEY_F_SP: f64 = 200.0 / 3.0;
const SLANEY_MIN_LOG_HZ: f64 = 1000.0;
const SLANEY_MIN_LOG_MEL: f64 = SLANEY_MIN_LOG_HZ / SLANEY_F_SP;

fn slaney_logstep() -> f64 {
    6.4f64.ln() / 27.0
}

pub fn hz_to_mel(hz: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + hz / 700.0).log10(),
        MelScale::Slaney if hz >= SLANEY_MIN_LOG_HZ => {
            SLANEY_MIN_LOG_MEL + (hz / SLANEY_MIN_LOG_HZ).ln() / slaney_logstep()
        }
        MelScale::Slaney => hz / SLANEY_F_SP,
    }
}

pub fn mel_to_hz(mel: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(mel / 2595.0) - 1.0),
        MelScale::Slaney if mel >= SLANEY_MIN_LOG_MEL => {
            SLANEY_MIN_LOG_HZ * (slaney_logstep() * (mel - SLANEY_MIN_LOG_MEL)).exp()
        }
        MelScale::Slaney => SLANEY_F_SP * mel,
    }
}

/// `n` frequencies evenly spaced on the mel scale from `fmin` to `fmax`.
fn mel_frequencies(n: usize, fmin: f64, fmax: f64, scale: MelScale) -> Vec<f64> {
    let (lo, hi) = (hz_to_mel(fmin, scale), hz_to_mel(fmax, scale));
    (0..n)
        .map(|k| {
            // np.linspace's formula, so band edges agree to the last bit.
            let mel = lo + k as f64 * ((hi - lo) / (n - 1) as f64);
            mel_to_hz(mel, scale)
        })
        .collect()
}

struct Band {
    first_bin: usize,
    weights: Vec<f32>,
}

pub struct MelFilterbank {
    bands: Vec<Band>,
}

pub struct MelSpec {
    pub sample_rate: u32,
    pub n_fft: usize,
    pub n_mels: usize,
    pub fmin: f64,
    pub fmax: f64,
    pub scale: MelScale,
    pub norm: MelNorm,
}

impl MelFilterbank {
    pub fn new(spec: &MelSpec) -> Self {
        let n_bins = spec.n_fft / 2 + 1;
        let bin_hz = |k: usize| k as f64 * (spec.sample_rate as f64 / 2.0) / (n_bins - 1) as f64;
        let edges = mel_frequencies(spec.n_mels + 2, spec.fmin, spec.fmax, spec.scale);
        let bands = (0..spec.n_mels)
            .map(|m| {
                let (left, centre, right) = (edges[m], edges[m + 1], edges[m + 2]);
                let norm = match spec.norm {
                    MelNorm::Slaney => 2.0 / (right - left),
                    MelNorm::None => 1.0,
                };
                let dense: Vec<f64> = (0..n_bins)
                    .map(|k| {
                        let f = bin_hz(k);
                        let lower = (f - left) / (centre - left);
                        let upper = (right - f) / (right - centre);
                        lower.min(upper).max(0.0) * norm
                    })
                    .collect();
                Band::from_dense(&dense)
            })
            .collect();
        MelFilterbank { bands }
    }

    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    /// Mel-band energies of one power spectrum.
    #[inline(always)]
    pub fn apply(&self, power: &[f32], out: &mut [f32]) {
        for (band, slot) in self.bands.iter().zip(out.iter_mut()) {
            let bins = &power[band.first_bin..band.first_bin + band.weights.len()];
            *slot = dot(bins, &band.weights);
        }
    }

    /// The dense `[n_mels, n_bins]` matrix, as `librosa.filters.mel` returns it.
    pub fn dense(&self, n_bins: usize) -> Vec<f32> {
        let mut out = vec![0.0; self.bands.len() * n_bins];
        for (row, band) in out.chunks_exact_mut(n_bins).zip(&self.bands) {
            row[band.first_bin..band.first_bin + band.weights.len()].copy_from_slice(&band.weights);
        }
        out
    }
}

impl Band {
    fn from_dense(dense: &[f64]) -> Self {
        let first = dense.iter().position(|&w| w > 0.0);
        let last = dense.iter().rposition(|&w| w > 0.0);
        match (first, last) {
            (Some(a), Some(b)) => Band {
                first_bin: a,
                weights: dense[a..=b].iter().map(|&w| w as f32).collect(),
            },
            // A band narrower than one FFT bin is empty in librosa too.
            _ => Band {
                first_bin: 0,
                weights: Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_is_linear_then_logarithmic() {
        assert!((hz_to_mel(500.0, MelScale::Slaney) - 7.5).abs() < 1e-12);
        assert!((hz_to_mel(1000.0, MelScale::Slaney) - 15.0).abs() < 1e-12);
        for hz in [0.0, 300.0, 1000.0, 4321.0, 8000.0] {
            for scale in [MelScale::Slaney, MelScale::Htk] {
                let back = mel_to_hz(hz_to_mel(hz, scale), scale);
                assert!((back - hz).abs() < 1e-9, "{hz} {scale:?} {back}");
            }
        }
    }

    #[test]
    fn slaney_norm_gives_unit_area_triangles() {
        let spec = MelSpec {
            sample_rate: 16000,
            n_fft: 2048,
            n_mels: 128,
            fmin: 0.0,
            fmax: 8000.0,
            scale: MelScale::Slaney,
            norm: MelNorm::Slaney,
        };
        let fb = MelFilterbank::new(&spec);
        let dense = fb.dense(1025);
        let bin_hz = 8000.0 / 1024.0;
        // Area in Hz of a triangle with height 2 / width is 1.
        let row = &dense[60 * 1025..61 * 1025];
        let area: f32 = row.iter().sum::<f32>() * bin_hz as f32;
        assert!((area - 1.0).abs() < 0.05, "{area}");
    }
}
