//! The segmenter: where windows start in an utterance, and what an utterance
//! shorter than one window becomes.

use crate::config::ShortPolicy;

/// Starts of every full window: `0, hop, 2 hop, ...` while the window fits.
/// The tail that does not fill a window is left out, as in the GLAM authors'
/// pipeline.
pub fn window_starts(n_samples: usize, length: usize, hop: usize) -> Vec<usize> {
    (0..count_windows(n_samples, length, hop))
        .map(|k| k * hop)
        .collect()
}

/// How many full windows `n_samples` hold.
pub fn count_windows(n_samples: usize, length: usize, hop: usize) -> usize {
    match n_samples.checked_sub(length) {
        Some(room) => room / hop + 1,
        None => 0,
    }
}

/// What an utterance shorter than a window becomes before windows are cut
/// from it, or `None` when the policy drops it. `Tile` repeats the waveform
/// from its start until exactly one window is full; `Repeat` joins whole
/// copies until one window is covered (the authors' code, which can leave
/// room for more than one window); `Zero` appends silence.
pub fn pad_short(signal: &[f32], length: usize, policy: ShortPolicy) -> Option<Vec<f32>> {
    if signal.is_empty() {
        return None;
    }
    match policy {
        ShortPolicy::Drop => None,
        ShortPolicy::Repeat => Some(signal.repeat(length.div_ceil(signal.len()))),
        ShortPolicy::Tile => Some(signal.iter().copied().cycle().take(length).collect()),
        ShortPolicy::Zero => {
            let mut w = signal.to_vec();
            w.resize(length, 0.0);
            Some(w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_cover_full_windows_only() {
        assert_eq!(window_starts(32_000, 32_000, 6_400), vec![0]);
        assert_eq!(window_starts(31_999, 32_000, 6_400), Vec::<usize>::new());
        assert_eq!(window_starts(45_000, 32_000, 6_400), vec![0, 6_400, 12_800]);
        assert_eq!(window_starts(48_000, 32_000, 16_000), vec![0, 16_000]);
    }

    #[test]
    fn short_utterances() {
        let y = [1.0, 2.0, 3.0];
        assert_eq!(
            pad_short(&y, 7, ShortPolicy::Tile).unwrap(),
            [1., 2., 3., 1., 2., 3., 1.]
        );
        assert_eq!(
            pad_short(&y, 5, ShortPolicy::Zero).unwrap(),
            [1., 2., 3., 0., 0.]
        );
        assert!(pad_short(&y, 5, ShortPolicy::Drop).is_none());
        assert_eq!(
            pad_short(&y, 7, ShortPolicy::Repeat).unwrap(),
            [1., 2., 3., 1., 2., 3., 1., 2., 3.]
        );
        assert_eq!(
            pad_short(&y, 6, ShortPolicy::Repeat).unwrap(),
            [1., 2., 3., 1., 2., 3.]
        );
        assert!(pad_short(&[], 6, ShortPolicy::Tile).is_none());
    }
}
