//! RS256 requests: a message streamed into the SHA-256 accelerator over a hash session, then
//! signed (`SignHashed`), or a digest signed as given (`SignDigest`); the RSA work is in `rsa`.
use ucrypto_protocol::{ErrorCode, HashAlg, ResponseBody, RsaPrivateKey, SelfTest, MAX_CHUNK_LEN};

use super::loaded_key::KeySlot;
use super::outcome::{refuse_after_failed_self_test, Outcome, Refusal, Relies};
use super::rsa;
use super::session::{HashPurpose, HashSession, Session, SessionSlot};
use crate::{Backend, ChipProfile};

const NO_SESSION: (ErrorCode, &str) = (
    ErrorCode::NoSession,
    "no such hashing session: start the message again",
);

/// `HashStart`: opens a hash session (ending this port's other session).
pub(super) fn start<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    sessions: &mut SessionSlot<B>,
) -> Outcome<'d> {
    refuse_after_failed_self_test(self_test, Relies::Signing)?;
    open_hash(backend, sessions, HashAlg::Sha256, HashPurpose::Signing)
}

/// Opens a hash session with `alg` for `purpose` (`HashStart`, `DigestStart`).
pub(super) fn open_hash<'d, B: Backend>(
    backend: &mut B,
    sessions: &mut SessionSlot<B>,
    alg: HashAlg,
    purpose: HashPurpose,
) -> Outcome<'d> {
    let state = backend.sha_start(alg);
    let session = sessions.open(
        backend,
        Session::Hash(HashSession {
            state,
            purpose,
            received: 0,
        }),
    )?;
    Ok(ResponseBody::SessionStarted { session })
}

/// `HashData`: the chunk at `offset` of the message (of a signing or a digest session).
///
/// A re-sent chunk keeps the session (protocol section 6): a chunk that ends at or before where
/// the message stands was hashed before (its answer was lost) and is answered `HashProgress`
/// again without being hashed. The device keeps no copy of what it hashed, so it cannot compare:
/// it takes a re-send to carry the bytes it carried the first time, and the digest covers the
/// bytes first received at each offset (a host that sends other bytes at an offset it sent
/// before gets a signature that its own check with the public key refuses). A chunk past
/// where the message stands (one before it was lost) or straddling it is `OutOfSequence`, which
/// changes nothing either. Only a chunk longer than the limit ends the session.
pub(super) fn update<'d, B: Backend>(
    backend: &mut B,
    sessions: &mut SessionSlot<B>,
    session: u32,
    offset: u64,
    chunk: &[u8],
) -> Outcome<'d> {
    let Some(Session::Hash(hash)) = sessions.get(session) else {
        return Err(NO_SESSION);
    };
    if chunk.len() > MAX_CHUNK_LEN {
        sessions.end(session);
        return Err((ErrorCode::BadArgument, "chunk longer than max_chunk_len"));
    }
    let end = offset.checked_add(chunk.len() as u64);
    if offset == hash.received {
        backend.sha_update(&mut hash.state, chunk);
        hash.received += chunk.len() as u64;
    } else if end.is_none_or(|end| end > hash.received) {
        return Err((
            ErrorCode::OutOfSequence,
            "chunk offset is not where the message stands: send the chunk at the offset of the last HashProgress",
        ));
    }
    Ok(ResponseBody::HashProgress {
        received: hash.received,
    })
}

/// `SignHashed`: finishes the message's hash and signs it. Ends the session either way.
pub(super) fn sign_hashed<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    sessions: &mut SessionSlot<B>,
    session: u32,
    length: u64,
    key: &RsaPrivateKey<'_>,
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    let digest = finish_hash(backend, sessions, session, length)?;
    sign_digest(backend, self_test, &digest, key, out)
}

/// `SignHashedLoaded`: as `SignHashed`, with the key loaded under `handle`. Ends the session
/// either way.
#[allow(clippy::too_many_arguments)]
pub(super) fn sign_hashed_loaded<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    sessions: &mut SessionSlot<B>,
    keys: &mut KeySlot,
    handle: u32,
    session: u32,
    length: u64,
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    let digest = finish_hash(backend, sessions, session, length);
    // An unknown handle is the answer even when the session is also gone: loading the key
    // again is what the host must do first.
    keys.len_of(handle)?;
    keys.sign(backend, self_test, handle, &digest?, out)
}

/// Ends hash session `session`, which must have received `length` bytes, and returns its
/// digest (`SignHashed`, `SignHashedLoaded`, `SignSlot`). The session ends either way.
pub(super) fn finish_hash<B: Backend>(
    backend: &mut B,
    sessions: &mut SessionSlot<B>,
    session: u32,
    length: u64,
) -> Result<[u8; 32], Refusal> {
    let mut digest = [0; 32];
    finish_session(
        backend,
        sessions,
        session,
        length,
        HashPurpose::Signing,
        &mut digest,
    )?;
    Ok(digest)
}

/// Ends hash session `session`, which must be for `purpose` and have received `length` bytes,
/// and writes its digest to `out` (see [`Backend::sha_finish`]). The session ends either way.
pub(super) fn finish_session<B: Backend>(
    backend: &mut B,
    sessions: &mut SessionSlot<B>,
    session: u32,
    length: u64,
    purpose: HashPurpose,
    out: &mut [u8; 32],
) -> Result<(), Refusal> {
    let Some(Session::Hash(hash)) = sessions.take(session) else {
        return Err(NO_SESSION);
    };
    if hash.purpose != purpose {
        return Err((
            ErrorCode::NoSession,
            "that session hashes for another request (signing, or a digest): start it again",
        ));
    }
    if length != hash.received {
        return Err((
            ErrorCode::BadArgument,
            "length differs from the bytes hashed: a chunk is missing",
        ));
    }
    backend.sha_finish(hash.state, out);
    Ok(())
}

/// `SignDigest`: signs a SHA-256 digest.
pub(super) fn sign_digest<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    digest: &[u8; 32],
    key: &RsaPrivateKey<'_>,
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    refuse_after_failed_self_test(self_test, Relies::Signing)?;
    let max_bits = ChipProfile::of(backend.chip()).max_rsa_bits;
    let len = rsa::sign_digest(backend, key, digest, max_bits, out)?;
    Ok(ResponseBody::Signature { data: &out[..len] })
}

#[cfg(test)]
mod loaded_tests;
#[cfg(test)]
pub(super) mod tests;
