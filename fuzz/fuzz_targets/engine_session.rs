//! Fuzz bytes read as a script of well-formed requests to the virtual device: AES sessions in
//! every mode and key size, hash sessions, signatures with real and damaged 1024-bit keys, and
//! session ids and offsets that are sometimes wrong. Every answer is checked against a model of
//! the session rules; every AES chunk against the host's AES and every signature against the
//! host's RS256 verification.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BigUint, RsaPublicKey};
use sha2::{Digest, Sha256};
use ucrypto::verify::aes::AesReference;
use ucrypto::verify::signature::check_rs256;
use ucrypto_protocol::{
    AesDirection, AesMode, RequestBody, RsaPrivateKey, MAX_CHUNK_LEN, MAX_RANDOM_WORDS,
};

#[path = "device.rs"]
mod device;

use device::{call, request, Answer, Device, DEVICES};

thread_local! {
    static KEYS: Vec<KeyParts> = [
        &include_bytes!("../keys/rsa1024-a.der")[..],
        &include_bytes!("../keys/rsa1024-b.der")[..],
    ]
    .iter()
    .map(|der| KeyParts::from_der(der))
    .collect();
}

fuzz_target!(|data: &[u8]| {
    let Some((&chip, rest)) = data.split_first() else {
        return;
    };
    DEVICES.with_borrow_mut(|devices| {
        let device = device::fresh(devices, chip);
        KEYS.with(|keys| Script::new(device, keys, rest).run());
    });
});

/// A 1024-bit CRT key's components, big-endian.
struct KeyParts {
    fields: [Vec<u8>; 8],
}

impl KeyParts {
    fn from_der(der: &[u8]) -> Self {
        let key = rsa::RsaPrivateKey::from_pkcs1_der(der).expect("a valid key");
        let [p, q] = key.primes() else {
            panic!("two primes")
        };
        let qinv = key.qinv().unwrap().to_biguint().unwrap();
        let be = |v: &BigUint| v.to_bytes_be();
        Self {
            fields: [
                be(key.n()),
                be(key.e()),
                be(key.d()),
                be(p),
                be(q),
                be(key.dp().unwrap()),
                be(key.dq().unwrap()),
                be(&qinv),
            ],
        }
    }

    fn as_request(&self) -> RsaPrivateKey<'_> {
        let [n, e, d, p, q, dp, dq, qinv] = &self.fields;
        RsaPrivateKey {
            n,
            e,
            d,
            p,
            q,
            dp,
            dq,
            qinv,
        }
    }

    fn public(&self) -> Option<RsaPublicKey> {
        RsaPublicKey::new(
            BigUint::from_bytes_be(&self.fields[0]),
            BigUint::from_bytes_be(&self.fields[1]),
        )
        .ok()
    }
}

/// The chunk ends a device session remembers (firmware/src/engine/aes.rs).
const MARKS: usize = 16;

/// What an AES session was opened with.
struct AesStartArgs {
    direction: AesDirection,
    mode: AesMode,
    key: Vec<u8>,
    iv: Option<[u8; 16]>,
}

impl AesStartArgs {
    /// A reference that continues the stream at `offset`, after `history` (CBC and CFB).
    fn reference_at(&self, offset: u64, history: &[u8]) -> AesReference {
        let mut reference =
            AesReference::new(self.direction, self.mode, &self.key, self.iv).expect("started");
        match self.mode {
            AesMode::Ecb => {}
            // The keystream up to `offset`, discarded.
            AesMode::Ctr => reference.apply(&mut vec![0; offset as usize]),
            _ => reference.apply(&mut history.to_vec()),
        }
        reference
    }
}

/// Writes a mark at `position` as the device does: over an existing one there, or at the ring's
/// next slot.
fn mark(
    marks: &mut [Option<(u64, Vec<u8>)>],
    next_mark: &mut usize,
    position: u64,
    history: &[u8],
) {
    let slot = match marks
        .iter()
        .position(|m| m.as_ref().is_some_and(|(at, _)| *at == position))
    {
        Some(slot) => slot,
        None => {
            let slot = *next_mark;
            *next_mark = (*next_mark + 1) % MARKS;
            slot
        }
    };
    marks[slot] = Some((position, history.to_vec()));
}

/// The session the model expects the device to hold.
enum Open {
    None,
    Aes {
        id: u32,
        mode: AesMode,
        position: u64,
        reference: AesReference,
        /// Rebuilds `reference` at another offset.
        start: AesStartArgs,
        /// CBC and CFB: the input that led to `position` (a fresh reference over it is the
        /// chaining state there).
        history: Vec<u8>,
        /// The device's marks (protocol section 6): the offsets a CBC or CFB chunk may start at,
        /// kept in the same ring of `MARKS` as the device keeps them, with their history.
        marks: Vec<Option<(u64, Vec<u8>)>>,
        next_mark: usize,
    },
    Hash {
        id: u32,
        received: u64,
        hasher: Sha256,
    },
}

impl Open {
    fn id(&self) -> Option<u32> {
        match self {
            Open::None => None,
            Open::Aes { id, .. } | Open::Hash { id, .. } => Some(*id),
        }
    }
}

/// Fuzz bytes read as a script of requests.
struct Script<'a> {
    device: &'a mut Device,
    keys: &'a [KeyParts],
    input: &'a [u8],
    open: Open,
    /// The last session id the device gave, for requests naming a session.
    last_id: u32,
    seq: u32,
    signatures: u32,
}

/// Signatures per input: each is two 512-bit exponentiations and a check, most of the time
/// spent on an input that has one.
const MAX_SIGNATURES: u32 = 1;

impl<'a> Script<'a> {
    fn new(device: &'a mut Device, keys: &'a [KeyParts], input: &'a [u8]) -> Self {
        Self {
            device,
            keys,
            input,
            open: Open::None,
            last_id: 0,
            seq: 1,
            signatures: 0,
        }
    }

    fn byte(&mut self) -> u8 {
        match self.input.split_first() {
            Some((&b, rest)) => {
                self.input = rest;
                b
            }
            None => 0,
        }
    }

    /// `n` bytes of input, zero-padded when it runs out.
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let take = n.min(self.input.len());
        let mut out = self.input[..take].to_vec();
        self.input = &self.input[take..];
        out.resize(n, 0);
        out
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    fn call(&mut self, body: RequestBody<'_>) -> Answer {
        self.seq += 1;
        let answer = call(self.device, &request(self.seq, body));
        if let Answer::Started(id) = answer {
            self.last_id = id;
        }
        answer
    }

    /// The session id a request names: usually the last one given, sometimes another.
    fn session_id(&mut self, flags: u8) -> u32 {
        if flags & 0x80 != 0 {
            self.last_id ^ u32::from(self.byte() | 1)
        } else {
            self.last_id
        }
    }

    /// The session id and offset a chunk names: usually the session's and where it stands,
    /// sometimes another id, or an offset moved by `off` (ahead or behind).
    fn chunk_target(&mut self, flags: u8, position: u64, off: fn(u64, u64) -> u64) -> (u32, u64) {
        let id = self.session_id(flags);
        let offset = if flags & 0x40 != 0 {
            off(position, u64::from(self.byte()) + 1)
        } else {
            position
        };
        (id, offset)
    }

    fn run(mut self) {
        while !self.input.is_empty() {
            match self.byte() % 8 {
                0 => self.aes_start(),
                1 => self.aes_data(),
                2 => self.hash_start(),
                3 => self.hash_data(),
                4 => self.sign_hashed(),
                5 => self.sign_digest(),
                6 => self.end_session(),
                _ => self.misc(),
            }
        }
    }

    fn aes_start(&mut self) {
        let flags = self.byte();
        let (direction, mode) = device::aes_direction_and_mode(flags);
        let key_len = match (flags >> 4) & 3 {
            0 => 16,
            1 => 24,
            2 => 32,
            _ => usize::from(self.byte() % 40),
        };
        let key = self.bytes(key_len);
        let iv: [u8; 16] = self.bytes(16).try_into().unwrap();
        let iv_given = mode.needs_iv() != (flags >> 6 == 3);
        let iv = iv_given.then_some(iv);
        let answer = self.call(RequestBody::AesStart {
            direction,
            mode,
            key: &key,
            iv,
        });
        // A start ends whatever was open, even when it fails.
        self.open = Open::None;
        match AesReference::new(direction, mode, &key, iv) {
            Ok(reference) => {
                let Answer::Started(id) = answer else {
                    panic!("a good AES start refused: {answer:?}")
                };
                let mut marks = vec![None; MARKS];
                let mut next_mark = 0;
                mark(&mut marks, &mut next_mark, 0, &[]);
                self.open = Open::Aes {
                    id,
                    mode,
                    position: 0,
                    reference,
                    start: AesStartArgs {
                        direction,
                        mode,
                        key,
                        iv,
                    },
                    history: Vec::new(),
                    marks,
                    next_mark,
                };
            }
            Err(_) => assert_eq!(answer, Answer::Error),
        }
    }

    fn aes_data(&mut self) {
        let flags = self.byte();
        let mut len = usize::from(self.u16() % (MAX_CHUNK_LEN as u16 + 64));
        if let Open::Aes { mode, .. } = &self.open {
            if mode.needs_whole_blocks() && flags & 1 == 0 {
                len -= len % 16;
            }
        }
        let position = match &self.open {
            Open::Aes { position, .. } => *position,
            _ => 0,
        };
        let (id, mut offset) = self.chunk_target(flags, position, u64::wrapping_add);
        // Sometimes back to an earlier chunk end, as a host does after a lost answer.
        if flags & 0x20 != 0 {
            let pick = usize::from(self.byte()) % MARKS;
            if let Open::Aes { marks, .. } = &self.open {
                if let Some((at, _)) = &marks[pick] {
                    offset = *at;
                }
            }
        }
        let data = self.bytes(len);
        let answer = self.call(RequestBody::AesData {
            session: id,
            offset,
            data: &data,
        });
        if self.open.id() != Some(id) {
            return assert_eq!(answer, Answer::Error);
        }
        let Open::Aes {
            mode,
            position,
            reference,
            start,
            history,
            marks,
            next_mark,
            ..
        } = &mut self.open
        else {
            // The hash session with this id is not an AES session; it stays open.
            return assert_eq!(answer, Answer::Error);
        };
        if len > MAX_CHUNK_LEN || (mode.needs_whole_blocks() && len % 16 != 0) {
            assert_eq!(answer, Answer::Error);
            // An error inside a session ends it.
            self.open = Open::None;
            return;
        }
        // ECB and CTR go to any offset, CBC and CFB to a mark; otherwise OutOfSequence, and the
        // session stays as it was.
        if offset != *position {
            if matches!(mode, AesMode::Ecb | AesMode::Ctr) {
                *reference = start.reference_at(offset, &[]);
            } else if let Some((_, before)) = marks.iter().flatten().find(|(at, _)| *at == offset) {
                *history = before.clone();
                *reference = start.reference_at(offset, history);
            } else {
                return assert_eq!(answer, Answer::Error, "no mark at {offset}");
            }
        }
        if !matches!(mode, AesMode::Ecb | AesMode::Ctr) {
            history.extend_from_slice(&data);
        }
        let mut expected = data;
        reference.apply(&mut expected);
        assert_eq!(answer, Answer::Aes(offset, expected), "AES output differs");
        *position = offset + len as u64;
        mark(marks, next_mark, *position, history);
    }

    fn hash_start(&mut self) {
        let answer = self.call(RequestBody::HashStart);
        let Answer::Started(id) = answer else {
            panic!("HashStart refused: {answer:?}")
        };
        self.open = Open::Hash {
            id,
            received: 0,
            hasher: Sha256::new(),
        };
    }

    fn hash_data(&mut self) {
        let flags = self.byte();
        let len = usize::from(self.u16() % (MAX_CHUNK_LEN as u16 + 64));
        let received = match &self.open {
            Open::Hash { received, .. } => *received,
            _ => 0,
        };
        let (id, offset) = self.chunk_target(flags, received, u64::wrapping_sub);
        let data = self.bytes(len);
        let answer = self.call(RequestBody::HashData {
            session: id,
            offset,
            data: &data,
        });
        if self.open.id() != Some(id) {
            return assert_eq!(answer, Answer::Error);
        }
        let Open::Hash {
            received, hasher, ..
        } = &mut self.open
        else {
            return assert_eq!(answer, Answer::Error);
        };
        if offset != *received || len > MAX_CHUNK_LEN {
            assert_eq!(answer, Answer::Error);
            self.open = Open::None;
            return;
        }
        hasher.update(&data);
        *received += len as u64;
        assert_eq!(answer, Answer::Progress(*received));
    }

    /// One of the keys, damaged one time in eight; and whether it is intact.
    fn key(&mut self) -> (KeyParts, bool) {
        let flags = self.byte();
        let base = &self.keys[usize::from(flags & 1) % self.keys.len()];
        let mut key = KeyParts {
            fields: base.fields.clone(),
        };
        if flags & 0x0e != 0x0e {
            return (key, true);
        }
        let field = usize::from(self.byte()) % 8;
        let at = usize::from(self.byte());
        let how = self.byte();
        let value = &mut key.fields[field];
        match how % 4 {
            0 => value.truncate(at % (value.len() + 1)),
            1 => value.push(how),
            2 => value.insert(0, how | 1),
            _ if value.is_empty() => value.push(how),
            _ => {
                let i = at % value.len();
                value[i] ^= how | 1;
            }
        }
        // `d` is not used by the device: a damaged `d` leaves the key intact.
        (key, field == 2)
    }

    fn signed(&mut self, answer: Answer, key: &KeyParts, intact: bool, digest: &[u8; 32]) {
        self.signatures += 1;
        match answer {
            Answer::Signature(sig) => {
                // Whatever the key, a signature that comes out verifies with its public half.
                let public = key.public();
                if let Some(public) = &public {
                    check_rs256(public, digest, &sig).expect("the signature verifies");
                }
                assert!(public.is_some() || !intact);
            }
            other => assert!(!intact, "a good signing request refused: {other:?}"),
        }
    }

    fn sign_hashed(&mut self) {
        let flags = self.byte();
        if self.signatures >= MAX_SIGNATURES {
            return;
        }
        let id = self.session_id(flags);
        let (key, intact) = self.key();
        let received = match &self.open {
            Open::Hash { received, .. } => *received,
            _ => 0,
        };
        let length = if flags & 0x40 != 0 {
            received ^ 1
        } else {
            received
        };
        let answer = self.call(RequestBody::SignHashed {
            session: id,
            length,
            key: key.as_request(),
        });
        if self.open.id() != Some(id) {
            return assert_eq!(answer, Answer::Error);
        }
        // The session named ends, whatever its kind and the outcome.
        let Open::Hash {
            received, hasher, ..
        } = std::mem::replace(&mut self.open, Open::None)
        else {
            return assert_eq!(answer, Answer::Error);
        };
        if length != received {
            return assert_eq!(answer, Answer::Error);
        }
        let digest: [u8; 32] = hasher.finalize().into();
        self.signed(answer, &key, intact, &digest);
    }

    fn sign_digest(&mut self) {
        if self.signatures >= MAX_SIGNATURES {
            self.byte();
            return;
        }
        let digest: [u8; 32] = self.bytes(32).try_into().unwrap();
        let (key, intact) = self.key();
        let answer = self.call(RequestBody::SignDigest {
            digest,
            key: key.as_request(),
        });
        self.signed(answer, &key, intact, &digest);
    }

    fn end_session(&mut self) {
        let flags = self.byte();
        let id = self.session_id(flags);
        let answer = self.call(RequestBody::EndSession { session: id });
        if self.open.id() == Some(id) {
            assert_eq!(answer, Answer::Ended);
            self.open = Open::None;
        } else {
            assert_eq!(answer, Answer::Error);
        }
    }

    fn misc(&mut self) {
        let flags = self.byte();
        match flags % 3 {
            0 => {
                assert_eq!(self.call(RequestBody::Hello), Answer::Hello);
                self.open = Open::None;
            }
            1 => {
                let nonce = u32::from(self.u16()) << 8 | u32::from(flags);
                assert_eq!(self.call(RequestBody::Ping { nonce }), Answer::Pong(nonce));
            }
            _ => {
                let words = self.u16() % (MAX_RANDOM_WORDS + 8);
                let answer = self.call(RequestBody::Random { words });
                if (1..=MAX_RANDOM_WORDS).contains(&words) {
                    assert_eq!(answer, Answer::Random(usize::from(words) * 4));
                } else {
                    assert_eq!(answer, Answer::Error);
                }
            }
        }
    }
}
