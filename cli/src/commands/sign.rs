//! `ucrypto sign`: Pycom's `crypto.generate_rsa_signature`, binary-safe and any size. The message
//! is streamed through the device's SHA-256 in chunks, signed there, and checked on the host with
//! the public key before it is output.
use std::collections::VecDeque;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rsa::traits::PublicKeyParts;
use rsa::RsaPublicKey;
use sha2::{Digest, Sha256};
use ucrypto_protocol::{Command, RequestBody, ResponseBody, MAX_CHUNK_LEN};

use crate::args::{GlobalArgs, KeyArgs, SignArgs};
use crate::client::Client;
use crate::commands::{add_device_fields, commit_with_json};
use crate::error::{Error, Result};
use crate::keys::{self, DeviceKey};
use crate::output::{Format, Output};
use crate::transport::Transport;
use crate::verify::signature::check_rs256;

/// Message chunks in flight at once, so the line never idles while the host waits.
const WINDOW: usize = 4;

pub fn run(global: &GlobalArgs, args: &SignArgs) -> Result<()> {
    let digest = args.digest.as_deref().map(parse_digest).transpose()?;
    if global.json && args.format == Format::Raw && is_stdout(args.output.as_deref()) {
        return Err(Error::input(
            "raw bytes cannot go in JSON: use --format base64url, base64 or hex, or -o FILE",
        ));
    }
    let chosen = ChosenKey::load(&args.key)?;
    let mut client = crate::connect(global)?;
    let key = chosen.resolve(&mut client)?;
    key.check_device(&client)?;
    let signed = match (digest, &args.message, &args.input) {
        (Some(digest), _, _) => key.sign_digest(&mut client, digest)?,
        (None, Some(text), _) => key.sign_stream(&mut client, &mut text.as_bytes(), None)?,
        (None, None, Some(path)) if path.as_os_str() == "-" => {
            key.sign_stream(&mut client, &mut std::io::stdin().lock(), None)?
        }
        (None, None, Some(path)) => {
            let file = std::fs::File::open(path)
                .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
            let size = file.metadata().map(|m| m.len()).ok();
            key.sign_stream(&mut client, &mut std::io::BufReader::new(file), size)?
        }
        (None, None, None) => unreachable!("clap requires one source"),
    };

    let mut output = Output::create(args.output.as_deref(), args.format)?;
    output.write(&signed.signature)?;
    if !global.json {
        return output.commit();
    }
    let info = client.info();
    let mut json = serde_json::json!({
        "command": "sign",
        "algorithm": "RS256",
        "key_bits": key.bits(),
        "key_source": key.source.name(),
        "digest": hex::encode(signed.digest),
        "hashed_on": if signed.hashed_on_device { "device" } else { "host" },
        "format": args.format,
        "verified": true,
    });
    add_device_fields(&mut json, info);
    commit_with_json(output, json, "signature")
}

fn is_stdout(path: Option<&Path>) -> bool {
    path.is_none_or(|p| p.as_os_str() == "-")
}

pub fn parse_digest(text: &str) -> Result<[u8; 32]> {
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| Error::input("--digest takes a SHA-256 digest: 64 hex digits"))
}

/// A signature from the device, checked with the public key.
pub struct Signed {
    pub signature: Vec<u8>,
    pub digest: [u8; 32],
    /// False when the line lost answers mid-stream and the host finished the hash itself.
    pub hashed_on_device: bool,
}

/// Which private key signs: one sent with each request (`--key`), or a device key that stays
/// in its slot (`--slot`).
pub enum KeySource {
    Sent(DeviceKey),
    Slot(u8),
}

impl KeySource {
    /// The name `--json` output gives the source.
    pub fn name(&self) -> &'static str {
        match self {
            KeySource::Sent(_) => "sent",
            KeySource::Slot(_) => "device",
        }
    }
}

/// `--key` read before connecting (a passphrase prompt comes before the device is touched), or
/// `--slot`, whose public key only the device can tell.
pub enum ChosenKey {
    File(SigningKey),
    Slot(u8),
}

impl ChosenKey {
    pub fn load(args: &KeyArgs) -> Result<Self> {
        match (&args.key, args.slot) {
            (Some(_), Some(_)) => Err(Error::input("give --key or --slot, not both")),
            (Some(_), None) => SigningKey::load(args).map(ChosenKey::File),
            (None, Some(slot)) => Ok(ChosenKey::Slot(slot)),
            (None, None) => Err(Error::input(
                "name the key: --key FILE (sent to the device) or --slot N (a device key)",
            )),
        }
    }

    /// The signing key; for a slot, its public key read from the device and checked against
    /// the fingerprint in `Hello`.
    pub fn resolve<T: Transport>(self, client: &mut Client<T>) -> Result<SigningKey> {
        match self {
            ChosenKey::File(key) => Ok(key),
            ChosenKey::Slot(slot) => {
                let public = crate::device_keys::read_public(client, slot)?;
                Ok(SigningKey {
                    source: KeySource::Slot(slot),
                    public: public.key,
                })
            }
        }
    }
}

/// A private key ready for the device, with its public half to check what comes back.
pub struct SigningKey {
    pub source: KeySource,
    pub public: RsaPublicKey,
}

impl SigningKey {
    /// A key sent to the device with each signing request.
    pub fn sent(device: DeviceKey, public: RsaPublicKey) -> Self {
        Self {
            source: KeySource::Sent(device),
            public,
        }
    }

    /// Reads `--key` (asking for the passphrase if needed); the parsed key is wiped once its
    /// CRT components are extracted.
    pub fn load(args: &KeyArgs) -> Result<Self> {
        let path = args
            .key
            .as_deref()
            .ok_or_else(|| Error::input("this command needs --key FILE"))?;
        let key = keys::read_private(path, args.pass.as_ref())?;
        Ok(Self::sent(DeviceKey::new(&key)?, key.to_public_key()))
    }

    /// The modulus's size in bits.
    pub fn bits(&self) -> usize {
        self.public.size() * 8
    }

    /// The request that signs `digest`, with the key or naming its slot.
    fn digest_request(&self, digest: [u8; 32]) -> RequestBody<'_> {
        match &self.source {
            KeySource::Sent(device) => RequestBody::SignDigest {
                digest,
                key: device.as_request(),
            },
            KeySource::Slot(slot) => RequestBody::SignDigestSlot {
                digest,
                slot: *slot,
            },
        }
    }

    /// The request that signs what hash session `session` received.
    fn hashed_request(&self, session: u32, length: u64) -> RequestBody<'_> {
        match &self.source {
            KeySource::Sent(device) => RequestBody::SignHashed {
                session,
                length,
                key: device.as_request(),
            },
            KeySource::Slot(slot) => RequestBody::SignSlot {
                session,
                length,
                slot: *slot,
            },
        }
    }

    /// Refuses early, with the limit named, what the device would refuse.
    pub fn check_device<T: Transport>(&self, client: &Client<T>) -> Result<()> {
        let info = client.info();
        let caps = &info.raw_capabilities;
        let needed = match self.source {
            KeySource::Sent(_) => Command::Sign,
            KeySource::Slot(_) => Command::DeviceKeys,
        };
        if !caps.supports(needed) {
            return Err(Error::Unsupported(format!(
                "this device ({}, firmware {}) does not sign{}",
                info.chip.name(),
                info.firmware_version,
                match self.source {
                    KeySource::Sent(_) => "",
                    KeySource::Slot(_) => " with device keys",
                }
            )));
        }
        if let KeySource::Slot(_) = self.source {
            // The device chose the size when it made the key.
            return Ok(());
        }
        let bits = self.bits();
        if bits > usize::from(caps.max_rsa_bits) || bits < usize::from(caps.min_rsa_bits) {
            return Err(Error::Unsupported(format!(
                "the key's modulus is {bits} bits; this {} signs with {} to {} bits",
                info.chip.name(),
                caps.min_rsa_bits,
                caps.max_rsa_bits
            )));
        }
        Ok(())
    }

    /// Signs a digest computed elsewhere (`SignDigest`, repeated if its answer is lost).
    pub fn sign_digest<T: Transport>(
        &self,
        client: &mut Client<T>,
        digest: [u8; 32],
    ) -> Result<Signed> {
        let body = self.digest_request(digest);
        let signature = client.call(body, signature_of)?;
        self.checked(signature, digest, true)
    }

    /// Streams `message` through the device's SHA-256 and signs it. The host hashes it too, to
    /// check the signature; if answers are lost on the line mid-stream, the host finishes the
    /// hash and the device signs that digest (the same signature).
    pub fn sign_stream<T: Transport>(
        &self,
        client: &mut Client<T>,
        message: &mut dyn Read,
        size: Option<u64>,
    ) -> Result<Signed> {
        let chunk_len =
            usize::from(client.info().raw_capabilities.max_chunk_len).clamp(1, MAX_CHUNK_LEN);
        let session = client.call(RequestBody::HashStart, |body| match body {
            ResponseBody::SessionStarted { session } => Ok(session),
            other => Err(unexpected("HashStart", &other)),
        })?;
        let progress = crate::progress::progress_bar(size.unwrap_or(0));
        let mut host = Sha256::new();
        let mut chunk = vec![0u8; chunk_len];
        let mut length = 0u64;
        let mut in_flight = VecDeque::new();
        let mut on_device = true;
        loop {
            let n = read_full(message, &mut chunk)?;
            if n == 0 {
                break;
            }
            host.update(&chunk[..n]);
            if on_device {
                let body = RequestBody::HashData {
                    session,
                    offset: length,
                    data: &chunk[..n],
                };
                let wait = client.wait_for(&body);
                let seq = client.send(&body)?;
                in_flight.push_back((seq, length + n as u64, wait));
                if in_flight.len() >= WINDOW {
                    on_device = settle(client, &mut in_flight)?;
                }
            }
            length += n as u64;
            progress.inc(n as u64);
        }
        while on_device && !in_flight.is_empty() {
            on_device = settle(client, &mut in_flight)?;
        }
        progress.finish_and_clear();
        let digest: [u8; 32] = host.finalize().into();
        if on_device {
            let body = self.hashed_request(session, length);
            let wait = client.wait_for(&body);
            let seq = client.send(&body)?;
            match client.receive(seq, wait, signature_of) {
                Ok(signature) => return self.checked(signature, digest, true),
                // Lost on the line, or the device restarted and forgot the hash: sign the
                // host's digest instead.
                Err(e) if e.is_resumable() => client.note_retry(&e),
                Err(e) => return Err(e),
            }
        }
        let mut signed = self.sign_digest(client, digest)?;
        signed.hashed_on_device = false;
        Ok(signed)
    }

    /// Checks the device's signature with the public key: only a valid one is returned.
    fn checked(&self, signature: Vec<u8>, digest: [u8; 32], on_device: bool) -> Result<Signed> {
        check_rs256(&self.public, &digest, &signature).map_err(|reason| {
            Error::Verification(format!(
                "the device's signature failed the host's check: {reason}"
            ))
        })?;
        Ok(Signed {
            signature,
            digest,
            hashed_on_device: on_device,
        })
    }
}

/// Waits for the oldest chunk in flight. False when its answer was lost or the device lost the
/// session (a restart): the caller stops streaming to the device and finishes the hash on the
/// host.
fn settle<T: Transport>(
    client: &mut Client<T>,
    in_flight: &mut VecDeque<(u32, u64, Duration)>,
) -> Result<bool> {
    let (seq, expected, wait) = in_flight.pop_front().expect("a chunk is in flight");
    let answer = client.receive(seq, wait, |body| match body {
        ResponseBody::HashProgress { received } if received == expected => Ok(()),
        ResponseBody::HashProgress { received } => Err(Error::Verification(format!(
            "the device hashed {received} bytes where {expected} were sent"
        ))),
        other => Err(unexpected("HashData", &other)),
    });
    match answer {
        Ok(()) => Ok(true),
        Err(e) if e.is_resumable() => {
            client.note_retry(&e);
            in_flight.clear();
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

fn signature_of(body: ResponseBody<'_>) -> Result<Vec<u8>> {
    match body {
        ResponseBody::Signature { data } => Ok(data.to_vec()),
        other => Err(unexpected("a signing request", &other)),
    }
}

fn unexpected(request: &str, answer: &ResponseBody<'_>) -> Error {
    Error::Verification(format!(
        "the device answered {request} with {}",
        match answer {
            ResponseBody::Hello(_) => "Hello".to_string(),
            other => format!("{other:?}"),
        }
    ))
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::input(format!("cannot read the message: {e}"))),
        }
    }
    Ok(filled)
}
