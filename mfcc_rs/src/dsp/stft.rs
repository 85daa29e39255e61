//! Power spectrum of one frame: periodic Hann window, real FFT, |X|^2.
//!
//! The real FFT of `n` samples is one complex FFT of `n / 2` points over the
//! even/odd sample pairs, followed by the usual split step. Doing the split
//! ourselves lets it produce |X|^2 directly in plain loops the compiler
//! vectorises; the general-purpose real-FFT crates spend as long on that step
//! as on the FFT itself.

use std::f64::consts::PI;
use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// `scipy.signal.get_window("hann", n, fftbins=True)`: the periodic Hann
/// window librosa uses.
pub fn periodic_hann(n: usize) -> Vec<f64> {
    (0..n)
        .map(|k| 0.5 - 0.5 * (2.0 * PI * k as f64 / n as f64).cos())
        .collect()
}

/// An immutable, thread-shareable plan; per-thread buffers live in [`StftScratch`].
pub struct Stft {
    n_fft: usize,
    /// The window as (even, odd) sample pairs, matching the packed input.
    window: Vec<[f32; 2]>,
    /// `exp(-2 pi i k / n_fft)` for the split step, `k = 0 ..= n_fft / 2`.
    twiddle_re: Vec<f32>,
    twiddle_im: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
}

pub struct StftScratch {
    packed: Vec<Complex<f32>>,
    fft_scratch: Vec<Complex<f32>>,
}

impl Stft {
    /// `n_fft` must be even (librosa's 2048 and every power of two are).
    pub fn new(n_fft: usize) -> Self {
        assert!(n_fft >= 2 && n_fft % 2 == 0, "n_fft must be even");
        let half = n_fft / 2;
        let hann = periodic_hann(n_fft);
        let window = hann
            .chunks_exact(2)
            .map(|w| [w[0] as f32, w[1] as f32])
            .collect();
        let angle = |k: usize| -2.0 * PI * k as f64 / n_fft as f64;
        let twiddle_re = (0..=half).map(|k| angle(k).cos() as f32).collect();
        let twiddle_im = (0..=half).map(|k| angle(k).sin() as f32).collect();
        let fft = FftPlanner::<f32>::new().plan_fft_forward(half);
        Stft {
            n_fft,
            window,
            twiddle_re,
            twiddle_im,
            fft,
        }
    }

    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    pub fn scratch(&self) -> StftScratch {
        StftScratch {
            packed: vec![Complex::new(0.0, 0.0); self.n_fft / 2],
            fft_scratch: vec![Complex::new(0.0, 0.0); self.fft.get_inplace_scratch_len()],
        }
    }

    /// Power spectrum (`n_fft / 2 + 1` bins) of one `n_fft`-sample frame.
    #[inline(always)]
    pub fn power(&self, frame: &[f32], scratch: &mut StftScratch, out: &mut [f32]) {
        let half = self.n_fft / 2;
        for ((z, x), w) in scratch
            .packed
            .iter_mut()
            .zip(frame.chunks_exact(2))
            .zip(&self.window)
        {
            *z = Complex::new(x[0] * w[0], x[1] * w[1]);
        }
        self.fft
            .process_with_scratch(&mut scratch.packed, &mut scratch.fft_scratch);
        let z = &scratch.packed;
        // X[k] = E[k] + W^k O[k] with E = (Z[k] + conj Z[h-k]) / 2 and
        // O = (Z[k] - conj Z[h-k]) / 2i; bins 0 and h only need Z[0].
        out[0] = (z[0].re + z[0].im).powi(2);
        out[half] = (z[0].re - z[0].im).powi(2);
        let mirrored = z[1..].iter().rev();
        let bins = out[1..half].iter_mut().zip(&z[1..]).zip(mirrored);
        let twiddles = self.twiddle_re[1..half]
            .iter()
            .zip(&self.twiddle_im[1..half]);
        for (((p, a), b), (wr, wi)) in bins.zip(twiddles) {
            let (er, ei) = (0.5 * (a.re + b.re), 0.5 * (a.im - b.im));
            let (or, oi) = (0.5 * (a.im + b.im), -0.5 * (a.re - b.re));
            let xr = er + wr * or - wi * oi;
            let xi = ei + wr * oi + wi * or;
            *p = xr * xr + xi * xi;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hann_is_periodic() {
        let w = periodic_hann(8);
        assert_eq!(w[0], 0.0);
        assert!((w[4] - 1.0).abs() < 1e-12);
        assert!((w[2] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn power_of_a_bin_centred_cosine() {
        let n = 64;
        let stft = Stft::new(n);
        let frame: Vec<f32> = (0..n)
            .map(|k| (2.0 * std::f32::consts::PI * 8.0 * k as f32 / n as f32).cos())
            .collect();
        let mut p = vec![0.0; stft.n_bins()];
        stft.power(&frame, &mut stft.scratch(), &mut p);
        // Hann spreads a bin-centred cosine over bins 7, 8, 9 with
        // amplitudes n/8, n/4, n/8.
        assert!((p[8] - (n as f32 / 4.0).powi(2)).abs() < 1e-2);
        assert!((p[7] - (n as f32 / 8.0).powi(2)).abs() < 1e-2);
        assert!(p[20] < 1e-6);
    }

    #[test]
    fn matches_a_direct_dft() {
        let n = 48;
        let stft = Stft::new(n);
        let frame: Vec<f32> = (0..n)
            .map(|k| ((k * k) as f32 * 0.37).sin() + 0.1)
            .collect();
        let mut p = vec![0.0; stft.n_bins()];
        stft.power(&frame, &mut stft.scratch(), &mut p);
        let hann = periodic_hann(n);
        for (k, &got) in p.iter().enumerate() {
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (t, &x) in frame.iter().enumerate() {
                let phase = -2.0 * PI * (k * t) as f64 / n as f64;
                re += x as f64 * hann[t] * phase.cos();
                im += x as f64 * hann[t] * phase.sin();
            }
            let want = re * re + im * im;
            assert!(
                (got as f64 - want).abs() < 1e-4 * (1.0 + want),
                "bin {k}: {got} vs {want}"
            );
        }
    }
}
