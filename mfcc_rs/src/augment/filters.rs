//! Second-order IIR sections (the formulas of R. Bristow-Johnson's "Audio
//! EQ cookbook") for the band limits of a telephone line and a random
//! microphone or channel response.

use realfft::num_complex::Complex;

/// One second-order section, normalised so that `a0` is 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
}

/// Quality factors of the two sections of a 4th-order Butterworth filter.
const BUTTERWORTH_4: [f64; 2] = [0.541_196_100_146_197, 1.306_562_964_876_376_5];

/// The quality factor of a shelf with the steepest slope that does not
/// overshoot (the cookbook's S = 1).
pub const SHELF_Q: f64 = std::f64::consts::FRAC_1_SQRT_2;

impl Biquad {
    fn normalised(b: [f64; 3], a: [f64; 3]) -> Self {
        Biquad {
            b: b.map(|v| v / a[0]),
            a: [a[1] / a[0], a[2] / a[0]],
        }
    }

    /// `(cos w0, alpha)` of a corner at `hz` with quality `q`.
    fn corner(hz: f64, q: f64, sample_rate: u32) -> (f64, f64) {
        let w0 = std::f64::consts::TAU * hz / f64::from(sample_rate);
        (w0.cos(), w0.sin() / (2.0 * q))
    }

    pub fn low_pass(hz: f64, q: f64, sample_rate: u32) -> Self {
        let (cos, alpha) = Self::corner(hz, q, sample_rate);
        let side = (1.0 - cos) / 2.0;
        Self::normalised(
            [side, 1.0 - cos, side],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        )
    }

    pub fn high_pass(hz: f64, q: f64, sample_rate: u32) -> Self {
        let (cos, alpha) = Self::corner(hz, q, sample_rate);
        let side = (1.0 + cos) / 2.0;
        Self::normalised(
            [side, -(1.0 + cos), side],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        )
    }

    /// A bell of `gain_db` at `hz`, `hz / q` wide.
    pub fn peaking(hz: f64, q: f64, gain_db: f64, sample_rate: u32) -> Self {
        let (cos, alpha) = Self::corner(hz, q, sample_rate);
        let a = 10f64.powf(gain_db / 40.0);
        Self::normalised(
            [1.0 + alpha * a, -2.0 * cos, 1.0 - alpha * a],
            [1.0 + alpha / a, -2.0 * cos, 1.0 - alpha / a],
        )
    }

    /// `gain_db` below `hz` (half of it at `hz`), 0 dB far above.
    pub fn low_shelf(hz: f64, gain_db: f64, sample_rate: u32) -> Self {
        let (cos, alpha) = Self::corner(hz, SHELF_Q, sample_rate);
        let a = 10f64.powf(gain_db / 40.0);
        let k = 2.0 * a.sqrt() * alpha;
        Self::normalised(
            [
                a * ((a + 1.0) - (a - 1.0) * cos + k),
                2.0 * a * ((a - 1.0) - (a + 1.0) * cos),
                a * ((a + 1.0) - (a - 1.0) * cos - k),
            ],
            [
                (a + 1.0) + (a - 1.0) * cos + k,
                -2.0 * ((a - 1.0) + (a + 1.0) * cos),
                (a + 1.0) + (a - 1.0) * cos - k,
            ],
        )
    }

    /// `gain_db` above `hz` (half of it at `hz`), 0 dB far below.
    pub fn high_shelf(hz: f64, gain_db: f64, sample_rate: u32) -> Self {
        let (cos, alpha) = Self::corner(hz, SHELF_Q, sample_rate);
        let a = 10f64.powf(gain_db / 40.0);
        let k = 2.0 * a.sqrt() * alpha;
        Self::normalised(
            [
                a * ((a + 1.0) + (a - 1.0) * cos + k),
                -2.0 * a * ((a - 1.0) + (a + 1.0) * cos),
                a * ((a + 1.0) + (a - 1.0) * cos - k),
            ],
            [
                (a + 1.0) - (a - 1.0) * cos + k,
                2.0 * ((a - 1.0) - (a + 1.0) * cos),
                (a + 1.0) - (a - 1.0) * cos - k,
            ],
        )
    }

    /// Filters `x` in place (transposed direct form II, state in f64),
    /// starting from rest.
    pub fn process(&self, x: &mut [f32]) {
        cascade(std::slice::from_ref(self), x);
    }

    /// The gain at `hz` in dB.
    pub fn response_db(&self, hz: f64, sample_rate: u32) -> f64 {
        let w = std::f64::consts::TAU * hz / f64::from(sample_rate);
        let z1 = Complex::from_polar(1.0, -w);
        let z2 = z1 * z1;
        let num = self.b[0] + z1 * self.b[1] + z2 * self.b[2];
        let den = 1.0 + z1 * self.a[0] + z2 * self.a[1];
        20.0 * (num / den).norm().log10()
    }
}

/// `x` through `sections` one after the other, in place, from rest.
pub fn cascade(sections: &[Biquad], x: &mut [f32]) {
    for group in sections.chunks(4) {
        match group {
            [a] => fused([*a], x),
            [a, b] => fused([*a, *b], x),
            [a, b, c] => fused([*a, *b, *c], x),
            [a, b, c, d] => fused([*a, *b, *c, *d], x),
            _ => unreachable!("chunks of 1 to 4"),
        }
    }
}

/// Up to four sections in one pass over `x`, each in direct form I: a
/// section's output waits on its previous output through one multiply-add
/// only (the transposed form waits on two), and each section waits on its
/// own state alone, so the processor runs the sections side by side where
/// one pass per section waits on each in turn.
fn fused<const N: usize>(sections: [Biquad; N], x: &mut [f32]) {
    let (mut x1, mut x2, mut y1, mut y2) = ([0.0f64; N], [0.0f64; N], [0.0f64; N], [0.0f64; N]);
    for v in x {
        let mut signal = f64::from(*v);
        for k in 0..N {
            let ([b0, b1, b2], [a1, a2]) = (sections[k].b, sections[k].a);
            // Everything but the last term is known a sample ahead.
            let ahead = b0 * signal + b1 * x1[k] + b2 * x2[k] - a2 * y2[k];
            let out = ahead - a1 * y1[k];
            (x2[k], x1[k], y2[k], y1[k]) = (x1[k], signal, y1[k], out);
            signal = out;
        }
        *v = signal as f32;
    }
}

/// The pass band of a telephone line (ITU-T G.712).
pub const TELEPHONE_BAND_HZ: (f64, f64) = (300.0, 3400.0);

/// The sections of a telephone line's band-pass: 4th-order Butterworth
/// high-pass at 300 Hz and low-pass at 3400 Hz (24 dB per octave outside
/// the band). Below a 6.8 kHz rate the rate itself is the upper limit.
pub fn telephone(sample_rate: u32) -> Vec<Biquad> {
    let (low, high) = TELEPHONE_BAND_HZ;
    let mut sections: Vec<Biquad> = BUTTERWORTH_4
        .iter()
        .map(|&q| Biquad::high_pass(low, q, sample_rate))
        .collect();
    if high < f64::from(sample_rate) / 2.0 {
        sections.extend(
            BUTTERWORTH_4
                .iter()
                .map(|&q| Biquad::low_pass(high, q, sample_rate)),
        );
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f64, rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|k| (std::f64::consts::TAU * hz * k as f64 / f64::from(rate)).sin() as f32)
            .collect()
    }

    /// The level in dB of `hz` through `sections`, measured on a tone after
    /// the filters have settled.
    fn measured_db(sections: &[Biquad], hz: f64, rate: u32) -> f64 {
        let n = rate as usize;
        let mut y = tone(hz, rate, n);
        cascade(sections, &mut y);
        let power = |v: &[f32]| v.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
        let settled = n / 2;
        10.0 * (power(&y[settled..]) / power(&tone(hz, rate, n)[settled..])).log10()
    }

    #[test]
    fn the_telephone_band_passes_speech_and_stops_the_rest() {
        let sections = telephone(16000);
        assert_eq!(sections.len(), 4);
        for hz in [500.0, 1000.0, 2000.0, 2500.0] {
            let db = measured_db(&sections, hz, 16000);
            assert!(db.abs() < 1.0, "{hz} Hz: {db} dB");
        }
        // 24 dB per octave outside the band: well over 30 dB an octave and a
        // half out, and the Butterworth -3 dB at each corner.
        assert!(measured_db(&sections, 100.0, 16000) < -30.0);
        assert!(measured_db(&sections, 7000.0, 16000) < -24.0);
        assert!(measured_db(&sections, 7800.0, 16000) < -30.0);
        for hz in [300.0, 3400.0] {
            let at = sections
                .iter()
                .map(|s| s.response_db(hz, 16000))
                .sum::<f64>();
            assert!((at + 3.0).abs() < 0.1, "{hz}: {at}");
        }
        // One pass of the cascade is one pass per section (but for the
        // rounding to f32 between sections); six sections take two passes.
        let mut one_by_one = tone(1234.5, 16000, 5000);
        let mut together = one_by_one.clone();
        let six: Vec<Biquad> = sections.iter().chain(&sections[..2]).copied().collect();
        for s in &six {
            s.process(&mut one_by_one);
        }
        cascade(&six, &mut together);
        for (a, b) in together.iter().zip(&one_by_one) {
            assert!((a - b).abs() < 1e-5, "{a} {b}");
        }
        // At 6 kHz the rate is the upper limit.
        assert_eq!(telephone(6000).len(), 2);
    }

    #[test]
    fn shelves_and_bells_have_their_gains() {
        let rate = 16000;
        let low = Biquad::low_shelf(200.0, 9.0, rate);
        assert!((low.response_db(20.0, rate) - 9.0).abs() < 0.2);
        assert!((low.response_db(200.0, rate) - 4.5).abs() < 0.1);
        assert!(low.response_db(4000.0, rate).abs() < 0.1);
        let high = Biquad::high_shelf(3000.0, -8.0, rate);
        assert!((high.response_db(7900.0, rate) + 8.0).abs() < 0.3);
        assert!(high.response_db(100.0, rate).abs() < 0.1);
        let bell = Biquad::peaking(1000.0, 1.0, -10.0, rate);
        assert!((bell.response_db(1000.0, rate) + 10.0).abs() < 1e-9);
        assert!(bell.response_db(100.0, rate).abs() < 0.3);
        // The response formula is what filtering measures.
        let db = measured_db(&[bell], 1000.0, rate);
        assert!((db + 10.0).abs() < 0.05, "{db}");
    }
}
