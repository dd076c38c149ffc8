//! The state of a message being hashed (for signing, or for a digest of its own): the SHA state,
//! what the hash is for and how far it has come.
use ucrypto_protocol::HashAlg;

use crate::Backend;

/// What a hash session's result is for: the request that may finish it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashPurpose {
    /// `HashStart`: SHA-256, finished by a signing request.
    Signing,
    /// `DigestStart`: finished by `DigestFinish`, which returns the digest.
    Digest(HashAlg),
}

/// The state of one message being hashed.
pub(crate) struct HashSession<B: Backend> {
    pub(crate) state: B::ShaState,
    pub(crate) purpose: HashPurpose,
    /// Bytes hashed so far: the offset the next chunk must have.
    pub(crate) received: u64,
}
