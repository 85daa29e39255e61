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
        let ([b0, b1, b2], [a1, a2]) = (self.b, self.a);
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for v in x {
            let input = f64::from(*v);
            let out = b0 * input + s1;
            s1 = b1 * input - a1 * out + s2;
            s2 = b2 * input - a2 * out;
            *v = out as f32;
        }
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
        for s in sections {
            s.process(&mut y);
        }
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
