//! Band-limited resampling with the response of soxr's "HQ" preset, which
//! `librosa.load(path, sr=...)` uses, and with librosa's output length.
//!
//! soxr HQ filters with a linear-phase Kaiser-windowed sinc whose -6 dB point
//! sits at 0.957 of the lower of the two Nyquist frequencies (passband to
//! 0.914, stopband from 1.0). Its stopband attenuation, and so the window's
//! shape and length, depends on how many stages soxr splits the conversion
//! into; [`Filter::soxr_hq`] follows that. The constants were fitted to
//! impulse responses measured through `soxr.resample`: where soxr converts
//! with one filter stage, after halving the rate or not (8, 12, 24, 32, 48,
//! 64, 96 kHz into 16 kHz), they reproduce its output to about 1e-7. Other
//! ratios (11.025, 22.05, 44.1 kHz) go through soxr's polyphase stage, whose
//! passband droop (1e-3 near 0.9 of Nyquist) is not modelled; nor is the
//! start-up transient of soxr's multi-stage conversions, which changes their
//! first few output samples by up to 1e-2.
//!
//! The filter is applied in the frequency domain, block by block
//! (overlap-save): a block of input is transformed, multiplied by the
//! filter's response, and transformed back with as many bins as the output
//! rate needs. The cost is a few FFTs per block whatever the filter length,
//! where a direct polyphase filter of this length would cost ~500
//! multiply-adds per output sample at 44.1 kHz.

use std::f64::consts::PI;
use std::sync::{Arc, Mutex, OnceLock};

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::error::{Error, Result};

/// Cutoff (-6 dB) as a fraction of the lower Nyquist frequency: midway
/// between soxr HQ's passband end (0.9137) and stopband start (1.0).
const CUTOFF: f64 = 0.956_871_8;

/// Blocks grow up to about this many input samples; longer signals take
/// several blocks, so memory and FFT plans stay small.
const MAX_BLOCK_INPUT: usize = 1 << 16;
/// Reduced rate ratios with a larger term would need FFTs of millions of
/// points even for a few samples; no audio format uses such rate pairs.
const MAX_RATIO_TERM: u64 = 1 << 18;
/// Rates further apart than this are no audio conversion but a broken header
/// (a rate of a few Hz or GHz), whose kernel or output could exhaust memory.
const MAX_FACTOR: u64 = 256;
/// Plans kept for reuse: planning costs as much as resampling seconds of audio.
const PLAN_CACHE_SIZE: usize = 16;

/// Resamples `x` from `from` Hz to `to` Hz as `librosa.resample(x,
/// orig_sr=from, target_sr=to, res_type="soxr_hq")` does: the output is
/// aligned with the input (no delay), the signal is taken as silent beyond
/// its ends, and the output has `ceil(n * to / from)` samples, of which soxr
/// computes `round(n * to / from)` and librosa pads the rest with zeros.
pub fn resample(x: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    let mut resampler = Resampler::new(from, to)?;
    let mut y = Vec::new();
    resampler.push(x, &mut y);
    resampler.finish(&mut y);
    Ok(y)
}

/// [`resample`] of a signal that arrives in pieces: the concatenated output
/// of [`Resampler::push`] and [`Resampler::finish`] is bit for bit the
/// output of [`resample`] on the whole signal, however it was cut. Memory
/// stays at about one FFT block once the signal is long enough for the
/// largest block, whose layout is then the whole-signal one; a shorter
/// signal is held until [`Resampler::finish`] and resampled whole.
pub struct Resampler {
    /// `None` when the rates are equal: samples pass through.
    ratio: Option<(usize, usize)>,
    /// The plan of any signal long enough, known from the start.
    largest: Option<Arc<Plan>>,
    /// Once fixed: the plan the whole signal would get.
    plan: Option<Arc<Plan>>,
    /// Input samples from `offset` on; earlier ones are no longer needed.
    input: Vec<f32>,
    offset: usize,
    n_in: u64,
    next_block: usize,
    /// Output samples given so far.
    produced: usize,
    work: Option<Work>,
}

impl Resampler {
    pub fn new(from: u32, to: u32) -> Result<Self> {
        if from == 0 || to == 0 {
            return Err(Error::Config(format!(
                "cannot resample from {from} Hz to {to} Hz"
            )));
        }
        let g = gcd(u64::from(from), u64::from(to));
        let (up, down) = (u64::from(to) / g, u64::from(from) / g);
        if up.max(down) > MAX_RATIO_TERM {
            return Err(Error::Config(format!(
                "cannot resample from {from} Hz to {to} Hz: the rates have too small a common divisor"
            )));
        }
        if up > MAX_FACTOR * down || down > MAX_FACTOR * up {
            return Err(Error::Config(format!(
                "cannot resample from {from} Hz to {to} Hz: the rates differ by more than a factor {MAX_FACTOR}"
            )));
        }
        Ok(Resampler {
            ratio: (from != to).then_some((up as usize, down as usize)),
            largest: None,
            plan: None,
            input: Vec::new(),
            offset: 0,
            n_in: 0,
            next_block: 0,
            produced: 0,
            work: None,
        })
    }

    /// `(computed, full)`: output samples soxr computes and librosa returns
    /// for `n` input samples.
    fn lengths(&self, n: u64) -> (usize, usize) {
        let (up, down) = self.ratio.map_or((1, 1), |(u, d)| (u as u64, d as u64));
        (
            ((2 * n * up + down) / (2 * down)) as usize,
            (n * up).div_ceil(down) as usize,
        )
    }

    /// Takes the next piece of the signal, appending the output it completes to `out`.
    pub fn push(&mut self, x: &[f32], out: &mut Vec<f32>) {
        let Some((up, down)) = self.ratio else {
            out.extend_from_slice(x);
            return;
        };
        self.input.extend_from_slice(x);
        self.n_in += x.len() as u64;
        if self.plan.is_none() {
            let largest = self
                .largest
                .get_or_insert_with(|| cached_plan(up, down, usize::MAX >> 8))
                .clone();
            // Blocks only grow with the length, up to the largest: once
            // this much input gives it, so does the whole signal.
            let units = self.lengths(self.n_in).0.div_ceil(up);
            if block_units(units + 2 * largest.pad, largest.pad, down) == largest.block {
                self.plan = Some(largest);
            }
        }
        if self.plan.is_some() {
            let known = self.lengths(self.n_in).0;
            self.run(known, false, out);
        }
    }

    /// Ends the signal: appends the rest of the output to `out`.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.ratio.is_none() {
            return;
        }
        let (computed, full) = self.lengths(self.n_in);
        if computed > 0 {
            if self.plan.is_none() {
                let (up, down) = self.ratio.expect("rates differ");
                self.plan = Some(cached_plan(up, down, computed.div_ceil(up)));
            }
            self.run(computed, true, out);
        }
        out.resize(out.len() + full - self.produced, 0.0);
        self.produced = full;
        self.input = Vec::new();
    }

    /// Output blocks up to `limit` samples; only those whose input is all
    /// there unless the signal has `ended`.
    fn run(&mut self, limit: usize, ended: bool, out: &mut Vec<f32>) {
        let plan = Arc::clone(self.plan.as_ref().expect("plan fixed"));
        let work = self.work.get_or_insert_with(|| Work::new(&plan));
        let hop = plan.hop();
        while self.produced < limit {
            let b = self.next_block;
            let start = plan.block_start(b);
            let needs = start + (plan.block * plan.down) as isize;
            if !ended && needs > self.n_in as isize {
                break;
            }
            let len = hop.min(limit - self.produced);
            if !ended && len < hop {
                break;
            }
            let at = out.len();
            out.resize(at + len, 0.0);
            plan.block_output(
                &self.input,
                start - self.offset as isize,
                work,
                &mut out[at..],
            );
            self.produced += len;
            self.next_block += 1;
        }
        // Later blocks start no earlier than the next one.
        let keep_from = plan.block_start(self.next_block).max(0) as usize;
        if keep_from > self.offset {
            let drop = (keep_from - self.offset).min(self.input.len());
            self.input.drain(..drop);
            self.offset += drop;
        }
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// An FFT block layout for one rate pair. Positions are counted in units of
/// `down` input samples, which are exactly `up` output samples, so every
/// block starts on an input sample and on an output sample at once.
struct Plan {
    up: usize,
    down: usize,
    /// Units of context on each side of a block's output span: at least the
    /// kernel's half-length, so the FFT's circular wrap only corrupts them.
    pad: usize,
    /// Units per FFT block.
    block: usize,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    /// Filter response on the bins both spectra share, with the FFT's `1/N`.
    response: Vec<f32>,
}

impl Plan {
    fn new(up: usize, down: usize, units: usize) -> Self {
        let kernel = Filter::soxr_hq(up, down).taps(up, down);
        let reach = kernel.len() / 2 + 1;
        let pad = reach.div_ceil(down);
        let block = block_units(units + 2 * pad, pad, down);
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(block * down);
        let inverse = planner.plan_fft_inverse(block * up);
        let response = response(&kernel, forward.as_ref(), inverse.complex_len());
        Plan {
            up,
            down,
            pad,
            block,
            forward,
            inverse,
            response,
        }
    }

    /// Output samples per block.
    fn hop(&self) -> usize {
        (self.block - 2 * self.pad) * self.up
    }

    /// Input position of block `b`'s first sample (negative: before the signal).
    fn block_start(&self, b: usize) -> isize {
        (b * self.hop() / self.up * self.down) as isize - (self.pad * self.down) as isize
    }

    /// The first `out.len()` output samples of the block whose input starts
    /// at `start` in `x`.
    fn block_output(&self, x: &[f32], start: isize, w: &mut Work, out: &mut [f32]) {
        copy_zero_extended(x, start, &mut w.input);
        // Lengths all come from the plans, so the FFTs cannot fail.
        self.forward
            .process_with_scratch(&mut w.input, &mut w.spectrum, &mut w.scratch)
            .expect("buffers sized by the forward plan");
        let shared = self.response.len();
        for ((f, s), h) in w.filtered.iter_mut().zip(&w.spectrum).zip(&self.response) {
            *f = s * *h;
        }
        // Upsampling: nothing above the input's Nyquist frequency.
        w.filtered[shared..].fill(Complex::default());
        // The DC bin, and the Nyquist bin of an even-length output, must
        // be real; the filter has removed everything at Nyquist anyway.
        w.filtered[0].im = 0.0;
        if self.inverse.len() % 2 == 0 {
            let nyquist = w.filtered.len() - 1;
            w.filtered[nyquist].im = 0.0;
        }
        self.inverse
            .process_with_scratch(&mut w.filtered, &mut w.output, &mut w.scratch)
            .expect("buffers sized by the inverse plan");
        let skip = self.pad * self.up;
        out.copy_from_slice(&w.output[skip..skip + out.len()]);
    }
}

/// The buffers of one plan's FFTs.
struct Work {
    input: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    filtered: Vec<Complex<f32>>,
    output: Vec<f32>,
    scratch: Vec<Complex<f32>>,
}

impl Work {
    fn new(plan: &Plan) -> Self {
        let scratch_len = plan
            .forward
            .get_scratch_len()
            .max(plan.inverse.get_scratch_len());
        Work {
            input: plan.forward.make_input_vec(),
            spectrum: plan.forward.make_output_vec(),
            filtered: plan.inverse.make_input_vec(),
            output: plan.inverse.make_output_vec(),
            scratch: vec![Complex::default(); scratch_len],
        }
    }
}

/// `x[start..start + out.len()]` with zeros where that runs off either end.
fn copy_zero_extended(x: &[f32], start: isize, out: &mut [f32]) {
    out.fill(0.0);
    let first = start.max(0) as usize;
    let last = (start + out.len() as isize).clamp(0, x.len() as isize) as usize;
    if first < last {
        let offset = (first as isize - start) as usize;
        out[offset..offset + last - first].copy_from_slice(&x[first..last]);
    }
}

/// Units per block: enough for `needed` when that fits in about
/// [`MAX_BLOCK_INPUT`] input samples, else about that many. Sizes are 2^k or
/// 3 * 2^k units so that few distinct FFT plans are ever made.
fn block_units(needed: usize, pad: usize, down: usize) -> usize {
    let cap = (MAX_BLOCK_INPUT / down).max(4 * pad + 1);
    let mut size = 1;
    loop {
        for candidate in [size, size * 3 / 2] {
            if candidate >= needed || candidate * 2 > cap {
                return candidate.max(2 * pad + 1);
            }
        }
        size *= 2;
    }
}

/// A Kaiser-windowed sinc with [`CUTOFF`]; lengths in samples at the lower rate.
struct Filter {
    beta: f64,
    half_length: f64,
}

impl Filter {
    /// The filter soxr HQ uses for a conversion by `up / down` (reduced).
    ///
    /// soxr first halves the rate while a factor of 4 or more remains, then
    /// does the rest in one filter stage when it is a ratio of integers up
    /// to 4, else in a polyphase stage and a filter stage. Every
    /// stage beyond the first takes a share of the error budget, so the
    /// filter stage's attenuation rises by 20 log10 of the stage count (and
    /// 6 dB for a polyphase stage). The filter stage runs at `factor` times
    /// the lower rate and rounds its tap count there up to 1 (mod 4).
    fn soxr_hq(up: usize, down: usize) -> Filter {
        let halvings = (down / (2 * up)).max(1).ilog2();
        let (rest_down, rest_up) = (down, up << halvings);
        let largest_term = rest_down.max(rest_up) / gcd(rest_down as u64, rest_up as u64) as usize;
        let polyphase = largest_term > 4;
        let factor = if polyphase { 2 } else { largest_term } as f64;
        let extra_db = 20.0 * f64::from(halvings + 1).log10()
            + if polyphase { 20.0 * 2f64.log10() } else { 0.0 };
        // Fitted to soxr's window shape and tap counts with one stage (126.4
        // dB: 20 bits of precision plus one) and with two (132.5 dB).
        let beta = 13.04 + 0.1115 * extra_db;
        let taps_per_factor = 193.2 + 1.528 * extra_db;
        let taps = ((factor * taps_per_factor + 1.0).ceil() as usize - 1).next_multiple_of(4) + 1;
        Filter {
            beta,
            half_length: ((taps - 1) as f64 / 2.0 + 0.5) / factor,
        }
    }

    /// The kernel sampled at the input rate, centred: tap `i` sits at
    /// `i - len / 2` input samples. Normalised to unit gain at DC.
    fn taps(&self, up: usize, down: usize) -> Vec<f64> {
        // Samples at the lower rate per input sample (1 when upsampling).
        let step = (up as f64 / down as f64).min(1.0);
        let half = (self.half_length / step).ceil() as usize;
        let i0_beta = bessel_i0(self.beta);
        let taps: Vec<f64> = (0..=2 * half)
            .map(|i| {
                let u = (i as f64 - half as f64) * step;
                let r = u / self.half_length;
                if r.abs() >= 1.0 {
                    return 0.0;
                }
                let x = PI * CUTOFF * u;
                let sinc = if x == 0.0 { 1.0 } else { x.sin() / x };
                sinc * bessel_i0(self.beta * (1.0 - r * r).sqrt()) / i0_beta
            })
            .collect();
        let sum: f64 = taps.iter().sum();
        taps.into_iter().map(|t| t / sum).collect()
    }
}

/// The kernel's response on the first `bins` bins of the forward FFT,
/// scaled by `1/N` so that forward, multiply, inverse is the identity in the
/// passband. The kernel is symmetric, so its response is real.
fn response(kernel: &[f64], forward: &dyn RealToComplex<f32>, bins: usize) -> Vec<f32> {
    let n = forward.len();
    let half = kernel.len() / 2;
    let mut wrapped = forward.make_input_vec();
    for (i, &tap) in kernel.iter().enumerate() {
        wrapped[(i + n - half % n) % n] += tap as f32;
    }
    let mut spectrum = forward.make_output_vec();
    forward
        .process(&mut wrapped, &mut spectrum)
        .expect("buffers sized by the forward plan");
    spectrum.truncate(bins);
    spectrum.iter().map(|c| c.re / n as f32).collect()
}

fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-16 * sum {
        term *= (x / (2.0 * k)).powi(2);
        sum += term;
        k += 1.0;
    }
    sum
}

/// Plans are shared between threads and calls; a new rate pair or signal
/// length class builds one outside the lock.
fn cached_plan(up: usize, down: usize, units: usize) -> Arc<Plan> {
    static PLANS: OnceLock<Mutex<Vec<Arc<Plan>>>> = OnceLock::new();
    let plans = PLANS.get_or_init(|| Mutex::new(Vec::new()));
    let fits = |p: &Plan| {
        p.up == up && p.down == down && p.block == block_units(units + 2 * p.pad, p.pad, down)
    };
    if let Some(plan) = plans
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|p| fits(p))
    {
        return Arc::clone(plan);
    }
    let plan = Arc::new(Plan::new(up, down, units));
    let mut plans = plans.lock().unwrap_or_else(|e| e.into_inner());
    if plans.len() == PLAN_CACHE_SIZE {
        plans.remove(0);
    }
    plans.push(Arc::clone(&plan));
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (0.5 * (2.0 * PI * freq * i as f64 / rate as f64).sin()) as f32)
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn lengths_are_librosas_with_soxrs_zero_tail() {
        // (n, from, to, ceil, round): soxr computes round(n * to / from)
        // samples and librosa zero-pads to the ceiling.
        for (n, from, to, ceil, round) in [
            (101, 22050, 16000, 74, 73),
            (100, 22050, 16000, 73, 73),
            (1, 44100, 16000, 1, 0),
            (7, 48000, 16000, 3, 2),
            (3, 8000, 16000, 6, 6),
            (0, 44100, 16000, 0, 0),
        ] {
            let y = resample(&vec![1.0; n], from, to).unwrap();
            assert_eq!(y.len(), ceil, "{n} {from} {to}");
            assert!(y[round..].iter().all(|&v| v == 0.0), "{n} {from} {to}");
            assert!(y[..round].iter().all(|&v| v != 0.0), "{n} {from} {to}");
        }
    }

    #[test]
    fn same_rate_is_a_copy_and_zero_rate_an_error() {
        assert_eq!(resample(&[0.5, -1.0], 16000, 16000).unwrap(), [0.5, -1.0]);
        assert!(matches!(resample(&[0.5], 0, 16000), Err(Error::Config(_))));
        assert!(matches!(resample(&[0.5], 16000, 0), Err(Error::Config(_))));
        assert!(matches!(
            resample(&[0.5], 4_000_037, 16000),
            Err(Error::Config(_))
        ));
        assert!(matches!(resample(&[0.5], 62, 16000), Err(Error::Config(_))));
        assert!(matches!(
            resample(&[0.5], 4_096_016_000, 16000),
            Err(Error::Config(_))
        ));
        assert_eq!(resample(&[0.5; 4096], 4_096_000, 16000).unwrap().len(), 16);
        assert_eq!(resample(&[0.5], 63, 16000).unwrap().len(), 254);
    }

    #[test]
    fn pieces_give_the_whole_signals_output_bit_for_bit() {
        // 14.4 and 17.6 kHz: 16 kHz audio at speeds 0.9 and 1.1.
        for (from, n) in [
            (44100, 300_000),
            (8000, 70_001),
            (48000, 1000),
            (22050, 5),
            (14400, 100_000),
            (17600, 90_001),
        ] {
            let x = sine(441.0, from, n);
            let whole = resample(&x, from, 16000).unwrap();
            for sizes in [&[1usize, 7, 999][..], &[65_536], &[12_345, 1]] {
                let mut r = Resampler::new(from, 16000).unwrap();
                let (mut y, mut at, mut k) = (Vec::new(), 0, 0);
                while at < n {
                    let take = sizes[k % sizes.len()].min(n - at);
                    r.push(&x[at..at + take], &mut y);
                    // Input is dropped as blocks are done.
                    assert!(
                        r.input.len() <= 4 * MAX_BLOCK_INPUT + take,
                        "{}",
                        r.input.len()
                    );
                    (at, k) = (at + take, k + 1);
                }
                r.finish(&mut y);
                assert_eq!(y, whole, "{from} Hz, {n} samples, pieces {sizes:?}");
            }
        }
    }

    #[test]
    fn constant_keeps_unit_gain_away_from_the_ends() {
        let y = resample(&vec![1.0; 48000], 48000, 16000).unwrap();
        assert!(y[200..15800].iter().all(|&v| (v - 1.0).abs() < 1e-5));
    }

    #[test]
    fn long_signals_cross_block_boundaries_seamlessly() {
        // 10 s at 44.1 kHz takes several blocks; a sine must come through
        // with no glitch where they join.
        let y = resample(&sine(440.0, 44100, 441_000), 44100, 16000).unwrap();
        let want = sine(440.0, 16000, 160_000);
        let worst = y[200..159_800]
            .iter()
            .zip(&want[200..159_800])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 2e-5, "{worst}");
    }

    #[test]
    fn filters_are_the_ones_measured_through_soxr() {
        // (up, down, half-length in lower-rate samples, Kaiser beta) fitted
        // to soxr's impulse responses: 16 kHz from 8, 48, 12, 96 kHz.
        for (up, down, half_length, beta) in [
            (2, 1, 97.25, 13.04),
            (1, 3, 96.833, 13.04),
            (4, 3, 97.125, 13.04),
            (1, 6, 101.5, 13.71),
        ] {
            let filter = Filter::soxr_hq(up, down);
            assert!(
                (filter.half_length - half_length).abs() < 1e-3,
                "{up}/{down}: {}",
                filter.half_length
            );
            assert!(
                (filter.beta - beta).abs() < 0.01,
                "{up}/{down}: {}",
                filter.beta
            );
        }
    }

    #[test]
    fn blocks_are_few_sizes_and_hold_the_kernel() {
        for (up, down) in [(160, 441), (1, 3), (2, 1), (320, 441), (16000, 44101)] {
            let kernel = Filter::soxr_hq(up, down).taps(up, down);
            let plan = Plan::new(up, down, 10);
            assert!(plan.pad * down > kernel.len() / 2);
            assert!(plan.block > 2 * plan.pad);
            let k = plan.block;
            assert!(
                k.is_power_of_two() || (k % 3 == 0 && (k / 3).is_power_of_two()),
                "{k}"
            );
        }
    }

    #[test]
    fn rejects_above_the_new_nyquist() {
        for freq in [8_200.0, 10_000.0, 20_000.0] {
            let y = resample(&sine(freq, 44100, 44100), 44100, 16000).unwrap();
            let level = rms(&y[300..15700]) / (0.5 / 2f64.sqrt());
            assert!(level < 1e-6, "{freq} Hz: {level}");
        }
    }
}
