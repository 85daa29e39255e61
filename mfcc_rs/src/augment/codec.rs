//! Lossy re-encoding: G.711 mu-law, the 8-bit companding of North American
//! and Japanese telephone networks, as its reference implementation does it
//! (segments of 16 steps, doubling in size, on 14-bit linear samples).

use std::sync::OnceLock;

const BIAS: i32 = 0x84;
const CLIP: i32 = 32635;

/// One 16-bit sample to its 8-bit code.
fn encode(sample: i16) -> u8 {
    let sign = if sample < 0 { 0x80 } else { 0 };
    let magnitude = (i32::from(sample).abs()).min(CLIP) + BIAS;
    // The segment: the position of the highest set bit above bit 7.
    let exponent = (31 - magnitude.leading_zeros() as i32 - 7).clamp(0, 7);
    let mantissa = (magnitude >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// An 8-bit code to its 16-bit sample.
fn decode(code: u8) -> i16 {
    let code = !code;
    let exponent = i32::from((code >> 4) & 0x07);
    let mantissa = i32::from(code & 0x0f);
    let magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS;
    (if code & 0x80 != 0 {
        -magnitude
    } else {
        magnitude
    }) as i16
}

/// Every 16-bit sample's value after the codec, as a fraction of full
/// scale: one lookup a sample, where encoding and decoding each cost more.
fn round_trips() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (i16::MIN..=i16::MAX)
            .map(|s| f32::from(decode(encode(s))) / 32768.0)
            .collect()
    })
}

/// `x` through a mu-law encoder and decoder: 8 bits a sample, about 38 dB
/// of signal-to-quantisation-noise ratio over a wide range of levels, and
/// samples beyond full scale (1.0) clipped, as a real line clips them.
pub fn mu_law(x: &mut [f32]) {
    let table = round_trips();
    for v in x {
        // Rounded half away from zero by hand: f32::round is a libm call on
        // the x86-64 baseline. `as` saturates, which clips beyond full scale.
        let scaled = *v * 32767.0;
        let sample = (scaled + 0.5f32.copysign(scaled)) as i16;
        *v = table[(i32::from(sample) - i32::from(i16::MIN)) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_reference_implementations() {
        // Values of the ITU-T G.711 tables: silence, full scale, a step.
        assert_eq!(encode(0), 0xff);
        assert_eq!(decode(0xff), 0);
        assert_eq!(encode(32767), 0x80);
        assert_eq!(decode(0x80), 32124);
        assert_eq!(encode(-32768), 0x00);
        assert_eq!(decode(0x00), -32124);
        // Every code decodes to a value that encodes back to it (the
        // codes are the grid; 0x7f and 0xff both mean zero).
        for code in 0..=255u8 {
            let back = encode(decode(code));
            assert!(back == code || decode(back) == decode(code), "{code:#x}");
        }
    }

    #[test]
    fn the_round_trip_error_is_bounded_by_the_segment_size() {
        let mut x: Vec<f32> = (0..20000)
            .map(|k| (k as f32 * 0.0123).sin() * 0.5)
            .collect();
        let original = x.clone();
        mu_law(&mut x);
        for (a, b) in original.iter().zip(&x) {
            // A step is 1/16 of its segment's start: error at most ~1/16
            // of the sample, plus the finest step near zero.
            assert!((a - b).abs() <= a.abs() / 16.0 + 4.0 / 32768.0, "{a} {b}");
        }
        let noise: f64 = original
            .iter()
            .zip(&x)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum();
        let signal: f64 = original.iter().map(|&a| f64::from(a).powi(2)).sum();
        let sqnr = 10.0 * (signal / noise).log10();
        assert!((30.0..45.0).contains(&sqnr), "{sqnr} dB");
        let mut loud = vec![1.5f32, -2.0];
        mu_law(&mut loud);
        assert_eq!(loud, [32124.0 / 32768.0, -32124.0 / 32768.0]);
    }
}
