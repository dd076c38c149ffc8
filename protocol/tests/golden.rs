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

/// The loaded-key requests and answer (variants appended after `EndSession`).
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
    let wire = hex(&format!("00 28 09 0b 01{ab} 0c 78 b5 91 00"));
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
        hex("00 0b 0b 0c 01 02 ac 02 b3 29 75 02 00")
    );
    let unload = Request {
        seq: 10,
        body: RequestBody::UnloadKey { handle: 1 },
    };
    assert_eq!(
        encode_frame_vec(&unload).unwrap(),
        hex("00 08 0a 0d 01 a2 76 0d 25 00")
    );
    let loaded = Response {
        seq: 8,
        body: ResponseBody::KeyLoaded { handle: 1 },
    };
    assert_eq!(
        encode_frame_vec(&loaded).unwrap(),
        hex("00 08 08 09 01 73 45 e8 24 00")
    );
}

/// `SetBaud` and its answer.
#[test]
fn set_baud_frames() {
    let set = Request {
        seq: 12,
        body: RequestBody::SetBaud { baud: 921_600 },
    };
    let wire = hex("00 0a 0c 0e 80 a0 38 46 cd 04 e7 00");
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
        hex("00 0a 0c 0b 80 a0 38 0d 56 63 41 00")
    );
}

/// The schema fingerprint changes with any change of the message types. If this fails on
/// purpose, bump PROTOCOL_VERSION if old peers cannot read the new messages, and update the
/// value here and in docs/protocol.md.
#[test]
fn schema_fingerprint_is_pinned() {
    assert_eq!(
        SCHEMA_FINGERPRINT,
        [0xc4, 0x2f, 0x0d, 0xdb, 0x77, 0x68, 0xf0, 0x48]
    );
}

/// The variant count used to tell unknown requests from malformed ones.
#[test]
fn request_variant_count_matches_the_enum() {
    let last = Request {
        seq: 1,
        body: RequestBody::SetBaud { baud: 0 },
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
            protocol_version: 1,
            schema: SCHEMA_FINGERPRINT,
            firmware_version: "0.1.0",
            chip: Chip::Esp32C3,
            virtual_device: false,
            device_id: [0x58, 0xcf, 0x79, 0x01, 0x02, 0x03],
            capabilities: Capabilities {
                commands: 31,
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
        }),
    }
}

#[test]
fn hello_response() {
    let body = postcard::to_allocvec(&doc_hello()).unwrap();
    let expected = hex(
        "01 00 01 c4 2f 0d db 77 68 f0 48 05 30 2e 31 2e 30 02 00 58 cf 79 01 02 03 \
         1f 07 05 80 08 80 20 80 18 00 00 00 00 00 00",
    );
    assert_eq!(body, expected, "{:02x?}", body);
    let wire = hex(
        "00 02 01 11 01 c4 2f 0d db 77 68 f0 48 05 30 2e 31 2e 30 02 10 58 cf 79 01 02 03 1f 07 \
         05 80 08 80 20 80 18 01 01 01 01 01 05 b9 a5 eb b8 00",
    );
    assert_eq!(encode_frame_vec(&doc_hello()).unwrap(), wire);
}
