//! The command line, defined once: help, man page and shell completions come from here.
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use ucrypto_protocol::{AesDirection, AesMode};

use ucrypto::aes_key::KeyArg;
use ucrypto::connect::{ConnectOptions, Port};
use ucrypto::device_keys::public_format::PublicFormat;
use ucrypto::device_keys::SlotChoice;
use ucrypto::key_file::PassSource;

use crate::error::{exit, Error, Result};
use crate::output::Format;

pub mod ca;
pub mod cert;
mod chip;
pub mod decrypt;
pub mod hash;
pub mod records;
mod size;
pub mod station;

pub use chip::ChipArg;
pub(crate) use size::parse_size;

/// The help's closing text: the exit codes, from [`exit::TABLE`], and the JSON error shape.
pub fn exit_codes_help() -> String {
    let mut help = String::from("Exit codes:\n");
    for (code, meaning) in exit::TABLE {
        help.push_str(&format!("  {code}  {meaning}\n"));
    }
    help.push_str(
        "\nWith --json, every result is one JSON object on stdout, and so is an error:\n  \
         {\"error\":{\"kind\":\"timeout\",\"exit_code\":4,\"message\":\"...\"}}",
    );
    help
}

/// Hardware crypto of an ESP32 (true RNG, AES, RS256) behind a scriptable command line.
/// Every result is verified on the host before it is output.
#[derive(Debug, Parser)]
#[command(name = "ucrypto", version, after_help = exit_codes_help(), max_term_width = 100)]
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

    /// UART rate to move the line to after the handshake [default: the fastest the port's USB
    /// bridge carries: 3000000 for a CP2102N or FT232, 2000000 for a CH340, 921600 for a CP2102
    /// or other bridges; none on USB-Serial-JTAG or a pseudo-terminal]. The port opens at 115200,
    /// the device's start-up rate. `ucrypto sim --baud N` paces the virtual device's line (both
    /// directions) like a UART at N baud, and follows the rate a client moves it to.
    #[arg(long, global = true)]
    pub baud: Option<u32>,

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

pub use ucrypto::connect::DEFAULT_BAUD;
use ucrypto::line_speed::LineSpeed;

/// The library's connection options from the command line's. Fallible: `--port sim:CHIP` may
/// name an unknown chip (a usage error, exit 2, reported when the command connects).
impl TryFrom<&GlobalArgs> for ConnectOptions {
    type Error = Error;

    fn try_from(global: &GlobalArgs) -> Result<ConnectOptions> {
        Ok(ConnectOptions {
            port: match global.port.as_deref() {
                Some(spec) => spec.parse()?,
                None => Port::Auto,
            },
            baud: DEFAULT_BAUD,
            speed: match global.baud {
                Some(baud) => LineSpeed::Baud(baud),
                None => LineSpeed::Fastest,
            },
            timeout: global.timeout,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Random bits from the device's true RNG, like Pycom's crypto.getrandbits().
    Rand(RandArgs),
    /// Everything the device says about itself: chip, id, firmware, capabilities, entropy.
    Info,
    /// Serial ports that may be a device, with their USB ids.
    Ports,
    /// AES in ECB, CBC, CFB8, CFB128 or CTR mode, streamed through the device and verified,
    /// like Pycom's crypto.AES.
    #[command(after_help = AES_EXAMPLES)]
    Aes(AesArgs),
    /// Serve a virtual device on a pseudo-terminal; prints its path on the first line.
    Sim(SimArgs),
    /// Write the ucrypto firmware to a board through its ROM serial loader, verify it by MD5,
    /// restart it and check its Hello.
    #[command(after_help = FLASH_HELP)]
    Flash(FlashArgs),
    /// RS256 signature of a message (or a SHA-256 digest) on the device, checked before output.
    Sign(SignArgs),
    /// A JSON Web Token signed with RS256 on the device: header, claims, signature.
    Jwt(JwtArgs),
    /// Check an RS256 signature on the host (no device), e.g. one from `openssl dgst -sign`.
    Verify(VerifyArgs),
    /// SHA-256 (or SHA-224, or legacy SHA-1) digest on the device's SHA accelerator, checked on
    /// the host before output.
    Hash(hash::HashArgs),
    /// RSA-encrypt a short secret on the host to a public key or a device key (no device
    /// needed with --pubkey); `openssl pkeyutl -decrypt` opens it.
    Encrypt(decrypt::EncryptArgs),
    /// RSA-decrypt on the device: with a device key (--slot) or a key file (--key), padding
    /// checked on the device in constant time.
    Decrypt(decrypt::DecryptArgs),
    /// Device keys: RSA keys that never leave the chip (eFuse + Digital Signature peripheral).
    #[command(subcommand)]
    Key(KeyCommand),
    /// A PKCS#10 certificate request signed by a device key (`openssl req -verify` reads it).
    Csr(CsrArgs),
    /// The provisioning lock: burn an eFuse bit after which the device refuses every key
    /// generation, import and certificate write, and keeps signing (irreversible). Without
    /// --burn: say what would be done, and do nothing.
    Lock(LockArgs),
    /// Measure the device and its link.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// The factory station: run a recipe on many devices at once and record each one.
    #[command(subcommand)]
    Station(station::StationCommand),
    /// Read the station's records: devices, their steps, keys and history.
    #[command(subcommand)]
    Records(records::RecordsCommand),
    /// The line's certificate authority: make it, revoke, publish its CRL (docs/ca.md).
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// The certificates the device holds in its esp_secure_cert partition.
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// Ask the device to prove it holds its certified key; check the answer (exit 3 names a
    /// failed check).
    Attest(cert::AttestArgs),
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

    /// XOR the device's bits with SHA-256 of fresh bits from the host OS (see README, "Entropy"):
    /// unpredictable if either source is.
    #[arg(long)]
    pub mix_host_entropy: bool,
}

const AES_EXAMPLES: &str = "\
Examples:
  ucrypto aes encrypt --mode cbc --key @key.bin --iv 000102030405060708090a0b0c0d0e0f \\
      -i plain.bin -o cipher.bin
      (the bytes of: openssl enc -aes-128-cbc -K <key hex> -iv 0001..0e0f -nopad)
  tar c docs | ucrypto aes encrypt --mode ctr --key env:AES_KEY --counter $CTR > docs.tar.enc

Every chunk is recomputed on the host and compared; a difference is exit 3 and nothing is
output. Bad input (key or IV length, a partial block without --pad, bad padding) is exit 2.";

#[derive(Debug, Args)]
pub struct AesArgs {
    /// Encrypt or decrypt.
    #[arg(value_enum)]
    pub direction: AesDirectionArg,

    /// Mode of operation (CFB8 and CFB128 are Pycom's MODE_CFB with segment_size 8 and 128).
    #[arg(short, long, value_enum)]
    pub mode: AesModeArg,

    /// The key (16, 24 or 32 bytes): hex digits, @FILE holding the raw bytes, or env:VAR naming
    /// an environment variable that holds hex. Never printed.
    #[arg(short, long, value_name = "KEY", value_parser = KeyArg::parse)]
    pub key: KeyArg,

    /// The 16-byte IV, in hex (CBC, CFB8, CFB128).
    #[arg(long, value_name = "HEX", value_parser = parse_block, conflicts_with = "counter")]
    pub iv: Option<[u8; 16]>,

    /// The initial 16-byte counter block, in hex (CTR); incremented as one 128-bit big-endian
    /// integer.
    #[arg(long, value_name = "HEX", value_parser = parse_block)]
    pub counter: Option<[u8; 16]>,

    /// Read the input from FILE (`-` or nothing: stdin).
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<PathBuf>,

    /// Write to FILE (written in full or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Pad the plaintext (ECB and CBC): added before encryption, checked and removed after
    /// decryption. Off by default, as in Pycom's crypto.AES.
    #[arg(long, value_enum, value_name = "SCHEME")]
    pub pad: Option<PadArg>,

    /// Output encoding [default: raw, or hex for --json on stdout].
    #[arg(short, long, value_enum)]
    pub format: Option<Format>,

    /// Skip the host's check of every chunk against its own AES (faster on a fast link; a
    /// faulty device then goes unnoticed).
    #[arg(long)]
    pub no_verify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AesDirectionArg {
    Encrypt,
    Decrypt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AesModeArg {
    Ecb,
    Cbc,
    Cfb8,
    Cfb128,
    Ctr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PadArg {
    /// PKCS#7 (RFC 5652): 1 to 16 bytes, each holding the pad length.
    Pkcs7,
}

impl From<AesDirectionArg> for AesDirection {
    fn from(d: AesDirectionArg) -> AesDirection {
        match d {
            AesDirectionArg::Encrypt => AesDirection::Encrypt,
            AesDirectionArg::Decrypt => AesDirection::Decrypt,
        }
    }
}

impl From<AesModeArg> for AesMode {
    fn from(m: AesModeArg) -> AesMode {
        match m {
            AesModeArg::Ecb => AesMode::Ecb,
            AesModeArg::Cbc => AesMode::Cbc,
            AesModeArg::Cfb8 => AesMode::Cfb8,
            AesModeArg::Cfb128 => AesMode::Cfb128,
            AesModeArg::Ctr => AesMode::Ctr,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Stream pseudo-random data through an AES session and report the goodput.
    Aes(BenchAesArgs),
    /// Signatures per second with a key: SHA-256 digests signed on the device, one after the
    /// other, each checked on the host.
    Sign(BenchSignArgs),
    /// Hash pseudo-random data on the device and report the goodput.
    Hash(hash::BenchHashArgs),
}

#[derive(Debug, Args)]
pub struct BenchAesArgs {
    /// Bytes to stream (suffixes K, M, G: powers of 1024).
    #[arg(long, default_value = "4M", value_parser = parse_size)]
    pub bytes: u64,

    #[arg(short, long, value_enum, default_value_t = AesModeArg::Ctr)]
    pub mode: AesModeArg,

    /// Key size.
    #[arg(long, default_value_t = 128, value_parser = parse_key_bits)]
    pub bits: u16,

    /// Skip the host's check of every chunk.
    #[arg(long)]
    pub no_verify: bool,
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
    /// `delay=MS` (before each answer), `reset-after=N` (restart every N answers),
    /// `lose=baud-set` (every `BaudSet` answer lost; the device switches all the same), `seed=S`.
    #[arg(long, value_name = "SPEC", conflicts_with = "download_mode")]
    pub faults: Option<ucrypto_sim::faults::FaultSpec>,

    /// With --baud: the line carries at most BAUD (a long cable, a bridge that cannot make the
    /// rate); bytes at a faster rate arrive garbled both ways, as they do when the two ends of
    /// the UART are at different rates.
    #[arg(long, value_name = "BAUD", conflicts_with = "download_mode")]
    pub line_limit: Option<u32>,

    /// Keep the eFuses in FILE across runs (352 bytes: BLOCK0..BLOCK10, 8 little-endian words
    /// each; created all zero if missing). Without it they live in memory.
    #[arg(long, value_name = "FILE")]
    pub efuse: Option<std::path::PathBuf>,

    /// Keep the SPI flash in FILE across runs (a raw 4 MiB image, 0xFF when erased; created if
    /// missing). Without it the flash lives in memory.
    #[arg(long, value_name = "FILE")]
    pub flash: Option<std::path::PathBuf>,

    /// Start in the ROM's serial download mode (what `ucrypto flash` and espflash talk to), and
    /// boot what was written to the flash (--flash) when the host ends with FLASH_END.
    #[arg(long)]
    pub download_mode: bool,

    /// In download mode, damage the data of the Nth FLASH_DATA or FLASH_DEFL_DATA block (from
    /// 0) as a bad line would, so that the loader answers with its checksum error (for tests).
    #[arg(long, value_name = "N", requires = "download_mode", hide = true)]
    pub damage_block: Option<u32>,

    /// In download mode, the ROM refuses to load code into RAM (MEM_BEGIN), as a chip in Secure
    /// Download Mode does, so no flasher stub can run (for tests).
    #[arg(long, requires = "download_mode", hide = true)]
    pub refuse_ram_load: bool,
}

const FLASH_HELP: &str = "\
The image is a merged image (bootloader, partition table, application) written at 0x0. Without
--image, ucrypto looks for ucrypto-<chip>-merged.bin next to its own binary, then in
firmware/chip/dist/ (where firmware/chip/build-images.sh puts it).

The board must be in download mode: on a USB-UART bridge or USB-Serial-JTAG, --before
default-reset gets it there through DTR/RTS; otherwise hold BOOT, press RESET, and pass
--before no-reset. Nothing is written when the flash already holds the image (same MD5),
unless --force.";

#[derive(Debug, Args)]
pub struct FlashArgs {
    /// The merged image to write at 0x0 (see below for the default).
    #[arg(long, value_name = "PATH")]
    pub image: Option<PathBuf>,

    /// The board's chip: picks the default image, and an image for another chip is refused
    /// before the board is touched [default: the image's chip, or esp32c3].
    #[arg(long, value_enum)]
    pub chip: Option<ChipArg>,

    /// How to enter download mode.
    #[arg(long, value_enum, default_value_t = BeforeArg::DefaultReset)]
    pub before: BeforeArg,

    /// Write even when the flash already holds the image.
    #[arg(long)]
    pub force: bool,

    /// Baud rate for the write, set in the ROM loader with CHANGE_BAUDRATE (UART bridges; e.g.
    /// 921600) [default: the ROM's 115200].
    #[arg(long, value_name = "BAUD")]
    pub flash_baud: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BeforeArg {
    /// Reset into download mode with DTR/RTS (falls back to no-reset on a port without them).
    DefaultReset,
    /// The chip is already in download mode.
    NoReset,
}

impl From<BeforeArg> for ucrypto_station::flasher::Before {
    fn from(b: BeforeArg) -> Self {
        match b {
            BeforeArg::DefaultReset => ucrypto_station::flasher::Before::DefaultReset,
            BeforeArg::NoReset => ucrypto_station::flasher::Before::NoReset,
        }
    }
}

/// A 16-byte block in hex (an IV or a counter block).
fn parse_block(s: &str) -> Result<[u8; 16], String> {
    let mut block = [0u8; 16];
    if s.len() != 32 {
        return Err(format!(
            "it must be 16 bytes: 32 hex digits, not {}",
            s.len()
        ));
    }
    hex::decode_to_slice(s, &mut block).map_err(|_| "it must be 32 hex digits".to_string())?;
    Ok(block)
}

fn parse_key_bits(s: &str) -> Result<u16, String> {
    match s {
        "128" | "192" | "256" => Ok(s.parse().expect("a listed number")),
        _ => Err("AES keys are 128, 192 or 256 bits".into()),
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
#[command(group(ArgGroup::new("signing_key").required(true).args(["key", "slot"])))]
pub struct KeyArgs {
    /// RSA private key: PKCS#8 or PKCS#1, PEM or DER, or encrypted PKCS#8. It is sent to the
    /// device with each request.
    #[arg(short, long, value_name = "KEY")]
    pub key: Option<PathBuf>,

    /// Sign with the device key in this slot (0-5, `ucrypto key list`): it never leaves the chip.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..6), conflicts_with = "pass")]
    pub slot: Option<u8>,

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

#[derive(Debug, Args)]
pub struct BenchSignArgs {
    #[command(flatten)]
    pub key: KeyArgs,

    /// Number of signatures.
    #[arg(short = 'n', long, default_value_t = 50)]
    pub count: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_code_help_lists_every_code_and_the_json_error() {
        let help = exit_codes_help();
        assert!(help.contains("  3  a result failed verification (nothing was output)\n"));
        assert!(help.contains("  130  interrupted (Ctrl-C, SIGTERM): nothing was output\n"));
        assert!(help.ends_with(r#"{"error":{"kind":"timeout","exit_code":4,"message":"..."}}"#));
    }

    #[test]
    fn the_readme_table_says_what_the_code_says() {
        let readme = include_str!("../../../README.md");
        for (code, meaning) in exit::TABLE {
            let row = format!("| {code} | {meaning}");
            assert!(readme.contains(&row), "README lacks `{row}`");
        }
    }
}

const KEY_EXAMPLES: &str = "\
Examples:
  ucrypto key list
  ucrypto key generate --slot 0                # dry run: says what it would burn
  ucrypto key generate --slot 0 --burn         # generates on the device, burns BLOCK4
  ucrypto key public --slot 0 -o device.pem
  ucrypto sign --slot 0 -i firmware.bin -f raw -o firmware.sig
  openssl dgst -sha256 -verify device.pem -signature firmware.sig firmware.bin
  ucrypto csr --slot 0 --subject \"CN=device-1,O=Example\" -o device.csr

Burning eFuses cannot be undone. Without --burn nothing is burned; at a terminal, --burn also
asks for the device id to be typed back.";

/// Keys that never leave the chip.
#[derive(Debug, Subcommand)]
#[command(after_help = KEY_EXAMPLES)]
pub enum KeyCommand {
    /// Generate an RSA key on the device and burn its eFuse key block (irreversible). Without
    /// --burn: say what would be done, and do nothing.
    #[command(after_help = KEY_EXAMPLES)]
    Generate(KeyGenerateArgs),
    /// Store a key from a file as a device key (irreversible). Weaker than `generate`: the key
    /// crossed the link and exists off the chip.
    Import(KeyImportArgs),
    /// The device's key slots: free, a device key (size, SPKI SHA-256), used for another
    /// purpose, or lost to an incomplete burn.
    List,
    /// The public key of a device key.
    Public(KeyPublicArgs),
}

#[derive(Debug, Args)]
pub struct KeyGenerateArgs {
    /// The slot (0-5: eFuse BLOCK4-BLOCK9), or `any` for the highest free one of 2-5 (slots 0
    /// and 1 are left to Secure Boot and flash encryption unless named).
    #[arg(long, value_name = "N|any", value_parser = SlotChoice::parse, default_value = "any")]
    pub slot: SlotChoice,

    /// RSA modulus size: a multiple of 64 up to the chip's largest (3072 on the ESP32-C3/C6).
    #[arg(long, default_value_t = ucrypto_protocol::DEFAULT_KEY_BITS)]
    pub bits: u16,

    /// Burn the eFuses (irreversible). Without it, nothing is done.
    #[arg(long)]
    pub burn: bool,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Burn the lock bit (irreversible). Without it, nothing is done; at a terminal the device
    /// id is also typed back.
    #[arg(long)]
    pub burn: bool,
}

#[derive(Debug, Args)]
pub struct KeyImportArgs {
    /// The slot (0-5: eFuse BLOCK4-BLOCK9), or `any` for the highest free one of 2-5 (slots 0
    /// and 1 are left to Secure Boot and flash encryption unless named).
    #[arg(long, value_name = "N|any", value_parser = SlotChoice::parse, default_value = "any")]
    pub slot: SlotChoice,

    /// RSA private key: PKCS#8 or PKCS#1, PEM or DER, or encrypted PKCS#8.
    #[arg(short, long, value_name = "KEY")]
    pub key: PathBuf,

    /// Passphrase of an encrypted key: env:VAR or file:PATH.
    #[arg(long, value_name = "env:VAR|file:PATH")]
    pub pass: Option<PassSource>,

    /// Burn the eFuses (irreversible). Without it, nothing is done.
    #[arg(long)]
    pub burn: bool,
}

/// The encodings of `key public --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PublicFormatArg {
    /// PEM SubjectPublicKeyInfo (`-----BEGIN PUBLIC KEY-----`).
    Pem,
    /// DER SubjectPublicKeyInfo, the bytes whose SHA-256 is the slot's fingerprint.
    Der,
    /// A JSON Web Key (RFC 7517) for RS256, `kid` = the SPKI SHA-256 in base64url.
    Jwk,
}

impl From<PublicFormatArg> for PublicFormat {
    fn from(arg: PublicFormatArg) -> Self {
        match arg {
            PublicFormatArg::Pem => PublicFormat::Pem,
            PublicFormatArg::Der => PublicFormat::Der,
            PublicFormatArg::Jwk => PublicFormat::Jwk,
        }
    }
}

#[derive(Debug, Args)]
pub struct KeyPublicArgs {
    /// The slot (0-5).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..6))]
    pub slot: u8,

    /// Encoding of the public key.
    #[arg(short, long, value_enum, default_value_t = PublicFormatArg::Pem)]
    pub format: PublicFormatArg,

    /// Write to FILE (written in full or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CsrArgs {
    /// The device key's slot (0-5).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..6))]
    pub slot: u8,

    /// The subject as RFC 4514 writes it, most specific first: "CN=device-1,O=Example".
    #[arg(long, value_name = "DN")]
    pub subject: String,

    /// Encoding of the request.
    #[arg(short, long, value_enum, default_value_t = CsrFormat::Pem)]
    pub format: CsrFormat,

    /// Write to FILE (written in full or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CsrFormat {
    /// `-----BEGIN CERTIFICATE REQUEST-----`.
    Pem,
    /// DER bytes.
    Der,
}
