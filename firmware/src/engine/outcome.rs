//! What a request handler returns, and the one refusal every handler shares: a start-up
//! self-test that the request relies on has failed.
use ucrypto_protocol::{ErrorCode, ResponseBody, SelfTest, TestOutcome};

use crate::BackendError;

/// Why a request was refused: an error code with a short hint for people.
pub(crate) type Refusal = (ErrorCode, &'static str);

/// What a request handler returns: a response body, or a refusal.
pub(crate) type Outcome<'d> = Result<ResponseBody<'d>, Refusal>;

/// The start-up self-tests a request relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relies {
    /// AES streams: the AES test.
    Aes,
    /// Digests: the SHA-256 test (the accelerator's other algorithms share its datapath).
    Digest,
    /// Signing with a sent or loaded key: the SHA-256 and RSA tests.
    Signing,
    /// Decryption with a sent or loaded key: the SHA-256 (OAEP's hash) and RSA tests.
    Decryption,
    /// Device keys: the SHA-256 and RSA tests.
    DeviceKeys,
    /// Generating a device key: the SHA-256, RSA and RNG tests (the key comes from the RNG).
    DeviceKeysAndRng,
}

/// `SelfTestFailed` when a self-test that `relies` names failed at start-up.
pub(crate) fn refuse_after_failed_self_test(
    self_test: &SelfTest,
    relies: Relies,
) -> Result<(), Refusal> {
    let failed = |o: TestOutcome| matches!(o, TestOutcome::Failed);
    let signing = failed(self_test.sha256) || failed(self_test.rsa);
    let (refused, hint) = match relies {
        Relies::Aes => (
            failed(self_test.aes),
            "the AES self-test failed: AES is refused",
        ),
        Relies::Digest => (
            failed(self_test.sha256),
            "the SHA-256 self-test failed at start-up: digests refused",
        ),
        Relies::Signing => (
            signing,
            "the SHA-256 or RSA self-test failed at start-up: signing refused",
        ),
        Relies::Decryption => (
            signing,
            "the SHA-256 or RSA self-test failed at start-up: decryption refused",
        ),
        Relies::DeviceKeys => (signing, "a start-up self-test failed: device keys refused"),
        Relies::DeviceKeysAndRng => (
            signing || failed(self_test.rng),
            "a start-up self-test failed: device keys refused",
        ),
    };
    if refused {
        return Err((ErrorCode::SelfTestFailed, hint));
    }
    Ok(())
}

/// A draw from the RNG that failed: `HealthTestFailed` when a continuous health test failed
/// (now or earlier since the last reset), otherwise `failed` (the source is not running).
pub(crate) fn rng_refusal(e: BackendError, failed: Refusal) -> Refusal {
    match e {
        BackendError::HealthTestFailed => (
            ErrorCode::HealthTestFailed,
            "the entropy source failed its continuous health test: nothing is drawn from it until the device restarts",
        ),
        _ => failed,
    }
}
