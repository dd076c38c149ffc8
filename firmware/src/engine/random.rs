//! `Random`: words from the true RNG, like Pycom's `crypto.getrandbits`.
use ucrypto_protocol::{
    EntropyState, ErrorCode, ResponseBody, SelfTest, MAX_CHUNK_LEN, MAX_RANDOM_WORDS,
};

use zeroize::Zeroize;

use super::outcome::{rng_refusal, Outcome, Refusal};
use crate::Backend;

pub(super) fn serve<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    data: &'d mut [u8; MAX_CHUNK_LEN],
    words: u16,
) -> Outcome<'d> {
    if words == 0 || words > MAX_RANDOM_WORDS {
        return Err((ErrorCode::BadArgument, "words must be 1 to 768"));
    }
    const FAILED: Refusal = (
        ErrorCode::SelfTestFailed,
        "the entropy source failed its check: random output refused",
    );
    if matches!(self_test.rng, ucrypto_protocol::TestOutcome::Failed) {
        return Err(FAILED);
    }
    let out = &mut data[..usize::from(words) * 4];
    // The draw is refused after a continuous health-test failure (and wiped when this draw
    // failed one), so the backend's entropy state is checked after it.
    backend
        .fill_random(out)
        .map_err(|e| rng_refusal(e, FAILED))?;
    if matches!(backend.entropy().state, EntropyState::Failed) {
        out.zeroize();
        return Err(FAILED);
    }
    Ok(ResponseBody::Random { data: out })
}
