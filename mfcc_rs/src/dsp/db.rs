//! `librosa.power_to_db(S, ref=1.0, amin=1e-10, top_db)`.

use std::f32::consts::{LN_2, LOG10_E, SQRT_2};

pub const AMIN: f32 = 1e-10;

/// Decibels of power values in place, floored at `amin`.
#[inline(always)]
pub fn power_to_db(values: &mut [f32]) {
    for v in values.iter_mut() {
        *v = 10.0 * log10(v.max(AMIN));
    }
}

/// log10 of a positive normal float to within a few ulp, branch-free so a
/// frame's 128 values go through SIMD lanes; the libm call per value cost as
/// much as the mel filterbank.
#[inline(always)]
fn log10(x: f32) -> f32 {
    let bits = x.to_bits();
    let mut exponent = ((bits >> 23) & 0xff) as i32 - 127;
    let mut mantissa = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // Centre the mantissa on 1 so the series below converges fast.
    let high = mantissa > SQRT_2;
    mantissa = if high { mantissa * 0.5 } else { mantissa };
    exponent += high as i32;
    // ln m = 2 atanh(t) with t = (m - 1) / (m + 1), |t| < 0.172.
    let t = (mantissa - 1.0) / (mantissa + 1.0);
    let t2 = t * t;
    let series = 1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0 + t2 * (1.0 / 9.0))));
    (exponent as f32 * LN_2 + 2.0 * t * series) * LOG10_E
}

/// Clamps every value to at most `top_db` below the largest one: librosa
/// applies this over the whole matrix it is given, here one window.
#[inline(always)]
pub fn clamp_to_top_db(db: &mut [f32], top_db: f32) {
    let peak = db.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let floor = peak - top_db;
    for v in db.iter_mut() {
        *v = v.max(floor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_and_clamps() {
        let mut v = [1.0, 0.0, 100.0];
        power_to_db(&mut v);
        for (got, want) in v.iter().zip([0.0, -100.0, 20.0]) {
            assert!((got - want).abs() < 1e-4, "{got} vs {want}");
        }
        let mut v = [0.0, -10.0, -95.0];
        clamp_to_top_db(&mut v, 80.0);
        assert_eq!(v, [0.0, -10.0, -80.0]);
    }

    #[test]
    fn log10_matches_std_across_the_range() {
        let mut x = AMIN;
        while x < 1e12 {
            let want = (x as f64).log10();
            let got = log10(x) as f64;
            assert!(
                (got - want).abs() < 4e-7 * want.abs().max(1.0),
                "{x}: {got} vs {want}"
            );
            x *= 1.0137;
        }
    }
}
