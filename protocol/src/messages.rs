//! Request and response types. postcard encodes an enum variant as its index (a varint), so the
//! order of variants is part of the wire format: append new variants, never reorder.
use postcard_schema::Schema;
use serde::{Deserialize, Serialize};

use crate::device_keys::{KeySlots, PublicKeyInfo};
use crate::trust::{CertKind, HashAlg, RsaPadding, SecurityState};

/// A request from the host. `seq` is chosen by the host and echoed by the response, so a late
/// answer is never taken for the current one. The host never uses 0: the device answers 0 when it
/// cannot read the sequence number of a damaged request.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub seq: u32,
    #[serde(borrow)]
    pub body: RequestBody<'a>,
}

/// What the host asks for. Its `Debug` shows payloads as lengths only (see [`crate::redact`]).
#[derive(Serialize, Deserialize, Schema, Clone, PartialEq, Eq)]
pub enum RequestBody<'a> {
    /// Handshake: answered with [`ResponseBody::Hello`]. Ends any open session.
    Hello,
    /// Liveness check: answered with [`ResponseBody::Pong`] carrying the same nonce.
    Ping { nonce: u32 },
    /// `words` 32-bit words from the true RNG (1 to [`crate::MAX_RANDOM_WORDS`]).
    Random { words: u16 },
    /// Opens an AES stream session. `iv` is the IV (CBC, CFB) or the initial counter block (CTR).
    AesStart {
        direction: AesDirection,
        mode: AesMode,
        key: &'a [u8],
        iv: Option<[u8; 16]>,
    },
    /// The next chunk of an AES stream; `offset` is its position in the stream.
    AesData {
        session: u32,
        offset: u64,
        data: &'a [u8],
    },
    /// Opens a SHA-256 session for a message to be signed.
    HashStart,
    /// The next chunk of the message; `offset` is its position in the message.
    HashData {
        session: u32,
        offset: u64,
        data: &'a [u8],
    },
    /// Finishes the hash session (which must have received `length` bytes) and signs the digest
    /// with RSASSA-PKCS1-v1_5. The key is used for this request only and then wiped.
    SignHashed {
        session: u32,
        length: u64,
        key: RsaPrivateKey<'a>,
    },
    /// Signs a SHA-256 digest computed elsewhere with RSASSA-PKCS1-v1_5.
    SignDigest {
        digest: [u8; 32],
        key: RsaPrivateKey<'a>,
    },
    /// Ends a session early and wipes its key material.
    EndSession { session: u32 },
    /// Generates an RSA key of `bits` bits on the device, stores it as a Digital Signature key in
    /// `slot` (or [`crate::ANY_SLOT`]) and answers with [`ResponseBody::PublicKey`]. Burns eFuses:
    /// irreversible.
    KeyGenerate { slot: u8, bits: u16 },
    /// Stores a key sent by the host as a Digital Signature key in `slot` (or
    /// [`crate::ANY_SLOT`]); answered like `KeyGenerate`. Burns eFuses: irreversible.
    KeyImport { slot: u8, key: RsaPrivateKey<'a> },
    /// The public key of the Digital Signature key in `slot`.
    PublicKey { slot: u8 },
    /// Finishes the hash session like `SignHashed`, signing with the key in `slot`.
    SignSlot { session: u32, length: u64, slot: u8 },
    /// Signs a SHA-256 digest computed elsewhere with the key in `slot`.
    SignDigestSlot { digest: [u8; 32], slot: u8 },
    /// Checks `key` and keeps it on the device for the signatures that follow (one key at a time:
    /// loading another replaces it). Answered with [`ResponseBody::KeyLoaded`]. The device wipes
    /// it on `UnloadKey`, a `Hello` on the port that loaded it, a restart, or [`crate::KEY_IDLE_MS`] without a request.
    LoadKey { key: RsaPrivateKey<'a> },
    /// `SignDigest` with the loaded key named by `handle`.
    SignDigestLoaded { handle: u32, digest: [u8; 32] },
    /// `SignHashed` with the loaded key named by `handle`.
    SignHashedLoaded {
        handle: u32,
        session: u32,
        length: u64,
    },
    /// Wipes the loaded key now. Answered with [`ResponseBody::KeyUnloaded`].
    UnloadKey { handle: u32 },
    /// Moves the UART to `baud` (8N1): answered with [`ResponseBody::BaudSet`] at the old rate,
    /// then the device switches. See [`crate::link`] for the fallback.
    SetBaud { baud: u32 },
    /// Sets the provisioning lock (an eFuse bit: irreversible, kept across any reflash). A
    /// locked device refuses every request that burns eFuses or writes provisioning records
    /// ([`ErrorCode::Locked`]) and still uses its keys. Answered with [`ResponseBody::Locked`],
    /// also when the device was locked already.
    Lock,
    /// Opens a hash session for a digest of its own (not for signing), with `alg`; fed with
    /// `HashData` like a signing hash session.
    DigestStart { alg: HashAlg },
    /// Finishes digest session `session`, which must have received `length` bytes; answered with
    /// [`ResponseBody::Digest`]. Ends the session either way.
    DigestFinish { session: u32, length: u64 },
    /// Decrypts `ciphertext` (as long as the modulus) with `key`, sent for this request only;
    /// answered with [`ResponseBody::Plaintext`] when the padding is valid, else with
    /// [`ErrorCode::DecryptFailed`], whatever was wrong.
    Decrypt {
        padding: RsaPadding,
        ciphertext: &'a [u8],
        key: RsaPrivateKey<'a>,
    },
    /// `Decrypt` with the device key in `slot` (the Digital Signature peripheral).
    DecryptSlot {
        slot: u8,
        padding: RsaPadding,
        ciphertext: &'a [u8],
    },
    /// `Decrypt` with the key loaded under `handle`.
    DecryptLoaded {
        handle: u32,
        padding: RsaPadding,
        ciphertext: &'a [u8],
    },
    /// Writes the piece at `offset` of a certificate of `total` bytes (DER) into the device's
    /// esp_secure_cert partition as the entry of `kind`; the entry is complete when the last
    /// piece arrives. Answered with [`ResponseBody::CertWritten`]. Refused once locked.
    CertWrite {
        kind: CertKind,
        offset: u32,
        total: u32,
        data: &'a [u8],
    },
    /// Reads the piece at `offset` of the certificate entry of `kind`; answered with
    /// [`ResponseBody::Certificate`].
    CertRead { kind: CertKind, offset: u32 },
    /// Asks the device to sign an attestation statement (protocol section 6) over `challenge`
    /// with the key in `slot`; answered with [`ResponseBody::Attestation`].
    Attest { slot: u8, challenge: [u8; 32] },
}

/// An RSA private key in CRT form. Every integer is unsigned big-endian without a sign byte.
#[derive(Serialize, Deserialize, Schema, Clone, PartialEq, Eq)]
pub struct RsaPrivateKey<'a> {
    pub n: &'a [u8],
    pub e: &'a [u8],
    pub d: &'a [u8],
    pub p: &'a [u8],
    pub q: &'a [u8],
    pub dp: &'a [u8],
    pub dq: &'a [u8],
    pub qinv: &'a [u8],
}

impl core::fmt::Debug for RsaPrivateKey<'_> {
    /// Shows only the modulus size: key material must never reach a log.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RsaPrivateKey({} bytes, redacted)", self.n.len())
    }
}

#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AesDirection {
    Encrypt,
    Decrypt,
}

/// The modes of Pycom's `crypto.AES` (`MODE_CFB` with `segment_size` 8 or 128).
#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AesMode {
    Ecb,
    Cbc,
    Cfb8,
    Cfb128,
    Ctr,
}

impl AesMode {
    /// Whether the mode needs the input in whole 16-byte blocks.
    pub const fn needs_whole_blocks(self) -> bool {
        matches!(self, AesMode::Ecb | AesMode::Cbc)
    }

    /// Whether the mode needs an IV (or initial counter block).
    pub const fn needs_iv(self) -> bool {
        !matches!(self, AesMode::Ecb)
    }
}

/// A response from the device. `seq` echoes the request's.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    pub seq: u32,
    #[serde(borrow)]
    pub body: ResponseBody<'a>,
}

/// What the device answers. Its `Debug` shows payloads as lengths only (see [`crate::redact`]).
// `Hello` (with its key slots) is the large variant; one response lives at a time and the
// device has no allocator to box it.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize, Deserialize, Schema, Clone, PartialEq, Eq)]
pub enum ResponseBody<'a> {
    /// Must stay variant 0 with [`HelloInfo`]'s first two fields unchanged in every version, so
    /// that any host can read a device's version and schema fingerprint.
    #[serde(borrow)]
    Hello(HelloInfo<'a>),
    Pong {
        nonce: u32,
    },
    /// Random bytes: the words in device order, each little-endian.
    Random {
        data: &'a [u8],
    },
    SessionStarted {
        session: u32,
    },
    /// The AES output for the chunk at `offset`.
    AesData {
        offset: u64,
        data: &'a [u8],
    },
    /// The hash session has received `received` bytes.
    HashProgress {
        received: u64,
    },
    /// A PKCS#1 v1.5 signature, big-endian, as long as the modulus; checked by the device with
    /// the public exponent before it was sent.
    Signature {
        data: &'a [u8],
    },
    SessionEnded,
    Error(DeviceError<'a>),
    /// The public key of a slot (answer to `KeyGenerate`, `KeyImport` and `PublicKey`).
    PublicKey(PublicKeyInfo<'a>),
    /// The key of `LoadKey` is loaded; sign with it by `handle`.
    KeyLoaded {
        handle: u32,
    },
    KeyUnloaded,
    /// The device runs its UART at `baud` from the next byte on.
    BaudSet {
        baud: u32,
    },
    /// The provisioning lock is set (answer to `Lock`).
    Locked,
    /// A digest (answer to `DigestFinish`), as long as the algorithm's output.
    Digest {
        data: &'a [u8],
    },
    /// A decrypted message whose padding was valid (answer to the `Decrypt` requests).
    Plaintext {
        data: &'a [u8],
    },
    /// The certificate entry has received `received` bytes (answer to `CertWrite`).
    CertWritten {
        received: u32,
    },
    /// The piece at `offset` of a certificate of `total` bytes (answer to `CertRead`).
    Certificate {
        total: u32,
        offset: u32,
        data: &'a [u8],
    },
    /// A signed attestation statement (answer to `Attest`): `signature` is RSASSA-PKCS1-v1_5
    /// with SHA-256 over `statement`, by the slot's key.
    Attestation {
        statement: &'a [u8],
        signature: &'a [u8],
    },
}

/// The device's answer to `Hello`.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, PartialEq, Eq)]
pub struct HelloInfo<'a> {
    pub protocol_version: u16,
    pub schema: [u8; 8],
    pub firmware_version: &'a str,
    pub chip: Chip,
    /// The software backend (`ucrypto sim`): its crypto is not hardware and not for production.
    pub virtual_device: bool,
    /// The factory MAC address on hardware; derived from the seed on a virtual device.
    pub device_id: [u8; 6],
    pub capabilities: Capabilities,
    pub entropy: Entropy,
    pub self_test: SelfTest,
    /// The key slots; `None` on a device without the Digital Signature peripheral.
    pub key_slots: Option<KeySlots>,
    /// What the eFuses say about how far the device can be trusted; `None` where the firmware
    /// cannot read them.
    pub security: Option<SecurityState>,
    /// The SHA-256 of the application image the device runs (as written in flash, over the
    /// image's length including its appended digest); `None` where unknown.
    pub app_sha256: Option<[u8; 32]>,
}

#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chip {
    Esp32,
    Esp32S3,
    Esp32C3,
    Esp32C6,
}

impl Chip {
    pub const ALL: [Chip; 4] = [Chip::Esp32, Chip::Esp32S3, Chip::Esp32C3, Chip::Esp32C6];

    /// The name used on the command line and in JSON (`esp32c3`).
    pub const fn name(self) -> &'static str {
        match self {
            Chip::Esp32 => "esp32",
            Chip::Esp32S3 => "esp32s3",
            Chip::Esp32C3 => "esp32c3",
            Chip::Esp32C6 => "esp32c6",
        }
    }
}

/// What the device can do; the host checks it before it sends work.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Bit set of [`Command`]s.
    pub commands: u32,
    /// AES key sizes the device accepts (bit set of [`KeySize`]).
    pub aes_key_sizes: u8,
    /// AES key sizes done by the accelerator; the others run in software on the device.
    pub aes_hw_key_sizes: u8,
    pub min_rsa_bits: u16,
    pub max_rsa_bits: u16,
    pub max_chunk_len: u16,
}

impl Capabilities {
    pub const fn supports(&self, command: Command) -> bool {
        self.commands & command as u32 != 0
    }
}

/// Command bits of [`Capabilities::commands`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Command {
    Random = 1,
    Aes = 2,
    Sign = 4,
    /// Keys that stay on the device: `KeyGenerate`, `KeyImport`, `PublicKey`, `SignSlot`,
    /// `SignDigestSlot`.
    DeviceKeys = 8,
    /// `LoadKey` and the signing requests that use a loaded key.
    LoadedKey = 16,
    /// `SetBaud`.
    SetBaud = 32,
    /// `Lock`.
    Lock = 64,
    /// `DigestStart` and `DigestFinish`.
    Digest = 128,
    /// `Decrypt`, `DecryptSlot` (with device keys) and `DecryptLoaded`.
    Decrypt = 256,
    /// `CertWrite` and `CertRead`.
    Certificates = 512,
    /// `Attest`.
    Attest = 1024,
}

impl Command {
    pub const ALL: [Command; 11] = [
        Command::Random,
        Command::Aes,
        Command::Sign,
        Command::DeviceKeys,
        Command::LoadedKey,
        Command::SetBaud,
        Command::Lock,
        Command::Digest,
        Command::Decrypt,
        Command::Certificates,
        Command::Attest,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Command::Random => "rand",
            Command::Aes => "aes",
            Command::Sign => "sign",
            Command::DeviceKeys => "keys",
            Command::LoadedKey => "loaded-key",
            Command::SetBaud => "set-baud",
            Command::Lock => "lock",
            Command::Digest => "digest",
            Command::Decrypt => "decrypt",
            Command::Certificates => "certificates",
            Command::Attest => "attest",
        }
    }
}

/// AES key size bits of [`Capabilities::aes_key_sizes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum KeySize {
    Aes128 = 1,
    Aes192 = 2,
    Aes256 = 4,
}

impl KeySize {
    pub const ALL: [KeySize; 3] = [KeySize::Aes128, KeySize::Aes192, KeySize::Aes256];

    pub const fn bits(self) -> u16 {
        match self {
            KeySize::Aes128 => 128,
            KeySize::Aes192 => 192,
            KeySize::Aes256 => 256,
        }
    }

    pub const fn from_key_len(len: usize) -> Option<KeySize> {
        match len {
            16 => Some(KeySize::Aes128),
            24 => Some(KeySize::Aes192),
            32 => Some(KeySize::Aes256),
            _ => None,
        }
    }
}

#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entropy {
    pub source: EntropySource,
    pub state: EntropyState,
}

#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntropySource {
    /// The chip's TRNG fed by SAR-ADC noise (esp-hal's `TrngSource`).
    SarAdc,
    /// The chip's TRNG fed by the radio's noise (Wi-Fi or Bluetooth enabled).
    Radio,
    /// A virtual device seeded from the host operating system's RNG.
    HostOs,
    /// A virtual device seeded with a fixed number: deterministic, not random.
    FixedSeed,
}

#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntropyState {
    /// The source is running and passed its start-up check.
    Ready,
    /// The source failed its start-up check: `Random` is refused.
    Failed,
    /// Output is reproducible (a fixed seed): fine for tests, never for keys.
    Deterministic,
}

/// Outcome of the known-answer tests the device ran at start-up.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelfTest {
    pub rng: TestOutcome,
    pub aes: TestOutcome,
    pub sha256: TestOutcome,
    pub rsa: TestOutcome,
}

impl SelfTest {
    pub const fn all_passed(&self) -> bool {
        !matches!(self.rng, TestOutcome::Failed)
            && !matches!(self.aes, TestOutcome::Failed)
            && !matches!(self.sha256, TestOutcome::Failed)
            && !matches!(self.rsa, TestOutcome::Failed)
    }
}

#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestOutcome {
    Passed,
    Failed,
    NotRun,
}

/// A typed error answer. `code` is stable; `message` is a short English hint for people.
#[derive(Serialize, Deserialize, Schema, Debug, Clone, PartialEq, Eq)]
pub struct DeviceError<'a> {
    pub code: ErrorCode,
    pub message: &'a str,
}

/// Stable error codes (the variant index on the wire is the code).
#[derive(Serialize, Deserialize, Schema, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0: the frame was longer than [`crate::MAX_FRAME_LEN`].
    FrameTooLong,
    /// 1: the frame's CRC matched but its message could not be decoded.
    Undecodable,
    /// 2: a request variant this firmware does not know (newer host).
    UnknownRequest,
    /// 3: an argument is out of range (length, size, count).
    BadArgument,
    /// 4: this device cannot do that (chip, key size, modulus size).
    Unsupported,
    /// 5: another session is open; end it first.
    Busy,
    /// 6: a bug or hardware failure inside the device.
    Internal,
    /// 7: the session named does not exist (ended, or the device restarted).
    NoSession,
    /// 8: a chunk's offset is not where the session stands.
    OutOfSequence,
    /// 9: a start-up self-test failed: the device refuses crypto requests.
    SelfTestFailed,
    /// 10: a computed result failed the device's own check (a fault): nothing was released.
    FaultDetected,
    /// 11: the slot's eFuse key block is not empty (a key, another purpose, or a burn that did
    /// not finish): the device never burns over it.
    SlotUsed,
    /// 12: [`crate::ANY_SLOT`] was asked and no key block is free.
    NoFreeKeyBlock,
    /// 13: no key to sign with: the slot holds no usable Digital Signature key, or no key is
    /// loaded under that handle (unloaded, replaced, idle too long, a `Hello` on the port that
    /// loaded it, or the device restarted: load it again).
    NoKey,
    /// 14: the eFuse burn did not verify; the slot now reports what it holds.
    BurnFailed,
    /// 15: the Digital Signature peripheral refused the stored parameter block (its digest or
    /// padding did not match the eFuse key).
    DsFailed,
    /// 16: writing or reading the key record in flash failed.
    StorageFailed,
    /// 17: the device is locked (`Lock`): it refuses every burn and provisioning write.
    Locked,
    /// 18: the device's security state does not allow this (the message says which eFuse).
    Insecure,
    /// 19: a ciphertext did not decrypt to a validly padded message. Deliberately says nothing
    /// more.
    DecryptFailed,
    /// 20: the RNG's continuous health test failed: random numbers and keys are refused.
    HealthTestFailed,
    /// 21: the device holds no certificate of that kind.
    NoCertificate,
}

impl ErrorCode {
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::FrameTooLong => "frame-too-long",
            ErrorCode::Undecodable => "undecodable",
            ErrorCode::UnknownRequest => "unknown-request",
            ErrorCode::BadArgument => "bad-argument",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
            ErrorCode::NoSession => "no-session",
            ErrorCode::OutOfSequence => "out-of-sequence",
            ErrorCode::SelfTestFailed => "self-test-failed",
            ErrorCode::FaultDetected => "fault-detected",
            ErrorCode::SlotUsed => "slot-used",
            ErrorCode::NoFreeKeyBlock => "no-free-key-block",
            ErrorCode::NoKey => "no-key",
            ErrorCode::BurnFailed => "burn-failed",
            ErrorCode::DsFailed => "ds-failed",
            ErrorCode::StorageFailed => "storage-failed",
            ErrorCode::Locked => "locked",
            ErrorCode::Insecure => "insecure",
            ErrorCode::DecryptFailed => "decrypt-failed",
            ErrorCode::HealthTestFailed => "health-test-failed",
            ErrorCode::NoCertificate => "no-certificate",
        }
    }
}

impl RequestBody<'_> {
    /// Longest time the device may take to answer this request once it has it, in milliseconds.
    /// The host adds the time the bytes take on the line. Timeouts live with the request type.
    pub const fn device_time_ms(&self) -> u32 {
        match self {
            RequestBody::Hello | RequestBody::Ping { .. } | RequestBody::EndSession { .. } => 500,
            RequestBody::Random { .. } => 500,
            RequestBody::AesStart { .. } | RequestBody::HashStart => 500,
            RequestBody::AesData { .. } | RequestBody::HashData { .. } => 1_000,
            RequestBody::SignHashed { key, .. }
            | RequestBody::SignDigest { key, .. }
            | RequestBody::LoadKey { key } => sign_time_ms(key.n.len()),
            // The request does not say the key's size: the longest.
            RequestBody::SignDigestLoaded { .. } | RequestBody::SignHashedLoaded { .. } => {
                sign_time_ms(crate::MAX_RSA_BITS as usize / 8)
            }
            RequestBody::KeyGenerate { bits, .. } => key_generate_time_ms(*bits),
            // Checks, the parameter block, the burn and a test signature through it.
            // Miller–Rabin on p and q (up to 5 rounds each, a round about half a signature), a
            // test signature before the burn, and the DS test signature after it.
            RequestBody::KeyImport { key, .. } => 8 * sign_time_ms(key.n.len()) + 2_000,
            RequestBody::PublicKey { .. } => 500,
            // The host may not know the slot's size: the largest one's time.
            RequestBody::SignSlot { .. } | RequestBody::SignDigestSlot { .. } => {
                sign_time_ms(crate::MAX_RSA_BITS as usize / 8)
            }
            RequestBody::UnloadKey { .. } | RequestBody::SetBaud { .. } => 500,
            // An eFuse burn and its read-back.
            RequestBody::Lock => 2_000,
            RequestBody::DigestStart { .. } | RequestBody::DigestFinish { .. } => 500,
            RequestBody::Decrypt { key, .. } => sign_time_ms(key.n.len()),
            RequestBody::DecryptSlot { .. } | RequestBody::DecryptLoaded { .. } => {
                sign_time_ms(crate::MAX_RSA_BITS as usize / 8)
            }
            // A flash sector erase and write.
            RequestBody::CertWrite { .. } => 2_000,
            RequestBody::CertRead { .. } => 500,
            RequestBody::Attest { .. } => sign_time_ms(crate::MAX_RSA_BITS as usize / 8),
        }
    }

    /// Whether sending the request twice has the same effect as once, so it can be retried.
    pub const fn is_idempotent(&self) -> bool {
        matches!(
            self,
            RequestBody::Hello
                | RequestBody::Ping { .. }
                | RequestBody::Random { .. }
                | RequestBody::SignDigest { .. }
                | RequestBody::PublicKey { .. }
                | RequestBody::SignDigestSlot { .. }
                | RequestBody::LoadKey { .. }
                | RequestBody::SignDigestLoaded { .. }
                | RequestBody::UnloadKey { .. }
                | RequestBody::Lock
                | RequestBody::Decrypt { .. }
                | RequestBody::DecryptSlot { .. }
                | RequestBody::DecryptLoaded { .. }
                | RequestBody::CertRead { .. }
                | RequestBody::Attest { .. }
        )
    }
}

/// The device's time for one signature with a modulus of `n_len` bytes: 10 s for 4096 bits (a
/// private operation plus its check with the public exponent), scaled with the cube of the size
/// as modular exponentiation is, never under 1 s. Sized by the key, a lost request costs a
/// 2048-bit signer about 1.3 s of waiting, not the 10 s a 4096-bit key may need.
const fn sign_time_ms(n_len: usize) -> u32 {
    const FULL_MS: u64 = 10_000;
    const FULL_BYTES: u64 = 512;
    let n = n_len as u64;
    let scaled = if n >= FULL_BYTES {
        FULL_MS
    } else {
        FULL_MS * n * n * n / (FULL_BYTES * FULL_BYTES * FULL_BYTES)
    };
    if scaled < 1_000 {
        1_000
    } else {
        scaled as u32
    }
}

/// The device's time to generate a key of `bits` bits, store it and burn its eFuse block: 90 s
/// for 2048 bits, scaled with the cube of the size (a prime search costs about the size times
/// one exponentiation), never under 10 s. Prime searching takes a random time; this is several
/// times the expected time on an ESP32-C3 (docs/keys.md, "Timing").
const fn key_generate_time_ms(bits: u16) -> u32 {
    const FULL_MS: u128 = 90_000;
    const FULL_BITS: u128 = 2048;
    let b = bits as u128;
    let scaled = FULL_MS * b * b * b / (FULL_BITS * FULL_BITS * FULL_BITS);
    if scaled < 10_000 {
        10_000
    } else if scaled > 1_800_000 {
        1_800_000
    } else {
        scaled as u32
    }
}

/// The part of a `Hello` response that every protocol version keeps, so a host can tell the
/// user which side to update even when the rest of the message is from another schema.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct HelloPrefix {
    pub seq: u32,
    /// Always 0 (`ResponseBody::Hello`).
    pub variant: u32,
    pub protocol_version: u16,
    pub schema: [u8; 8],
}

/// The start of any request: enough to answer a request this firmware cannot decode with the
/// right sequence number and a precise error.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPrefix {
    pub seq: u32,
    pub variant: u32,
}

/// Number of [`RequestBody`] variants; a prefix with a larger variant is an unknown request.
pub const REQUEST_VARIANTS: u32 = 29;

#[cfg(test)]
mod tests {
    use super::*;

    fn sign_wait(modulus_bytes: usize) -> u32 {
        let n = [0xffu8; 1024];
        let key = RsaPrivateKey {
            n: &n[..modulus_bytes],
            e: &[1, 0, 1],
            d: &[],
            p: &[],
            q: &[],
            dp: &[],
            dq: &[],
            qinv: &[],
        };
        RequestBody::SignDigest {
            digest: [0; 32],
            key,
        }
        .device_time_ms()
    }

    #[test]
    fn signing_time_follows_the_key_size() {
        // A lost request is waited for this long: a 2048-bit key must not wait a 4096-bit one's time.
        assert_eq!(sign_wait(512), 10_000);
        assert_eq!(sign_wait(384), 4_218);
        assert_eq!(sign_wait(256), 1_250);
        assert_eq!(sign_wait(128), 1_000);
        assert_eq!(sign_wait(1024), 10_000);
    }

    #[test]
    fn key_generation_time_follows_the_key_size() {
        let wait = |bits| RequestBody::KeyGenerate { slot: 0, bits }.device_time_ms();
        assert_eq!(wait(2048), 90_000);
        assert_eq!(wait(3072), 303_750);
        assert_eq!(wait(4096), 720_000);
        assert_eq!(wait(1024), 11_250);
        assert_eq!(wait(512), 10_000);
        assert_eq!(wait(u16::MAX), 1_800_000);
    }
}
