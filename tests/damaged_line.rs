//! Long streams across a damaged line: with losses found within a round trip and chunks that
//! shrink, AES streams of hundreds of KiB and `rand 4096` complete on a line that damages about
//! one byte in a thousand, and every byte equals openssl's. Correctness only; the speed is in
//! docs/performance.md.
mod common;

use common::*;

const KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const COUNTER: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

fn data(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i * 131 + usize::from(salt)) as u8)
        .collect()
}

/// Streams `len` bytes through AES-128-CTR on `sim` and checks the output against openssl.
fn ctr_stream_is_exact(sim: &Sim, len: usize, salt: u8) {
    stream_is_exact(sim, "encrypt", "ctr", &[], len, salt);
}

/// Streams `len` bytes through AES-128 in `mode` (`extra`: more `ucrypto aes` arguments, such as
/// padding) on `sim` and checks the output against `openssl enc` of the same data.
fn stream_is_exact(sim: &Sim, direction: &str, mode: &str, extra: &[&str], len: usize, salt: u8) {
    let dir = temp_dir();
    let input = dir.path().join("in");
    let output = dir.path().join("out");
    let plain = data(len, salt);
    std::fs::write(&input, &plain).unwrap();
    let iv_flag = if mode == "ctr" { "--counter" } else { "--iv" };
    let (input_arg, output_arg) = (input.display().to_string(), output.display().to_string());
    let mut args = vec![
        "aes",
        direction,
        "--mode",
        mode,
        "--key",
        KEY,
        iv_flag,
        COUNTER,
        "-i",
        &input_arg,
        "-o",
        &output_arg,
    ];
    args.extend_from_slice(extra);
    let out = sim.run(&args);
    assert_exit(&out, 0);
    let cipher = format!("-aes-128-{}", if mode == "cfb128" { "cfb" } else { mode });
    let mut openssl = vec!["enc", &cipher, "-K", KEY, "-iv", COUNTER];
    if direction == "decrypt" {
        openssl.push("-d");
    }
    if mode == "cbc" && extra.is_empty() {
        openssl.push("-nopad");
    }
    let expected = openssl_run(&openssl, &plain);
    assert!(
        std::fs::read(&output).unwrap() == expected,
        "AES-128-{mode} {direction} output differs from openssl's"
    );
}

#[test]
fn aes_streams_and_rand_complete_exactly_on_a_line_damaging_one_byte_in_a_thousand() {
    let sim = Sim::start(&["--faults", "flip=0.0005,drop=0.0005,seed=21"]);
    for salt in 0..3 {
        ctr_stream_is_exact(&sim, 192 * 1024, salt);
    }
    let out = sim.run(&["rand", "32768", "-f", "hex"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim().len(), 8192);
}

#[test]
fn an_aes_stream_completes_exactly_on_a_line_damaging_one_byte_in_250() {
    let sim = Sim::start(&["--faults", "flip=0.002,drop=0.002,seed=22"]);
    ctr_stream_is_exact(&sim, 64 * 1024, 9);
}

#[test]
fn chained_modes_go_back_to_the_lost_chunk_and_stay_exact() {
    // CBC and CFB cannot seek: a lost request costs the chunks behind it, a lost answer only
    // itself (the session goes back to the chunk's start, protocol section 6).
    let sim = Sim::start(&["--faults", "flip=0.0005,drop=0.0005,seed=23"]);
    stream_is_exact(
        &sim,
        "encrypt",
        "cbc",
        &["--pad", "pkcs7"],
        96 * 1024 + 5,
        1,
    );
    stream_is_exact(&sim, "decrypt", "cbc", &[], 96 * 1024, 2);
    stream_is_exact(&sim, "encrypt", "cfb8", &[], 48 * 1024 + 3, 3);
    stream_is_exact(&sim, "decrypt", "cfb128", &[], 48 * 1024 + 7, 4);
}

/// The in-process virtual device behind a line that loses exactly one chosen frame: the `n`th
/// stream chunk (`AesData` or `HashData`, from 1) before it reaches the device, or the device's
/// answer to it. It counts what the line carried.
struct OneLoss {
    device: ucrypto::transport::VirtualTransport,
    answers: std::collections::VecDeque<u8>,
    lose_request: Option<u32>,
    lose_answer: Option<u32>,
    chunks: u32,
    /// Sessions started (`AesStart`, `HashStart`).
    starts: u32,
    /// Input bytes carried in `AesData` and `HashData` requests.
    carried: usize,
}

impl OneLoss {
    fn new(lose_request: Option<u32>, lose_answer: Option<u32>) -> Self {
        Self {
            device: ucrypto::transport::VirtualTransport::new(
                ucrypto_protocol::Chip::Esp32C3,
                ucrypto_firmware::backend::software::Seed::Fixed(1),
            ),
            answers: Default::default(),
            lose_request,
            lose_answer,
            chunks: 0,
            starts: 0,
            carried: 0,
        }
    }
}

impl ucrypto::transport::Transport for OneLoss {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), ucrypto::TransportError> {
        use ucrypto_protocol::{FrameDecoder, Request, RequestBody};
        // The client writes one whole frame at a time.
        let mut decoder: Box<FrameDecoder> = Box::new(FrameDecoder::new());
        let (_, frame) = decoder.push(bytes);
        let message = frame.expect("one frame").expect("a good frame");
        let request: Request<'_> = postcard::from_bytes(message).expect("a request");
        let mut nth = None;
        match request.body {
            RequestBody::AesData { data, .. } | RequestBody::HashData { data, .. } => {
                self.chunks += 1;
                self.carried += data.len();
                nth = Some(self.chunks);
            }
            RequestBody::AesStart { .. } | RequestBody::HashStart => self.starts += 1,
            _ => {}
        }
        if nth.is_some() && nth == self.lose_request {
            return Ok(());
        }
        self.device.write_all(bytes)?;
        let mut answer = vec![0; 8192];
        let n = self.device.read(&mut answer, std::time::Duration::ZERO)?;
        if nth.is_none() || nth != self.lose_answer {
            self.answers.extend(&answer[..n]);
        }
        Ok(())
    }

    fn read(
        &mut self,
        buf: &mut [u8],
        timeout: std::time::Duration,
    ) -> Result<usize, ucrypto::TransportError> {
        if self.answers.is_empty() {
            std::thread::sleep(timeout);
            return Ok(0);
        }
        let n = buf.len().min(self.answers.len());
        for (dst, src) in buf.iter_mut().zip(self.answers.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }

    fn discard_input(&mut self) -> Result<(), ucrypto::TransportError> {
        self.answers.clear();
        Ok(())
    }

    fn describe(&self) -> String {
        "sim behind a lossy line".into()
    }
}

/// Streams 40 000 bytes (14 chunks of at most 3072) through `mode` on a line that loses one
/// frame, checks the output against openssl, and returns the line's counts.
fn stream_with_one_loss(mode: &str, line: OneLoss) -> OneLoss {
    use ucrypto_protocol::{AesDirection, AesMode};
    let plain = data(40_000, 5);
    let (aes_mode, cipher) = match mode {
        "ctr" => (AesMode::Ctr, "-aes-128-ctr"),
        _ => (AesMode::Cbc, "-aes-128-cbc"),
    };
    let key = hex::decode(KEY).unwrap();
    let iv: [u8; 16] = hex::decode(COUNTER).unwrap().try_into().unwrap();
    let mut client =
        ucrypto::Client::connect(line, std::time::Duration::from_secs(2)).expect("connects");
    let job = ucrypto::operations::aes_stream::AesJob {
        direction: AesDirection::Encrypt,
        mode: aes_mode,
        key: &key,
        iv: Some(iv),
        pkcs7: false,
        verify: true,
    };
    let mut output = Vec::new();
    client
        .aes_stream(
            &job,
            &mut &plain[..],
            Some(plain.len() as u64),
            &mut output,
            &mut ucrypto::NoProgress,
        )
        .expect("the stream completes");
    let mut args = vec!["enc", cipher, "-K", KEY, "-iv", COUNTER];
    if mode == "cbc" {
        args.push("-nopad");
    }
    assert!(
        output == openssl_run(&args, &plain),
        "{mode} output differs from openssl's"
    );
    std::mem::replace(client.transport_mut(), OneLoss::new(None, None))
}

#[test]
fn a_lost_answer_costs_its_own_chunk_only() {
    // Selective repeat (protocol section 7.1): the answers after the lost one are kept, the
    // session goes back to the chunk's start, and only that chunk crosses the line again.
    for mode in ["ctr", "cbc"] {
        let line = stream_with_one_loss(mode, OneLoss::new(None, Some(3)));
        assert_eq!(
            line.carried,
            40_000 + 3072,
            "{mode}: the lost chunk alone again"
        );
        assert_eq!(line.starts, 1, "{mode}: one session throughout");
    }
}

#[test]
fn a_lost_request_costs_its_own_chunk_in_ctr_and_the_window_behind_it_in_cbc() {
    let ctr = stream_with_one_loss("ctr", OneLoss::new(Some(3), None));
    assert_eq!(
        ctr.carried,
        40_000 + 3072,
        "CTR: the lost chunk alone again"
    );
    assert_eq!(ctr.starts, 1);
    // CBC cannot go forward past the missing chunk: the three sent behind it are refused
    // (OutOfSequence, the session unchanged) and go again after it.
    let cbc = stream_with_one_loss("cbc", OneLoss::new(Some(3), None));
    assert!(
        cbc.carried > 40_000 + 3072 && cbc.carried <= 40_000 + 4 * 3072,
        "CBC carried {} bytes",
        cbc.carried
    );
    assert_eq!(cbc.starts, 1, "CBC: one session throughout");
}

/// Signs 40 000 bytes (14 chunks) with a sent key through a line that loses one frame, checks
/// the signature with openssl, and returns the line's counts.
fn sign_with_one_loss(line: OneLoss) -> OneLoss {
    let dir = temp_dir();
    let key_path = dir.path().join("key.pem");
    let key_file = rsa_key(&key_path);
    let public = dir.path().join("pub.pem").display().to_string();
    openssl_run(&["pkey", "-in", &key_file, "-pubout", "-out", &public], b"");
    let key = ucrypto::SigningKey::read(&key_path, None).unwrap();
    let message = data(40_000, 6);
    let mut client =
        ucrypto::Client::connect(line, std::time::Duration::from_secs(2)).expect("connects");
    let signed = client
        .sign_message(&key, &mut &message[..])
        .expect("the signature completes");
    assert!(
        signed.hashed_on_device,
        "the device's hash survived the loss"
    );
    let signature = dir.path().join("sig");
    std::fs::write(&signature, &signed.signature).unwrap();
    let sig = signature.display().to_string();
    let out = openssl_run(
        &["dgst", "-sha256", "-verify", &public, "-signature", &sig],
        &message,
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "Verified OK");
    std::mem::replace(client.transport_mut(), OneLoss::new(None, None))
}

#[test]
fn a_hash_session_survives_a_lost_chunk_or_answer() {
    // A lost answer: the window is sent again; the device answers the chunks it hashed with
    // where the message stands and hashes the rest: one session, the whole message hashed once.
    let lost_answer = sign_with_one_loss(OneLoss::new(None, Some(3)));
    assert_eq!(lost_answer.starts, 1, "one hash session throughout");
    assert!(
        lost_answer.carried > 40_000 && lost_answer.carried <= 40_000 + 4 * 3072,
        "carried {} bytes",
        lost_answer.carried
    );
    // A lost request: the chunks behind it are refused (OutOfSequence, the session unchanged)
    // and go again after it.
    let lost_request = sign_with_one_loss(OneLoss::new(Some(3), None));
    assert_eq!(lost_request.starts, 1, "one hash session throughout");
    assert!(
        lost_request.carried > 40_000 && lost_request.carried <= 40_000 + 4 * 3072,
        "carried {} bytes",
        lost_request.carried
    );
}
