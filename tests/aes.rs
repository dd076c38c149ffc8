//! End-to-end tests of `ucrypto aes` against `ucrypto sim` on a pseudo-terminal: every mode and
//! key size round-trips, the output matches `openssl enc`, and bad input fails cleanly.
mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Output, Stdio};

use common::*;
use ucrypto_firmware::backend::software::Seed;
use ucrypto_firmware::{Engine, SoftwareBackend};
use ucrypto_protocol::frame::encode_frame_vec;
use ucrypto_protocol::{Chip, FrameDecoder, Response, ResponseBody};

const SIZES: [usize; 6] = [0, 1, 15, 16, 17, 4096];

/// A key of `bits` bits, as hex.
fn key(bits: usize) -> String {
    (0..bits / 8)
        .map(|i| format!("{:02x}", i * 7 + 1))
        .collect()
}

const IV: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/// Deterministic test data (not all zeros, so a dropped chunk shows).
fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

/// `--iv` or `--counter` for `mode`.
fn iv_args(mode: &str) -> Vec<&'static str> {
    match mode {
        "ecb" => vec![],
        "ctr" => vec!["--counter", IV],
        _ => vec!["--iv", IV],
    }
}

/// `ucrypto --port PORT aes DIRECTION --mode MODE --key KEY [IV] EXTRA -i IN -o OUT`.
fn aes(
    port: &str,
    direction: &str,
    mode: &str,
    key: &str,
    extra: &[&str],
    input: &Path,
    output: &Path,
) -> Output {
    let mut cmd = ucrypto();
    cmd.args([
        "--port", port, "aes", direction, "--mode", mode, "--key", key,
    ]);
    cmd.args(iv_args(mode)).args(extra);
    cmd.arg("-i").arg(input).arg("-o").arg(output);
    cmd.output().expect("ucrypto runs")
}

/// The same through stdin and stdout.
fn aes_piped(port: &str, args: &[&str], input: &[u8]) -> Output {
    let mut child = ucrypto()
        .args(["--port", port, "aes"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ucrypto runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        // The command may stop reading early (an error): a broken pipe is fine.
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("ucrypto ends");
    writer.join().unwrap();
    out
}

/// `openssl enc` for the same job, or None without openssl.
fn openssl(mode: &str, bits: usize, key: &str, input: &[u8]) -> Option<Vec<u8>> {
    let cipher = match mode {
        "cfb128" => format!("-aes-{bits}-cfb"),
        m => format!("-aes-{bits}-{m}"),
    };
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(["enc", &cipher, "-K", key, "-nopad"]);
    if mode != "ecb" {
        cmd.args(["-iv", IV]);
    }
    let mut child = match cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(_) => return None,
    };
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "openssl enc {cipher} failed");
    Some(out.stdout)
}

fn have_openssl() -> bool {
    let found = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("note: openssl is not installed; the comparisons with openssl enc are skipped");
    }
    found
}

/// Every key size and size through one mode: encrypt, compare with openssl, decrypt back.
fn round_trips(mode: &str) {
    let sim = Sim::start(&[]);
    let dir = temp_dir();
    let openssl_here = have_openssl();
    let block_mode = matches!(mode, "ecb" | "cbc");
    for bits in [128, 192, 256] {
        let key = key(bits);
        for size in SIZES {
            // ECB and CBC: whole blocks as they are; other sizes with PKCS#7 padding.
            let pad: &[&str] = if block_mode && size % 16 != 0 {
                &["--pad", "pkcs7"]
            } else {
                &[]
            };
            let what = format!("{mode} {bits} {size} bytes {pad:?}");
            let plain = data(size);
            let (p, c, back) = (
                dir.path().join("p"),
                dir.path().join("c"),
                dir.path().join("back"),
            );
            std::fs::write(&p, &plain).unwrap();
            let out = aes(&sim.port, "encrypt", mode, &key, pad, &p, &c);
            assert_exit(&out, 0);
            let cipher = std::fs::read(&c).unwrap();
            let padded_len = if pad.is_empty() {
                size
            } else {
                size / 16 * 16 + 16
            };
            assert_eq!(cipher.len(), padded_len, "{what}");
            if openssl_here {
                let mut openssl_input = plain.clone();
                if !pad.is_empty() {
                    let n = padded_len - size;
                    openssl_input.extend(std::iter::repeat_n(n as u8, n));
                }
                assert_eq!(
                    Some(cipher.clone()),
                    openssl(mode, bits, &key, &openssl_input),
                    "{what}: openssl enc differs"
                );
            }
            let out = aes(&sim.port, "decrypt", mode, &key, pad, &c, &back);
            assert_exit(&out, 0);
            assert_eq!(
                std::fs::read(&back).unwrap(),
                plain,
                "{what}: decrypt gives the input back"
            );
        }
    }
}

#[test]
fn ecb_round_trips_every_key_size_and_matches_openssl() {
    round_trips("ecb");
}

#[test]
fn cbc_round_trips_every_key_size_and_matches_openssl() {
    round_trips("cbc");
}

#[test]
fn cfb8_round_trips_every_key_size_and_matches_openssl() {
    round_trips("cfb8");
}

#[test]
fn cfb128_round_trips_every_key_size_and_matches_openssl() {
    round_trips("cfb128");
}

#[test]
fn ctr_round_trips_every_key_size_and_matches_openssl() {
    round_trips("ctr");
}

#[test]
fn a_multi_megabyte_stream_through_stdin_and_stdout_round_trips() {
    // 2 MiB plus a partial block: about 700 chunks, pipelined (CTR); CBC with padding over a
    // shorter stream (every mode crosses chunk boundaries in the round trips above).
    let sim = Sim::start(&["--chip", "esp32c6"]);
    for (mode, bits, len) in [
        ("ctr", 256, 2 * 1024 * 1024 + 5),
        ("cbc", 192, 256 * 1024 + 3),
    ] {
        let plain = data(len);
        let key = key(bits);
        let mut args = vec!["encrypt", "--mode", mode, "--key", &key];
        args.extend(iv_args(mode));
        if mode == "cbc" {
            args.extend(["--pad", "pkcs7"]);
        }
        let out = aes_piped(&sim.port, &args, &plain);
        assert_exit(&out, 0);
        let cipher = out.stdout;
        if mode == "ctr" && have_openssl() {
            assert_eq!(
                Some(cipher.clone()),
                openssl(mode, bits, &key, &plain),
                "{mode}"
            );
        }
        args[0] = "decrypt";
        let out = aes_piped(&sim.port, &args, &cipher);
        assert_exit(&out, 0);
        assert!(out.stdout == plain, "{mode}-{bits}: the stream comes back");
    }
}

#[test]
fn keys_come_from_files_and_the_environment_and_never_show() {
    let sim = Sim::start(&[]);
    let dir = temp_dir();
    let key_hex = key(256);
    let key_file = dir.path().join("key.bin");
    std::fs::write(&key_file, hex::decode(&key_hex).unwrap()).unwrap();
    let plain = data(100);
    let from_hex = aes_piped(
        &sim.port,
        &[
            "encrypt",
            "--mode",
            "ctr",
            "--key",
            &key_hex,
            "--counter",
            IV,
        ],
        &plain,
    );
    assert_exit(&from_hex, 0);
    // A key on the command line is visible in `ps`: one warning line naming the alternatives.
    let warned: Vec<String> = stderr(&from_hex)
        .lines()
        .filter(|l| l.contains("warning: the AES key was given on the command line"))
        .map(String::from)
        .collect();
    assert_eq!(warned.len(), 1, "{}", stderr(&from_hex));
    assert!(
        warned[0].contains("env:VAR") && warned[0].contains("@FILE"),
        "{}",
        warned[0]
    );
    let at_file = format!("@{}", key_file.display());
    let from_file = aes_piped(
        &sim.port,
        &[
            "-vv",
            "encrypt",
            "--mode",
            "ctr",
            "--key",
            &at_file,
            "--counter",
            IV,
        ],
        &plain,
    );
    assert_exit(&from_file, 0);
    assert_eq!(from_file.stdout, from_hex.stdout);
    let mut child = ucrypto()
        .args([
            "--port",
            &sim.port,
            "aes",
            "encrypt",
            "--mode",
            "ctr",
            "--key",
            "env:UCRYPTO_TEST_KEY",
            "--counter",
            IV,
        ])
        .env("UCRYPTO_TEST_KEY", &key_hex)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&plain).unwrap();
    let from_env = child.wait_with_output().unwrap();
    assert_exit(&from_env, 0);
    assert_eq!(from_env.stdout, from_hex.stdout);
    for quiet in [&from_file, &from_env] {
        assert!(!stderr(quiet).contains("command line"), "{}", stderr(quiet));
    }

    // -vv shows every frame, but never the key.
    let log = stderr(&from_file);
    assert!(
        log.contains("AesStart") && log.contains("256-bit key"),
        "{log}"
    );
    let key_bytes = hex::decode(&key_hex).unwrap();
    for shown in [
        key_hex.clone(),
        key_hex.to_uppercase(),
        format!("{key_bytes:?}"),
    ] {
        assert!(!log.contains(&shown), "the key appeared in the log");
    }
}

#[test]
fn json_reports_the_job_and_carries_the_data() {
    let sim = Sim::start(&[]);
    let key = key(128);
    let out = aes_piped(
        &sim.port,
        &[
            "encrypt", "--mode", "cfb8", "--key", &key, "--iv", IV, "--format", "base64",
        ],
        b"attack at dawn",
    );
    assert_exit(&out, 0);
    let raw = aes_piped(
        &sim.port,
        &["encrypt", "--mode", "cfb8", "--key", &key, "--iv", IV],
        b"attack at dawn",
    );
    let mut cmd = ucrypto();
    cmd.args([
        "--port", &sim.port, "--json", "aes", "encrypt", "--mode", "cfb8", "--key", &key, "--iv",
        IV,
    ]);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"attack at dawn")
        .unwrap();
    let json = child.wait_with_output().unwrap();
    assert_exit(&json, 0);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    assert_eq!(v["command"], "aes");
    assert_eq!(v["direction"], "encrypt");
    assert_eq!(v["mode"], "cfb8");
    assert_eq!(v["bits"], 128);
    assert_eq!(v["bytes"], 14);
    assert_eq!(v["virtual"], true);
    assert_eq!(v["verified"], true);
    let warnings = v["warnings"].as_array().expect("a warnings array");
    assert_eq!(warnings.len(), 1, "{v}");
    assert!(warnings[0].as_str().unwrap().contains("env:VAR"), "{v}");
    // Without --format, JSON carries hex; base64 on request; both are the raw bytes.
    assert_eq!(v["data"], hex::encode(&raw.stdout));
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&raw.stdout);
    assert_eq!(stdout(&out).trim_end(), b64);
}

#[test]
fn the_paced_sim_serves_aes_too() {
    // Pacing changes only timing: the bytes are the same as unpaced.
    let paced = Sim::start(&["--baud", "115200"]);
    let plain = data(5000);
    let key = key(192);
    let args = [
        "encrypt",
        "--mode",
        "ctr",
        "--key",
        key.as_str(),
        "--counter",
        IV,
    ];
    let out = aes_piped(&paced.port, &args, &plain);
    assert_exit(&out, 0);
    let unpaced = run_in_process(&args, &plain);
    assert_eq!(out.stdout, unpaced.stdout);
}

fn run_in_process(args: &[&str], input: &[u8]) -> Output {
    aes_piped("sim", args, input)
}

#[test]
fn streams_survive_lost_frames_and_device_restarts() {
    // Damaged bytes both ways and a restart every 13 answers: each loss costs its chunk sent
    // again, each restart a new session from the last verified chunk, and the output is still
    // exactly openssl's.
    let sim = Sim::start(&[
        "--faults",
        "drop=0.000005,flip=0.000005,reset-after=13,seed=7",
    ]);
    let dir = temp_dir();
    let plain = data(60_003);
    let (p, c, back) = (
        dir.path().join("p"),
        dir.path().join("c"),
        dir.path().join("back"),
    );
    std::fs::write(&p, &plain).unwrap();
    let openssl_here = have_openssl();
    for mode in ["ecb", "cbc", "cfb8", "cfb128", "ctr"] {
        let key = key(128);
        let pad: &[&str] = if matches!(mode, "ecb" | "cbc") {
            &["--pad", "pkcs7"]
        } else {
            &[]
        };
        let run = |direction: &str, input: &Path, output: &Path| {
            let mut cmd = ucrypto();
            cmd.args([
                "--port",
                &sim.port,
                // A pseudo-terminal is fast: waits for a lost answer need not allow for a UART.
                "--baud",
                "4000000",
                "--timeout",
                "0.1",
                "-v",
                "aes",
                direction,
                "--mode",
                mode,
                "--key",
                &key,
            ]);
            cmd.args(iv_args(mode))
                .args(pad)
                .arg("-i")
                .arg(input)
                .arg("-o")
                .arg(output);
            cmd.output().unwrap()
        };
        let out = run("encrypt", &p, &c);
        assert_exit(&out, 0);
        assert!(
            stderr(&out).contains("retrying"),
            "{mode}: the faults were felt: {}",
            stderr(&out)
        );
        let cipher = std::fs::read(&c).unwrap();
        if openssl_here {
            let mut padded = plain.clone();
            if !pad.is_empty() {
                padded.extend([13; 13]); // 60_003 = 16 * 3750 + 3
            }
            assert!(
                Some(cipher) == openssl(mode, 128, &key, &padded),
                "{mode}: openssl enc differs"
            );
        }
        assert_exit(&run("decrypt", &c, &back), 0);
        assert!(
            std::fs::read(&back).unwrap() == plain,
            "{mode}: decrypt gives the input back"
        );
    }
}

#[test]
fn output_to_a_fifo_is_written_into_not_replaced() {
    // Like -o /dev/null: a special file receives the bytes on success and is never renamed over.
    use std::os::unix::fs::FileTypeExt;
    let dir = temp_dir();
    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let input = dir.path().join("in");
    std::fs::write(&input, data(5000)).unwrap();
    let out = aes("sim", "encrypt", "ctr", &key(128), &[], &input, &fifo);
    assert_exit(&out, 0);
    let cipher = reader.join().unwrap();
    assert_eq!(cipher.len(), 5000);
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    let again = aes_piped(
        "sim",
        &[
            "encrypt",
            "--mode",
            "ctr",
            "--key",
            &key(128),
            "--counter",
            IV,
        ],
        &data(5000),
    );
    assert_eq!(again.stdout, cipher);
}

/// Usage errors: one line on stderr saying what was expected, exit 2, no output file.
#[test]
fn bad_input_is_refused_with_exit_2_and_no_output() {
    let dir = temp_dir();
    let input = dir.path().join("in");
    let out_file = dir.path().join("out");
    std::fs::write(&input, data(17)).unwrap();
    let k128 = key(128);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "encrypt",
                "--mode",
                "ctr",
                "--key",
                "00112233",
                "--counter",
                IV,
            ],
            "16, 24 or 32 bytes",
        ),
        (
            vec![
                "encrypt",
                "--mode",
                "ctr",
                "--key",
                "zz112233445566778899aabbccddeeff",
                "--counter",
                IV,
            ],
            "not hexadecimal",
        ),
        (
            vec!["encrypt", "--mode", "cbc", "--key", &k128, "--iv", "0011"],
            "32 hex digits",
        ),
        (
            vec!["encrypt", "--mode", "cbc", "--key", &k128],
            "needs --iv",
        ),
        (
            vec!["encrypt", "--mode", "ctr", "--key", &k128],
            "needs --counter",
        ),
        (
            vec!["encrypt", "--mode", "ecb", "--key", &k128, "--iv", IV],
            "takes no IV",
        ),
        (
            vec!["encrypt", "--mode", "cbc", "--key", &k128, "--counter", IV],
            "--counter",
        ),
        (
            vec![
                "encrypt",
                "--mode",
                "ctr",
                "--key",
                &k128,
                "--counter",
                IV,
                "--pad",
                "pkcs7",
            ],
            "ECB and CBC",
        ),
        (
            vec!["encrypt", "--mode", "gcm", "--key", &k128],
            "possible values",
        ),
        (
            vec!["encrypt", "--mode", "cbc", "--key", &k128, "--iv", IV],
            "whole 16-byte blocks",
        ),
        (
            vec![
                "decrypt", "--mode", "cbc", "--key", &k128, "--iv", IV, "--pad", "pkcs7",
            ],
            "multiple of 16",
        ),
        (
            vec![
                "encrypt",
                "--mode",
                "ctr",
                "--key",
                "@/nonexistent/key",
                "--counter",
                IV,
            ],
            "cannot read the key file",
        ),
    ];
    for (args, expected) in cases {
        let out = ucrypto()
            .args(["--port", "sim", "aes"])
            .args(&args)
            .arg("-i")
            .arg(&input)
            .arg("-o")
            .arg(&out_file)
            .output()
            .unwrap();
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(
            !err.contains("00112233"),
            "{args:?}: the key was echoed: {err}"
        );
        assert!(!out_file.exists(), "{args:?} left an output file");
    }
    // stdin: the partial block shows only at the end of the stream; nothing is output.
    let out = aes_piped(
        "sim",
        &["encrypt", "--mode", "ecb", "--key", &k128],
        &data(40),
    );
    assert_exit(&out, 2);
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("40 bytes"), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).lines().filter(|l| l.contains("error")).count(),
        1
    );
}

#[test]
fn bad_padding_on_decrypt_is_exit_2_and_leaves_no_file() {
    let sim = Sim::start(&[]);
    let dir = temp_dir();
    let k = key(128);
    let (p, c, back) = (
        dir.path().join("p"),
        dir.path().join("c"),
        dir.path().join("back"),
    );
    // 32 bytes encrypted without padding: they decrypt to 0x1f bytes, never valid PKCS#7 (1 to 16).
    std::fs::write(&p, [0x1f; 32]).unwrap();
    assert_exit(&aes(&sim.port, "encrypt", "cbc", &k, &[], &p, &c), 0);
    let out = aes(
        &sim.port,
        "decrypt",
        "cbc",
        &k,
        &["--pad", "pkcs7"],
        &c,
        &back,
    );
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("bad PKCS#7 padding"),
        "{}",
        stderr(&out)
    );
    assert!(!back.exists());
    // With the right padding it comes back, padding removed.
    std::fs::write(&p, b"sixteen + 3 byte").unwrap();
    assert_exit(
        &aes(&sim.port, "encrypt", "cbc", &k, &["--pad", "pkcs7"], &p, &c),
        0,
    );
    assert_eq!(std::fs::metadata(&c).unwrap().len(), 32);
    assert_exit(
        &aes(
            &sim.port,
            "decrypt",
            "cbc",
            &k,
            &["--pad", "pkcs7"],
            &c,
            &back,
        ),
        0,
    );
    assert_eq!(std::fs::read(&back).unwrap(), b"sixteen + 3 byte");
}

/// A device whose AES answers have one bit flipped: the host's check must refuse them.
struct LyingDevice {
    path: String,
    _thread: std::thread::JoinHandle<()>,
}

impl LyingDevice {
    fn start() -> LyingDevice {
        let (mut master, slave, path) = raw_pty();
        let thread = std::thread::spawn(move || {
            let _keep_open = slave;
            let mut engine = Engine::new(SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(3)));
            let mut buf = [0u8; 4096];
            while let Ok(n) = master.read(&mut buf) {
                let mut frames = Vec::new();
                engine.receive(&buf[..n], |frame| frames.push(frame.to_vec()));
                for frame in frames {
                    if master.write_all(&tamper(&frame)).is_err() {
                        return;
                    }
                }
            }
        });
        LyingDevice {
            path,
            _thread: thread,
        }
    }
}

/// Flips the last bit of the data in an AES answer, re-framed with a good CRC.
fn tamper(frame: &[u8]) -> Vec<u8> {
    let mut decoder: FrameDecoder = FrameDecoder::new();
    let (_, body) = decoder.push(&frame[1..]);
    let body = body.unwrap().unwrap().to_vec();
    let response: Response<'_> = postcard::from_bytes(&body).unwrap();
    match response.body {
        ResponseBody::AesData { offset, data } if !data.is_empty() => {
            let mut data = data.to_vec();
            *data.last_mut().unwrap() ^= 1;
            encode_frame_vec(&Response {
                seq: response.seq,
                body: ResponseBody::AesData {
                    offset,
                    data: &data,
                },
            })
            .unwrap()
        }
        _ => frame.to_vec(),
    }
}

#[test]
fn a_wrong_answer_from_the_device_is_exit_3_and_nothing_is_output() {
    let device = LyingDevice::start();
    let dir = temp_dir();
    let (p, c) = (dir.path().join("p"), dir.path().join("c"));
    std::fs::write(&p, data(10_000)).unwrap();
    let out = aes(&device.path, "encrypt", "ctr", &key(128), &[], &p, &c);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains("differs from the host's"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        files_in(dir.path()),
        vec![p.clone()],
        "no output file, not even a temporary one"
    );
    // --no-verify trusts the device (documented): the lie goes through.
    let out = aes(
        &device.path,
        "encrypt",
        "ctr",
        &key(128),
        &["--no-verify"],
        &p,
        &c,
    );
    assert_exit(&out, 0);
}
