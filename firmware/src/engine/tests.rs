use std::vec::Vec;

use ucrypto_protocol::frame::encode_frame_vec;
use ucrypto_protocol::{
    Chip, Entropy, EntropySource, EntropyState, ErrorCode, FrameDecoder, HashAlg, Request,
    RequestBody, Response, ResponseBody, TestOutcome, PROTOCOL_VERSION, SCHEMA_FINGERPRINT,
};

use super::Engine;
use crate::backend::{AesKey, Modulus};
use crate::{Backend, BackendError};

/// A backend whose "random" bytes count up, so tests can predict them; or a broken one.
pub(crate) struct CountingBackend {
    next: u8,
    broken: bool,
}

impl Backend for CountingBackend {
    fn chip(&self) -> Chip {
        Chip::Esp32C3
    }
    fn device_id(&self) -> [u8; 6] {
        [1, 2, 3, 4, 5, 6]
    }
    fn is_virtual(&self) -> bool {
        true
    }
    fn entropy(&self) -> Entropy {
        Entropy {
            source: EntropySource::FixedSeed,
            state: EntropyState::Deterministic,
        }
    }
    fn fill_random(&mut self, out: &mut [u8]) -> Result<(), BackendError> {
        for byte in out {
            *byte = if self.broken { 0 } else { self.next };
            self.next = self.next.wrapping_add(1);
        }
        Ok(())
    }
    fn aes_encrypt_block(&mut self, _: &AesKey, _: &mut [u8; 16]) -> Result<(), BackendError> {
        Err(BackendError::Unsupported)
    }
    fn aes_decrypt_block(&mut self, _: &AesKey, _: &mut [u8; 16]) -> Result<(), BackendError> {
        Err(BackendError::Unsupported)
    }
    type ShaState = ();
    fn sha_start(&mut self, _: HashAlg) {}
    fn sha_update(&mut self, _: &mut (), _: &[u8]) {}
    fn sha_finish(&mut self, _: (), out: &mut [u8; 32]) {
        out.fill(0);
    }
    fn rsa_mod_exp(
        &mut self,
        _: &[u32],
        _: &[u32],
        _: &Modulus<'_>,
        _: &mut [u32],
    ) -> Result<(), BackendError> {
        Err(BackendError::Unsupported)
    }
    fn rsa_mod_mul(
        &mut self,
        _: &[u32],
        _: &[u32],
        _: &Modulus<'_>,
        _: &mut [u32],
    ) -> Result<(), BackendError> {
        Err(BackendError::Unsupported)
    }
}

pub(crate) fn engine() -> Engine<CountingBackend> {
    let mut engine = Engine::new(CountingBackend {
        next: 0,
        broken: false,
    });
    // Start the counter at a known place after the self-test's reads.
    engine.backend.next = 0;
    engine
}

pub(crate) fn frame(seq: u32, body: RequestBody<'_>) -> Vec<u8> {
    encode_frame_vec(&Request { seq, body }).unwrap()
}

/// Feeds `input` and decodes every response frame, in order.
pub(crate) fn exchange<B: Backend>(engine: &mut Engine<B>, input: &[u8]) -> Vec<Vec<u8>> {
    let mut wire = Vec::new();
    engine.receive(input, |f| wire.extend_from_slice(f));
    let mut decoder: FrameDecoder = FrameDecoder::new();
    let mut bodies = Vec::new();
    let mut rest = &wire[..];
    while !rest.is_empty() {
        let (n, result) = decoder.push(rest);
        rest = &rest[n..];
        if let Some(result) = result {
            bodies.push(result.expect("engine sent a damaged frame").to_vec());
        }
    }
    bodies
}

/// Runs `python3 ARGS` and returns its output lines; a failure shows its stderr.
pub(crate) fn python_lines(args: &[&str]) -> Vec<std::string::String> {
    let out = std::process::Command::new("python3")
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        std::string::String::from_utf8_lossy(&out.stderr)
    );
    std::string::String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(std::string::String::from)
        .collect()
}

pub(crate) fn decode(body: &[u8]) -> Response<'_> {
    postcard::from_bytes(body).unwrap()
}

pub(crate) fn error_code(response: &Response<'_>) -> ErrorCode {
    match &response.body {
        ResponseBody::Error(e) => e.code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn hello_reports_version_schema_and_chip() {
    let mut engine = engine();
    let out = exchange(&mut engine, &frame(7, RequestBody::Hello));
    assert_eq!(out.len(), 1);
    let response = decode(&out[0]);
    assert_eq!(response.seq, 7);
    let ResponseBody::Hello(info) = response.body else {
        panic!("not a hello: {response:?}")
    };
    assert_eq!(info.protocol_version, PROTOCOL_VERSION);
    assert_eq!(info.schema, SCHEMA_FINGERPRINT);
    assert_eq!(info.chip, Chip::Esp32C3);
    assert_eq!(info.device_id, [1, 2, 3, 4, 5, 6]);
    assert_eq!(info.capabilities.max_rsa_bits, 4096);
    assert_eq!(info.self_test.rng, TestOutcome::Passed);
}

#[test]
fn random_returns_the_backend_bytes_with_the_request_seq() {
    let mut engine = engine();
    let out = exchange(&mut engine, &frame(42, RequestBody::Random { words: 2 }));
    let response = decode(&out[0]);
    assert_eq!(response.seq, 42);
    assert_eq!(
        response.body,
        ResponseBody::Random {
            data: &[0, 1, 2, 3, 4, 5, 6, 7]
        }
    );
}

#[test]
fn random_word_count_is_bounded() {
    let mut engine = engine();
    for words in [0, ucrypto_protocol::MAX_RANDOM_WORDS + 1, u16::MAX] {
        let out = exchange(&mut engine, &frame(1, RequestBody::Random { words }));
        assert_eq!(error_code(&decode(&out[0])), ErrorCode::BadArgument);
    }
    let max = ucrypto_protocol::MAX_RANDOM_WORDS;
    let out = exchange(&mut engine, &frame(2, RequestBody::Random { words: max }));
    match decode(&out[0]).body {
        ResponseBody::Random { data } => assert_eq!(data.len(), usize::from(max) * 4),
        other => panic!("{other:?}"),
    }
}

#[test]
fn boot_banner_before_a_frame_is_skipped() {
    let mut engine = engine();
    let mut input = b"ESP-ROM:esp32c3-api1-20210207\r\nrst:0x1 (POWERON),boot:0xc\r\n".to_vec();
    input.extend(frame(3, RequestBody::Ping { nonce: 9 }));
    let out = exchange(&mut engine, &input);
    assert_eq!(out.len(), 1);
    assert_eq!(decode(&out[0]).body, ResponseBody::Pong { nonce: 9 });
    assert_eq!(
        engine.stats().dropped_frames,
        1,
        "the banner counts as one bad frame"
    );
}

#[test]
fn a_frame_with_a_bad_crc_is_dropped_not_answered() {
    let mut engine = engine();
    let mut bad = frame(3, RequestBody::Random { words: 1 });
    let mid = bad.len() / 2;
    bad[mid] ^= 0x01;
    if bad[mid] == 0 {
        bad[mid] = 0x55;
    }
    assert!(exchange(&mut engine, &bad).is_empty());
    assert_eq!(engine.stats().dropped_frames, 1);
    // The next good frame is served normally.
    let out = exchange(&mut engine, &frame(4, RequestBody::Ping { nonce: 1 }));
    assert_eq!(decode(&out[0]).seq, 4);
}

#[test]
fn an_oversized_frame_is_dropped_unanswered_and_the_next_request_is_served() {
    // Line noise with no delimiter before the first request (a boot banner, a terminal program)
    // must not produce an answer nobody asked for.
    let mut engine = engine();
    let mut input = std::vec![0u8];
    input.extend(std::iter::repeat_n(
        0x41,
        ucrypto_protocol::MAX_WIRE_FRAME_LEN + 10,
    ));
    let out = exchange(&mut engine, &input);
    assert!(out.is_empty());
    let out = exchange(&mut engine, &frame(4, RequestBody::Ping { nonce: 1 }));
    assert_eq!(out.len(), 1);
    assert_eq!(decode(&out[0]).seq, 4);
    assert_eq!(engine.stats().dropped_frames, 1);
}

#[test]
fn unknown_and_undecodable_requests_get_typed_errors_with_their_seq() {
    let mut engine = engine();
    // seq 5 (varint 0x05), variant 100 (varint 0x64): a request from a newer host.
    let body = [0x05, 0x64, 0x00];
    let mut framed = std::vec![0u8; 64];
    let crc = ucrypto_protocol::frame::FRAME_CRC.checksum(&body);
    let mut raw = body.to_vec();
    raw.extend_from_slice(&crc.to_le_bytes());
    let n = cobs::encode(&raw, &mut framed[1..]);
    framed.truncate(n + 2);
    let out = exchange(&mut engine, &framed);
    let response = decode(&out[0]);
    assert_eq!(
        (response.seq, error_code(&response)),
        (5, ErrorCode::UnknownRequest)
    );

    // seq 6, variant 2 (Random) with its u16 missing.
    let body = [0x06, 0x02];
    let crc = ucrypto_protocol::frame::FRAME_CRC.checksum(&body);
    let mut raw = body.to_vec();
    raw.extend_from_slice(&crc.to_le_bytes());
    let mut framed = std::vec![0u8; 64];
    let n = cobs::encode(&raw, &mut framed[1..]);
    framed.truncate(n + 2);
    let out = exchange(&mut engine, &framed);
    let response = decode(&out[0]);
    assert_eq!(
        (response.seq, error_code(&response)),
        (6, ErrorCode::Undecodable)
    );
    assert_eq!(engine.stats().undecodable, 2);
}

#[test]
fn input_split_at_every_byte_gives_the_same_answers() {
    let mut whole = engine();
    let mut split = engine();
    let mut input = frame(1, RequestBody::Random { words: 3 });
    input.extend(frame(2, RequestBody::Hello));
    let expected = exchange(&mut whole, &input);
    let mut got = Vec::new();
    for byte in &input {
        got.extend(exchange(&mut split, core::slice::from_ref(byte)));
    }
    assert_eq!(got, expected);
    assert_eq!(got.len(), 2);
}

#[test]
fn a_stuck_rng_fails_the_self_test_and_random_is_refused() {
    let mut engine = Engine::new(CountingBackend {
        next: 0,
        broken: true,
    });
    assert_eq!(engine.self_test().rng, TestOutcome::Failed);
    let out = exchange(&mut engine, &frame(1, RequestBody::Random { words: 1 }));
    assert_eq!(error_code(&decode(&out[0])), ErrorCode::SelfTestFailed);
    // Hello says so: the entropy state is Failed, whatever the backend's own flag says.
    let out = exchange(&mut engine, &frame(2, RequestBody::Hello));
    match decode(&out[0]).body {
        ResponseBody::Hello(info) => {
            assert_eq!(info.entropy.state, EntropyState::Failed);
            assert_eq!(info.self_test.rng, TestOutcome::Failed);
        }
        other => panic!("Hello answered {other:?}"),
    }
}

#[test]
fn set_baud_is_answered_then_applied_and_falls_back_after_silence() {
    use ucrypto_protocol::{BAUD_FALLBACK_MS, DEFAULT_BAUD};
    let mut engine = engine();
    assert_eq!(engine.line_baud(), DEFAULT_BAUD);
    engine.tick(0);
    let out = exchange(
        &mut engine,
        &frame(3, RequestBody::SetBaud { baud: 921_600 }),
    );
    assert_eq!(
        decode(&out[0]).body,
        ResponseBody::BaudSet { baud: 921_600 }
    );
    assert_eq!(engine.line_baud(), 921_600);
    // Out of range: refused, the rate stays.
    let out = exchange(
        &mut engine,
        &frame(4, RequestBody::SetBaud { baud: 10_000_000 }),
    );
    assert_eq!(error_code(&decode(&out[0])), ErrorCode::BadArgument);
    assert_eq!(engine.line_baud(), 921_600);
    // Frames keep the rate; silence for BAUD_FALLBACK_MS after the last one ends it.
    engine.tick(10);
    engine.tick(10 + BAUD_FALLBACK_MS - 1);
    assert_eq!(engine.line_baud(), 921_600);
    exchange(&mut engine, &frame(5, RequestBody::Ping { nonce: 1 }));
    engine.tick(10 + BAUD_FALLBACK_MS + 500);
    engine.tick(10 + 2 * BAUD_FALLBACK_MS + 499);
    assert_eq!(engine.line_baud(), 921_600);
    engine.tick(10 + 2 * BAUD_FALLBACK_MS + 500);
    assert_eq!(engine.line_baud(), DEFAULT_BAUD);
    // A restart goes back too.
    exchange(
        &mut engine,
        &frame(6, RequestBody::SetBaud { baud: 2_000_000 }),
    );
    engine.reset();
    assert_eq!(engine.line_baud(), DEFAULT_BAUD);
}

/// A frame around raw message bytes: CRC-32C appended, COBS, both delimiters.
fn raw_frame(message: &[u8]) -> Vec<u8> {
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI).checksum(message);
    let mut body = message.to_vec();
    body.extend_from_slice(&crc.to_le_bytes());
    let mut encoded = std::vec![0u8; cobs::max_encoding_length(body.len())];
    let n = cobs::encode(&body, &mut encoded);
    let mut out = std::vec![0u8];
    out.extend_from_slice(&encoded[..n]);
    out.push(0);
    out
}

/// The answer to `message`: its `seq`, and the nonce of a `Pong` or none for `Undecodable`.
fn ping_answer(engine: &mut Engine<CountingBackend>, message: &[u8]) -> (u32, Option<u32>) {
    let out = exchange(engine, &raw_frame(message));
    assert_eq!(out.len(), 1);
    let response = decode(&out[0]);
    match response.body {
        ResponseBody::Pong { nonce } => (response.seq, Some(nonce)),
        ResponseBody::Error(e) => {
            assert_eq!(e.code, ErrorCode::Undecodable);
            (response.seq, None)
        }
        other => panic!("{other:?}"),
    }
}

/// Protocol section 3: one encoding per message. Trailing bytes and varints longer than needed
/// are `Undecodable` (answered with the `seq` when it could be read); the canonical bytes work.
#[test]
fn only_the_canonical_encoding_of_a_request_is_served() {
    let mut engine = engine();
    // seq 5, variant 1 (Ping), nonce 300 = ac 02.
    assert_eq!(
        ping_answer(&mut engine, &[0x05, 0x01, 0xac, 0x02]),
        (5, Some(300))
    );
    for (what, message) in [
        ("a trailing byte", &[0x05, 0x01, 0xac, 0x02, 0x00][..]),
        ("a non-minimal nonce", &[0x05, 0x01, 0xac, 0x82, 0x00][..]),
        ("a non-minimal seq", &[0x85, 0x00, 0x01, 0xac, 0x02][..]),
    ] {
        assert_eq!(ping_answer(&mut engine, message), (5, None), "{what}");
    }
}
