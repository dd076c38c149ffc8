//! The `ucrypto` library without its command line: connect with plain options, drive devices
//! from several threads, AES piece by piece, signatures; results checked against openssl.
mod common;

use std::sync::Barrier;

use common::{openssl_run, rsa_key, temp_dir};
use ucrypto::{connect, AesChain, Client, ConnectOptions, ErrorKind, Port, Progress, SigningKey};
use ucrypto_protocol::{AesDirection, AesMode, Chip};

fn assert_send<T: Send>() {}

#[test]
fn a_client_and_its_options_can_move_to_another_thread() {
    assert_send::<Client>();
    assert_send::<ConnectOptions>();
    assert_send::<SigningKey>();
    assert_send::<AesChain>();
}

fn sim() -> Client {
    connect(&ConnectOptions::new(Port::Sim(Chip::Esp32C3))).expect("a virtual device connects")
}

/// The bytes of `openssl enc` for the same operation, as an independent reference.
fn openssl_aes(
    direction: AesDirection,
    mode: AesMode,
    key: &[u8],
    iv: Option<[u8; 16]>,
    input: &[u8],
) -> Vec<u8> {
    let cipher = match mode {
        AesMode::Ecb => "ecb",
        AesMode::Cbc => "cbc",
        AesMode::Cfb8 => "cfb8",
        AesMode::Cfb128 => "cfb",
        AesMode::Ctr => "ctr",
    };
    let name = format!("-aes-{}-{cipher}", key.len() * 8);
    let key_hex = hex::encode(key);
    let mut args = vec!["enc", name.as_str(), "-nopad", "-K", key_hex.as_str()];
    if direction == AesDirection::Decrypt {
        args.push("-d");
    }
    let iv_hex = iv.map(hex::encode);
    if let Some(iv) = &iv_hex {
        args.extend(["-iv", iv.as_str()]);
    }
    openssl_run(&args, input)
}

/// Uneven pieces, so updates start and end inside blocks.
const PIECES: [usize; 6] = [1, 15, 17, 300, 0, 5];

fn through_session(
    client: &mut Client,
    direction: AesDirection,
    mode: AesMode,
    key: &[u8],
    iv: Option<[u8; 16]>,
    input: &[u8],
) -> Vec<u8> {
    let mut session = client
        .aes_session(direction, mode, key, iv)
        .expect("a session opens");
    let mut output = Vec::new();
    let mut rest = input;
    for n in PIECES {
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        output.extend(session.update(piece).expect("an update verifies"));
        rest = tail;
    }
    output.extend(session.update(rest).expect("an update verifies"));
    output.extend(session.finish().expect("the session ends"));
    output
}

#[test]
fn an_aes_session_continues_the_chain_across_updates_as_openssl_does() {
    let mut client = sim();
    let key: Vec<u8> = (0u8..32).map(|b| b.wrapping_mul(37)).collect();
    let iv = Some(*b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\xff\xfe");
    let plain: Vec<u8> = (0..1008u32).map(|i| (i * 7 + 3) as u8).collect();
    for (mode, iv, len) in [
        (AesMode::Ecb, None, 1008),
        (AesMode::Cbc, iv, 1008),
        (AesMode::Cfb8, iv, 1001),
        (AesMode::Cfb128, iv, 1001),
        (AesMode::Ctr, iv, 1001),
    ] {
        for key in [&key[..16], &key[..32]] {
            let plain = &plain[..len];
            let cipher = through_session(&mut client, AesDirection::Encrypt, mode, key, iv, plain);
            assert_eq!(
                cipher,
                openssl_aes(AesDirection::Encrypt, mode, key, iv, plain),
                "{mode:?} AES-{} encryption",
                key.len() * 8
            );
            let back = through_session(&mut client, AesDirection::Decrypt, mode, key, iv, &cipher);
            assert_eq!(back, plain, "{mode:?} decryption");
        }
    }
}

#[test]
fn an_aes_session_refuses_a_partial_block_in_cbc_and_outputs_whole_blocks() {
    let mut client = sim();
    let mut session = client
        .aes_session(AesDirection::Encrypt, AesMode::Cbc, &[7; 16], Some([0; 16]))
        .unwrap();
    assert_eq!(
        session.update(&[1; 20]).unwrap().len(),
        16,
        "one whole block so far"
    );
    let err = session.finish().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Input, "{err}");
    assert!(err.to_string().contains("4 bytes into a block"), "{err}");
}

#[test]
fn cfb128_and_ctr_return_every_byte_at_once_and_continue_mid_block() {
    let mut client = sim();
    let key = [9u8; 16];
    let iv = Some([3u8; 16]);
    let plain: Vec<u8> = (0..61u8).collect();
    for mode in [AesMode::Cfb8, AesMode::Cfb128, AesMode::Ctr] {
        let mut session = client
            .aes_session(AesDirection::Encrypt, mode, &key, iv)
            .unwrap();
        let mut cipher = Vec::new();
        for piece in [&plain[..5], &plain[5..21], &plain[21..22], &plain[22..]] {
            let out = session.update(piece).unwrap();
            assert_eq!(out.len(), piece.len(), "{mode:?}: every byte at once");
            cipher.extend(out);
        }
        assert!(session.finish().unwrap().is_empty());
        assert_eq!(
            cipher,
            openssl_aes(AesDirection::Encrypt, mode, &key, iv, &plain),
            "{mode:?}"
        );
    }
}

/// The device holds one session at a time: two chains on one client take turns, each opened
/// again where it stood (mid-block too), and both still equal openssl.
#[test]
fn two_chains_on_one_client_take_turns_mid_block() {
    let mut client = sim();
    let plain: Vec<u8> = (0..200u32).map(|i| (i * 13 + 1) as u8).collect();
    for mode in [AesMode::Cbc, AesMode::Cfb8, AesMode::Cfb128, AesMode::Ctr] {
        let (key_a, key_b) = ([1u8; 16], [2u8; 32]);
        let (iv_a, iv_b) = (Some([0xaa; 16]), Some([0xff; 16]));
        let mut a = AesChain::open(&mut client, AesDirection::Encrypt, mode, &key_a, iv_a).unwrap();
        let mut b = AesChain::open(&mut client, AesDirection::Decrypt, mode, &key_b, iv_b).unwrap();
        let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
        for piece in plain.chunks(7) {
            out_a.extend(a.update(&mut client, piece).unwrap());
            out_b.extend(b.update(&mut client, piece).unwrap());
        }
        // 200 bytes: CBC holds the last 8 (ECB and CBC take whole blocks).
        out_a.extend(a.update(&mut client, &[0; 8]).unwrap());
        out_b.extend(b.update(&mut client, &[0; 8]).unwrap());
        a.finish(&mut client).unwrap();
        b.finish(&mut client).unwrap();
        let len = out_a.len();
        let mut input = plain.clone();
        input.extend([0; 8]);
        input.truncate(len);
        assert_eq!(
            out_a,
            openssl_aes(AesDirection::Encrypt, mode, &key_a, iv_a, &input),
            "{mode:?} a"
        );
        assert_eq!(
            out_b,
            openssl_aes(AesDirection::Decrypt, mode, &key_b, iv_b, &input),
            "{mode:?} b"
        );
    }
}

/// Counts what the library reports.
#[derive(Default)]
struct Counted {
    total: Option<u64>,
    advanced: u64,
    finished: bool,
}

impl Progress for Counted {
    fn start(&mut self, total: Option<u64>) {
        self.total = total;
    }
    fn advance(&mut self, bytes: u64) {
        self.advanced += bytes;
    }
    fn finish(&mut self) {
        self.finished = true;
    }
}

#[test]
fn random_bits_come_rounded_up_and_progress_is_reported() {
    let mut client = sim();
    assert_eq!(
        client.rand(100).unwrap().len(),
        16,
        "100 bits round up to 128"
    );
    let mut progress = Counted::default();
    let mut data = Vec::new();
    let bytes = client
        .rand_into(
            80_000,
            &mut |piece| {
                data.extend_from_slice(piece);
                Ok(())
            },
            &mut progress,
        )
        .unwrap();
    assert_eq!(bytes, 10_000);
    assert_eq!(data.len(), 10_000);
    assert_eq!(progress.total, Some(10_000));
    assert_eq!(progress.advanced, 10_000);
    assert!(progress.finished);
    assert_eq!(client.rand(0).unwrap_err().kind(), ErrorKind::Input);
}

#[test]
fn two_virtual_devices_work_at_once_from_two_threads() {
    let barrier = Barrier::new(2);
    let key = [0x5a; 16];
    let counter = [0xff; 16];
    let plain = vec![0x42u8; 70_000];
    let results: Vec<(String, Vec<u8>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    let mut client = sim();
                    // Both connected before either works, so the work overlaps.
                    barrier.wait();
                    let id = client.info().device_id_string();
                    assert_eq!(client.rand(64 * 1024 * 8).unwrap().len(), 64 * 1024);
                    let mut output = Vec::new();
                    let job = ucrypto::operations::aes_stream::AesJob {
                        direction: AesDirection::Encrypt,
                        mode: AesMode::Ctr,
                        key: &key,
                        iv: Some(counter),
                        pkcs7: false,
                        verify: true,
                    };
                    let summary = client
                        .aes_stream(
                            &job,
                            &mut &plain[..],
                            Some(plain.len() as u64),
                            &mut output,
                            &mut ucrypto::NoProgress,
                        )
                        .unwrap();
                    assert_eq!(summary.output_bytes, plain.len() as u64);
                    (id, output)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a worker finishes"))
            .collect()
    });
    assert_ne!(results[0].0, results[1].0, "two devices, two ids");
    let expected = openssl_aes(
        AesDirection::Encrypt,
        AesMode::Ctr,
        &key,
        Some(counter),
        &plain,
    );
    assert_eq!(results[0].1, expected);
    assert_eq!(results[1].1, expected);
}

#[test]
fn a_signature_from_the_library_verifies_with_openssl() {
    let dir = temp_dir();
    let key_path = dir.path().join("key.pem");
    let key_file = rsa_key(&key_path);
    let public = dir.path().join("pub.pem").display().to_string();
    openssl_run(&["pkey", "-in", &key_file, "-pubout", "-out", &public], b"");
    let key = SigningKey::read(&key_path, None).unwrap();
    let mut client = sim();
    let message = b"a message signed through the library".repeat(100);
    let signed = client.sign_message(&key, &mut &message[..]).unwrap();
    assert!(signed.hashed_on_device);
    let signature = dir.path().join("sig");
    std::fs::write(&signature, &signed.signature).unwrap();
    let sig = signature.display().to_string();
    let out = openssl_run(
        &["dgst", "-sha256", "-verify", &public, "-signature", &sig],
        &message,
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "Verified OK");
    // The same digest signed directly gives the same (deterministic PKCS#1 v1.5) signature.
    let again = client.sign_digest(&key, signed.digest).unwrap();
    assert_eq!(again.signature, signed.signature);
}

#[test]
fn a_jwt_from_the_library_verifies_with_the_jsonwebtoken_crate() {
    #[derive(serde::Deserialize)]
    struct Claims {
        aud: String,
        iat: u64,
        exp: u64,
    }
    let dir = temp_dir();
    let key_path = dir.path().join("key.pem");
    let key_file = rsa_key(&key_path);
    let public = openssl_run(&["pkey", "-in", &key_file, "-pubout"], b"");
    let key = SigningKey::read(&key_path, None).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jwt = sim()
        .jwt(&key, r#"{"aud":"line-3"}"#, Some(600), now)
        .unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["line-3"]);
    let data =
        jsonwebtoken::decode::<Claims>(&jwt.token, &decoding, &validation).expect("a valid JWT");
    assert_eq!(data.claims.aud, "line-3");
    assert_eq!((data.claims.iat, data.claims.exp), (now, now + 600));
}

#[test]
fn options_read_the_port_strings_of_the_command_line() {
    assert_eq!(
        "sim:esp32c6".parse::<Port>().unwrap(),
        Port::Sim(Chip::Esp32C6)
    );
    let err = "sim:esp99".parse::<Port>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Input);
    let missing = ConnectOptions::new(Port::Path("/nonexistent/ttyUCRYPTO".into()));
    assert_eq!(
        connect(&missing).err().expect("no such port").kind(),
        ErrorKind::Transport
    );
}

#[test]
fn the_health_tests_run_over_the_whole_connection_not_per_request() {
    let mut client = sim();
    for _ in 0..3 {
        assert_eq!(client.rand(32).unwrap().len(), 4);
    }
    // Three 4-byte requests are tested as one 12-byte stream: a stuck byte spread over several
    // small requests is still seen.
    assert_eq!(client.random_health().tested(), 12);
    // The state is the client's: feeding it a run that straddles what came before fails.
    let mut health = client.random_health().clone();
    assert!(health.feed(&[0x5a; 5]).is_ok());
    assert!(health.feed(&[0x5a]).is_err());
}

#[test]
fn a_closed_chain_refuses_further_input() {
    let mut client = sim();
    let mut chain = AesChain::open(
        &mut client,
        AesDirection::Encrypt,
        AesMode::Ctr,
        &[5; 16],
        Some([0; 16]),
    )
    .unwrap();
    assert_eq!(chain.update(&mut client, b"some").unwrap().len(), 4);
    chain.close(&mut client);
    let err = chain.update(&mut client, b"more").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Input, "{err}");
    assert!(err.to_string().contains("has ended"), "{err}");
}
