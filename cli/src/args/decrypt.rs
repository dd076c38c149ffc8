//! The arguments of `ucrypto encrypt` and `ucrypto decrypt`.
use std::path::PathBuf;

use clap::{ArgGroup, Args, ValueEnum};
use ucrypto::key_file::PassSource;
use ucrypto_protocol::RsaPadding;

use crate::output::Format;

const ENCRYPT_EXAMPLES: &str = "\
Examples:
  ucrypto encrypt --slot 0 -m 'wifi password' -o secret.bin
  openssl pkeyutl -encrypt -pubin -inkey device.pem -pkeyopt rsa_padding_mode:oaep \\
      -pkeyopt rsa_oaep_md:sha256 -in secret.txt -out secret.bin   (the same format)
  ucrypto decrypt --slot 0 -i secret.bin";

#[derive(Debug, Args)]
#[command(after_help = ENCRYPT_EXAMPLES)]
#[command(group(ArgGroup::new("recipient").required(true).args(["pubkey", "slot"])))]
#[command(group(ArgGroup::new("plaintext").required(true).args(["message", "input"])))]
pub struct EncryptArgs {
    /// Encrypt to this public key (or the public half of a private key): PEM or DER.
    #[arg(long, value_name = "PEM")]
    pub pubkey: Option<PathBuf>,

    /// Encrypt to the device key in this slot: its public key is read from the device and
    /// checked against the fingerprint in its Hello.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..6))]
    pub slot: Option<u8>,

    /// The message: this text (its UTF-8 bytes).
    #[arg(short, long, value_name = "TEXT")]
    pub message: Option<String>,

    /// The message: the bytes of FILE, or of stdin with `-` (at most the key's size less the
    /// padding: 190 bytes for a 2048-bit key with OAEP).
    #[arg(short, long, value_name = "FILE|-")]
    pub input: Option<PathBuf>,

    #[arg(long, value_enum, default_value_t = PaddingArg::Oaep)]
    pub padding: PaddingArg,

    /// Ciphertext encoding (`raw` is what `openssl pkeyutl -decrypt` reads).
    #[arg(short, long, value_enum, default_value_t = Format::Raw)]
    pub format: Format,

    /// Write to FILE (written in full or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("decryption_key").required(true).args(["key", "slot"])))]
pub struct DecryptArgs {
    /// Decrypt with the device key in this slot (0-5): it never leaves the chip.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..6), conflicts_with = "pass")]
    pub slot: Option<u8>,

    /// Decrypt with this private key (PKCS#8 or PKCS#1, PEM or DER, or encrypted PKCS#8), sent
    /// to the device; the host decrypts too and the plaintexts must be equal.
    #[arg(short, long, value_name = "PEM")]
    pub key: Option<PathBuf>,

    /// Passphrase of an encrypted key: env:VAR or file:PATH.
    #[arg(long, value_name = "env:VAR|file:PATH")]
    pub pass: Option<PassSource>,

    /// The ciphertext (raw bytes, as long as the key's modulus): FILE, or stdin with `-`.
    #[arg(short, long, value_name = "FILE|-")]
    pub input: PathBuf,

    #[arg(long, value_enum, default_value_t = PaddingArg::Oaep)]
    pub padding: PaddingArg,

    /// Plaintext encoding.
    #[arg(short, long, value_enum, default_value_t = Format::Raw)]
    pub format: Format,

    /// Write to FILE (written in full or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PaddingArg {
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256, empty label.
    Oaep,
    /// RSAES-PKCS1-v1_5: for old peers only (it invites padding-oracle attacks on them).
    Pkcs1v15,
}

impl From<PaddingArg> for RsaPadding {
    fn from(p: PaddingArg) -> RsaPadding {
        match p {
            PaddingArg::Oaep => RsaPadding::OaepSha256,
            PaddingArg::Pkcs1v15 => RsaPadding::Pkcs1v15,
        }
    }
}
