//! RS256 signatures on the device: a digest, or a message streamed through the device's
//! SHA-256; every signature is checked with the public key before it is returned.
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use ucrypto_protocol::{Command, ErrorCode, RequestBody, ResponseBody, MAX_CHUNK_LEN};

use super::hash_window::HashWindow;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::key_file::{self, DeviceKey, PassSource};
use crate::progress::{NoProgress, Progress};
use crate::transport::Transport;
use crate::verify::signature::check_rs256;

/// Message chunks in flight at once, so the line never idles while the host waits.
const WINDOW: usize = 4;

/// A signature from the device, checked with the public key.
pub struct Signed {
    /// The RS256 (PKCS#1 v1.5, SHA-256) signature, as long as the modulus.
    pub signature: Vec<u8>,
    /// The SHA-256 digest that was signed.
    pub digest: [u8; 32],
    /// False when the line lost answers mid-stream and the host finished the hash itself.
    pub hashed_on_device: bool,
}

/// The device's signing operations, as methods of the client.
impl<T: Transport> Client<T> {
    /// Signs a SHA-256 digest with `key` on the device (RS256); the signature is checked with
    /// the public key before it is returned.
    pub fn sign_digest(&mut self, key: &SigningKey, digest: [u8; 32]) -> Result<Signed> {
        key.check_device(self)?;
        key.sign_digest(self, digest)
    }

    /// Signs `message` (RS256), streamed through the device's SHA-256 (any length); checked
    /// with the public key before it is returned.
    pub fn sign_message(&mut self, key: &SigningKey, message: &mut dyn Read) -> Result<Signed> {
        key.check_device(self)?;
        key.sign_stream(self, message, None, &mut NoProgress)
    }
}

/// Which private key signs.
pub enum KeySource {
    /// A key sent with each request (Pycom's way): its CRT components, wiped when dropped.
    Sent(DeviceKey),
    /// A device key that never leaves the chip, named by its slot.
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

/// A private key the device signs with, with its public half to check what comes back.
pub struct SigningKey {
    pub source: KeySource,
    /// The public half, which checks every signature.
    pub public: RsaPublicKey,
    /// The handle of the key on the device once loaded there ([`SigningKey::load_on_device`]).
    loaded: Option<u32>,
}

impl SigningKey {
    /// Reads a private key file: PKCS#8 or PKCS#1, PEM or DER, or encrypted PKCS#8 with the
    /// passphrase from `pass` (asked on the terminal when `None` and the key is encrypted). The
    /// parsed key is wiped once its CRT components are extracted.
    pub fn read(path: &Path, pass: Option<&PassSource>) -> Result<Self> {
        Self::new(&key_file::read_private(path, pass)?)
    }

    /// The device's form of `key`, with its public half to check signatures.
    pub fn new(key: &RsaPrivateKey) -> Result<Self> {
        Ok(Self::sent(DeviceKey::new(key)?, key.to_public_key()))
    }

    /// A key sent to the device with each signing request.
    pub fn sent(device: DeviceKey, public: RsaPublicKey) -> Self {
        Self {
            source: KeySource::Sent(device),
            public,
            loaded: None,
        }
    }

    /// The device key in `slot`, its public key read from the device and checked against the
    /// fingerprint in `Hello` ([`crate::device_keys::read_public`]).
    pub fn slot<T: Transport>(client: &mut Client<T>, slot: u8) -> Result<Self> {
        let public = crate::device_keys::read_public(client, slot)?;
        Ok(Self {
            source: KeySource::Slot(slot),
            public: public.key,
            loaded: None,
        })
    }

    /// Loads a sent key on the device for the signatures that follow (`LoadKey`), so each of
    /// them sends a digest instead of the key. Does nothing for a slot key (it never travels),
    /// on a device without loaded keys, or while a key loaded on the device's other port is in
    /// use (`Busy`): each signature then carries the key. The device wipes the key on
    /// [`SigningKey::unload`], the next `Hello` on this port, or after `KEY_IDLE_MS` without a
    /// request on this port.
    pub fn load_on_device<T: Transport>(&mut self, client: &mut Client<T>) -> Result<()> {
        let KeySource::Sent(device) = &self.source else {
            return Ok(());
        };
        if !client.info().raw_capabilities.supports(Command::LoadedKey) {
            return Ok(());
        }
        let body = RequestBody::LoadKey {
            key: device.as_request(),
        };
        let loaded = client.call(body, |body| match body {
            ResponseBody::KeyLoaded { handle } => Ok(handle),
            other => Err(unexpected("LoadKey", &other)),
        });
        self.loaded = match loaded {
            Err(Error::Device {
                code: ErrorCode::Busy,
                ..
            }) => None,
            other => Some(other?),
        };
        Ok(())
    }

    /// Whether the key is loaded on the device.
    pub fn is_loaded(&self) -> bool {
        self.loaded.is_some()
    }

    /// The key's handle on the device, when loaded there.
    pub fn loaded_handle(&self) -> Option<u32> {
        self.loaded
    }

    /// Wipes the loaded key on the device now.
    pub fn unload<T: Transport>(&mut self, client: &mut Client<T>) -> Result<()> {
        let Some(handle) = self.loaded.take() else {
            return Ok(());
        };
        client.call(RequestBody::UnloadKey { handle }, |body| match body {
            ResponseBody::KeyUnloaded => Ok(()),
            other => Err(unexpected("UnloadKey", &other)),
        })
    }

    /// The modulus's size in bits.
    pub fn bits(&self) -> usize {
        self.public.n().bits()
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
        let (needed, what) = match self.source {
            KeySource::Sent(_) => (Command::Sign, ""),
            KeySource::Slot(_) => (Command::DeviceKeys, " with device keys"),
        };
        if !caps.supports(needed) {
            return Err(Error::Unsupported(format!(
                "this device ({}, firmware {}) does not sign{what}",
                info.chip.name(),
                info.firmware_version
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

    /// Signs a digest computed elsewhere (`SignDigest`, repeated if its answer is lost). Unlike
    /// [`Client::sign_digest`] it does not check the device first: call [`Self::check_device`]
    /// once per connection.
    pub fn sign_digest<T: Transport>(
        &self,
        client: &mut Client<T>,
        digest: [u8; 32],
    ) -> Result<Signed> {
        let signature = match self.loaded {
            Some(handle) => {
                match client.call(
                    RequestBody::SignDigestLoaded { handle, digest },
                    signature_of,
                ) {
                    // The device forgot the key (a restart, the idle time): send it with the
                    // digest this time.
                    Err(Error::Device {
                        code: ErrorCode::NoKey,
                        ..
                    }) => None,
                    other => Some(other?),
                }
            }
            None => None,
        };
        let signature = match signature {
            Some(signature) => signature,
            None => client.call(self.digest_request(digest), signature_of)?,
        };
        self.checked(signature, digest, true)
    }

    /// Streams `message` through the device's SHA-256 and signs it. The host hashes it too, to
    /// check the signature. A chunk or answer lost on the line is sent again into the same
    /// session; only if the device lost the session (a restart) or the line keeps failing does
    /// the host finish the hash and the device sign that digest (the same signature).
    pub fn sign_stream<T: Transport>(
        &self,
        client: &mut Client<T>,
        message: &mut dyn Read,
        size: Option<u64>,
        progress: &mut dyn Progress,
    ) -> Result<Signed> {
        progress.start(size);
        let signed = self.sign_stream_inner(client, message, progress);
        progress.finish();
        signed
    }

    fn sign_stream_inner<T: Transport>(
        &self,
        client: &mut Client<T>,
        message: &mut dyn Read,
        progress: &mut dyn Progress,
    ) -> Result<Signed> {
        let chunk_len =
            usize::from(client.info().raw_capabilities.max_chunk_len).clamp(1, MAX_CHUNK_LEN);
        let session = client.call(RequestBody::HashStart, |body| match body {
            ResponseBody::SessionStarted { session } => Ok(session),
            other => Err(unexpected("HashStart", &other)),
        })?;
        let mut host = Sha256::new();
        let mut chunk = vec![0u8; chunk_len];
        let mut length = 0u64;
        let mut in_flight = HashWindow::new(session);
        let mut on_device = true;
        loop {
            let n = read_full(message, &mut chunk)?;
            if n == 0 {
                break;
            }
            host.update(&chunk[..n]);
            if on_device {
                in_flight.send(client, length, &chunk[..n])?;
                while on_device && in_flight.len() >= WINDOW {
                    on_device = in_flight.settle(client)?;
                }
            }
            length += n as u64;
            progress.advance(n as u64);
        }
        while on_device && in_flight.len() > 0 {
            on_device = in_flight.settle(client)?;
        }
        let digest: [u8; 32] = host.finalize().into();
        if on_device {
            let body = match self.loaded {
                Some(handle) => RequestBody::SignHashedLoaded {
                    handle,
                    session,
                    length,
                },
                None => self.hashed_request(session, length),
            };
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

/// Receives the answer to the `HashData` request `seq`, which must say `expected` bytes were
/// hashed (signing and digest sessions alike).
pub(crate) fn receive_progress<T: Transport>(
    client: &mut Client<T>,
    seq: u32,
    expected: u64,
    wait: Duration,
) -> Result<()> {
    client.receive(seq, wait, |body| match body {
        ResponseBody::HashProgress { received } if received == expected => Ok(()),
        ResponseBody::HashProgress { received } => Err(Error::Verification(format!(
            "the device hashed {received} bytes where {expected} were sent"
        ))),
        other => Err(unexpected("HashData", &other)),
    })
}

fn signature_of(body: ResponseBody<'_>) -> Result<Vec<u8>> {
    match body {
        ResponseBody::Signature { data } => Ok(data.to_vec()),
        other => Err(unexpected("a signing request", &other)),
    }
}

/// The error for an answer that is not the one `request` takes.
pub(crate) fn unexpected(request: &str, answer: &ResponseBody<'_>) -> Error {
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
/// A SHA-256 digest written in hex (surrounding white space allowed).
pub fn parse_digest(text: &str) -> Result<[u8; 32]> {
    hex::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| Error::input("a SHA-256 digest is 64 hex digits"))
}
