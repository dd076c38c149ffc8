//! The ucrypto host library: transports to a device, the protocol client, verification of every
//! result, and output. `main.rs` is a thin shell over [`commands`]; a program (a factory station,
//! a Python module) drives devices through the same calls without the command line.
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
//! [`flash::flash`] writes the firmware through a chip's ROM serial loader, restarts the chip
//! and checks its `Hello`; `ucrypto sim --download-mode` ([`download_mode`]) is a virtual chip
//! to do it to.
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
pub mod aes_stream;
pub mod args;
pub mod client;
pub mod commands;
pub mod connect;
pub mod device_info;
pub mod device_keys;
pub mod download_mode;
pub mod entropy_mix;
pub mod error;
pub mod esp_image;
pub mod faults;
pub mod flash;
pub mod keys;
pub mod line_speed;
pub mod operations;
pub mod output;
pub mod ports;
pub mod progress;
pub mod records;
pub mod recovery;
pub mod rom_loader;
pub mod sim;
pub mod station;
pub mod transport;
pub mod verify;
pub mod virtual_flash;

pub use client::Client;
pub use connect::{connect, host_seed, ConnectOptions, Port};
pub use device_keys::{MadeKey, SlotChoice, SlotPublicKey, SlotSummary};
pub use error::{Error, Result, TransportError};
pub use operations::{AesChain, AesSession, DigestStream, Digested, Jwt, Signed, SigningKey};
pub use progress::{NoProgress, Progress};
