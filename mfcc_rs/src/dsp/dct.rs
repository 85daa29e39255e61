//! Orthonormal DCT-II (`scipy.fft.dct(type=2, norm="ortho")`), truncated to
//! the first coefficients. A dense matrix beats an FFT-based DCT here: 26 x
//! 128 is tiny and stays in cache.

use std::f64::consts::PI;

use crate::dsp::dot::dot;

pub struct Dct2 {
    n_in: usize,
    matrix: Vec<f32>,
}

impl Dct2 {
    pub fn new(n_in: usize, n_out: usize) -> Self {
        let mut matrix = Vec::with_capacity(n_in * n_out);
        for k in 0..n_out {
            let scale = if k == 0 {
                (1.0 / n_in as f64).sqrt()
            } else {
                (2.0 / n_in as f64).sqrt()
            };
            matrix.extend((0..n_in).map(|n| {
                (scale * (PI * k as f64 * (2 * n + 1) as f64 / (2 * n_in) as f64).cos()) as f32
            }));
        }
        Dct2 { n_in, matrix }
    }

    /// Coefficient `k` of `x` for every `k`, written to `out[k * stride]`, so
    /// that one frame fills one column of a `[n_out, n_frames]` matrix.
    #[inline(always)]
    pub fn apply_strided(&self, x: &[f32], out: &mut [f32], stride: usize) {
        for (k, row) in self.matrix.chunks_exact(self.n_in).enumerate() {
            out[k * stride] = dot(row, x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthonormal_rows() {
        let dct = Dct2::new(16, 16);
        for i in 0..16 {
            for j in 0..16 {
                let r = dot(
                    &dct.matrix[i * 16..(i + 1) * 16],
                    &dct.matrix[j * 16..(j + 1) * 16],
                );
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((r - want).abs() < 1e-5, "{i} {j} {r}");
            }
        }
    }

    #[test]
    fn constant_input_has_only_a_dc_term() {
        let dct = Dct2::new(128, 26);
        let mut out = vec![0.0; 26];
        dct.apply_strided(&[2.0; 128], &mut out, 1);
        assert!((out[0] - 2.0 * 128f32.sqrt()).abs() < 1e-3);
        assert!(out[1..].iter().all(|v| v.abs() < 1e-4));
    }
}
