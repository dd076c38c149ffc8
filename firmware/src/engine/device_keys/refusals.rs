//! The refusal every device-key request shares (the key operations in `mod.rs` and the lock and
//! security state in `security.rs`), in its own module so neither imports from the other.
use ucrypto_protocol::ErrorCode;

use super::super::outcome::Refusal;

pub(super) const NO_KEYS: Refusal = (
    ErrorCode::Unsupported,
    "this device has no device-key hardware (eFuse key blocks and Digital Signature peripheral)",
);
