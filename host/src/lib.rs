//! The ucrypto host library: transports to a device, the protocol client, and verification of
//! every result. The `ucrypto` command line, the factory station and the Python module drive
//! devices through these calls; the library itself never decides for the process (no signal
//! handlers, prompts only with the `prompt` feature, no exit codes).
//!
//! [`connect()`] takes plain [`ConnectOptions`] and returns a [`Client`] whose methods are the
//! device's operations: [`Client::rand`], [`Client::aes_stream`], [`Client::aes_session`],
//! [`Client::sign_digest`], [`Client::sign_message`], [`Client::jwt`], and for device keys
//! [`Client::key_slots`], [`Client::key_generate`], [`Client::key_import`],
//! [`Client::key_public`], [`Client::csr`] (sign with a device key through
//! [`SigningKey::slot`]). Every result is verified
//! on the host before it is returned (random bits health-tested, AES recomputed, signatures
//! checked with the public key); one that does not verify is an [`Error::Verification`].
//! Diagnostics go through the `log` facade; long operations report to a [`Progress`]. A
//! [`Client`] is `Send`: one thread per device.
//!
//! A long wait ends early with [`Error::Interrupted`] once [`interrupt::request`] was called
//! (the command line calls it from its Ctrl-C handler).
//!
//! ```
//! use ucrypto::{connect, ConnectOptions, Port};
//! use ucrypto_protocol::{AesDirection, AesMode, Chip};
//!
//! // A virtual device in this process; `Port::Path("/dev/ttyACM0".into())` for a board.
//! let mut device = connect(&ConnectOptions::new(Port::Sim(Chip::Esp32C3)))?;
//! let random = device.rand(256)?;
//! assert_eq!(random.len(), 32);
//!
//! // AES-CTR a piece at a time: each piece's output equals the host's own AES.
//! let mut session = device.aes_session(
//!     AesDirection::Encrypt,
//!     AesMode::Ctr,
//!     &random[..16],
//!     Some([0; 16]),
//! )?;
//! let mut ciphertext = session.update(b"attack at ")?;
//! ciphertext.extend(session.update(b"dawn")?);
//! ciphertext.extend(session.finish()?);
//! assert_eq!(ciphertext.len(), 14);
//! # Ok::<(), ucrypto::Error>(())
//! ```
pub mod aes_key;
pub mod client;
pub mod connect;
pub mod device_info;
pub mod device_keys;
pub mod entropy_mix;
pub mod error;
pub mod interrupt;
pub mod key_file;
pub mod line_speed;
pub mod operations;
pub mod ports;
pub mod progress;
pub mod recovery;
pub mod security_state;
pub mod slots;
pub mod transport;
pub mod untrusted;
pub mod verify;

pub use client::Client;
#[cfg(feature = "virtual-device")]
pub use connect::host_seed;
pub use connect::{connect, ConnectOptions, Port};
pub use device_keys::{MadeKey, SlotChoice, SlotPublicKey};
pub use error::{Error, ErrorKind, PassphraseError, Result, TransportError};
pub use operations::{AesChain, AesSession, DigestStream, Digested, Jwt, Signed, SigningKey};
pub use progress::{NoProgress, Progress};
pub use slots::SlotSummary;
