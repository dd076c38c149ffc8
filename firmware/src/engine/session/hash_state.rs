//! The state of a message being hashed for signing: the SHA state and how far it has come.
use crate::Backend;

/// The state of one message being hashed for signing.
pub(crate) struct HashSession<B: Backend> {
    pub(crate) state: B::Sha256State,
    /// Bytes hashed so far: the offset the next chunk must have.
    pub(crate) received: u64,
}
