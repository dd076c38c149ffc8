//! Digests of their own (`DigestStart`, `DigestFinish`): a message streamed into the SHA
//! accelerator over a hash session, fed with `HashData` like a message being signed (so the
//! chunk rules of `sign::update` hold for both), and its digest returned.
use ucrypto_protocol::{HashAlg, ResponseBody, SelfTest, MAX_CHUNK_LEN};

use super::outcome::{refuse_after_failed_self_test, Outcome, Relies};
use super::session::{HashPurpose, HashSession, Session, SessionSlot};
use super::sign::{finish_session, open_hash};
use crate::Backend;

/// `DigestStart`: opens a hash session for `alg` (ending this port's other session).
pub(super) fn start<'d, B: Backend>(
    backend: &mut B,
    self_test: &SelfTest,
    sessions: &mut SessionSlot<B>,
    alg: HashAlg,
) -> Outcome<'d> {
    refuse_after_failed_self_test(self_test, Relies::Digest)?;
    open_hash(backend, sessions, alg, HashPurpose::Digest(alg))
}

/// `DigestFinish`: the digest of the `length` bytes session `session` received. Ends the
/// session either way.
pub(super) fn finish<'d, B: Backend>(
    backend: &mut B,
    sessions: &mut SessionSlot<B>,
    session: u32,
    length: u64,
    out: &'d mut [u8; MAX_CHUNK_LEN],
) -> Outcome<'d> {
    // The algorithm is the session's: look it up before `finish_session` ends it.
    let alg = match sessions.get(session) {
        Some(Session::Hash(HashSession {
            purpose: HashPurpose::Digest(alg),
            ..
        })) => *alg,
        // Not a digest session (or none): `finish_session` gives the reason and ends it.
        _ => HashAlg::Sha256,
    };
    let mut digest = [0; 32];
    finish_session(
        backend,
        sessions,
        session,
        length,
        HashPurpose::Digest(alg),
        &mut digest,
    )?;
    let len = alg.digest_len();
    out[..len].copy_from_slice(&digest[..len]);
    Ok(ResponseBody::Digest { data: &out[..len] })
}
