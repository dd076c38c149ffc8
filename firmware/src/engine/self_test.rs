//! Start-up checks of the backend, run before the first request: a device whose hardware fails
//! them reports it in `Hello` and refuses the affected requests instead of serving bad results.
use ucrypto_protocol::{EntropyState, SelfTest, TestOutcome};

use crate::Backend;

/// Words read from the RNG at start-up.
const RNG_CHECK_WORDS: usize = 64;

pub(super) fn run<B: Backend>(backend: &mut B) -> SelfTest {
    SelfTest {
        rng: rng(backend),
        aes: super::aes::self_test(backend),
        sha256: TestOutcome::NotRun,
        rsa: TestOutcome::NotRun,
    }
}

/// A stuck or dead RNG shows as repeated words: 64 words from a working source are all different
/// with probability above 1 - 2^-20.
fn rng<B: Backend>(backend: &mut B) -> TestOutcome {
    if matches!(backend.entropy().state, EntropyState::Failed) {
        return TestOutcome::Failed;
    }
    let mut bytes = [0u8; RNG_CHECK_WORDS * 4];
    if backend.fill_random(&mut bytes).is_err() {
        return TestOutcome::Failed;
    }
    let mut words = [0u32; RNG_CHECK_WORDS];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    words.sort_unstable();
    if words.windows(2).any(|pair| pair[0] == pair[1]) {
        TestOutcome::Failed
    } else {
        TestOutcome::Passed
    }
}
