//! The ucrypto host library: transports to a device, the protocol client, verification of every
//! result, and output. `main.rs` is a thin shell over [`commands`].
pub mod aes_key;
pub mod aes_stream;
pub mod args;
pub mod client;
pub mod commands;
pub mod connect;
pub mod device_info;
pub mod error;
pub mod faults;
pub mod keys;
pub mod operations;
pub mod output;
pub mod ports;
pub mod progress;
pub mod sim;
pub mod transport;
pub mod verify;

pub use client::Client;
pub use connect::{connect, host_seed, ConnectOptions, Port};
pub use error::{Error, Result, TransportError};
pub use operations::{AesSession, Jwt, Signed, SigningKey};
pub use progress::{NoProgress, Progress};
