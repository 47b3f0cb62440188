//! Key choice, as YCSB does it: uniform, scrambled zipfian, and latest.
//!
//! - **Zipfian** is YCSB's `ScrambledZipfianGenerator`: a zipfian draw (θ = 0.99) over ten
//!   billion items with YCSB's precomputed ζ, hashed with FNV-1a and taken modulo the record
//!   count. The hash spreads the hot items over the key space (otherwise the hottest keys would
//!   be `user0`, `user1`, … and all land together), and the fixed huge item count makes the
//!   skew independent of the record count, so runs with different record counts compare.
//! - **Latest** is YCSB's `SkewedLatestGenerator`: a zipfian rank counted back from the newest
//!   record, so recent inserts are the hot ones (workload D).
//! - **Uniform**: every record equally likely.
//!
//! Random numbers come from SplitMix64, seeded per client: fast, good enough for choosing keys,
//! and no dependency.

/// YCSB's zipfian constant.
pub const THETA: f64 = 0.99;
/// The item count of YCSB's scrambled zipfian and its ζ(items, 0.99), as YCSB precomputes it.
const SCRAMBLED_ITEMS: u64 = 10_000_000_000;
const SCRAMBLED_ZETAN: f64 = 26.469_028_201_783_02;

/// SplitMix64: one multiply-xorshift round per number.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A seed that differs between runs and between clients of one run.
    pub fn seeded(stream: u64) -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut rng = Rng(nanos ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [0, n) (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// YCSB's 64-bit FNV-1a over the eight bytes of `value`, made non-negative as YCSB does.
pub fn fnv_hash64(mut value: u64) -> u64 {
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
    for _ in 0..8 {
        hash ^= value & 0xff;
        hash = hash.wrapping_mul(1_099_511_628_211);
        value >>= 8;
    }
    (hash as i64).unsigned_abs()
}

/// ζ(n, θ) = Σ_{i=1..n} 1/i^θ, continued from a known ζ(from, θ).
fn zeta(from: u64, to: u64, theta: f64, initial: f64) -> f64 {
    (from..to).fold(initial, |sum, i| sum + 1.0 / ((i + 1) as f64).powf(theta))
}

/// YCSB's `ZipfianGenerator` (Gray et al., "Quickly generating billion-record synthetic
/// databases"): ranks in [0, items), rank 0 the most popular. The item count may grow (latest
/// over a growing table); ζ is then extended incrementally.
#[derive(Clone, Debug)]
pub struct Zipfian {
    items: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    zeta2: f64,
    eta: f64,
}

impl Zipfian {
    pub fn new(items: u64) -> Zipfian {
        let items = items.max(1);
        Self::with_zeta(items, zeta(0, items, THETA, 0.0))
    }

    fn with_zeta(items: u64, zetan: f64) -> Zipfian {
        let theta = THETA;
        let zeta2 = zeta(0, 2, theta, 0.0);
        let mut z = Zipfian {
            items,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            zeta2,
            eta: 0.0,
        };
        z.eta = z.eta_for(items);
        z
    }

    fn eta_for(&self, items: u64) -> f64 {
        (1.0 - (2.0 / items as f64).powf(1.0 - self.theta)) / (1.0 - self.zeta2 / self.zetan)
    }

    /// A rank in [0, items); `items` may have grown since the last call.
    pub fn next(&mut self, rng: &mut Rng, items: u64) -> u64 {
        let items = items.max(1);
        if items > self.items {
            self.zetan = zeta(self.items, items, self.theta, self.zetan);
            self.items = items;
            self.eta = self.eta_for(items);
        }
        let items = self.items;
        let u = rng.next_f64();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(items - 1);
        }
        let rank = (items as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        rank.min(items - 1)
    }
}

/// How keys are drawn; see the module docs.
#[derive(Clone, Debug)]
pub enum KeyChooser {
    Uniform,
    Zipfian(Zipfian),
    Latest(Zipfian),
}

impl KeyChooser {
    pub fn new(distribution: super::Distribution, records: u64) -> KeyChooser {
        match distribution {
            super::Distribution::Uniform => KeyChooser::Uniform,
            super::Distribution::Zipfian => {
                KeyChooser::Zipfian(Zipfian::with_zeta(SCRAMBLED_ITEMS, SCRAMBLED_ZETAN))
            }
            super::Distribution::Latest => KeyChooser::Latest(Zipfian::new(records)),
        }
    }

    /// A record number in [0, records), where `records` is how many exist now.
    pub fn next(&mut self, rng: &mut Rng, records: u64) -> u64 {
        let records = records.max(1);
        match self {
            KeyChooser::Uniform => rng.below(records),
            KeyChooser::Zipfian(z) => fnv_hash64(z.next(rng, SCRAMBLED_ITEMS)) % records,
            KeyChooser::Latest(z) => records - 1 - z.next(rng, records),
        }
    }
}

/// The key of record `n`, as YCSB names them.
pub fn key(n: u64) -> Vec<u8> {
    format!("user{n}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::super::Distribution;
    use super::*;

    fn counts(distribution: Distribution, records: u64, draws: usize) -> Vec<u64> {
        let mut rng = Rng::new(7);
        let mut chooser = KeyChooser::new(distribution, records);
        let mut counts = vec![0u64; records as usize];
        for _ in 0..draws {
            let n = chooser.next(&mut rng, records);
            assert!(n < records, "{n} out of range");
            counts[n as usize] += 1;
        }
        counts
    }

    #[test]
    fn zipfian_concentrates_on_a_few_hot_keys_spread_over_the_range() {
        let (records, draws) = (10_000u64, 200_000usize);
        let zipf = counts(Distribution::Zipfian, records, draws);
        let uniform = counts(Distribution::Uniform, records, draws);
        let hottest = |c: &[u64]| *c.iter().max().unwrap_or(&0) as f64 / draws as f64;
        // θ = 0.99 over YCSB's 10^10 items: the top rank alone is 1/ζ ≈ 3.8% of draws.
        assert!(hottest(&zipf) > 0.03, "hottest share {}", hottest(&zipf));
        assert!(hottest(&uniform) < 0.001, "{}", hottest(&uniform));
        // Skew: the 1% hottest keys take a large share, against ~1% under uniform.
        let top_share = |c: &[u64]| {
            let mut sorted = c.to_vec();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            sorted[..(records / 100) as usize].iter().sum::<u64>() as f64 / draws as f64
        };
        assert!(top_share(&zipf) > 0.15, "{}", top_share(&zipf));
        assert!(top_share(&uniform) < 0.02, "{}", top_share(&uniform));
        // Scrambled: the hot keys are not just the first record numbers.
        let first_hundred: u64 = zipf[..100].iter().sum();
        assert!((first_hundred as f64) < 0.1 * draws as f64);
        // Every key is reachable in principle: most keys are drawn at least once.
        let touched = zipf.iter().filter(|&&c| c > 0).count();
        assert!(touched > records as usize / 3, "{touched} keys drawn");
    }

    #[test]
    fn latest_favours_the_newest_records_and_follows_inserts() {
        let (records, draws) = (10_000u64, 100_000usize);
        let c = counts(Distribution::Latest, records, draws);
        let newest_tenth: u64 = c[(records as usize * 9 / 10)..].iter().sum();
        assert!(
            newest_tenth as f64 > 0.6 * draws as f64,
            "newest 10% got {newest_tenth} of {draws}"
        );
        assert!(c[records as usize - 1] > c[0] * 50);
        // After inserts, the new records become the hot ones.
        let mut rng = Rng::new(3);
        let mut chooser = KeyChooser::new(Distribution::Latest, records);
        let grown = records + 500;
        let recent = (0..10_000)
            .map(|_| chooser.next(&mut rng, grown))
            .filter(|&n| n >= records)
            .count();
        assert!(
            recent > 3_000,
            "{recent} of 10000 draws among the 500 inserts"
        );
    }

    #[test]
    fn rng_below_is_uniform_and_in_range() {
        let mut rng = Rng::new(1);
        let mut buckets = [0u32; 10];
        for _ in 0..100_000 {
            let v = rng.below(10);
            buckets[v as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&b| (9_000..11_000).contains(&b)),
            "{buckets:?}"
        );
        assert_eq!(rng.below(0), 0);
        assert_eq!(fnv_hash64(0), fnv_hash64(0));
        assert_ne!(fnv_hash64(1), fnv_hash64(2));
    }
}
