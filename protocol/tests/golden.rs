//! Golden frames: the exact bytes on the wire for known messages, as given in docs/protocol.md.
//! The expected bytes were computed outside this code (a Python CRC-32C and COBS written from
//! the specs), so a change of the wire format fails here before it reaches a factory line.

use ucrypto_protocol::*;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn decode_one(wire: &[u8]) -> Vec<u8> {
    let mut decoder: FrameDecoder = FrameDecoder::new();
    let mut rest = wire;
    loop {
        let (n, frame) = decoder.push(rest);
        rest = &rest[n..];
        if let Some(frame) = frame {
            return frame.unwrap().to_vec();
        }
        assert!(!rest.is_empty(), "no frame in {wire:02x?}");
    }
}

#[test]
fn hello_request() {
    let req = Request {
        seq: 1,
        body: RequestBody::Hello,
    };
    assert_eq!(
        encode_frame_vec(&req).unwrap(),
        hex("00 02 01 05 a5 ef c3 e2 00")
    );
}

#[test]
fn random_request() {
    let req = Request {
        seq: 1,
        body: RequestBody::Random { words: 4 },
    };
    let wire = hex("00 08 01 02 04 f5 96 fa 25 00");
    assert_eq!(encode_frame_vec(&req).unwrap(), wire);
    let body = decode_one(&wire);
    assert_eq!(postcard::from_bytes::<Request>(&body).unwrap(), req);
}

#[test]
fn random_response() {
    let data: Vec<u8> = (0x10..0x20).collect();
    let resp = Response {
        seq: 1,
        body: ResponseBody::Random { data: &data },
    };
    let wire = hex("00 18 01 02 10 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f a8 8f 15 1b 00");
    assert_eq!(encode_frame_vec(&resp).unwrap(), wire);
    let body = decode_one(&wire);
    assert_eq!(postcard::from_bytes::<Response>(&body).unwrap(), resp);
}

#[test]
fn ping_with_a_two_byte_varint_seq_and_a_zero_in_the_body() {
    let req = Request {
        seq: 300,
        body: RequestBody::Ping { nonce: 0 },
    };
    assert_eq!(
        encode_frame_vec(&req).unwrap(),
        hex("00 04 ac 02 01 05 1c 0e 49 1c 00")
    );
}

#[test]
fn error_response() {
    let resp = Response {
        seq: 7,
        body: ResponseBody::Error(DeviceError {
            code: ErrorCode::BadArgument,
            message: "x",
        }),
    };
    // seq 07, variant 8 (Error), code 3 (BadArgument), message len 1, "x".
    let body = postcard::to_allocvec(&resp).unwrap();
    assert_eq!(body, hex("07 08 03 01 78"));
}

/// The loaded-key requests and answer (variants appended after the device-key ones).
#[test]
fn loaded_key_frames() {
    let sign = Request {
        seq: 9,
        body: RequestBody::SignDigestLoaded {
            handle: 1,
            digest: [0xab; 32],
        },
    };
    let ab = " ab".repeat(32);
    let wire = hex(&format!("00 28 09 10 01{ab} 23 dc f5 1d 00"));
    assert_eq!(encode_frame_vec(&sign).unwrap(), wire);
    assert_eq!(
        postcard::from_bytes::<Request>(&decode_one(&wire)).unwrap(),
        sign
    );
    let hashed = Request {
        seq: 11,
        body: RequestBody::SignHashedLoaded {
            handle: 1,
            session: 2,
            length: 300,
        },
    };
    assert_eq!(
        encode_frame_vec(&hashed).unwrap(),
        hex("00 0b 0b 11 01 02 ac 02 ed 92 64 90 00")
    );
    let unload = Request {
        seq: 10,
        body: RequestBody::UnloadKey { handle: 1 },
    };
    assert_eq!(
        encode_frame_vec(&unload).unwrap(),
        hex("00 08 0a 12 01 de 8d b1 fd 00")
    );
    let loaded = Response {
        seq: 8,
        body: ResponseBody::KeyLoaded { handle: 1 },
    };
    assert_eq!(
        encode_frame_vec(&loaded).unwrap(),
        hex("00 08 08 0a 01 ea ed 0f 10 00")
    );
}

/// `SetBaud` and its answer.
#[test]
fn set_baud_frames() {
    let set = Request {
        seq: 12,
        body: RequestBody::SetBaud { baud: 921_600 },
    };
    let wire = hex("00 0a 0c 13 80 a0 38 d6 84 43 5e 00");
    assert_eq!(encode_frame_vec(&set).unwrap(), wire);
    assert_eq!(
        postcard::from_bytes::<Request>(&decode_one(&wire)).unwrap(),
        set
    );
    let done = Response {
        seq: 12,
        body: ResponseBody::BaudSet { baud: 921_600 },
    };
    assert_eq!(
        encode_frame_vec(&done).unwrap(),
        hex("00 0a 0c 0c 80 a0 38 c7 ee 63 58 00")
    );
}

/// The schema fingerprint changes with any change of the message types. If this fails on
/// purpose, bump PROTOCOL_VERSION if old peers cannot read the new messages, and update the
/// value here and in docs/protocol.md.
#[test]
fn schema_fingerprint_is_pinned() {
    assert_eq!(
        SCHEMA_FINGERPRINT,
        [0x74, 0xb1, 0xf5, 0x46, 0xd4, 0x24, 0x01, 0x4a]
    );
}

/// The variant count used to tell unknown requests from malformed ones.
#[test]
fn request_variant_count_matches_the_enum() {
    let last = Request {
        seq: 1,
        body: RequestBody::Attest {
            slot: 0,
            challenge: [0; 32],
        },
    };
    let body = postcard::to_allocvec(&last).unwrap();
    assert_eq!(u32::from(body[1]) + 1, REQUEST_VARIANTS);
}

/// Encodes one frame into a vector (the crate's own helper needs its `std` feature).
fn encode_frame_vec<T: serde::Serialize>(
    msg: &T,
) -> Result<Vec<u8>, ucrypto_protocol::frame::EncodeError> {
    let mut scratch = vec![0u8; MAX_FRAME_LEN];
    let mut out = vec![0u8; MAX_WIRE_FRAME_LEN];
    Ok(encode_frame(msg, &mut scratch, &mut out)?.to_vec())
}

/// The `Hello` answer shown in docs/protocol.md.
fn doc_hello() -> Response<'static> {
    Response {
        seq: 1,
        body: ResponseBody::Hello(HelloInfo {
            protocol_version: 2,
            schema: SCHEMA_FINGERPRINT,
            firmware_version: "0.1.0",
            chip: Chip::Esp32C3,
            virtual_device: false,
            device_id: [0x58, 0xcf, 0x79, 0x01, 0x02, 0x03],
            capabilities: Capabilities {
                commands: 63,
                aes_key_sizes: 7,
                aes_hw_key_sizes: 5,
                min_rsa_bits: 1024,
                max_rsa_bits: 4096,
                max_chunk_len: 3072,
            },
            entropy: Entropy {
                source: EntropySource::SarAdc,
                state: EntropyState::Ready,
            },
            self_test: SelfTest {
                rng: TestOutcome::Passed,
                aes: TestOutcome::Passed,
                sha256: TestOutcome::Passed,
                rsa: TestOutcome::Passed,
            },
            key_slots: Some([
                SlotState::DsKey {
                    bits: 2048,
                    spki_sha256: [0xaa; 32],
                    origin: KeyOrigin::Generated,
                    readable: false,
                },
                SlotState::OtherPurpose { purpose: 4 },
                SlotState::Free,
                SlotState::Free,
                SlotState::Free,
                SlotState::Free,
            ]),
            security: Some(SecurityState {
                provisioning_locked: true,
                secure_boot: false,
                flash_encryption: FlashEncryption::Off,
                usb_jtag_disabled: true,
                pad_jtag_disabled: true,
                download_mode: DownloadMode::Secure,
                read_protection_locked: false,
            }),
            app_sha256: None,
        }),
    }
}

#[test]
fn hello_response() {
    let body = postcard::to_allocvec(&doc_hello()).unwrap();
    let expected = hex(
        "01 00 02 74 b1 f5 46 d4 24 01 4a 05 30 2e 31 2e 30 02 00 58 cf 79 01 02 03 \
         3f 07 05 80 08 80 20 80 18 00 00 00 00 00 00 \
         01 01 80 10 aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa \
         aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa 00 00 02 04 00 00 00 00 \
         01 01 00 00 01 01 01 00 00",
    );
    assert_eq!(body, expected, "{:02x?}", body);
    let wire = hex(
        "00 02 01 11 02 74 b1 f5 46 d4 24 01 4a 05 30 2e 31 2e 30 02 10 58 cf 79 01 02 03 3f 07 \
         05 80 08 80 20 80 18 01 01 01 01 01 25 01 01 80 10 aa aa aa aa aa aa aa aa aa aa aa aa \
         aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa aa 01 03 02 04 01 01 01 03 01 \
         01 01 04 01 01 01 01 05 10 92 2f b5 00",
    );
    assert_eq!(encode_frame_vec(&doc_hello()).unwrap(), wire);
}

/// Checks that `msg` encodes to `wire` and decodes back to itself.
fn round_trip<'a, T>(msg: &T, wire: &str, body: &'a mut Vec<u8>)
where
    T: serde::Serialize + serde::Deserialize<'a> + PartialEq + std::fmt::Debug,
{
    let wire = hex(wire);
    assert_eq!(encode_frame_vec(msg).unwrap(), wire, "{msg:?}");
    *body = decode_one(&wire);
    assert_eq!(&postcard::from_bytes::<T>(body).unwrap(), msg);
}

#[test]
fn key_generate_request() {
    let req = Request {
        seq: 1,
        body: RequestBody::KeyGenerate {
            slot: 0,
            bits: 2048,
        },
    };
    // seq 1, variant 10, slot 0, bits 2048 (varint 80 10).
    round_trip(&req, "00 03 01 0a 07 80 10 68 64 dd df 00", &mut Vec::new());
}

/// The toy key n = 55 = 11 * 5, e = 3, d = 27 (sizes far below what a device accepts).
fn toy_key() -> RsaPrivateKey<'static> {
    RsaPrivateKey {
        n: &[0x37],
        e: &[0x03],
        d: &[0x1b],
        p: &[0x0b],
        q: &[0x05],
        dp: &[0x07],
        dq: &[0x03],
        qinv: &[0x09],
    }
}

#[test]
fn key_import_request() {
    let key = toy_key();
    let req = Request {
        seq: 2,
        body: RequestBody::KeyImport {
            slot: ANY_SLOT,
            key,
        },
    };
    round_trip(
        &req,
        "00 18 02 0b ff 01 37 01 03 01 1b 01 0b 01 05 01 07 01 03 01 09 e3 8a 82 d0 00",
        &mut Vec::new(),
    );
}

#[test]
fn public_key_request_and_response() {
    let req = Request {
        seq: 3,
        body: RequestBody::PublicKey { slot: 3 },
    };
    round_trip(&req, "00 08 03 0c 03 99 32 84 4a 00", &mut Vec::new());
    let resp = Response {
        seq: 1,
        body: ResponseBody::PublicKey(PublicKeyInfo {
            slot: 0,
            bits: 6,
            n: &[0x37],
            e: &[0x03],
        }),
    };
    round_trip(
        &resp,
        "00 03 01 09 0a 06 01 37 01 03 12 5c fc 4b 00",
        &mut Vec::new(),
    );
}

#[test]
fn slot_signing_requests() {
    let req = Request {
        seq: 4,
        body: RequestBody::SignSlot {
            session: 1,
            length: 3,
            slot: 0,
        },
    };
    round_trip(&req, "00 05 04 0d 01 03 05 cf 0a b2 64 00", &mut Vec::new());
    // The digest is SHA-256("abc").
    let digest = hex("ba 78 16 bf 8f 01 cf ea 41 41 40 de 5d ae 22 23 \
                      b0 03 61 a3 96 17 7a 9c b4 10 ff 61 f2 00 15 ad");
    let req = Request {
        seq: 5,
        body: RequestBody::SignDigestSlot {
            digest: digest.try_into().unwrap(),
            slot: 1,
        },
    };
    round_trip(
        &req,
        "00 20 05 0e ba 78 16 bf 8f 01 cf ea 41 41 40 de 5d ae 22 23 b0 03 61 a3 96 17 7a 9c \
         b4 10 ff 61 f2 08 15 ad 01 ca d7 a7 1a 00",
        &mut Vec::new(),
    );
}

#[test]
fn slot_used_error() {
    let resp = Response {
        seq: 7,
        body: ResponseBody::Error(DeviceError {
            code: ErrorCode::SlotUsed,
            message: "x",
        }),
    };
    round_trip(
        &resp,
        "00 0a 07 08 0b 01 78 94 71 dc 21 00",
        &mut Vec::new(),
    );
}

#[test]
fn digest_frames() {
    let req = Request {
        seq: 13,
        body: RequestBody::DigestStart {
            alg: HashAlg::Sha224,
        },
    };
    round_trip(&req, "00 08 0d 15 01 f2 20 2c f3 00", &mut Vec::new());
    let req = Request {
        seq: 14,
        body: RequestBody::DigestFinish {
            session: 1,
            length: 300,
        },
    };
    round_trip(&req, "00 0a 0e 16 01 ac 02 15 e6 ff 2e 00", &mut Vec::new());
    // SHA-1("abc") (FIPS 180-2 appendix A.1).
    let sha1_abc = hex("a9 99 3e 36 47 06 81 6a ba 3e 25 71 78 50 c2 6c 9c d0 d8 9d");
    let resp = Response {
        seq: 14,
        body: ResponseBody::Digest { data: &sha1_abc },
    };
    round_trip(
        &resp,
        "00 1c 0e 0e 14 a9 99 3e 36 47 06 81 6a ba 3e 25 71 78 50 c2 6c 9c d0 d8 9d \
         dc 4e ca a5 00",
        &mut Vec::new(),
    );
}

#[test]
fn decrypt_frames() {
    let key = toy_key();
    let req = Request {
        seq: 15,
        body: RequestBody::Decrypt {
            padding: RsaPadding::OaepSha256,
            ciphertext: &[0x2a],
            key,
        },
    };
    round_trip(
        &req,
        "00 03 0f 17 17 01 2a 01 37 01 03 01 1b 01 0b 01 05 01 07 01 03 01 09 ea 4a 17 02 00",
        &mut Vec::new(),
    );
    let req = Request {
        seq: 16,
        body: RequestBody::DecryptSlot {
            slot: 1,
            padding: RsaPadding::Pkcs1v15,
            ciphertext: &[1, 2, 3],
        },
    };
    round_trip(
        &req,
        "00 0d 10 18 01 01 03 01 02 03 23 60 7f fe 00",
        &mut Vec::new(),
    );
    let req = Request {
        seq: 17,
        body: RequestBody::DecryptLoaded {
            handle: 1,
            padding: RsaPadding::OaepSha256,
            ciphertext: &[0xab, 0xab],
        },
    };
    round_trip(
        &req,
        "00 04 11 19 01 08 02 ab ab dd ae 5b 61 00",
        &mut Vec::new(),
    );
    let resp = Response {
        seq: 16,
        body: ResponseBody::Plaintext { data: b"hi" },
    };
    round_trip(
        &resp,
        "00 0a 10 0f 02 68 69 d7 30 87 6e 00",
        &mut Vec::new(),
    );
    let resp = Response {
        seq: 16,
        body: ResponseBody::Error(DeviceError {
            code: ErrorCode::DecryptFailed,
            message: "x",
        }),
    };
    round_trip(
        &resp,
        "00 0a 10 08 13 01 78 4c 5d 7b 4e 00",
        &mut Vec::new(),
    );
}

#[test]
fn lock_frames() {
    // seq 20, request variant 20 (Lock), no fields.
    let lock = Request {
        seq: 20,
        body: RequestBody::Lock,
    };
    round_trip(&lock, "00 07 14 14 ff b7 ea 57 00", &mut Vec::new());
    // seq 20, response variant 13 (Locked).
    let locked = Response {
        seq: 20,
        body: ResponseBody::Locked,
    };
    round_trip(&locked, "00 07 14 0d 5c ab 06 3f 00", &mut Vec::new());
}

#[test]
fn certificate_and_attestation_frames() {
    let mut body = Vec::new();
    round_trip(
        &Request {
            seq: 20,
            body: RequestBody::CertWrite {
                kind: CertKind::Ca,
                offset: 0,
                total: 300,
                data: &[0x30, 0x82, 0x01, 0x28],
            },
        },
        "00 04 14 1a 01 0c ac 02 04 30 82 01 28 b0 36 b1 56 00",
        &mut body,
    );
    round_trip(
        &Request {
            seq: 21,
            body: RequestBody::CertRead {
                kind: CertKind::Device,
                offset: 3072,
            },
        },
        "00 03 15 1b 07 80 18 41 f8 42 0e 00",
        &mut body,
    );
    round_trip(
        &Request {
            seq: 22,
            body: RequestBody::Attest {
                slot: 0,
                challenge: [0x11; 32],
            },
        },
        "00 03 16 1c 25 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 11 \
         11 11 11 11 11 11 11 1f 86 34 f8 00",
        &mut body,
    );
    round_trip(
        &Response {
            seq: 20,
            body: ResponseBody::CertWritten { received: 4 },
        },
        "00 08 14 10 04 74 1c 47 76 00",
        &mut body,
    );
    round_trip(
        &Response {
            seq: 21,
            body: ResponseBody::Certificate {
                total: 4,
                offset: 0,
                data: &[0x30, 0x02, 0x05, 0x00],
            },
        },
        "00 04 15 11 04 05 04 30 02 05 05 e5 ee f6 40 00",
        &mut body,
    );
    round_trip(
        &Response {
            seq: 22,
            body: ResponseBody::Attestation {
                statement: &[1, 2],
                signature: &[3],
            },
        },
        "00 0c 16 12 02 01 02 01 03 19 d0 f9 ab 00",
        &mut body,
    );
    round_trip(
        &Response {
            seq: 21,
            body: ResponseBody::Error(DeviceError {
                code: ErrorCode::NoCertificate,
                message: "x",
            }),
        },
        "00 0a 15 08 15 01 78 47 7a 9e 47 00",
        &mut body,
    );
}
