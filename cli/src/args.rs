//! The command line, defined once: help, man page and shell completions come from here.
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use ucrypto_protocol::Chip;

use crate::keys::PassSource;
use crate::output::Format;

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  ok
  1  the device reported an error
  2  usage or bad input
  3  a result failed verification (nothing was output)
  4  transport: no device, port busy, timeout, disconnected, protocol mismatch
  5  not supported by this device
  130  interrupted (Ctrl-C, SIGTERM): nothing was output

With --json, every result is one JSON object on stdout, and so is an error:
  {\"error\":{\"kind\":\"timeout\",\"exit_code\":4,\"message\":\"...\"}}";

/// Hardware crypto of an ESP32 (true RNG, AES, RS256) behind a scriptable command line.
/// Every result is verified on the host before it is output.
#[derive(Debug, Parser)]
#[command(name = "ucrypto", version, after_help = EXIT_CODES_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Serial port of the device, or `sim` (also `sim:esp32c6`, `sim:esp32`) for the virtual
    /// device in this process. Without it, the one attached ESP32 is found by its USB id.
    #[arg(
        short,
        long,
        env = "UCRYPTO_PORT",
        global = true,
        value_name = "PORT|sim"
    )]
    pub port: Option<String>,

    /// Baud rate of a UART port (USB-Serial-JTAG and pseudo-terminals ignore it).
    #[arg(long, default_value_t = 115_200, global = true)]
    pub baud: u32,

    /// Seconds allowed for the link on top of each request's own time.
    #[arg(long, default_value = "2", value_parser = parse_seconds, global = true, value_name = "SECONDS")]
    pub timeout: Duration,

    /// One JSON object per result (and per error) on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// More detail on stderr (-vv: every frame). Keys never appear.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Random bits from the device's true RNG, like Pycom's crypto.getrandbits().
    Rand(RandArgs),
    /// Everything the device says about itself: chip, id, firmware, capabilities, entropy.
    Info,
    /// Serial ports that may be a device, with their USB ids.
    Ports,
    /// Serve a virtual device on a pseudo-terminal; prints its path on the first line.
    Sim(SimArgs),
    /// RS256 signature of a message (or a SHA-256 digest) on the device, checked before output.
    Sign(SignArgs),
    /// A JSON Web Token signed with RS256 on the device: header, claims, signature.
    Jwt(JwtArgs),
    /// Check an RS256 signature on the host (no device), e.g. one from `openssl dgst -sign`.
    Verify(VerifyArgs),
    /// Measure the device's speed.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, Args)]
pub struct RandArgs {
    /// Number of bits, rounded up to a multiple of 32 (100 gives 128).
    #[arg(value_name = "BITS")]
    pub bits: u64,

    /// Output encoding.
    #[arg(short, long, value_enum, default_value_t = Format::Hex)]
    pub format: Format,

    /// Write to FILE (written in full or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Chip whose capabilities the virtual device has.
    #[arg(long, value_enum, default_value_t = ChipArg::Esp32c3)]
    pub chip: ChipArg,

    /// Deterministic output from this seed (reported as not random), for tests.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Damage the link, for reliability tests: `drop=P,flip=P` (per byte, both directions),
    /// `delay=MS` (before each answer), `reset-after=N` (restart every N answers), `seed=S`.
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<crate::faults::FaultSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChipArg {
    Esp32c3,
    Esp32c6,
    Esp32,
}

impl From<ChipArg> for Chip {
    fn from(c: ChipArg) -> Chip {
        match c {
            ChipArg::Esp32c3 => Chip::Esp32C3,
            ChipArg::Esp32c6 => Chip::Esp32C6,
            ChipArg::Esp32 => Chip::Esp32,
        }
    }
}

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 3600.0) {
        return Err("the timeout must be more than 0 and at most 3600 seconds".into());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The private key of `sign`, `jwt` and `bench sign`.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// RSA private key: PKCS#8 or PKCS#1, PEM or DER, or encrypted PKCS#8.
    #[arg(short, long, value_name = "KEY")]
    pub key: PathBuf,

    /// Passphrase of an encrypted key: env:VAR or file:PATH. Without it, ucrypto asks on the
    /// terminal (and fails when stdin is not a terminal).
    #[arg(long, value_name = "env:VAR|file:PATH")]
    pub pass: Option<PassSource>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["message", "input", "digest"])))]
pub struct SignArgs {
    #[command(flatten)]
    pub key: KeyArgs,

    /// The message: this text (its UTF-8 bytes, no newline added).
    #[arg(short, long, value_name = "TEXT")]
    pub message: Option<String>,

    /// The message: the bytes of FILE, or of stdin with `-`; any size, streamed.
    #[arg(short, long, value_name = "FILE|-")]
    pub input: Option<PathBuf>,

    /// Sign this SHA-256 digest (64 hex digits) instead of hashing a message.
    #[arg(long, value_name = "HEX")]
    pub digest: Option<String>,

    /// Signature encoding (`raw` is what `openssl dgst -sha256 -sign` writes).
    #[arg(short, long, value_enum, default_value_t = Format::Base64url)]
    pub format: Format,

    /// Write to FILE (written in full or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct JwtArgs {
    #[command(flatten)]
    pub key: KeyArgs,

    /// The claims: a JSON object, e.g. '{"aud":"my-project"}'.
    #[arg(long, value_name = "JSON")]
    pub claims: String,

    /// Add `exp`, this many seconds after `iat`.
    #[arg(long, value_name = "SECONDS")]
    pub exp: Option<u64>,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("message_source").required(true).args(["message", "input"])))]
pub struct VerifyArgs {
    /// The key: private or public, any form `sign` reads.
    #[arg(
        short,
        long,
        value_name = "KEY",
        required_unless_present = "pubkey",
        conflicts_with = "pubkey"
    )]
    pub key: Option<PathBuf>,

    /// The public key (PEM or DER, SubjectPublicKeyInfo or PKCS#1).
    #[arg(long, value_name = "PUB")]
    pub pubkey: Option<PathBuf>,

    /// Passphrase of an encrypted `--key`: env:VAR or file:PATH.
    #[arg(long, value_name = "env:VAR|file:PATH")]
    pub pass: Option<PassSource>,

    /// The message: this text.
    #[arg(short, long, value_name = "TEXT")]
    pub message: Option<String>,

    /// The message: the bytes of FILE, or of stdin with `-`.
    #[arg(short, long, value_name = "FILE|-")]
    pub input: Option<PathBuf>,

    /// The signature: a file (raw bytes as `openssl dgst -sign` writes them, or text), or the
    /// signature itself in base64url, base64 or hex.
    #[arg(short, long, value_name = "FILE|TEXT")]
    pub signature: String,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Signatures per second with a key: SHA-256 digests signed on the device, one after the
    /// other, each checked on the host.
    Sign(BenchSignArgs),
}

#[derive(Debug, Args)]
pub struct BenchSignArgs {
    #[command(flatten)]
    pub key: KeyArgs,

    /// Number of signatures.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub count: u32,
}
