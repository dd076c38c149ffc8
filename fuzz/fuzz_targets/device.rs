//! The virtual devices the engine targets share, and a request/response round trip.
// Each target that includes this file uses only part of it.
#![allow(dead_code)]
use std::cell::RefCell;

use ucrypto_firmware::backend::software::Seed;
use ucrypto_firmware::{Engine, SoftwareBackend};
use ucrypto_protocol::frame::{encode_frame_vec, FRAME_CRC};
use ucrypto_protocol::{
    AesDirection, AesMode, Chip, Command, ErrorCode, FrameDecoder, Request, RequestBody, Response,
    ResponseBody, RsaPrivateKey, MAX_FRAME_LEN,
};

pub type Device = Engine<SoftwareBackend>;

thread_local! {
    /// One device per chip, kept from input to input: a new one runs its RSA and AES
    /// self-tests, which would take most of the time. Each input starts by ending any partial
    /// frame and session (`Hello`); only session ids, handles, the line rate and random bytes
    /// carry over.
    pub static DEVICES: RefCell<Vec<Box<Device>>> = RefCell::new(
        Chip::ALL
            .iter()
            .map(|&chip| {
                let backend = key_blocks_taken(SoftwareBackend::new(chip, Seed::Fixed(1)));
                let mut device = Box::new(Engine::new(backend));
                slot_key_imported(&mut device);
                device
            })
            .collect(),
    );
}

/// The device key in slot 0 of every chip with device keys: `keys/rsa1024-a.der`.
pub const SLOT_KEY_DER: &[u8] = include_bytes!("../keys/rsa1024-a.der");

/// Gives eFuse key blocks 1 to 5 another purpose (4, an XTS-AES key), so that with slot 0's key
/// (below) no slot is free and every `KeyGenerate` and `KeyImport` is refused at the slot
/// checks: one RSA key generation takes seconds, too long for a fuzz input, and a burn would
/// change the device for the inputs after (the engine's own tests cover generation, import and
/// the DS path).
fn key_blocks_taken(mut backend: SoftwareBackend) -> SoftwareBackend {
    if let Some(hw) = backend.keys_mut() {
        let mut efuse = hw.efuse_bytes();
        // KEY_PURPOSE_0..1 are bits 24..31 of BLOCK0 word 2, KEY_PURPOSE_2..5 bits 0..15 of word 3.
        efuse[8..12].copy_from_slice(&(0x40u32 << 24).to_le_bytes());
        efuse[12..16].copy_from_slice(&0x4444u32.to_le_bytes());
        hw.load_efuse(&efuse)
            .expect("an eFuse image of the right size");
    }
    backend
}

/// Imports [`SLOT_KEY_DER`] into slot 0 where the chip has device keys, once per device.
fn slot_key_imported(device: &mut Device) {
    if !device.capabilities().supports(Command::DeviceKeys) {
        return;
    }
    let fields = crt_fields(SLOT_KEY_DER);
    let [n, e, d, p, q, dp, dq, qinv] = &fields;
    let key = RsaPrivateKey {
        n,
        e,
        d,
        p,
        q,
        dp,
        dq,
        qinv,
    };
    let answer = call(device, &request(1, RequestBody::KeyImport { slot: 0, key }));
    assert_eq!(
        answer,
        Answer::PublicKey(n.clone()),
        "slot 0's key imported"
    );
}

/// A PKCS#1 DER key's `n, e, d, p, q, dp, dq, qinv`, big-endian.
pub fn crt_fields(der: &[u8]) -> [Vec<u8>; 8] {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    let key = rsa::RsaPrivateKey::from_pkcs1_der(der).expect("a valid key");
    let [p, q] = key.primes() else {
        panic!("two primes")
    };
    let qinv = key.qinv().unwrap().to_biguint().unwrap();
    let be = |v: &rsa::BigUint| v.to_bytes_be();
    [
        be(key.n()),
        be(key.e()),
        be(key.d()),
        be(p),
        be(q),
        be(key.dp().unwrap()),
        be(key.dq().unwrap()),
        be(&qinv),
    ]
}

/// The device of chip number `chip` (any byte), with no partial frame and no session.
pub fn fresh(devices: &mut [Box<Device>], chip: u8) -> &mut Device {
    let device = &mut devices[usize::from(chip) % Chip::ALL.len()];
    device.receive(&[0], |_| {});
    assert_eq!(
        call(device, &request(u32::MAX, RequestBody::Hello)),
        Answer::Hello
    );
    device
}

/// Decodes every response frame in `wire`; their number.
pub fn responses(wire: &[u8]) -> usize {
    let mut decoder: Box<FrameDecoder> = Box::new(FrameDecoder::new());
    let mut rest = wire;
    let mut count = 0;
    while !rest.is_empty() {
        let (used, frame) = decoder.push(rest);
        rest = &rest[used..];
        if let Some(frame) = frame {
            let body = frame.expect("the engine sends only good frames");
            postcard::from_bytes::<Response>(body).expect("the engine sends only responses");
            count += 1;
        }
    }
    count
}

pub fn request(seq: u32, body: RequestBody<'_>) -> Request<'_> {
    Request { seq, body }
}

/// What came back, owned.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Hello,
    Pong(u32),
    Random(usize),
    Started(u32),
    Aes(u64, Vec<u8>),
    Progress(u64),
    Signature(Vec<u8>),
    Ended,
    Error,
    /// A slot's public key: its modulus.
    PublicKey(Vec<u8>),
    KeyLoaded(u32),
    KeyUnloaded,
    BaudSet(u32),
    /// An answer of protocol version 2's later requests (lock, digests, decryption,
    /// certificates, attestation), shown by its redacted `Debug`.
    Other(String),
}

/// Sends one request; exactly one response comes back, with its sequence number.
pub fn call(device: &mut Device, req: &Request<'_>) -> Answer {
    call_coded(device, req).0
}

/// As [`call`], with the error's code when the answer is an error.
pub fn call_coded(device: &mut Device, req: &Request<'_>) -> (Answer, Option<ErrorCode>) {
    let frame = encode_frame_vec(req).expect("a well-formed request fits a frame");
    let mut wire = Vec::new();
    device.receive(&frame, |f| wire.extend_from_slice(f));
    let mut decoder: Box<FrameDecoder> = Box::new(FrameDecoder::new());
    let (used, frame) = decoder.push(&wire);
    assert_eq!(used, wire.len(), "one response frame");
    let body = frame.expect("a frame").expect("a good frame");
    let response: Response = postcard::from_bytes(body).expect("a response");
    assert_eq!(response.seq, req.seq);
    let code = match &response.body {
        ResponseBody::Error(e) => Some(e.code),
        _ => None,
    };
    let answer = match response.body {
        ResponseBody::Hello(_) => Answer::Hello,
        ResponseBody::Pong { nonce } => Answer::Pong(nonce),
        ResponseBody::Random { data } => Answer::Random(data.len()),
        ResponseBody::SessionStarted { session } => Answer::Started(session),
        ResponseBody::AesData { offset, data } => Answer::Aes(offset, data.to_vec()),
        ResponseBody::HashProgress { received } => Answer::Progress(received),
        ResponseBody::Signature { data } => Answer::Signature(data.to_vec()),
        ResponseBody::SessionEnded => Answer::Ended,
        ResponseBody::Error(_) => Answer::Error,
        ResponseBody::PublicKey(key) => Answer::PublicKey(key.n.to_vec()),
        ResponseBody::KeyLoaded { handle } => Answer::KeyLoaded(handle),
        ResponseBody::KeyUnloaded => Answer::KeyUnloaded,
        ResponseBody::BaudSet { baud } => Answer::BaudSet(baud),
        other => Answer::Other(format!("{other:?}")),
    };
    (answer, code)
}

/// The direction (bit 0) and mode (the bits above, modulo five) a byte of input picks.
pub fn aes_direction_and_mode(flags: u8) -> (AesDirection, AesMode) {
    const MODES: [AesMode; 5] = [
        AesMode::Ecb,
        AesMode::Cbc,
        AesMode::Cfb8,
        AesMode::Cfb128,
        AesMode::Ctr,
    ];
    let direction = if flags & 1 == 0 {
        AesDirection::Encrypt
    } else {
        AesDirection::Decrypt
    };
    (direction, MODES[usize::from(flags >> 1) % MODES.len()])
}

/// `message` framed with a correct CRC, whatever it holds, as a peer would send it.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut raw = message.to_vec();
    raw.extend_from_slice(&FRAME_CRC.checksum(message).to_le_bytes());
    let mut framed = vec![0u8; MAX_FRAME_LEN + 64];
    let n = cobs::encode(&raw, &mut framed[1..]);
    framed.truncate(n + 2);
    framed[0] = 0;
    framed[n + 1] = 0;
    framed
}
