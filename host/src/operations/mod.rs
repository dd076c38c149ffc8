//! What a device does, as methods of [`Client`](crate::Client): random bits, AES over a stream
//! or piece by piece, RS256 signatures, JWTs and certificate requests signed by a device key,
//! digests and RSA decryption. Every result is verified before it is returned;
//! one that does not verify is an error. The commands are thin layers over these.
pub mod aes;
pub mod aes_session;
pub mod aes_stream;
pub mod certificate;
pub mod csr;
pub mod decrypt;
pub mod hash;
mod hash_window;
pub mod jwt;
pub mod rand;
pub mod sign;

pub use aes_session::{AesChain, AesSession};
pub use hash::{DigestStream, Digested};
pub use jwt::Jwt;
pub use sign::{Signed, SigningKey};
