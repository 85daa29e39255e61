//! Centred framing: frame `t` of a signal is the `n_fft` samples centred on
//! sample `t * hop`, reading past either end through the pad mode, exactly as
//! librosa's `stft(center=True)` sees the padded signal. Reading through an
//! index map instead of building a padded copy lets a window's edge frames be
//! filled straight from the utterance.

use crate::config::PadMode;

/// Fills `out` (length `n_fft`) with the frame whose first padded sample is
/// signal index `first` (which may be negative or run past the end).
#[inline(always)]
pub fn fill_frame(signal: &[f32], first: isize, pad_mode: PadMode, out: &mut [f32]) {
    let n = signal.len() as isize;
    let last = first + out.len() as isize;
    if first >= 0 && last <= n {
        out.copy_from_slice(&signal[first as usize..last as usize]);
        return;
    }
    for (k, slot) in out.iter_mut().enumerate() {
        let i = first + k as isize;
        *slot = if (0..n).contains(&i) {
            signal[i as usize]
        } else {
            match pad_mode {
                PadMode::Constant => 0.0,
                PadMode::Reflect => signal[reflect_index(i, n)],
            }
        };
    }
}

/// numpy's `pad(mode="reflect")`: mirror without repeating the edge sample,
/// repeatedly when the pad is longer than the signal.
fn reflect_index(i: isize, n: isize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n - 1);
    let j = i.rem_euclid(period);
    (if j >= n { period - j } else { j }) as usize
}

/// Signal index of the first sample of centred frame `t`.
pub fn frame_first(t: usize, hop: usize, n_fft: usize) -> isize {
    (t * hop) as isize - (n_fft / 2) as isize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interior_frames_are_plain_slices() {
        let x: Vec<f32> = (0..10).map(|v| v as f32).collect();
        let mut out = [0.0; 4];
        fill_frame(&x, 3, PadMode::Reflect, &mut out);
        assert_eq!(out, [3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn constant_padding_reads_zeros() {
        let x = [1.0, 2.0, 3.0];
        let mut out = [9.0; 6];
        fill_frame(&x, -2, PadMode::Constant, &mut out);
        assert_eq!(out, [0.0, 0.0, 1.0, 2.0, 3.0, 0.0]);
    }

    #[test]
    fn reflect_padding_matches_numpy() {
        // np.pad([1, 2, 3], 5, mode="reflect") == [2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2]
        let x = [1.0, 2.0, 3.0];
        let mut out = [0.0; 13];
        fill_frame(&x, -5, PadMode::Reflect, &mut out);
        assert_eq!(out, [2., 1., 2., 3., 2., 1., 2., 3., 2., 1., 2., 3., 2.]);
    }
}
