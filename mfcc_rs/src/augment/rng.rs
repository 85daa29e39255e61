//! The random numbers of the chain: SplitMix64 seeded by a hash of the
//! file's path, written out here so that a chain never changes with a
//! dependency's version or the platform (std's hasher promises neither).

/// 64-bit FNV-1a of `parts`, each followed by a separator byte so that
/// `("ab", "c")` and `("a", "bc")` differ.
pub fn seed_of(parts: &[&[u8]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for part in parts {
        for &byte in part.iter().chain(&[0xff]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// SplitMix64 (Steele, Lea and Flood 2014): fast, and every seed, even a
/// poor one, gives a stream that passes BigCrush.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Log-uniform in [lo, hi): as likely an octave low as high.
    pub fn log_range(&mut self, lo: f64, hi: f64) -> f64 {
        (self.range(lo.ln(), hi.ln())).exp()
    }

    /// `true` with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n - 1)
    }

    /// An approximately standard normal value: the sum of four uniform
    /// 16-bit values (Irwin-Hall), centred and scaled to unit variance. Its
    /// tails stop at 3.46 standard deviations, which no noise or room
    /// response here needs, and it costs one draw where Box-Muller's
    /// logarithm and sine cost twenty times as much.
    pub fn gaussian(&mut self) -> f32 {
        // Mean 2 * 65535 and standard deviation 65536 / sqrt(3), to within
        // 1e-5 of their exact values.
        const MEAN: f32 = 131_070.0;
        const SCALE: f32 = 1.0 / 37_837.23;
        let bits = self.next_u64();
        let sum =
            (bits & 0xffff) + ((bits >> 16) & 0xffff) + ((bits >> 32) & 0xffff) + (bits >> 48);
        (sum as f32 - MEAN) * SCALE
    }

    /// `out` filled with values uniform in [-1, 1), four from each draw
    /// (16 bits each).
    pub fn fill_uniform(&mut self, out: &mut [f32]) {
        const HALF: f32 = 32_767.5;
        for chunk in out.chunks_mut(4) {
            let bits = self.next_u64();
            for (k, v) in chunk.iter_mut().enumerate() {
                *v = (((bits >> (16 * k)) & 0xffff) as f32 - HALF) / 32_768.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_separate_their_parts_and_streams_are_reproducible() {
        assert_ne!(seed_of(&[b"ab", b"c"]), seed_of(&[b"a", b"bc"]));
        assert_eq!(seed_of(&[b"x.wav"]), seed_of(&[b"x.wav"]));
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..4).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn draws_have_their_distributions() {
        let mut rng = Rng::new(1);
        let n = 200_000;
        let values: Vec<f32> = (0..n).map(|_| rng.gaussian()).collect();
        let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let var =
            values.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n as f64 - mean * mean;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.01,
            "{mean} {var}"
        );
        let mut flat = vec![0.0f32; n + 3];
        rng.fill_uniform(&mut flat);
        assert!(flat.iter().all(|v| (-1.0..1.0).contains(v)));
        let mean = flat.iter().map(|&v| f64::from(v)).sum::<f64>() / flat.len() as f64;
        let var = flat.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / flat.len() as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0 / 3.0).abs() < 0.01,
            "{mean} {var}"
        );
        let u: Vec<f64> = (0..n).map(|_| rng.range(-3.0, 5.0)).collect();
        assert!(u.iter().all(|&x| (-3.0..5.0).contains(&x)));
        let mean = u.iter().sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.02, "{mean}");
        let hits = (0..n).filter(|_| rng.chance(0.25)).count() as f64 / n as f64;
        assert!((hits - 0.25).abs() < 0.005, "{hits}");
        let mut counts = [0usize; 3];
        for _ in 0..n {
            counts[rng.below(3)] += 1;
        }
        assert!(counts
            .iter()
            .all(|&c| (c as f64 / n as f64 - 1.0 / 3.0).abs() < 0.01));
        // Log-uniform: the geometric middle splits the draws in half.
        let low = (0..n)
            .filter(|_| rng.log_range(100.0, 400.0) < 200.0)
            .count() as f64;
        assert!((low / n as f64 - 0.5).abs() < 0.01);
    }
}
