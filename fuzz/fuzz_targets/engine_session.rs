//! Fuzz bytes read as a script of well-formed requests to the virtual device: AES sessions in
//! every mode and key size, hash sessions, signatures with real and damaged 1024-bit keys,
//! device-key requests (slot 0 holds a key, no slot is free), loaded keys, `SetBaud`, and
//! session ids, offsets, slots and handles that are sometimes wrong. Every answer is checked
//! against a model of the session, slot and handle rules; every AES chunk against the host's AES
//! and every signature against the host's RS256 verification.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsa::{BigUint, RsaPublicKey};
use sha2::{Digest, Sha256};
use ucrypto::verify::aes::AesReference;
use ucrypto::verify::signature::check_rs256;
use ucrypto_firmware::{Backend, ChipProfile};
use ucrypto_protocol::{
    AesDirection, AesMode, Command, ErrorCode, RequestBody, RsaPrivateKey, ANY_SLOT, KEY_SLOTS,
    MAX_BAUD, MAX_CHUNK_LEN, MAX_RANDOM_WORDS, MIN_BAUD,
};

#[path = "device.rs"]
mod device;

use device::{call_coded, request, Answer, Device, DEVICES, SLOT_KEY_DER};

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
#[derive(Clone)]
struct KeyParts {
    fields: [Vec<u8>; 8],
}

impl KeyParts {
    fn from_der(der: &[u8]) -> Self {
        Self {
            fields: device::crt_fields(der),
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
            // The counter block of `offset`'s block, then the keystream before `offset` in it.
            AesMode::Ctr => {
                let iv = self.iv.expect("CTR has a counter block");
                let block = u128::from_be_bytes(iv).wrapping_add(u128::from(offset / 16));
                reference = AesReference::new(
                    self.direction,
                    self.mode,
                    &self.key,
                    Some(block.to_be_bytes()),
                )
                .expect("started");
                reference.apply(&mut vec![0; (offset % 16) as usize]);
            }
            _ => reference.apply(&mut history.to_vec()),
        }
        reference
    }
}

/// Writes a mark at `position` as the spec says: a mark already there is written anew, and
/// the least recently written goes when there are more than `MARKS`. `marks` is kept oldest
/// first.
fn mark(marks: &mut Vec<(u64, Vec<u8>)>, position: u64, history: &[u8]) {
    marks.retain(|(at, _)| *at != position);
    marks.push((position, history.to_vec()));
    if marks.len() > MARKS {
        marks.remove(0);
    }
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
        marks: Vec<(u64, Vec<u8>)>,
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

/// The key the model expects loaded (`LoadKey`) under `handle`.
struct Loaded {
    handle: u32,
    key: KeyParts,
    intact: bool,
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
    loaded: Option<Loaded>,
    /// The last handle the device gave (loaded or since unloaded), for requests naming one.
    last_handle: u32,
    /// Slot 0's key where the chip has device keys (device.rs); every other slot is taken.
    slot_key: Option<KeyParts>,
    /// The line rate the device should keep.
    baud: u32,
    /// The largest key the chip's DS peripheral takes.
    ds_max_bits: u16,
}

/// Signatures per input: each is two 512-bit exponentiations and a check, most of the time
/// spent on an input that has one.
const MAX_SIGNATURES: u32 = 1;

impl<'a> Script<'a> {
    fn new(device: &'a mut Device, keys: &'a [KeyParts], input: &'a [u8]) -> Self {
        let slot_key = device
            .capabilities()
            .supports(Command::DeviceKeys)
            .then(|| KeyParts::from_der(SLOT_KEY_DER));
        let baud = device.line_baud();
        let ds_max_bits = ChipProfile::of(device.backend().chip())
            .ds_max_bits
            .unwrap_or(0);
        Self {
            device,
            keys,
            input,
            open: Open::None,
            last_id: 0,
            seq: 1,
            signatures: 0,
            loaded: None,
            last_handle: 0,
            slot_key,
            baud,
            ds_max_bits,
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
        self.call_coded(body).0
    }

    /// As `call`, with the error's code when the answer is an error.
    fn call_coded(&mut self, body: RequestBody<'_>) -> (Answer, Option<ErrorCode>) {
        self.seq += 1;
        let (answer, code) = call_coded(self.device, &request(self.seq, body));
        if let Answer::Started(id) = answer {
            self.last_id = id;
        }
        (answer, code)
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
            match self.byte() % 12 {
                0 => self.aes_start(),
                1 => self.aes_data(),
                2 => self.hash_start(),
                3 => self.hash_data(),
                4 => self.sign_hashed(),
                5 => self.sign_digest(),
                6 => self.end_session(),
                7 => self.misc(),
                8 => self.slot_request(),
                9 => self.load_key(),
                10 => self.sign_loaded(),
                _ => self.unload_key(),
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
                let mut marks = Vec::new();
                mark(&mut marks, 0, &[]);
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
        // Sometimes near the end of the offsets, where a chunk may end past 2^64 - 1.
        if flags & 0x1c == 0x1c {
            offset = u64::MAX - u64::from(self.byte());
        }
        // Sometimes back to an earlier chunk end, as a host does after a lost answer.
        if flags & 0x20 != 0 {
            let pick = usize::from(self.byte()) % MARKS;
            if let Open::Aes { marks, .. } = &self.open {
                if let Some((at, _)) = marks.get(pick) {
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
            ..
        } = &mut self.open
        else {
            // The hash session with this id is not an AES session; it stays open.
            return assert_eq!(answer, Answer::Error);
        };
        let past_the_end = offset.checked_add(len as u64).is_none();
        if len > MAX_CHUNK_LEN || past_the_end || (mode.needs_whole_blocks() && len % 16 != 0) {
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
            } else if let Some((_, before)) = marks.iter().find(|(at, _)| *at == offset) {
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
        mark(marks, *position, history);
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
        if len > MAX_CHUNK_LEN {
            assert_eq!(answer, Answer::Error);
            self.open = Open::None;
            return;
        }
        if offset != *received {
            // A chunk wholly before the position (a re-send) is answered with it, unhashed;
            // any other offset is OutOfSequence, and the session stays (protocol section 6).
            let resent = offset
                .checked_add(len as u64)
                .is_some_and(|end| end <= *received);
            let expected = if resent {
                Answer::Progress(*received)
            } else {
                Answer::Error
            };
            return assert_eq!(answer, expected);
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

    /// The length a request that finishes the hash session claims: what the model hashed, or
    /// (`wrong`) one off.
    fn claimed_length(&self, wrong: bool) -> u64 {
        let received = match &self.open {
            Open::Hash { received, .. } => *received,
            _ => 0,
        };
        if wrong {
            received ^ 1
        } else {
            received
        }
    }

    fn sign_hashed(&mut self) {
        let flags = self.byte();
        if self.signatures >= MAX_SIGNATURES {
            return;
        }
        let id = self.session_id(flags);
        let (key, intact) = self.key();
        let length = self.claimed_length(flags & 0x40 != 0);
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
        match flags % 4 {
            0 => {
                assert_eq!(self.call(RequestBody::Hello), Answer::Hello);
                // A new connection: no session, no loaded key; the line rate stays.
                self.open = Open::None;
                self.loaded = None;
                assert_eq!(self.device.line_baud(), self.baud);
            }
            1 => {
                let nonce = u32::from(self.u16()) << 8 | u32::from(flags);
                assert_eq!(self.call(RequestBody::Ping { nonce }), Answer::Pong(nonce));
            }
            3 => self.set_baud(flags),
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

    /// Whether the chip serves device keys (then slot 0 holds `slot_key`).
    fn device_keys(&self) -> bool {
        self.slot_key.is_some()
    }

    /// A slot: usually 0 (the key), sometimes another (taken), `ANY_SLOT` or out of range.
    fn slot(&mut self) -> u8 {
        match self.byte() {
            0..=127 => 0,
            b @ 128..=199 => b % KEY_SLOTS as u8,
            200..=229 => ANY_SLOT,
            b => b % 32,
        }
    }

    /// The code the slot checks answer for `slot` on this device, or `None` for slot 0's key.
    fn slot_refusal(&self, slot: u8) -> Option<ErrorCode> {
        if !self.device_keys() {
            Some(ErrorCode::Unsupported)
        } else if usize::from(slot) >= KEY_SLOTS {
            Some(ErrorCode::BadArgument)
        } else if slot != 0 {
            Some(ErrorCode::NoKey)
        } else {
            None
        }
    }

    /// Whether one more signature fits this input's budget (counted when it does).
    fn may_sign(&mut self) -> bool {
        if self.signatures >= MAX_SIGNATURES {
            return false;
        }
        self.signatures += 1;
        true
    }

    /// `KeyGenerate`, `KeyImport`, `PublicKey`, `SignDigestSlot`, `SignSlot`.
    fn slot_request(&mut self) {
        match self.byte() % 5 {
            0 => self.key_generate(),
            1 => self.key_import(),
            2 => self.public_key(),
            3 => self.sign_digest_slot(),
            _ => self.sign_slot(),
        }
    }

    /// Always refused here (no slot is free), before any key is generated; the port's session
    /// ends whatever the answer.
    fn key_generate(&mut self) {
        let slot = self.slot();
        const BITS: [u16; 6] = [1024, 2048, 3072, 4096, 512, 1536];
        let pick = self.byte();
        let bits = match BITS.get(usize::from(pick % 8)) {
            Some(&bits) => bits,
            None => self.u16(),
        };
        let (answer, code) = self.call_coded(RequestBody::KeyGenerate { slot, bits });
        self.open = Open::None;
        assert_eq!(answer, Answer::Error);
        // The order of the checks: device keys, size (above the chip's DS peripheral, then one
        // ESP-IDF's DS driver does not take), then the slot.
        let expected = if !self.device_keys() || bits > self.ds_max_bits {
            ErrorCode::Unsupported
        } else if ![1024, 2048, 3072, 4096].contains(&bits) {
            ErrorCode::BadArgument
        } else if slot == ANY_SLOT {
            ErrorCode::NoFreeKeyBlock
        } else if usize::from(slot) >= KEY_SLOTS {
            ErrorCode::BadArgument
        } else {
            ErrorCode::SlotUsed
        };
        assert_eq!(code, Some(expected), "KeyGenerate slot {slot} bits {bits}");
    }

    fn key_import(&mut self) {
        let slot = self.slot();
        let (key, intact) = self.key();
        let (answer, code) = self.call_coded(RequestBody::KeyImport {
            slot,
            key: key.as_request(),
        });
        self.open = Open::None;
        assert_eq!(answer, Answer::Error, "a burn: no slot is free");
        let expected = if !self.device_keys() {
            Some(ErrorCode::Unsupported)
        } else if slot != ANY_SLOT && usize::from(slot) >= KEY_SLOTS {
            Some(ErrorCode::BadArgument)
        } else if !intact {
            None
        } else if slot == ANY_SLOT {
            Some(ErrorCode::NoFreeKeyBlock)
        } else {
            Some(ErrorCode::SlotUsed)
        };
        if expected.is_some() {
            assert_eq!(code, expected, "KeyImport slot {slot}");
        }
    }

    fn public_key(&mut self) {
        let slot = self.slot();
        let (answer, code) = self.call_coded(RequestBody::PublicKey { slot });
        match self.slot_refusal(slot) {
            Some(refusal) => assert_eq!(code, Some(refusal), "PublicKey slot {slot}"),
            None => {
                let n = self.slot_key.as_ref().unwrap().fields[0].clone();
                assert_eq!(answer, Answer::PublicKey(n));
            }
        }
    }

    fn sign_digest_slot(&mut self) {
        let slot = self.slot();
        let digest: [u8; 32] = self.bytes(32).try_into().unwrap();
        let refusal = self.slot_refusal(slot);
        if refusal.is_none() && !self.may_sign() {
            return;
        }
        let (answer, code) = self.call_coded(RequestBody::SignDigestSlot { digest, slot });
        match refusal {
            Some(refusal) => assert_eq!(code, Some(refusal), "SignDigestSlot slot {slot}"),
            None => self.check_slot_signature(answer, &digest),
        }
    }

    /// A hash session finished with the slot's key: the session rules of `SignHashed`, then
    /// the slot's.
    fn sign_slot(&mut self) {
        let flags = self.byte();
        let slot = self.slot();
        let id = self.session_id(flags);
        let length = self.claimed_length(flags & 0x40 != 0);
        let named = self.open.id() == Some(id);
        let hashed =
            named && matches!(&self.open, Open::Hash { received, .. } if *received == length);
        let refusal = self.slot_refusal(slot);
        if hashed && refusal.is_none() && !self.may_sign() {
            return;
        }
        let (answer, code) = self.call_coded(RequestBody::SignSlot {
            session: id,
            length,
            slot,
        });
        // The session named ends, whatever its kind and the outcome.
        let open = if named {
            std::mem::replace(&mut self.open, Open::None)
        } else {
            Open::None
        };
        let Open::Hash { hasher, .. } = open else {
            return assert_eq!(code, Some(ErrorCode::NoSession));
        };
        if !hashed {
            return assert_eq!(code, Some(ErrorCode::BadArgument));
        }
        match refusal {
            Some(refusal) => assert_eq!(code, Some(refusal), "SignSlot slot {slot}"),
            None => {
                let digest: [u8; 32] = hasher.finalize().into();
                self.check_slot_signature(answer, &digest);
            }
        }
    }

    /// A signature by slot 0's key (through the virtual DS peripheral) verifies with its public
    /// half; the device never refuses it.
    fn check_slot_signature(&self, answer: Answer, digest: &[u8; 32]) {
        let Answer::Signature(sig) = answer else {
            panic!("slot 0 refused to sign: {answer:?}")
        };
        let public = self.slot_key.as_ref().unwrap().public().unwrap();
        check_rs256(&public, digest, &sig).expect("the slot's signature verifies");
    }

    /// The handle a request names: usually the last one given (loaded, or unloaded since, or
    /// from before a `Hello`), sometimes another.
    fn handle(&mut self, flags: u8) -> u32 {
        match flags >> 6 {
            0 | 1 => self.last_handle,
            2 => self.last_handle ^ u32::from(self.byte() | 1),
            _ => 0,
        }
    }

    /// Whether `handle` names the loaded key.
    fn is_loaded(&self, handle: u32) -> bool {
        self.loaded.as_ref().is_some_and(|l| l.handle == handle)
    }

    fn load_key(&mut self) {
        let (key, intact) = self.key();
        let (answer, _) = self.call_coded(RequestBody::LoadKey {
            key: key.as_request(),
        });
        // A load replaces the key loaded before, and a refused one leaves none.
        self.loaded = None;
        match answer {
            Answer::KeyLoaded(handle) => {
                assert_ne!(handle, 0, "handles are never 0");
                assert_ne!(handle, self.last_handle, "a new handle for each load");
                self.last_handle = handle;
                self.loaded = Some(Loaded {
                    handle,
                    key,
                    intact,
                });
            }
            other => {
                assert!(!intact, "a good key refused: {other:?}");
                assert_eq!(other, Answer::Error);
            }
        }
    }

    /// `SignDigestLoaded` or `SignHashedLoaded`.
    fn sign_loaded(&mut self) {
        let flags = self.byte();
        let handle = self.handle(flags);
        if flags & 1 == 0 {
            self.sign_digest_loaded(handle);
        } else {
            self.sign_hashed_loaded(flags, handle);
        }
    }

    fn sign_digest_loaded(&mut self, handle: u32) {
        let digest: [u8; 32] = self.bytes(32).try_into().unwrap();
        let loaded = self.is_loaded(handle);
        if loaded && !self.may_sign() {
            return;
        }
        let (answer, code) = self.call_coded(RequestBody::SignDigestLoaded { handle, digest });
        if !loaded {
            return assert_eq!(code, Some(ErrorCode::NoKey), "handle {handle}");
        }
        self.check_loaded_signature(answer, &digest);
    }

    fn sign_hashed_loaded(&mut self, flags: u8, handle: u32) {
        // Bit 4 names another session, whatever the handle (bits 7..6).
        let id = self.session_id(flags << 3);
        let length = self.claimed_length(flags & 0x20 != 0);
        let named = self.open.id() == Some(id);
        let hashed =
            named && matches!(&self.open, Open::Hash { received, .. } if *received == length);
        let loaded = self.is_loaded(handle);
        if hashed && loaded && !self.may_sign() {
            return;
        }
        let (answer, code) = self.call_coded(RequestBody::SignHashedLoaded {
            handle,
            session: id,
            length,
        });
        // The session named ends, whatever its kind and the outcome.
        let open = if named {
            std::mem::replace(&mut self.open, Open::None)
        } else {
            Open::None
        };
        // An unknown handle is the answer even when the session is also wrong.
        if !loaded {
            return assert_eq!(code, Some(ErrorCode::NoKey), "handle {handle}");
        }
        let Open::Hash { hasher, .. } = open else {
            return assert_eq!(code, Some(ErrorCode::NoSession));
        };
        if !hashed {
            return assert_eq!(code, Some(ErrorCode::BadArgument));
        }
        let digest: [u8; 32] = hasher.finalize().into();
        self.check_loaded_signature(answer, &digest);
    }

    /// A signature by the loaded key verifies with its public half; an intact key never fails.
    fn check_loaded_signature(&mut self, answer: Answer, digest: &[u8; 32]) {
        let Loaded { key, intact, .. } = self.loaded.as_ref().unwrap();
        let (key, intact) = (key.clone(), *intact);
        // `signed` counts the signature itself.
        self.signatures -= 1;
        self.signed(answer, &key, intact, digest);
    }

    fn unload_key(&mut self) {
        let flags = self.byte();
        let handle = self.handle(flags);
        let (answer, code) = self.call_coded(RequestBody::UnloadKey { handle });
        if self.is_loaded(handle) {
            assert_eq!(answer, Answer::KeyUnloaded);
            self.loaded = None;
        } else {
            // A handle from before an `UnloadKey`, a `Hello` or another `LoadKey` is refused,
            // and the loaded key stays.
            assert_eq!(code, Some(ErrorCode::NoKey), "handle {handle}");
        }
    }

    /// `SetBaud`: taken from 9,600 to 5,000,000 and answered with the rate; otherwise
    /// `BadArgument` and the rate stays.
    fn set_baud(&mut self, flags: u8) {
        const EDGES: [u32; 8] = [
            MIN_BAUD,
            MIN_BAUD - 1,
            MAX_BAUD,
            MAX_BAUD + 1,
            115_200,
            921_600,
            0,
            u32::MAX,
        ];
        let baud = match EDGES.get(usize::from(flags >> 2) % 16) {
            Some(&baud) => baud,
            None => u32::from_le_bytes(self.bytes(4).try_into().unwrap()),
        };
        let (answer, code) = self.call_coded(RequestBody::SetBaud { baud });
        if (MIN_BAUD..=MAX_BAUD).contains(&baud) {
            assert_eq!(answer, Answer::BaudSet(baud));
            self.baud = baud;
        } else {
            assert_eq!(code, Some(ErrorCode::BadArgument), "baud {baud}");
        }
        assert_eq!(self.device.line_baud(), self.baud);
    }
}
