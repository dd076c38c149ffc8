//! `Random`: words from the true RNG, like Pycom's `crypto.getrandbits`.
use ucrypto_protocol::{
    EntropyState, ErrorCode, ResponseBody, SelfTest, MAX_CHUNK_LEN, MAX_RANDOM_WORDS,
};

use super::outcome::Outcome;
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
    if matches!(backend.entropy().state, EntropyState::Failed)
        || matches!(self_test.rng, ucrypto_protocol::TestOutcome::Failed)
    {
        return Err((
            ErrorCode::SelfTestFailed,
            "the entropy source failed its check: random output refused",
        ));
    }
    let out = &mut data[..usize::from(words) * 4];
    backend
        .fill_random(out)
        .map_err(|_| (ErrorCode::Internal, "the true RNG did not deliver"))?;
    Ok(ResponseBody::Random { data: out })
}
