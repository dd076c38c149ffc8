//! A device that lies. The CLI's own code (handshake, `sign` of a digest and of a stream, the
//! AES stream) talks to the virtual device through a line the fuzzer controls: each answer is
//! passed on, dropped, repeated, damaged (with or without a CRC that matches the damage),
//! replaced by any message the fuzzer writes under the right sequence number, or followed by
//! garbage. A result the CLI accepts must be right: the signature verifies with the key's public
//! half (the `rsa` crate's own check) over the SHA-256 the harness computed, and AES output
//! equals the host's AES of the input. Anything else must be an error of one line with a
//! documented exit code; never a panic or a hang.
//!
//! The line never waits: when nothing is left to read, it reports a timeout at once, which is
//! what the client would see after its deadline. (Real timeouts are in tests/errors.rs.)
#![no_main]

use std::collections::VecDeque;
use std::io::Cursor;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::Pkcs1v15Sign;
use sha2::{Digest, Sha256};
use ucrypto::operations::aes_stream::{self, AesJob};
use ucrypto::client::Client;
use ucrypto::error::{Error, TransportError};
use ucrypto::progress::NoProgress;
use ucrypto::transport::Transport;
use ucrypto::verify::aes::AesReference;
use ucrypto::SigningKey;
use ucrypto_protocol::FrameDecoder;

#[path = "device.rs"]
mod device;

use device::{frame, Device, DEVICES};

thread_local! {
    static KEYS: Vec<rsa::RsaPrivateKey> = [
        &include_bytes!("../keys/rsa1024-a.der")[..],
        &include_bytes!("../keys/rsa1024-b.der")[..],
    ]
    .iter()
    .map(|der| rsa::RsaPrivateKey::from_pkcs1_der(der).expect("a valid key"))
    .collect();
}

/// Operations per input, after the handshake; the input ends sooner when it runs out.
const MAX_OPERATIONS: usize = 3;

/// Signatures per input: a 1024-bit signature (made and checked by the virtual device, then
/// checked here) costs more than the rest of an input, so most inputs have none.
const MAX_SIGNATURES: usize = 1;

fuzz_target!(|data: &[u8]| {
    let Some((&chip, script)) = data.split_first() else {
        return;
    };
    DEVICES.with_borrow_mut(|devices| {
        let device = device::fresh(devices, chip);
        let line = Line {
            device,
            script: Script(script),
            pending: VecDeque::new(),
        };
        let mut client = match Client::connect(line, Duration::from_secs(5)) {
            Ok(client) => client,
            Err(e) => return clean(&e),
        };
        let mut signatures = 0;
        for _ in 0..MAX_OPERATIONS {
            if client_script(&mut client).0.is_empty() {
                break;
            }
            let op = client_script(&mut client).byte();
            let sign = op % 4 == 3 && signatures < MAX_SIGNATURES;
            signatures += usize::from(sign);
            let result = match (sign, op & 0x80 != 0) {
                (true, false) => sign_digest(&mut client),
                (true, true) => sign_stream(&mut client),
                (false, _) => aes(&mut client),
            };
            if let Err(e) = result {
                clean(&e);
            }
        }
    });
});

/// An error the CLI would print: one line, of a kind that maps to a documented exit code (not an
/// interruption, which nothing here asks for).
fn clean(e: &Error) {
    let message = e.to_string();
    assert!(
        !message.contains('\n'),
        "a message of several lines: {message:?}"
    );
    assert!(
        e.kind() != ucrypto::ErrorKind::Interrupted,
        "kind of {message:?}"
    );
}

/// The fuzz input, read a byte or a slice at a time; zeros once it runs out.
struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let take = n.min(self.0.len());
        let (head, rest) = self.0.split_at(take);
        self.0 = rest;
        let mut out = head.to_vec();
        out.resize(n, 0);
        out
    }
}

/// The script the line reads from, reached through the client that owns the line.
fn client_script<'c, 'a>(client: &'c mut Client<Line<'a>>) -> &'c mut Script<'a> {
    &mut client.transport_mut().script
}

/// The serial line between the client and the honest virtual device.
struct Line<'a> {
    device: &'a mut Device,
    script: Script<'a>,
    /// What the client has still to read.
    pending: VecDeque<u8>,
}

impl Line<'_> {
    /// The device's honest answer to `request`, then what the script makes of it.
    fn answer(&mut self, request: &[u8]) {
        let mut honest = Vec::new();
        self.device
            .receive(request, |f| honest.extend_from_slice(f));
        let how = self.script.byte();
        let lie = match how % 8 {
            // Most answers pass, so that operations get far.
            0..=2 => honest,
            // Noise on the line: a bit flipped, which the CRC must catch.
            3 if !honest.is_empty() => {
                let at = usize::from(self.script.byte()) % honest.len();
                honest[at] ^= 1 << (how >> 5);
                honest
            }
            // A lying device: a byte of the message changed, under a CRC that matches.
            4 => match messages(&honest).first() {
                Some(message) if !message.is_empty() => {
                    let mut message = message.clone();
                    let at = usize::from(self.script.byte()) % message.len();
                    message[at] ^= self.script.byte() | 1;
                    frame(&message)
                }
                _ => honest,
            },
            // Any message the fuzzer writes, under the sequence number of the honest answer.
            5 => {
                let seq = messages(&honest)
                    .first()
                    .map(|m| leading_varint(m))
                    .unwrap_or_default();
                let len = usize::from(self.script.byte());
                let mut message = seq;
                message.extend(self.script.bytes(len));
                frame(&message)
            }
            // Lost on the line.
            6 => Vec::new(),
            // Said twice, or followed by garbage.
            _ => {
                let mut twice = honest.clone();
                if how & 0x80 != 0 {
                    twice.extend_from_slice(&honest);
                } else {
                    let len = usize::from(self.script.byte() % 32);
                    twice.extend(self.script.bytes(len));
                }
                twice
            }
        };
        self.pending.extend(lie);
    }
}

impl Transport for Line<'_> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.answer(bytes);
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], _timeout: Duration) -> Result<usize, TransportError> {
        if self.pending.is_empty() {
            return Err(TransportError::Timeout(Duration::ZERO));
        }
        let n = buf.len().min(self.pending.len());
        for (slot, byte) in buf.iter_mut().zip(self.pending.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }

    fn discard_input(&mut self) -> Result<(), TransportError> {
        self.pending.clear();
        Ok(())
    }

    fn describe(&self) -> String {
        "lying line".into()
    }
}

/// The messages (without CRC) of the good frames in `wire`.
fn messages(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut decoder: Box<FrameDecoder> = Box::new(FrameDecoder::new());
    let mut rest = wire;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (used, frame) = decoder.push(rest);
        rest = &rest[used..];
        if let Some(Ok(message)) = frame {
            out.push(message.to_vec());
        }
    }
    out
}

/// The leading postcard varint of `message` (a sequence number), as its bytes.
fn leading_varint(message: &[u8]) -> Vec<u8> {
    let end = message
        .iter()
        .position(|b| b & 0x80 == 0)
        .map_or(message.len(), |i| i + 1);
    message[..end].to_vec()
}

fn signing_key(client: &mut Client<Line<'_>>) -> SigningKey {
    let pick = usize::from(client_script(client).byte() & 1);
    KEYS.with(|keys| SigningKey::new(&keys[pick]).expect("a CRT key"))
}

/// A signature the CLI accepted must verify, by the `rsa` crate's own check, over `digest`.
fn assert_verifies(public: &rsa::RsaPublicKey, digest: &[u8; 32], signature: &[u8]) {
    public
        .verify(Pkcs1v15Sign::new::<Sha256>(), digest, signature)
        .expect("an accepted signature verifies");
}

fn sign_digest(client: &mut Client<Line<'_>>) -> Result<(), Error> {
    let key = signing_key(client);
    let digest: [u8; 32] = client_script(client).bytes(32).try_into().unwrap();
    key.check_device(client)?;
    let signed = key.sign_digest(client, digest)?;
    assert_eq!(signed.digest, digest);
    assert_verifies(&key.public, &digest, &signed.signature);
    Ok(())
}

fn sign_stream(client: &mut Client<Line<'_>>) -> Result<(), Error> {
    let key = signing_key(client);
    let script = client_script(client);
    let len = usize::from(script.byte()) * 64 + usize::from(script.byte());
    let message = script.bytes(len);
    let digest: [u8; 32] = Sha256::digest(&message).into();
    key.check_device(client)?;
    let size = Some(message.len() as u64);
    let signed = key.sign_stream(client, &mut Cursor::new(&message), size, &mut NoProgress)?;
    assert_eq!(signed.digest, digest, "the digest of the message");
    assert_verifies(&key.public, &digest, &signed.signature);
    Ok(())
}

fn aes(client: &mut Client<Line<'_>>) -> Result<(), Error> {
    let script = client_script(client);
    let flags = script.byte();
    let (direction, mode) = device::aes_direction_and_mode(flags);
    let key = script.bytes([16, 24, 32][usize::from(flags >> 4) % 3]);
    let iv: Option<[u8; 16]> = mode
        .needs_iv()
        .then(|| script.bytes(16).try_into().unwrap());
    let blocks = usize::from(script.byte()) + 1;
    let mut input = script.bytes(blocks * 16);
    if !mode.needs_whole_blocks() {
        input.truncate(input.len() - usize::from(flags >> 6));
    }
    let job = AesJob {
        direction,
        mode,
        key: &key,
        iv,
        pkcs7: false,
        verify: true,
    };
    let mut output = Vec::new();
    let summary = aes_stream::run(
        client,
        &job,
        &mut Cursor::new(&input),
        &mut |piece| {
            output.extend_from_slice(piece);
            Ok(())
        },
        &mut NoProgress,
    )?;
    let mut expected = input.clone();
    AesReference::new(direction, mode, &key, iv)
        .expect("a valid job")
        .apply(&mut expected);
    assert_eq!(output, expected, "AES output the CLI accepted");
    assert_eq!(summary.output_bytes, expected.len() as u64);
    Ok(())
}
