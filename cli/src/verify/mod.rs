//! Checks the CLI runs on every result before it is output.
pub mod aes;
pub mod attestation;
pub mod health;
pub mod signature;
