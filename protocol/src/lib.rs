//! The ucrypto wire protocol: the contract between the device firmware and the host CLI.
//!
//! Messages ([`Request`], [`Response`]) are serde types encoded with postcard; each encoded
//! message is followed by a CRC-32C and COBS-framed with a `0x00` delimiter ([`frame`]).
//! `docs/protocol.md` is the human-readable form of this crate.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(feature = "std")]
extern crate std;

pub mod device_keys;
pub mod frame;
pub mod limits;
pub mod link;
pub mod messages;
pub mod profile;
mod redact;
pub mod trust;

pub use device_keys::*;
pub use frame::{encode_frame, FrameDecoder, FrameError};
pub use limits::*;
pub use link::*;
pub use messages::*;
pub use profile::ChipProfile;
pub use trust::*;

/// Protocol version: bumped on any change that an older peer cannot read.
pub const PROTOCOL_VERSION: u16 = 2;

/// Fingerprint of the message schema (FNV-1a 64 over the postcard schema of [`Request`] and
/// [`Response`]). Both sides compare it in the handshake, so a peer built from other message
/// definitions is refused instead of misread, even when the version number was not bumped.
pub const SCHEMA_FINGERPRINT: [u8; 8] = postcard_schema::key::hash::fnv1a64::hash_ty_path::<(
    Request<'static>,
    Response<'static>,
)>("ucrypto");
