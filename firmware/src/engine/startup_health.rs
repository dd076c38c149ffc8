//! The TRNG's start-up health test (NIST SP 800-90B sections 4.3 and 4.4): the repetition count
//! test and the adaptive proportion test over the first [`STARTUP_SAMPLES`] words the RNG gives
//! after reset. A failure sets the entropy state to `Failed` and random output is refused.
//!
//! A sample is one 32-bit word as the RNG register gives it: software cannot see the raw noise
//! behind it (the SAR-ADC bits are mixed into the RNG in hardware). The tests assume a
//! min-entropy of [`ENTROPY_BITS_PER_WORD`] per word, far below the word's 32 bits, and a
//! false-alarm rate of 2^-20 per sample. They catch a stuck or dead source and short cycles;
//! they cannot show that the words are unpredictable.
//!
//! Hand-written: two counters, no crate implements these tests for `no_std`.

/// Words tested at start-up (SP 800-90B 4.3 asks for at least 1024 samples).
pub(crate) const STARTUP_SAMPLES: usize = 1024;
const _: () = assert!(
    STARTUP_SAMPLES >= 1024,
    "SP 800-90B 4.3: at least 1024 samples"
);
/// Min-entropy per word the cutoffs assume.
pub(crate) const ENTROPY_BITS_PER_WORD: u32 = 8;
/// -log2 of the false-alarm probability per sample.
const ALPHA_EXPONENT: u32 = 20;
/// Repetition count test: `1 + ceil(20 / 8)` = 4 equal words in a row fail.
pub(crate) const RCT_CUTOFF: u32 = 1 + ALPHA_EXPONENT.div_ceil(ENTROPY_BITS_PER_WORD);
/// Adaptive proportion test window (non-binary samples).
pub(crate) const APT_WINDOW: u32 = 512;
/// Adaptive proportion test cutoff: `1 + CRITBINOM(512, 2^-8, 1 - 2^-20)` (Python with exact
/// binomial terms: the smallest k with P(X > k) <= 2^-20 is 12).
pub(crate) const APT_CUTOFF: u32 = 13;

/// Both tests over a stream of words.
#[derive(Default)]
pub(crate) struct HealthTests {
    last: Option<u32>,
    run: u32,
    window_value: u32,
    window_seen: u32,
    window_count: u32,
}

impl HealthTests {
    /// Tests one word; false once either test has failed.
    pub(crate) fn feed(&mut self, word: u32) -> bool {
        if self.last == Some(word) {
            self.run += 1;
            if self.run >= RCT_CUTOFF {
                return false;
            }
        } else {
            self.last = Some(word);
            self.run = 1;
        }
        if self.window_seen == 0 {
            self.window_value = word;
            self.window_count = 1;
        } else if word == self.window_value {
            self.window_count += 1;
            if self.window_count >= APT_CUTOFF {
                return false;
            }
        }
        self.window_seen = (self.window_seen + 1) % APT_WINDOW;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes(words: impl IntoIterator<Item = u32>) -> bool {
        let mut tests = HealthTests::default();
        words.into_iter().all(|w| tests.feed(w))
    }

    /// The APT cutoff recomputed from the binomial distribution (log-space terms in f64, ample
    /// precision at 2^-20), and the RCT cutoff from its formula's value.
    #[test]
    fn the_cutoffs_follow_from_the_entropy_and_alpha() {
        assert_eq!(RCT_CUTOFF, 4);
        let n = APT_WINDOW as usize;
        let p = 1.0 / f64::from(1u32 << ENTROPY_BITS_PER_WORD);
        let mut ln_fact = std::vec![0.0f64; n + 1];
        for k in 1..=n {
            ln_fact[k] = ln_fact[k - 1] + (k as f64).ln();
        }
        let pmf = |k: usize| {
            (ln_fact[n] - ln_fact[k] - ln_fact[n - k]
                + k as f64 * p.ln()
                + (n - k) as f64 * (1.0 - p).ln())
            .exp()
        };
        let alpha = 2f64.powi(-(ALPHA_EXPONENT as i32));
        let critbinom = (0..n)
            .find(|&k| ((k + 1)..=n).map(pmf).sum::<f64>() <= alpha)
            .unwrap();
        assert_eq!(APT_CUTOFF as usize, 1 + critbinom);
    }

    #[test]
    fn a_stuck_word_fails_the_repetition_count_test() {
        assert!(passes([1, 2, 2, 2, 3]), "three in a row pass");
        assert!(!passes([1, 2, 2, 2, 2]), "four in a row fail");
    }

    #[test]
    fn a_short_cycle_fails_the_adaptive_proportion_test() {
        // Never the same word twice in a row, so only the proportion test can see it.
        assert!(!passes((0..512).map(|i| i % 40)));
        // 12 repeats of the window's first word in 512 pass, 13 fail.
        let spread = |repeats: u32| {
            (0..512).map(move |i| {
                if i % 40 == 0 && i / 40 < repeats {
                    7
                } else {
                    1000 + i
                }
            })
        };
        assert!(passes(spread(12)));
        assert!(!passes(spread(13)));
    }

    #[test]
    fn distinct_words_pass() {
        assert!(passes(
            (0..STARTUP_SAMPLES as u32).map(|i| i.wrapping_mul(0x9e37_79b9))
        ));
    }
}
