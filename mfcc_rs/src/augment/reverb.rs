//! Room reverberation from generated impulse responses: a direct path,
//! a few early reflections and an exponentially decaying noise tail, the
//! statistical room model of Polack (1988) that image-source simulators
//! approach for the late part; convolved by uniformly partitioned FFT
//! convolution.

use std::cell::RefCell;

use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

use super::rng::Rng;

/// Early reflections drawn per response.
const EARLY_REFLECTIONS: usize = 8;
/// The early part: reflections arrive between the first one's delay and this.
const EARLY_END_S: f64 = 0.05;
/// The first reflection's delay after the direct path, drawn in this range
/// (a source 0.3 to 1.7 m closer than the nearest wall).
const FIRST_REFLECTION_S: (f64, f64) = (0.001, 0.005);
/// Where a response is cut: its envelope this far (in dB) below the start,
/// at this / 60 of its RT60. The 10^(-this / 10) of the tail's energy left
/// out is far below anything a feature resolves, and the convolution's
/// cost falls with the response's length.
pub const TAIL_DB: f64 = 40.0;

thread_local! {
    // Plans kept per thread: planning costs about as much as convolving.
    static PLANNER: RefCell<RealFftPlanner<f32>> = RefCell::new(RealFftPlanner::new());
}

/// An impulse response of reverberation time `rt60_s`, cut [`TAIL_DB`]
/// down: 1 at sample 0 (the direct path), then the reverberant part,
/// whose energy is `drr_db` below the direct path's. The reverberant part
/// is a Gaussian noise tail under an envelope falling 60 dB in `rt60_s`,
/// from the first reflection on, plus [`EARLY_REFLECTIONS`] single
/// reflections 2 to 6 times the tail's envelope, of random sign, in the
/// first [`EARLY_END_S`].
pub fn impulse_response(sample_rate: u32, rt60_s: f64, drr_db: f64, rng: &mut Rng) -> Vec<f32> {
    let rate = f64::from(sample_rate);
    let len = ((rt60_s * TAIL_DB / 60.0 * rate).round() as usize).max(2);
    // Amplitude falls by 1000 (60 dB) over rt60_s.
    let decay = 1000f64.ln() / (rt60_s * rate);
    let envelope = |n: usize| (-decay * n as f64).exp();
    let first =
        ((rng.range(FIRST_REFLECTION_S.0, FIRST_REFLECTION_S.1) * rate) as usize).clamp(1, len - 1);
    let mut h = vec![0.0f32; len];
    // The envelope by repeated multiplication: one exp per sample costs
    // more than the rest of the response.
    let (mut level, fall) = (envelope(first), (-decay).exp());
    for v in &mut h[first..] {
        *v = rng.gaussian() * level as f32;
        level *= fall;
    }
    let early_end = ((EARLY_END_S * rate) as usize).clamp(first + 1, len);
    for _ in 0..EARLY_REFLECTIONS {
        let at = first + rng.below(early_end - first);
        let sign = if rng.chance(0.5) { 1.0 } else { -1.0 };
        h[at] += (sign * rng.range(2.0, 6.0) * envelope(at)) as f32;
    }
    let reverberant = h[1..].iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
    let scale = (10f64.powf(-drr_db / 10.0) / reverberant).sqrt() as f32;
    for v in &mut h[1..] {
        *v *= scale;
    }
    h[0] = 1.0;
    h
}

/// `x` convolved with `h` in place, cut to `x`'s length (the tail that
/// rings on after the end is dropped, so the utterance keeps its duration
/// and its windows).
///
/// Uniformly partitioned convolution: `h` is cut into parts of one block,
/// each part's spectrum multiplies the spectrum of the input block that
/// many blocks back, and one inverse FFT a block sums them (overlap-add).
/// The FFTs stay small (at most 8192 points), where their cost per point
/// is about a third of the 64k-point FFTs that convolve in one piece.
pub fn convolve_in_place(x: &mut [f32], h: &[f32]) {
    if x.is_empty() || h.is_empty() {
        return;
    }
    let block = block_size(h.len());
    let n_fft = 2 * block;
    let (forward, inverse) = PLANNER.with(|p| {
        let mut p = p.borrow_mut();
        (p.plan_fft_forward(n_fft), p.plan_fft_inverse(n_fft))
    });
    let mut input = forward.make_input_vec();
    let mut scratch = forward.make_scratch_vec();
    // The parts' spectra, with the inverse FFT's 1 / n folded in.
    let unnormalised = 1.0 / n_fft as f32;
    let parts: Vec<Vec<Complex<f32>>> = h
        .chunks(block)
        .map(|part| {
            input[..part.len()].copy_from_slice(part);
            input[part.len()..].fill(0.0);
            let mut spectrum = forward.make_output_vec();
            forward
                .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
                .expect("buffers made by the plan");
            for c in &mut spectrum {
                *c *= unnormalised;
            }
            spectrum
        })
        .collect();
    // The spectra of the last `parts.len()` input blocks, newest at `newest`.
    let mut history = vec![forward.make_output_vec(); parts.len()];
    let mut newest = 0;
    let mut sum = forward.make_output_vec();
    let mut inverse_scratch = inverse.make_scratch_vec();
    let mut output = inverse.make_output_vec();
    // The second half of the previous block's output, which overlaps this one.
    let mut carry = vec![0.0f32; block];
    for (k, start) in (0..x.len()).step_by(block).enumerate() {
        let m = block.min(x.len() - start);
        newest = (newest + 1) % parts.len();
        input[..m].copy_from_slice(&x[start..start + m]);
        input[m..].fill(0.0);
        forward
            .process_with_scratch(&mut input, &mut history[newest], &mut scratch)
            .expect("buffers made by the plan");
        // Part p meets the block p blocks back (none before the first).
        for ((s, a), b) in sum.iter_mut().zip(&history[newest]).zip(&parts[0]) {
            *s = a * b;
        }
        for (p, part) in parts.iter().enumerate().take(k + 1).skip(1) {
            let back = &history[(newest + parts.len() - p) % parts.len()];
            for ((s, a), b) in sum.iter_mut().zip(back).zip(part) {
                *s += a * b;
            }
        }
        // A real signal's DC and Nyquist bins are real; rounding may not be.
        sum[0].im = 0.0;
        let last = sum.len() - 1;
        sum[last].im = 0.0;
        inverse
            .process_with_scratch(&mut sum, &mut output, &mut inverse_scratch)
            .expect("buffers made by the plan");
        for ((v, o), c) in x[start..start + m].iter_mut().zip(&output).zip(&carry) {
            *v = o + c;
        }
        carry.copy_from_slice(&output[block..]);
    }
}

/// The block of [`convolve_in_place`] for a response of `taps` taps: half
/// the response, as a power of two from 256 to 4096 samples, so that two
/// parts (more past 8192 taps) share FFTs of at most 8192 points. Smaller
/// blocks cost more in the parts' products than they save in the FFTs.
fn block_size(taps: usize) -> usize {
    (taps / 2).next_power_of_two().clamp(256, 4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_convolve_as_the_definition() {
        let mut rng = Rng::new(5);
        let mut h = vec![0.0f32; 300];
        h.iter_mut().for_each(|v| *v = rng.gaussian());
        // A response of 300 taps is cut in parts of 256: two parts, and
        // signals of several blocks, of one, and shorter than one.
        assert_eq!(block_size(300), 256);
        assert_eq!(
            (block_size(3000), block_size(16000), block_size(44100)),
            (2048, 4096, 4096)
        );
        for n in [3000, 256, 100, 20000] {
            let mut x = vec![0.0f32; n];
            x.iter_mut().for_each(|v| *v = rng.gaussian());
            let expected: Vec<f64> = (0..n)
                .map(|i| {
                    (0..h.len().min(i + 1))
                        .map(|k| f64::from(h[k]) * f64::from(x[i - k]))
                        .sum()
                })
                .collect();
            convolve_in_place(&mut x, &h);
            for (got, want) in x.iter().zip(&expected) {
                assert!((f64::from(*got) - want).abs() < 1e-3, "{got} {want}");
            }
        }
    }

    /// The time in seconds where the backward-integrated energy of `h[1..]`
    /// (Schroeder's decay curve) first falls `db` below its start.
    fn decay_time(h: &[f32], rate: f64, db: f64) -> f64 {
        let mut remaining: Vec<f64> = h[1..].iter().map(|&v| f64::from(v).powi(2)).collect();
        for i in (0..remaining.len() - 1).rev() {
            remaining[i] += remaining[i + 1];
        }
        let at = remaining
            .iter()
            .position(|&e| 10.0 * (e / remaining[0]).log10() < -db)
            .unwrap();
        at as f64 / rate
    }

    #[test]
    fn responses_decay_at_their_rt60_with_their_drr() {
        for (seed, rt60, drr) in [(1, 0.2, 10.0), (2, 0.5, 0.0), (3, 1.0, -3.0)] {
            let rate = 16000.0;
            let h = impulse_response(16000, rt60, drr, &mut Rng::new(seed));
            assert_eq!(h.len(), (rt60 * rate * TAIL_DB / 60.0).round() as usize);
            assert_eq!(h[0], 1.0);
            let reverberant: f64 = h[1..].iter().map(|&v| f64::from(v).powi(2)).sum();
            assert!((-10.0 * reverberant.log10() - drr).abs() < 1e-3);
            // T20: the fall from -5 to -25 dB, extrapolated to 60 dB.
            let t20 = 3.0 * (decay_time(&h, rate, 25.0) - decay_time(&h, rate, 5.0));
            assert!((t20 / rt60 - 1.0).abs() < 0.15, "rt60 {rt60}: T20 {t20}");
        }
    }
}
