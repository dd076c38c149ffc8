//! Start-up checks of the backend, run before the first request: a device whose hardware fails
//! them reports it in `Hello` and refuses the affected requests instead of serving bad results.
use ucrypto_protocol::{EntropyState, SelfTest, TestOutcome, MAX_RSA_BITS};

use super::rsa;
use super::startup_health::{HealthTests, STARTUP_SAMPLES};
use crate::Backend;

pub(super) fn run<B: Backend>(backend: &mut B) -> SelfTest {
    SelfTest {
        rng: rng(backend),
        aes: super::aes::self_test(backend),
        sha256: sha256(backend),
        rsa: rsa_sign(backend),
    }
}

fn outcome(passed: bool) -> TestOutcome {
    if passed {
        TestOutcome::Passed
    } else {
        TestOutcome::Failed
    }
}

/// SHA-256 of "abc" (FIPS 180-2 appendix B.1), fed in two pieces so that the saved state
/// between updates is exercised too.
fn sha256<B: Backend>(backend: &mut B) -> TestOutcome {
    let mut state = backend.sha256_start();
    backend.sha256_update(&mut state, b"a");
    backend.sha256_update(&mut state, b"bc");
    outcome(backend.sha256_finish(state) == rsa::kat::ABC_SHA256)
}

/// An RS256 signature with a fixed 1024-bit key, compared with OpenSSL's: exercises the
/// Montgomery constants, both CRT exponentiations, the recombination and the check with the
/// public exponent (which is part of signing).
fn rsa_sign<B: Backend>(backend: &mut B) -> TestOutcome {
    let mut out = [0u8; 128];
    let signed = rsa::sign_digest(
        backend,
        &rsa::kat::KEY,
        &rsa::kat::ABC_SHA256,
        MAX_RSA_BITS,
        &mut out,
    );
    outcome(matches!(signed, Ok(128)) && out == rsa::kat::SIGNATURE)
}

/// The start-up health test on [`STARTUP_SAMPLES`] words from the RNG (see
/// [`super::startup_health`]); a backend that reports its source failed fails at once.
fn rng<B: Backend>(backend: &mut B) -> TestOutcome {
    if matches!(backend.entropy().state, EntropyState::Failed) {
        return TestOutcome::Failed;
    }
    let mut tests = HealthTests::default();
    let mut bytes = [0u8; 256];
    for _ in 0..STARTUP_SAMPLES / (bytes.len() / 4) {
        if backend.fill_random(&mut bytes).is_err() {
            return TestOutcome::Failed;
        }
        let passed = bytes
            .chunks_exact(4)
            .all(|w| tests.feed(u32::from_le_bytes([w[0], w[1], w[2], w[3]])));
        if !passed {
            return TestOutcome::Failed;
        }
    }
    TestOutcome::Passed
}
