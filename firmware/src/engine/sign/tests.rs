//! Hash sessions and signing requests through the engine's frames, on the software backend.
use std::vec::Vec;

use sha2::{Digest, Sha256};
use ucrypto_protocol::{
    Chip, Command, ErrorCode, RequestBody, ResponseBody, TestOutcome, MAX_CHUNK_LEN,
};

use super::super::rsa::tests::{vectors, Recording, Vector};
use super::super::tests::{decode, error_code, exchange, frame};
use super::super::Engine;
use crate::backend::software::{Seed, SoftwareBackend};
use crate::Backend;

pub(crate) fn engine(chip: Chip) -> Engine<SoftwareBackend> {
    Engine::new(SoftwareBackend::new(chip, Seed::Fixed(7)))
}

/// Sends one request and returns the decoded answer body, owned as raw frame bytes.
pub(crate) fn ask<B: Backend>(engine: &mut Engine<B>, body: RequestBody<'_>) -> Vec<u8> {
    let mut out = exchange(engine, &frame(1, body));
    assert_eq!(out.len(), 1);
    out.remove(0)
}

pub(crate) fn started<B: Backend>(engine: &mut Engine<B>) -> u32 {
    match decode(&ask(engine, RequestBody::HashStart)).body {
        ResponseBody::SessionStarted { session } => session,
        other => panic!("{other:?}"),
    }
}

/// Streams `message` in `chunk`-byte pieces, then `SignHashed`; returns the final answer.
fn sign_streamed<B: Backend>(
    engine: &mut Engine<B>,
    v: &Vector,
    message: &[u8],
    chunk: usize,
) -> Vec<u8> {
    let session = started(engine);
    let mut offset = 0u64;
    for piece in message.chunks(chunk) {
        let answer = ask(
            engine,
            RequestBody::HashData {
                session,
                offset,
                data: piece,
            },
        );
        offset += piece.len() as u64;
        assert_eq!(
            decode(&answer).body,
            ResponseBody::HashProgress { received: offset }
        );
    }
    ask(
        engine,
        RequestBody::SignHashed {
            session,
            length: offset,
            key: v.key(),
        },
    )
}

pub(super) fn signature(answer: &[u8]) -> Vec<u8> {
    match decode(answer).body {
        ResponseBody::Signature { data } => data.to_vec(),
        other => panic!("expected a signature, got {other:?}"),
    }
}

#[test]
fn hello_reports_signing_and_passed_self_tests() {
    let e = engine(Chip::Esp32C3);
    assert!(e.capabilities().supports(Command::Sign));
    assert_eq!(e.self_test().sha256, TestOutcome::Passed);
    assert_eq!(e.self_test().rsa, TestOutcome::Passed);
}

#[test]
fn a_streamed_message_is_signed_as_python_signed_it() {
    let all = vectors();
    let mut e = engine(Chip::Esp32C3);
    // "2048 p < q" signed "\0nul\0": NUL bytes are message bytes like any other.
    let v = &all[1];
    assert_eq!(Sha256::digest(b"\0nul\0").as_slice(), v.get("digest"));
    for chunk in [1, 2, 5] {
        let answer = sign_streamed(&mut e, v, b"\0nul\0", chunk);
        assert_eq!(signature(&answer), v.get("signature"), "chunks of {chunk}");
    }
    // The empty message: no HashData at all.
    let answer = sign_streamed(&mut e, &all[0], b"", 1);
    assert_eq!(signature(&answer), all[0].get("signature"));
}

#[test]
fn a_digest_is_signed_as_given() {
    let all = vectors();
    let v = all.iter().find(|v| v.name == "4096").unwrap();
    let mut e = engine(Chip::Esp32);
    let answer = ask(
        &mut e,
        RequestBody::SignDigest {
            digest: v.digest(),
            key: v.key(),
        },
    );
    assert_eq!(signature(&answer), v.get("signature"));
}

#[test]
fn a_4096_bit_key_signs_on_the_esp32c3_as_python_does() {
    let all = vectors();
    let v = all.iter().find(|v| v.name == "4096").unwrap();
    let mut e = engine(Chip::Esp32C3);
    let answer = ask(
        &mut e,
        RequestBody::SignDigest {
            digest: v.digest(),
            key: v.key(),
        },
    );
    match decode(&answer).body {
        ResponseBody::Signature { data } => assert_eq!(data, v.get("signature")),
        other => panic!("not a signature: {other:?}"),
    }
}

/// A re-sent chunk keeps the session: one wholly before where the message stands is answered
/// with the current position and not hashed again, one ahead of it or straddling it is refused
/// with nothing changed, and the signature is that of the message sent once (Python's vector).
#[test]
fn a_re_sent_or_out_of_place_chunk_keeps_the_hash_session() {
    let all = vectors();
    let v = &all[0];
    let message = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut e = engine(Chip::Esp32C3);
    let session = started(&mut e);
    let send = |e: &mut Engine<SoftwareBackend>, offset: usize, len: usize| {
        let answer = ask(
            e,
            RequestBody::HashData {
                session,
                offset: offset as u64,
                data: &message[offset..offset + len],
            },
        );
        match decode(&answer).body {
            ResponseBody::HashProgress { received } => Ok(received),
            _ => Err(error_code(&decode(&answer))),
        }
    };
    assert_eq!(send(&mut e, 0, 10), Ok(10));
    assert_eq!(send(&mut e, 10, 10), Ok(20));
    // The answers were lost: both chunks again, acknowledged where the message stands.
    assert_eq!(send(&mut e, 0, 10), Ok(20));
    assert_eq!(send(&mut e, 10, 10), Ok(20));
    // A chunk ahead (the one before it lost) and one straddling the position: refused, kept.
    assert_eq!(send(&mut e, 25, 5), Err(ErrorCode::OutOfSequence));
    assert_eq!(send(&mut e, 15, 10), Err(ErrorCode::OutOfSequence));
    assert_eq!(send(&mut e, 20, 16), Ok(36));
    let answer = ask(
        &mut e,
        RequestBody::SignHashed {
            session,
            length: message.len() as u64,
            key: v.key(),
        },
    );
    let expected = ask(
        &mut e,
        RequestBody::SignDigest {
            digest: Sha256::digest(message).into(),
            key: v.key(),
        },
    );
    assert_eq!(signature(&answer), signature(&expected));
}

#[test]
fn sign_hashed_checks_the_length_and_ends_the_session() {
    let all = vectors();
    let mut e = engine(Chip::Esp32C3);
    let session = started(&mut e);
    let data = [1u8; MAX_CHUNK_LEN];
    let chunk = RequestBody::HashData {
        session,
        offset: 0,
        data: &data,
    };
    decode(&ask(&mut e, chunk));
    let short = RequestBody::SignHashed {
        session,
        length: 3,
        key: all[0].key(),
    };
    assert_eq!(
        error_code(&decode(&ask(&mut e, short))),
        ErrorCode::BadArgument
    );
    let again = RequestBody::SignHashed {
        session,
        length: MAX_CHUNK_LEN as u64,
        key: all[0].key(),
    };
    assert_eq!(
        error_code(&decode(&ask(&mut e, again))),
        ErrorCode::NoSession
    );
}

#[test]
fn a_fault_in_the_accelerator_is_answered_fault_detected() {
    let all = vectors();
    let mut e = Engine::new(Recording::new(None));
    assert_eq!(e.self_test().rsa, TestOutcome::Passed);
    // Arm the fault after the start-up self-test: the first exponentiation of the next
    // signature (m1 = c^dp mod p) comes back with one bit flipped.
    e.backend.calls.clear();
    e.backend.corrupt = Some(0);
    let answer = sign_streamed(&mut e, &all[0], b"", 1);
    assert_eq!(error_code(&decode(&answer)), ErrorCode::FaultDetected);
}

#[test]
fn a_faulty_accelerator_fails_the_self_test_and_signing_is_refused() {
    let all = vectors();
    let mut e = Engine::new(Recording::new(Some(0)));
    assert_eq!(e.self_test().rsa, TestOutcome::Failed);
    let answer = ask(
        &mut e,
        RequestBody::SignDigest {
            digest: all[0].digest(),
            key: all[0].key(),
        },
    );
    assert_eq!(error_code(&decode(&answer)), ErrorCode::SelfTestFailed);
    let answer = ask(&mut e, RequestBody::HashStart);
    assert_eq!(error_code(&decode(&answer)), ErrorCode::SelfTestFailed);
}
