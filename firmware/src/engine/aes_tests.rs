//! AES sessions through the whole engine (frames in, frames out) on the software backend: NIST and
//! RFC known answers for every mode and key size, chunking, and the session rules.
use std::string::String;
use std::vec::Vec;
use std::{format, vec};

use ucrypto_protocol::{
    AesDirection, AesMode, Chip, Entropy, ErrorCode, HashAlg, KeySize, RequestBody, ResponseBody,
    TestOutcome, MAX_CHUNK_LEN,
};

use super::tests::{decode, exchange, frame};
use super::Engine;
use crate::backend::software::Seed;
use crate::backend::{AesKey, Modulus};
use crate::{Backend, BackendError, SoftwareBackend};

/// One known answer: `input` through `mode` in `direction` gives `output`.
#[derive(Debug, Clone)]
struct Vector {
    name: String,
    mode: AesMode,
    direction: AesDirection,
    key: Vec<u8>,
    iv: Option<[u8; 16]>,
    input: Vec<u8>,
    output: Vec<u8>,
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex: {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Reads CAVP-style records (`KEY = ..` lines, a blank line between records). Every record is
/// used both ways: plaintext to ciphertext, and back.
fn parse(file: &str, text: &str, mode: Option<AesMode>) -> Vec<Vector> {
    let mut vectors = Vec::new();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut flush = |fields: &mut Vec<(String, String)>| {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        if let Some(key) = get("KEY") {
            let mode = mode.unwrap_or_else(|| match get("MODE").expect("MODE").as_str() {
                "ECB" => AesMode::Ecb,
                "CBC" => AesMode::Cbc,
                "CFB8" => AesMode::Cfb8,
                "CFB128" => AesMode::Cfb128,
                "CTR" => AesMode::Ctr,
                other => panic!("mode {other}"),
            });
            let iv = get("IV").map(|iv| unhex(&iv).try_into().expect("16-byte IV"));
            let plaintext = unhex(&get("PLAINTEXT").expect("PLAINTEXT"));
            let ciphertext = unhex(&get("CIPHERTEXT").expect("CIPHERTEXT"));
            let name = format!("{file} COUNT {}", get("COUNT").unwrap_or_default());
            for (direction, input, output) in [
                (AesDirection::Encrypt, &plaintext, &ciphertext),
                (AesDirection::Decrypt, &ciphertext, &plaintext),
            ] {
                vectors.push(Vector {
                    name: format!("{name} {direction:?}"),
                    mode,
                    direction,
                    key: unhex(&key),
                    iv,
                    input: input.clone(),
                    output: output.clone(),
                });
            }
        }
        fields.clear();
    };
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            flush(&mut fields);
        } else if let Some((name, value)) = line.split_once(" = ") {
            fields.push((name.into(), value.into()));
        }
    }
    flush(&mut fields);
    vectors
}

macro_rules! vector_file {
    ($name:literal, $mode:expr) => {
        parse(
            $name,
            include_str!(concat!("../../testdata/aes/", $name)),
            $mode,
        )
    };
}

fn all_vectors() -> Vec<Vector> {
    let mut v = Vec::new();
    v.extend(vector_file!("ECBMMT128.rsp", Some(AesMode::Ecb)));
    v.extend(vector_file!("ECBMMT192.rsp", Some(AesMode::Ecb)));
    v.extend(vector_file!("ECBMMT256.rsp", Some(AesMode::Ecb)));
    v.extend(vector_file!("CBCMMT128.rsp", Some(AesMode::Cbc)));
    v.extend(vector_file!("CBCMMT192.rsp", Some(AesMode::Cbc)));
    v.extend(vector_file!("CBCMMT256.rsp", Some(AesMode::Cbc)));
    v.extend(vector_file!("CFB8MMT128.rsp", Some(AesMode::Cfb8)));
    v.extend(vector_file!("CFB8MMT192.rsp", Some(AesMode::Cfb8)));
    v.extend(vector_file!("CFB8MMT256.rsp", Some(AesMode::Cfb8)));
    v.extend(vector_file!("CFB128MMT128.rsp", Some(AesMode::Cfb128)));
    v.extend(vector_file!("CFB128MMT192.rsp", Some(AesMode::Cfb128)));
    v.extend(vector_file!("CFB128MMT256.rsp", Some(AesMode::Cfb128)));
    v.extend(vector_file!("aes-128-ctr.txt", Some(AesMode::Ctr)));
    v.extend(vector_file!("aes-192-ctr.txt", Some(AesMode::Ctr)));
    v.extend(vector_file!("aes-256-ctr.txt", Some(AesMode::Ctr)));
    v.extend(vector_file!("sp800-38a.rsp", None));
    v
}

fn device(chip: Chip) -> Engine<SoftwareBackend> {
    Engine::new(SoftwareBackend::new(chip, Seed::Fixed(7)))
}

/// The body of a request's single answer (decode it with `decode`).
fn call<B: Backend>(engine: &mut Engine<B>, body: RequestBody<'_>) -> Vec<u8> {
    let mut out = exchange(engine, &frame(1, body));
    assert_eq!(out.len(), 1, "one answer per request");
    out.remove(0)
}

fn start<B: Backend>(
    engine: &mut Engine<B>,
    direction: AesDirection,
    mode: AesMode,
    key: &[u8],
    iv: Option<[u8; 16]>,
) -> Result<u32, ErrorCode> {
    match decode(&call(
        engine,
        RequestBody::AesStart {
            direction,
            mode,
            key,
            iv,
        },
    ))
    .body
    {
        ResponseBody::SessionStarted { session } => Ok(session),
        ResponseBody::Error(e) => Err(e.code),
        other => panic!("AesStart answered {other:?}"),
    }
}

fn chunk<B: Backend>(
    engine: &mut Engine<B>,
    session: u32,
    offset: u64,
    data: &[u8],
) -> Result<Vec<u8>, ErrorCode> {
    match decode(&call(
        engine,
        RequestBody::AesData {
            session,
            offset,
            data,
        },
    ))
    .body
    {
        ResponseBody::AesData { offset: o, data } => {
            assert_eq!(o, offset, "the answer names its chunk's offset");
            Ok(data.to_vec())
        }
        ResponseBody::Error(e) => Err(e.code),
        other => panic!("AesData answered {other:?}"),
    }
}

/// Runs `vector` through a fresh session, cutting the input at `cuts` (offsets, ascending).
fn run<B: Backend>(engine: &mut Engine<B>, vector: &Vector, cuts: &[usize]) -> Vec<u8> {
    let session = start(
        engine,
        vector.direction,
        vector.mode,
        &vector.key,
        vector.iv,
    )
    .unwrap_or_else(|e| panic!("{}: start refused: {e:?}", vector.name));
    let mut out = Vec::new();
    let mut from = 0;
    for &to in cuts.iter().chain([vector.input.len()].iter()) {
        let piece = &vector.input[from..to];
        out.extend(
            chunk(engine, session, from as u64, piece)
                .unwrap_or_else(|e| panic!("{}: chunk at {from} refused: {e:?}", vector.name)),
        );
        from = to;
    }
    assert_eq!(
        decode(&call(engine, RequestBody::EndSession { session })).body,
        ResponseBody::SessionEnded
    );
    out
}

#[test]
fn vector_files_cover_every_mode_key_size_and_direction() {
    let vectors = all_vectors();
    for mode in [
        AesMode::Ecb,
        AesMode::Cbc,
        AesMode::Cfb8,
        AesMode::Cfb128,
        AesMode::Ctr,
    ] {
        for len in [16, 24, 32] {
            for direction in [AesDirection::Encrypt, AesDirection::Decrypt] {
                let n = vectors
                    .iter()
                    .filter(|v| v.mode == mode && v.key.len() == len && v.direction == direction)
                    .count();
                assert!(
                    n >= 3,
                    "{mode:?} {len}-byte keys {direction:?}: {n} vectors"
                );
            }
        }
    }
    assert!(vectors.len() > 500, "{} vectors", vectors.len());
}

#[test]
fn known_answers_in_one_chunk_on_every_chip() {
    // ESP32-C3: AES-192 runs in the engine's software fallback; ESP32: all sizes in "hardware".
    for chip in [Chip::Esp32C3, Chip::Esp32] {
        let mut engine = device(chip);
        for vector in all_vectors() {
            assert_eq!(
                run(&mut engine, &vector, &[]),
                vector.output,
                "{} on {chip:?}",
                vector.name
            );
        }
    }
}

#[test]
fn known_answers_cut_into_chunks_at_every_allowed_point() {
    let mut engine = device(Chip::Esp32C3);
    for vector in all_vectors() {
        let step = if vector.mode.needs_whole_blocks() {
            16
        } else {
            1
        };
        let len = vector.input.len();
        // Every two-way cut, and a cut after every allowed piece.
        for cut in (step..len).step_by(step) {
            assert_eq!(
                run(&mut engine, &vector, &[cut]),
                vector.output,
                "{} cut at {cut}",
                vector.name
            );
        }
        let every: Vec<usize> = (step..len).step_by(step).collect();
        assert_eq!(
            run(&mut engine, &vector, &every),
            vector.output,
            "{} in {step}-byte pieces",
            vector.name
        );
    }
}

/// A SplitMix64 stream: deterministic test data and chunk sizes, independent of the code.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn long_streams_give_the_same_bytes_however_they_are_chunked() {
    let mut rng = SplitMix(42);
    let mut engine = device(Chip::Esp32C6);
    for mode in [
        AesMode::Ecb,
        AesMode::Cbc,
        AesMode::Cfb8,
        AesMode::Cfb128,
        AesMode::Ctr,
    ] {
        for key_len in [16, 24, 32] {
            for direction in [AesDirection::Encrypt, AesDirection::Decrypt] {
                let vector = Vector {
                    name: format!("{mode:?} {key_len} {direction:?}"),
                    mode,
                    direction,
                    key: rng.bytes(key_len),
                    iv: mode.needs_iv().then(|| rng.bytes(16).try_into().unwrap()),
                    input: rng.bytes(3 * MAX_CHUNK_LEN + 48),
                    output: Vec::new(),
                };
                let step = if mode.needs_whole_blocks() { 16 } else { 1 };
                let whole: Vec<usize> = (MAX_CHUNK_LEN..vector.input.len())
                    .step_by(MAX_CHUNK_LEN)
                    .collect();
                let expected = run(&mut engine, &vector, &whole);
                for _ in 0..4 {
                    let mut cuts = Vec::new();
                    let mut at = 0;
                    loop {
                        let piece = (rng.next() as usize % (MAX_CHUNK_LEN / step) + 1) * step;
                        // Short pieces too: partial CFB/CTR blocks on both sides of a cut.
                        let piece = if rng.next().is_multiple_of(3) {
                            piece % (3 * step) + step
                        } else {
                            piece
                        };
                        at += piece;
                        if at >= vector.input.len() {
                            break;
                        }
                        cuts.push(at);
                    }
                    assert_eq!(
                        run(&mut engine, &vector, &cuts),
                        expected,
                        "{} cut at {cuts:?}",
                        vector.name
                    );
                }
                // And the stream decrypts (or encrypts) back.
                let back = Vector {
                    direction: match direction {
                        AesDirection::Encrypt => AesDirection::Decrypt,
                        AesDirection::Decrypt => AesDirection::Encrypt,
                    },
                    input: expected,
                    ..vector.clone()
                };
                assert_eq!(run(&mut engine, &back, &whole), vector.input);
            }
        }
    }
}

const KEY: [u8; 16] = [7; 16];
const IV: Option<[u8; 16]> = Some([9; 16]);

#[test]
fn a_chunk_the_session_cannot_reach_is_out_of_sequence_and_changes_nothing() {
    let mut engine = device(Chip::Esp32C3);
    let s = start(&mut engine, AesDirection::Encrypt, AesMode::Cbc, &KEY, IV).unwrap();
    let first = chunk(&mut engine, s, 0, &[1; 32]).unwrap();
    // 16 is inside the chunk, 64 beyond the position: no chaining state for either.
    for offset in [16, 64] {
        assert_eq!(
            chunk(&mut engine, s, offset, &[1; 16]),
            Err(ErrorCode::OutOfSequence)
        );
    }
    // The session is still open, still at 32, and the stream is unchanged.
    let second = chunk(&mut engine, s, 32, &[1; 32]).unwrap();
    let whole = run(
        &mut engine,
        &Vector {
            name: "cbc".into(),
            mode: AesMode::Cbc,
            direction: AesDirection::Encrypt,
            key: KEY.to_vec(),
            iv: IV,
            input: vec![1; 64],
            output: Vec::new(),
        },
        &[],
    );
    assert_eq!([first, second].concat(), whole);
}

/// Runs `vector` cut into `piece`-byte chunks, sent in `order` (chunk indices, repeats allowed);
/// returns each chunk's answer.
fn replay<B: Backend>(
    engine: &mut Engine<B>,
    vector: &Vector,
    piece: usize,
    order: &[usize],
) -> Vec<(usize, Result<Vec<u8>, ErrorCode>)> {
    let session = start(
        engine,
        vector.direction,
        vector.mode,
        &vector.key,
        vector.iv,
    )
    .unwrap();
    order
        .iter()
        .map(|&i| {
            let at = i * piece;
            let data = &vector.input[at..(at + piece).min(vector.input.len())];
            (i, chunk(engine, session, at as u64, data))
        })
        .collect()
}

/// Replays every vector at least four pieces long (16 bytes, CFB8 1) in `order` (piece indices):
/// the `n`th request is refused with `OutOfSequence` where `refused(mode, n)`, and every other
/// answer is the vector's output for its piece.
fn replay_every_vector(order: &[usize], refused: impl Fn(AesMode, usize) -> bool) {
    let mut engine = device(Chip::Esp32C3);
    let mut checked = 0;
    for vector in all_vectors() {
        let piece = if vector.mode == AesMode::Cfb8 { 1 } else { 16 };
        if vector.input.len() < 4 * piece {
            continue;
        }
        for (n, (i, answer)) in replay(&mut engine, &vector, piece, order)
            .into_iter()
            .enumerate()
        {
            let at = i * piece;
            if refused(vector.mode, n) {
                assert_eq!(answer, Err(ErrorCode::OutOfSequence), "{}", vector.name);
            } else {
                assert_eq!(
                    answer.unwrap_or_else(|e| panic!("{}: chunk {i} refused: {e:?}", vector.name)),
                    vector.output[at..at + piece],
                    "{}: chunk {i}",
                    vector.name
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} vectors long enough");
}

#[test]
fn a_chunk_whose_answer_was_lost_can_be_sent_again_and_the_stream_goes_on() {
    // The answer to chunk 1 lost: the host sends 0 1 2 3, then 1, 2 and 3 again.
    replay_every_vector(&[0, 1, 2, 3, 1, 2, 3], |_, _| false);
}

#[test]
fn ecb_and_ctr_take_a_chunk_at_any_offset_cbc_and_cfb_only_where_a_chunk_ended() {
    // The request for chunk 1 lost: the host sends 0 2 3, then 1 2 3 again. CBC and CFB have no
    // chaining state for offset 2 * piece until chunk 1 is done.
    replay_every_vector(&[0, 2, 3, 1, 2, 3], |mode, n| {
        !matches!(mode, AesMode::Ecb | AesMode::Ctr) && (n == 1 || n == 2)
    });
}

#[test]
fn a_session_remembers_the_last_marks_chunk_ends_and_no_more() {
    let mut engine = device(Chip::Esp32C3);
    let s = start(&mut engine, AesDirection::Encrypt, AesMode::Cbc, &KEY, IV).unwrap();
    let chunks = super::session::MARKS as u64;
    for i in 0..chunks {
        chunk(&mut engine, s, i * 16, &[0; 16]).unwrap();
    }
    // Marks at 16 ..= 16 * MARKS: the start (0) has been forgotten, 16 is still there.
    assert_eq!(
        chunk(&mut engine, s, 0, &[0; 16]),
        Err(ErrorCode::OutOfSequence)
    );
    assert!(chunk(&mut engine, s, 16, &[0; 16]).is_ok());
}

#[test]
fn a_mark_written_again_is_the_newest_and_the_least_recently_written_goes_first() {
    let mut engine = device(Chip::Esp32C3);
    let s = start(&mut engine, AesDirection::Encrypt, AesMode::Cbc, &KEY, IV).unwrap();
    let marks = super::session::MARKS as u64;
    // Marks at 0 (the start), 16, ..., 16 * (MARKS - 1): all slots used.
    for i in 0..marks - 1 {
        chunk(&mut engine, s, i * 16, &[0; 16]).unwrap();
    }
    // The chunk at 0 again: its end mark (16) is written anew.
    chunk(&mut engine, s, 0, &[0; 16]).unwrap();
    // Two new chunk ends evict the two least recently written marks: 0, then 32.
    let last = (marks - 1) * 16;
    chunk(&mut engine, s, last, &[0; 16]).unwrap();
    chunk(&mut engine, s, last + 16, &[0; 16]).unwrap();
    for gone in [0, 32] {
        assert_eq!(
            chunk(&mut engine, s, gone, &[0; 16]),
            Err(ErrorCode::OutOfSequence),
            "mark {gone}"
        );
    }
    assert!(
        chunk(&mut engine, s, 16, &[0; 16]).is_ok(),
        "16 was renewed"
    );
}

#[test]
fn a_chunk_that_would_end_past_the_last_offset_is_refused() {
    let mut engine = device(Chip::Esp32C3);
    let s = start(&mut engine, AesDirection::Encrypt, AesMode::Ctr, &KEY, IV).unwrap();
    assert_eq!(
        chunk(&mut engine, s, u64::MAX - 8, &[0; 16]),
        Err(ErrorCode::BadArgument)
    );
    let s = start(&mut engine, AesDirection::Encrypt, AesMode::Ecb, &KEY, None).unwrap();
    assert!(chunk(&mut engine, s, u64::MAX - 16, &[0; 16]).is_ok());
}

#[test]
fn ecb_and_cbc_refuse_partial_blocks() {
    let mut engine = device(Chip::Esp32C3);
    for (mode, iv) in [(AesMode::Ecb, None), (AesMode::Cbc, IV)] {
        let s = start(&mut engine, AesDirection::Encrypt, mode, &KEY, iv).unwrap();
        assert_eq!(
            chunk(&mut engine, s, 0, &[0; 17]),
            Err(ErrorCode::BadArgument)
        );
        let s = start(&mut engine, AesDirection::Decrypt, mode, &KEY, iv).unwrap();
        assert_eq!(chunk(&mut engine, s, 0, &[0; 32]).unwrap().len(), 32);
        assert_eq!(
            chunk(&mut engine, s, 32, &[0; 8]),
            Err(ErrorCode::BadArgument)
        );
    }
}

#[test]
fn keys_and_ivs_are_checked_at_start() {
    let mut engine = device(Chip::Esp32C3);
    let d = AesDirection::Encrypt;
    for len in [0, 15, 17, 31, 33, 64] {
        assert_eq!(
            start(&mut engine, d, AesMode::Ctr, &vec![1; len], IV),
            Err(ErrorCode::BadArgument),
            "{len}-byte key"
        );
    }
    for mode in [AesMode::Cbc, AesMode::Cfb8, AesMode::Cfb128, AesMode::Ctr] {
        assert_eq!(
            start(&mut engine, d, mode, &KEY, None),
            Err(ErrorCode::BadArgument),
            "{mode:?} without an IV"
        );
    }
    assert_eq!(
        start(&mut engine, d, AesMode::Ecb, &KEY, IV),
        Err(ErrorCode::BadArgument),
        "ECB with an IV"
    );
}

#[test]
fn hello_a_new_start_and_end_session_each_end_the_stream() {
    let mut engine = device(Chip::Esp32C3);
    let d = AesDirection::Encrypt;
    let s = start(&mut engine, d, AesMode::Ctr, &KEY, IV).unwrap();
    assert!(matches!(
        decode(&call(&mut engine, RequestBody::Hello)).body,
        ResponseBody::Hello(_)
    ));
    assert_eq!(chunk(&mut engine, s, 0, &[0; 4]), Err(ErrorCode::NoSession));

    let first = start(&mut engine, d, AesMode::Ctr, &KEY, IV).unwrap();
    let second = start(&mut engine, d, AesMode::Ctr, &KEY, IV).unwrap();
    assert_ne!(first, second);
    assert_eq!(
        chunk(&mut engine, first, 0, &[0; 4]),
        Err(ErrorCode::NoSession)
    );
    assert!(chunk(&mut engine, second, 0, &[0; 4]).is_ok());
    assert_eq!(
        decode(&call(
            &mut engine,
            RequestBody::EndSession { session: second }
        ))
        .body,
        ResponseBody::SessionEnded
    );
    assert_eq!(
        chunk(&mut engine, second, 4, &[0; 4]),
        Err(ErrorCode::NoSession)
    );
    // A failed start leaves nothing open either.
    let s = start(&mut engine, d, AesMode::Ctr, &KEY, IV).unwrap();
    assert!(start(&mut engine, d, AesMode::Ctr, &KEY, None).is_err());
    assert_eq!(chunk(&mut engine, s, 0, &[0; 4]), Err(ErrorCode::NoSession));
}

#[test]
fn hello_offers_aes_with_every_key_size_and_names_the_hardware_ones() {
    for (chip, hw) in [
        (Chip::Esp32C3, 0b101),
        (Chip::Esp32C6, 0b101),
        (Chip::Esp32, 0b111),
    ] {
        let mut engine = device(chip);
        let hello = call(&mut engine, RequestBody::Hello);
        let ResponseBody::Hello(info) = decode(&hello).body else {
            panic!("no hello")
        };
        let caps = info.capabilities;
        assert!(caps.supports(ucrypto_protocol::Command::Aes));
        for size in KeySize::ALL {
            assert_ne!(caps.aes_key_sizes & size as u8, 0, "{size:?}");
        }
        assert_eq!(caps.aes_hw_key_sizes, hw, "{chip:?}");
        assert_eq!(info.self_test.aes, TestOutcome::Passed);
    }
}

/// The software backend with its AES calls counted, and faults to order.
struct Probe {
    inner: SoftwareBackend,
    /// Accelerator calls that did a block (not refused).
    blocks: usize,
    /// Flip a bit of every block the accelerator returns.
    corrupt: bool,
    /// Report a hardware failure from this many blocks on.
    fail_after: Option<usize>,
}

impl Probe {
    fn new(chip: Chip) -> Self {
        Self {
            inner: SoftwareBackend::new(chip, Seed::Fixed(1)),
            blocks: 0,
            corrupt: false,
            fail_after: None,
        }
    }

    fn block(
        &mut self,
        key: &AesKey,
        block: &mut [u8; 16],
        encrypt: bool,
    ) -> Result<(), BackendError> {
        if self.fail_after.is_some_and(|n| self.blocks >= n) {
            return Err(BackendError::Hardware);
        }
        if encrypt {
            self.inner.aes_encrypt_block(key, block)?;
        } else {
            self.inner.aes_decrypt_block(key, block)?;
        }
        self.blocks += 1;
        if self.corrupt {
            block[0] ^= 1;
        }
        Ok(())
    }
}

impl Backend for Probe {
    fn chip(&self) -> Chip {
        self.inner.chip()
    }
    fn device_id(&self) -> [u8; 6] {
        self.inner.device_id()
    }
    fn is_virtual(&self) -> bool {
        true
    }
    fn entropy(&self) -> Entropy {
        self.inner.entropy()
    }
    fn fill_random(&mut self, out: &mut [u8]) -> Result<(), BackendError> {
        self.inner.fill_random(out)
    }
    fn aes_encrypt_block(&mut self, key: &AesKey, b: &mut [u8; 16]) -> Result<(), BackendError> {
        self.block(key, b, true)
    }
    fn aes_decrypt_block(&mut self, key: &AesKey, b: &mut [u8; 16]) -> Result<(), BackendError> {
        self.block(key, b, false)
    }
    type ShaState = <SoftwareBackend as Backend>::ShaState;
    fn sha_start(&mut self, alg: HashAlg) -> Self::ShaState {
        self.inner.sha_start(alg)
    }
    fn sha_update(&mut self, state: &mut Self::ShaState, data: &[u8]) {
        self.inner.sha_update(state, data)
    }
    fn sha_finish(&mut self, state: Self::ShaState, out: &mut [u8; 32]) {
        self.inner.sha_finish(state, out)
    }
    fn rsa_mod_exp(
        &mut self,
        base: &[u32],
        exponent: &[u32],
        modulus: &Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        self.inner.rsa_mod_exp(base, exponent, modulus, out)
    }
    fn rsa_mod_mul(
        &mut self,
        a: &[u32],
        b: &[u32],
        modulus: &Modulus<'_>,
        out: &mut [u32],
    ) -> Result<(), BackendError> {
        self.inner.rsa_mod_mul(a, b, modulus, out)
    }
}

#[test]
fn blocks_run_on_the_accelerator_except_the_sizes_it_lacks() {
    let input = [0x5a; 160];
    for (chip, key_len, accelerated) in [
        (Chip::Esp32C3, 16, true),
        (Chip::Esp32C3, 24, false),
        (Chip::Esp32C3, 32, true),
        (Chip::Esp32, 24, true),
    ] {
        let mut engine = Engine::new(Probe::new(chip));
        let vector = Vector {
            name: format!("{chip:?} {key_len}"),
            mode: AesMode::Cbc,
            direction: AesDirection::Encrypt,
            key: vec![3; key_len],
            iv: IV,
            input: input.to_vec(),
            output: Vec::new(),
        };
        let before = engine.backend().blocks;
        let out = run(&mut engine, &vector, &[64]);
        let used = engine.backend().blocks - before;
        // The session's probe block, then one block per 16 bytes.
        assert_eq!(
            used,
            if accelerated { 1 + 10 } else { 0 },
            "{}",
            vector.name
        );
        // Same answer as the other engine.
        let mut other = device(if chip == Chip::Esp32 {
            Chip::Esp32C3
        } else {
            Chip::Esp32
        });
        assert_eq!(out, run(&mut other, &vector, &[]), "{}", vector.name);
    }
}

#[test]
fn a_wrong_accelerator_fails_the_self_test_and_aes_is_refused() {
    let mut probe = Probe::new(Chip::Esp32C3);
    probe.corrupt = true;
    let mut engine = Engine::new(probe);
    assert_eq!(engine.self_test().aes, TestOutcome::Failed);
    assert_eq!(
        start(&mut engine, AesDirection::Encrypt, AesMode::Ctr, &KEY, IV),
        Err(ErrorCode::SelfTestFailed)
    );
}

#[test]
fn an_accelerator_failure_mid_stream_is_internal_and_ends_the_session() {
    let mut engine = Engine::new(Probe::new(Chip::Esp32C3));
    let s = start(&mut engine, AesDirection::Encrypt, AesMode::Cbc, &KEY, IV).unwrap();
    chunk(&mut engine, s, 0, &[0; 32]).unwrap();
    let done = engine.backend().blocks;
    engine.backend.fail_after = Some(done + 1);
    assert_eq!(
        chunk(&mut engine, s, 32, &[0; 32]),
        Err(ErrorCode::Internal)
    );
    engine.backend.fail_after = None;
    assert_eq!(
        chunk(&mut engine, s, 64, &[0; 32]),
        Err(ErrorCode::NoSession)
    );
}

#[test]
fn an_empty_chunk_is_answered_empty_and_keeps_the_position() {
    let mut engine = device(Chip::Esp32C3);
    let s = start(
        &mut engine,
        AesDirection::Encrypt,
        AesMode::Cfb128,
        &KEY,
        IV,
    )
    .unwrap();
    assert_eq!(chunk(&mut engine, s, 0, &[]).unwrap(), Vec::<u8>::new());
    assert_eq!(chunk(&mut engine, s, 0, &[1; 3]).unwrap().len(), 3);
    assert_eq!(chunk(&mut engine, s, 3, &[]).unwrap(), Vec::<u8>::new());
    assert_eq!(chunk(&mut engine, s, 3, &[1; 3]).unwrap().len(), 3);
}
