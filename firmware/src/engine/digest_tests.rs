//! Digest sessions through the engine's frames, against Python's `hashlib` (OpenSSL).
use std::format;
use std::string::String;
use std::vec::Vec;

use ucrypto_protocol::{Chip, Command, ErrorCode, HashAlg, RequestBody, ResponseBody};

use super::sign::tests::{ask, engine};
use super::tests::{decode, error_code, python_lines};
use crate::Backend;

/// Block boundaries of SHA-1/224/256 (64-byte blocks, 8-byte length: one block holds 55
/// message bytes), each +-1, and a message longer than one chunk.
const LENGTHS: [usize; 15] = [
    0, 1, 54, 55, 56, 63, 64, 65, 119, 120, 127, 128, 129, 3072, 10_000,
];

fn message(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// `hashlib`'s digests of [`message`] of each length, one hex string each.
fn python_digests(alg: HashAlg, lengths: &[usize]) -> Vec<String> {
    let script = format!(
        "import hashlib\nfor n in {lengths:?}:\n    \
         print(hashlib.new('{}', bytes((i*7+3)%256 for i in range(n))).hexdigest())",
        alg.name()
    );
    python_lines(&["-c", &script])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn start<B: Backend>(e: &mut super::Engine<B>, alg: HashAlg) -> u32 {
    match decode(&ask(e, RequestBody::DigestStart { alg })).body {
        ResponseBody::SessionStarted { session } => session,
        other => panic!("{other:?}"),
    }
}

/// Streams `data` in `chunk`-byte pieces and finishes; the digest.
fn digest<B: Backend>(
    e: &mut super::Engine<B>,
    alg: HashAlg,
    data: &[u8],
    chunk: usize,
) -> Vec<u8> {
    let session = start(e, alg);
    let mut offset = 0u64;
    for piece in data.chunks(chunk) {
        let answer = ask(
            e,
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
    match decode(&ask(
        e,
        RequestBody::DigestFinish {
            session,
            length: offset,
        },
    ))
    .body
    {
        ResponseBody::Digest { data } => data.to_vec(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn digests_equal_hashlib_at_every_block_boundary() {
    let mut e = engine(Chip::Esp32C3);
    assert!(e.capabilities().supports(Command::Digest));
    for alg in [HashAlg::Sha256, HashAlg::Sha224, HashAlg::Sha1] {
        let expected = python_digests(alg, &LENGTHS);
        for (&len, want) in LENGTHS.iter().zip(&expected) {
            let data = message(len);
            for chunk in [3072, 64, 7] {
                let got = digest(&mut e, alg, &data, chunk);
                assert_eq!(got.len(), alg.digest_len());
                assert_eq!(&hex(&got), want, "{} of {len} bytes in {chunk}", alg.name());
            }
        }
    }
}

#[test]
fn a_digest_session_is_not_a_signing_session_nor_the_reverse() {
    let mut e = engine(Chip::Esp32C3);
    let session = start(&mut e, HashAlg::Sha256);
    let answer = ask(
        &mut e,
        RequestBody::SignSlot {
            session,
            length: 0,
            slot: 0,
        },
    );
    assert_eq!(error_code(&decode(&answer)), ErrorCode::NoSession);
    let session = super::sign::tests::started(&mut e);
    let answer = ask(&mut e, RequestBody::DigestFinish { session, length: 0 });
    assert_eq!(error_code(&decode(&answer)), ErrorCode::NoSession);
    // Either way the session ended.
    let answer = ask(&mut e, RequestBody::DigestFinish { session, length: 0 });
    assert_eq!(error_code(&decode(&answer)), ErrorCode::NoSession);
}

#[test]
fn a_wrong_length_is_refused_and_ends_the_session() {
    let mut e = engine(Chip::Esp32C3);
    let session = start(&mut e, HashAlg::Sha1);
    ask(
        &mut e,
        RequestBody::HashData {
            session,
            offset: 0,
            data: b"abc",
        },
    );
    let answer = ask(&mut e, RequestBody::DigestFinish { session, length: 2 });
    assert_eq!(error_code(&decode(&answer)), ErrorCode::BadArgument);
    let answer = ask(&mut e, RequestBody::DigestFinish { session, length: 3 });
    assert_eq!(error_code(&decode(&answer)), ErrorCode::NoSession);
}
