//! Checks the library runs on every result before it returns it, and the signature formats it reads.
pub mod aes;
pub mod attestation;
pub mod checks;
pub mod health;
pub mod revocation;
pub mod signature;
pub mod signature_text;
