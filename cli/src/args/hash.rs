//! The arguments of `ucrypto hash` and `ucrypto bench hash`.
use std::path::PathBuf;

use clap::{ArgGroup, Args, ValueEnum};
use ucrypto_protocol::HashAlg;

use super::size::parse_size;
use crate::output::Format;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("hash_source").required(true).args(["message", "input"])))]
pub struct HashArgs {
    /// The digest algorithm (SHA-1 is legacy: for old protocols only).
    #[arg(long, value_enum, default_value_t = HashAlgArg::Sha256)]
    pub alg: HashAlgArg,

    /// The message: this text (its UTF-8 bytes, no newline added).
    #[arg(short, long, value_name = "TEXT")]
    pub message: Option<String>,

    /// The message: the bytes of FILE, or of stdin with `-`; any size, streamed.
    #[arg(short, long, value_name = "FILE|-")]
    pub input: Option<PathBuf>,

    /// Digest encoding (`hex` is what `sha256sum` prints before the name).
    #[arg(short, long, value_enum, default_value_t = Format::Hex)]
    pub format: Format,

    /// Write to FILE (written in full or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Skip the host's own digest of the same bytes (a faulty device then goes unnoticed, and
    /// a stream whose answers the line lost cannot be finished).
    #[arg(long)]
    pub no_verify: bool,
}

#[derive(Debug, Args)]
pub struct BenchHashArgs {
    /// Bytes to hash (suffixes K, M, G: powers of 1024).
    #[arg(long, default_value = "4M", value_parser = parse_size)]
    pub bytes: u64,

    #[arg(long, value_enum, default_value_t = HashAlgArg::Sha256)]
    pub alg: HashAlgArg,

    /// Skip the host's own digest.
    #[arg(long)]
    pub no_verify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HashAlgArg {
    Sha256,
    Sha224,
    /// Legacy: broken for collision resistance.
    Sha1,
}

impl From<HashAlgArg> for HashAlg {
    fn from(a: HashAlgArg) -> HashAlg {
        match a {
            HashAlgArg::Sha256 => HashAlg::Sha256,
            HashAlgArg::Sha224 => HashAlg::Sha224,
            HashAlgArg::Sha1 => HashAlg::Sha1,
        }
    }
}
