//! Room reverberation from generated impulse responses: a direct path,
//! a few early reflections and an exponentially decaying noise tail, the
//! statistical room model of Polack (1988) that image-source simulators
//! approach for the late part; convolved by FFT blocks (overlap-add).

use std::cell::RefCell;

use realfft::num_complex::Complex;
use realfft::RealFftPlanner;

use super::noise::power;
use super::rng::Rng;

/// Early reflections drawn per response.
const EARLY_REFLECTIONS: usize = 8;
/// The early part: reflections arrive between the first one's delay and this.
const EARLY_END_S: f64 = 0.05;
/// The first reflection's delay after the direct path, drawn in this range
/// (a source 0.3 to 1.7 m closer than the nearest wall).
const FIRST_REFLECTION_S: (f64, f64) = (0.001, 0.005);

thread_local! {
    // Plans kept per thread: planning costs about as much as convolving.
    static PLANNER: RefCell<RealFftPlanner<f32>> = RefCell::new(RealFftPlanner::new());
}

/// An impulse response `rt60_s` long (to -60 dB): 1 at sample 0 (the
/// direct path), then the reverberant part, whose energy is `drr_db` below
/// the direct path's. The reverberant part is a Gaussian noise tail under
/// an envelope falling 60 dB in `rt60_s`, from the first reflection on,
/// plus [`EARLY_REFLECTIONS`] single reflections 2 to 6 times the tail's
/// envelope, of random sign, in the first [`EARLY_END_S`].
pub fn impulse_response(sample_rate: u32, rt60_s: f64, drr_db: f64, rng: &mut Rng) -> Vec<f32> {
    let rate = f64::from(sample_rate);
    let len = ((rt60_s * rate).round() as usize).max(2);
    // Amplitude falls by 1000 (60 dB) over rt60_s.
    let decay = 1000f64.ln() / (rt60_s * rate);
    let envelope = |n: usize| (-decay * n as f64).exp();
    let first =
        ((rng.range(FIRST_REFLECTION_S.0, FIRST_REFLECTION_S.1) * rate) as usize).clamp(1, len - 1);
    let mut h = vec![0.0f32; len];
    rng.fill_gaussian(&mut h[first..]);
    for (n, v) in h.iter_mut().enumerate().skip(first) {
        *v *= envelope(n) as f32;
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
pub fn convolve_in_place(x: &mut [f32], h: &[f32]) {
    if x.is_empty() || h.is_empty() {
        return;
    }
    let taps = h.len();
    let n_fft = (2 * taps).next_power_of_two().max(1024);
    let block = n_fft - taps + 1;
    let (forward, inverse) = PLANNER.with(|p| {
        let mut p = p.borrow_mut();
        (p.plan_fft_forward(n_fft), p.plan_fft_inverse(n_fft))
    });
    let mut input = forward.make_input_vec();
    let mut spectrum = forward.make_output_vec();
    let mut scratch = forward.make_scratch_vec();
    // The response's spectrum, with the inverse FFT's 1 / n folded in.
    input[..taps].copy_from_slice(h);
    let mut response = forward.make_output_vec();
    forward
        .process_with_scratch(&mut input, &mut response, &mut scratch)
        .expect("buffers made by the plan");
    let unnormalised = 1.0 / n_fft as f32;
    for c in &mut response {
        *c *= unnormalised;
    }
    let mut inverse_scratch = inverse.make_scratch_vec();
    let mut output = inverse.make_output_vec();
    // What earlier blocks add to the next `taps - 1` samples.
    let mut carry = vec![0.0f32; taps - 1];
    let mut next = vec![0.0f32; taps - 1];
    for start in (0..x.len()).step_by(block) {
        let m = block.min(x.len() - start);
        input[..m].copy_from_slice(&x[start..start + m]);
        input[m..].fill(0.0);
        forward
            .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .expect("buffers made by the plan");
        for (s, r) in spectrum.iter_mut().zip(&response) {
            *s *= r;
        }
        // A real signal's DC and Nyquist bins are real; rounding may not be.
        spectrum[0].im = 0.0;
        let last = spectrum.len() - 1;
        spectrum[last] = Complex::new(spectrum[last].re, 0.0);
        inverse
            .process_with_scratch(&mut spectrum, &mut output, &mut inverse_scratch)
            .expect("buffers made by the plan");
        for (j, v) in next.iter_mut().enumerate() {
            *v = output[m + j] + carry.get(m + j).copied().unwrap_or(0.0);
        }
        for (i, v) in x[start..start + m].iter_mut().enumerate() {
            *v = output[i] + carry.get(i).copied().unwrap_or(0.0);
        }
        std::mem::swap(&mut carry, &mut next);
    }
}

/// `x` as heard in a room of reverberation time `rt60_s` at a
/// direct-to-reverberant ratio of `drr_db`, at its own level (mean square).
pub fn reverberate(x: &mut [f32], sample_rate: u32, rt60_s: f64, drr_db: f64, rng: &mut Rng) {
    let before = power(x);
    let h = impulse_response(sample_rate, rt60_s, drr_db, rng);
    convolve_in_place(x, &h);
    let after = power(x);
    if after > 0.0 {
        let scale = (before / after).sqrt() as f32;
        for v in x {
            *v *= scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_convolve_as_the_definition() {
        let mut rng = Rng::new(5);
        let mut h = vec![0.0f32; 300];
        rng.fill_gaussian(&mut h);
        // Several blocks (1024-point FFTs take 725 samples each), and a
        // signal shorter than one.
        for n in [3000, 100] {
            let mut x = vec![0.0f32; n];
            rng.fill_gaussian(&mut x);
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
            assert_eq!(h.len(), (rt60 * rate) as usize);
            assert_eq!(h[0], 1.0);
            let reverberant: f64 = h[1..].iter().map(|&v| f64::from(v).powi(2)).sum();
            assert!((-10.0 * reverberant.log10() - drr).abs() < 1e-3);
            // T20: the fall from -5 to -25 dB, extrapolated to 60 dB.
            let t20 = 3.0 * (decay_time(&h, rate, 25.0) - decay_time(&h, rate, 5.0));
            assert!((t20 / rt60 - 1.0).abs() < 0.15, "rt60 {rt60}: T20 {t20}");
        }
    }

    #[test]
    fn reverberation_keeps_the_level_and_smears_in_time() {
        let rate = 16000;
        // Clicks 0.5 s apart.
        let mut x = vec![0.0f32; rate as usize * 2];
        for k in (0..x.len()).step_by(8000) {
            x[k] = 1.0;
        }
        let before = power(&x);
        reverberate(&mut x, rate, 0.6, 0.0, &mut Rng::new(8));
        assert!((power(&x) / before - 1.0).abs() < 1e-4);
        assert!(x.iter().all(|v| v.is_finite()));
        // Between clicks there is now sound that decays.
        let energy =
            |a: usize, b: usize| x[a..b].iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
        let (early, late) = (energy(100, 1000), energy(6000, 7900));
        assert!(
            early > 0.0 && late > 0.0 && early > 10.0 * late,
            "{early} {late}"
        );
    }
}
