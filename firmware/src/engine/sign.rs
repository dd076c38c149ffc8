//! RS256: SHA-256 of a streamed message, EMSA-PKCS1-v1_5 encoding and the RSA private operation.
use ucrypto_protocol::ErrorCode;

use super::session::SessionSlot;
use super::Outcome;
use crate::Backend;

/// The state of one message being hashed for signing.
pub(crate) struct HashSession {}

pub(super) fn start<'d, B: Backend>(_backend: &mut B, _sessions: &mut SessionSlot) -> Outcome<'d> {
    Err((ErrorCode::Unsupported, "signing is not in this firmware"))
}
