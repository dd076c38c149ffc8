//! Continuous health tests of NIST SP 800-90B section 4.4 on random bytes from the device:
//! the repetition count test and the adaptive proportion test.
//!
//! Samples are bytes and the device claims full entropy (H = 8 bits per byte). The false-alarm
//! rate is alpha = 2^-40 per sample, the strictest the standard allows, so that a stream of tens
//! of megabytes from a good source does not fail by chance (at 2^-20 an 80-megabit request
//! would trip the repetition test about once in ten runs).

/// Min-entropy per byte the tests assume.
pub const ENTROPY_BITS_PER_SAMPLE: u32 = 8;
/// -log2 of the false-alarm probability.
pub const ALPHA_EXPONENT: u32 = 40;
/// RCT cutoff: 1 + ceil(ALPHA_EXPONENT / H) identical bytes in a row fail.
pub const RCT_CUTOFF: u32 = 1 + ALPHA_EXPONENT.div_ceil(ENTROPY_BITS_PER_SAMPLE);
/// APT window for non-binary samples.
pub const APT_WINDOW: u32 = 512;
/// APT cutoff: 1 + CRITBINOM(512, 2^-8, 1 - 2^-40); see the test that recomputes it.
pub const APT_CUTOFF: u32 = 19;

/// Which test failed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HealthFailure {
    #[error("the random output failed the repetition count test (byte {value:#04x} repeated {count} times at offset {offset})")]
    RepetitionCount { value: u8, count: u32, offset: u64 },
    #[error("the random output failed the adaptive proportion test (byte {value:#04x} seen {count} times in a {APT_WINDOW}-byte window at offset {offset})")]
    AdaptiveProportion { value: u8, count: u32, offset: u64 },
}

/// Both tests, run continuously over a stream fed in pieces of any size.
#[derive(Debug, Default, Clone)]
pub struct HealthTests {
    offset: u64,
    // Repetition count test.
    last: Option<u8>,
    run: u32,
    // Adaptive proportion test: the first byte of the window and how often it recurs.
    window_value: u8,
    window_seen: u32,
    window_count: u32,
}

impl HealthTests {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes tested so far.
    pub fn tested(&self) -> u64 {
        self.offset
    }

    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), HealthFailure> {
        for &b in bytes {
            if self.last == Some(b) {
                self.run += 1;
                if self.run >= RCT_CUTOFF {
                    return Err(HealthFailure::RepetitionCount {
                        value: b,
                        count: self.run,
                        offset: self.offset,
                    });
                }
            } else {
                self.last = Some(b);
                self.run = 1;
            }

            if self.window_seen == 0 {
                self.window_value = b;
                self.window_count = 1;
            } else if b == self.window_value {
                self.window_count += 1;
                if self.window_count >= APT_CUTOFF {
                    return Err(HealthFailure::AdaptiveProportion {
                        value: b,
                        count: self.window_count,
                        offset: self.offset,
                    });
                }
            }
            self.window_seen += 1;
            if self.window_seen == APT_WINDOW {
                self.window_seen = 0;
            }
            self.offset += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Recomputes the APT cutoff from the binomial distribution in exact rational arithmetic
    /// (u128 fixed point is not enough for 2^-40, so compare tails in log space with f64, which
    /// has ample precision at this magnitude).
    #[test]
    fn apt_cutoff_is_the_binomial_critical_value() {
        let n = f64::from(APT_WINDOW);
        let p: f64 = 1.0 / 256.0;
        let mut ln_fact = vec![0.0f64; APT_WINDOW as usize + 1];
        for k in 1..=APT_WINDOW as usize {
            ln_fact[k] = ln_fact[k - 1] + (k as f64).ln();
        }
        let pmf = |k: u32| {
            let k_f = f64::from(k);
            (ln_fact[APT_WINDOW as usize]
                - ln_fact[k as usize]
                - ln_fact[(APT_WINDOW - k) as usize]
                + k_f * p.ln()
                + (n - k_f) * (1.0 - p).ln())
            .exp()
        };
        let alpha = 2f64.powi(-(ALPHA_EXPONENT as i32));
        // CRITBINOM(n, p, 1 - alpha): the smallest k with P(X > k) <= alpha.
        let tail_above = |k: u32| ((k + 1)..=APT_WINDOW).map(pmf).sum::<f64>();
        let critbinom = (0..APT_WINDOW).find(|&k| tail_above(k) <= alpha).unwrap();
        assert_eq!(APT_CUTOFF, 1 + critbinom);
        assert_eq!(RCT_CUTOFF, 6);
    }

    #[test]
    fn a_stuck_byte_fails_the_repetition_count_test() {
        let mut t = HealthTests::new();
        assert!(
            t.feed(&[1, 2, 7, 7, 7, 7, 7]).is_ok(),
            "five in a row is allowed"
        );
        let err = t.feed(&[7]).unwrap_err();
        assert_eq!(
            err,
            HealthFailure::RepetitionCount {
                value: 7,
                count: 6,
                offset: 7
            }
        );
    }

    #[test]
    fn the_repetition_count_spans_feed_calls() {
        let mut t = HealthTests::new();
        for _ in 0..5 {
            t.feed(&[0xaa]).unwrap();
        }
        assert!(matches!(
            t.feed(&[0xaa]),
            Err(HealthFailure::RepetitionCount { .. })
        ));
    }

    #[test]
    fn a_biased_source_fails_the_adaptive_proportion_test() {
        // 0x00 every 20th byte would pass; every 10th byte (51 per window) must fail, while
        // never repeating twice in a row.
        let stream: Vec<u8> = (0..600u32)
            .map(|i| if i % 10 == 0 { 0 } else { (i % 251) as u8 | 1 })
            .collect();
        let mut t = HealthTests::new();
        assert!(matches!(
            t.feed(&stream),
            Err(HealthFailure::AdaptiveProportion { value: 0, .. })
        ));
    }

    #[test]
    fn good_random_bytes_pass() {
        // A SplitMix64 stream, independent of the code under test.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut bytes = Vec::with_capacity(1 << 20);
        while bytes.len() < 1 << 20 {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            bytes.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        let mut t = HealthTests::new();
        t.feed(&bytes).unwrap();
        assert_eq!(t.tested(), 1 << 20);
    }
}
