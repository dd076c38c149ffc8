//! A table of bad inputs across every command: malformed keys, wrong sizes, non-hex, empty and
//! huge values, unreadable and unwritable paths, unknown flags, ports that are not our device.
//! Each row must end with its exit code, one message naming the problem, and no output file.
mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::*;

const PASSPHRASE: &str = "bad-input passphrase";
const KEY: &str = "000102030405060708090a0b0c0d0e0f";
const IV: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/// One bad invocation. In `args`, `{d}` is the fixtures folder, `{o}` the (empty) output folder
/// and `{fake}` a device that answers in another protocol.
struct Row {
    args: &'static [&'static str],
    stdin: &'static [u8],
    code: i32,
    /// What the one error line must contain: the problem, named.
    says: &'static str,
}

const fn row(args: &'static [&'static str], code: i32, says: &'static str) -> Row {
    Row {
        args,
        stdin: b"",
        code,
        says,
    }
}

const fn piped(
    args: &'static [&'static str],
    stdin: &'static [u8],
    code: i32,
    says: &'static str,
) -> Row {
    Row {
        args,
        stdin,
        code,
        says,
    }
}

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // Global flags and subcommands.
    row(&["--bogus", "rand", "32"], 2, "unexpected argument '--bogus'"),
    row(&["frobnicate"], 2, "unrecognized subcommand 'frobnicate'"),
    row(&["--port", "sim", "rand", "32", "--bits", "8"], 2, "unexpected argument '--bits'"),
    row(&["--timeout", "0", "--port", "sim", "rand", "32"], 2, "more than 0"),
    row(&["--timeout", "soon", "--port", "sim", "rand", "32"], 2, "`soon` is not a number of seconds"),
    row(&["--timeout", "1e9", "--port", "sim", "rand", "32"], 2, "at most 3600 seconds"),
    // Ports that are not a ucrypto device.
    row(&["--port", "/dev/null", "rand", "32"], 4, "/dev/null is not a serial port"),
    row(&["--port", "{d}/msg.txt", "rand", "32"], 4, "msg.txt is not a serial port"),
    row(&["--port", "{d}", "rand", "32"], 4, "Is a directory"),
    row(&["--port", "/dev/ttyUSB-none", "rand", "32"], 4, "cannot open /dev/ttyUSB-none"),
    row(&["--port", "sim:esp99", "rand", "32"], 2, "unknown chip `esp99`"),
    row(&["--port", "{fake}", "--timeout", "0.3", "info"], 4, "not in the ucrypto protocol"),
    // rand: sizes and outputs.
    row(&["--port", "sim", "rand", "0"], 2, "BITS must be at least 1"),
    row(&["--port", "sim", "rand", "lots"], 2, "invalid value 'lots'"),
    row(&["--port", "sim", "rand", "99999999999999999999999"], 2, "invalid value '99999999999999999999999'"),
    row(&["--port", "sim", "rand", "-5"], 2, "unexpected argument '-5'"),
    row(&["--port", "sim", "rand"], 2, "required arguments were not provided"),
    row(&["--port", "sim", "rand", "32", "--format", "base32"], 2, "invalid value 'base32'"),
    row(&["--port", "sim", "rand", "32", "-o", "{o}"], 2, "is a directory"),
    row(&["--port", "sim", "rand", "32", "-o", "{o}/missing/r.bin"], 2, "cannot write"),
    row(&["--port", "sim", "rand", "32", "-o", "{d}/msg.txt/r.bin"], 2, "cannot write"),
    // sim: fault specs and chips.
    row(&["sim", "--faults", "melt=1"], 2, "unknown fault `melt`"),
    row(&["sim", "--faults", "drop=2"], 2, "a probability is between 0 and 1"),
    row(&["sim", "--faults", "reset-after=0"], 2, "reset-after=0"),
    row(&["sim", "--chip", "esp99"], 2, "invalid value 'esp99'"),
    // aes: keys.
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", "000102030405060708090a0b0c0d0e", "--counter", IV], 2, "--key gives 15 bytes"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", "zz0102030405060708090a0b0c0d0e0f", "--counter", IV], 2, "--key is not hexadecimal"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", "00010203040506070809", "--counter", IV], 2, "10 bytes: an AES key is 16, 24 or 32 bytes"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", "0001020304050607080", "--counter", IV], 2, "odd number of hex digits"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", "@{d}/key15.bin", "--counter", IV], 2, "key15.bin holds 15 raw bytes"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", "@{d}/missing.bin", "--counter", IV], 2, "cannot read the key file"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", "@{d}", "--counter", IV], 2, "cannot read the key file"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", "env:UCRYPTO_NO_SUCH_VAR", "--counter", IV], 2, "UCRYPTO_NO_SUCH_VAR"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", "", "--counter", IV], 2, "0 bytes: an AES key"),
    // aes: IVs, modes and padding.
    row(&["--port", "sim", "aes", "encrypt", "-m", "cbc", "--key", KEY, "--iv", "0001020304050607"], 2, "16 bytes: 32 hex digits, not 16"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "cbc", "--key", KEY, "--iv", "zz0102030405060708090a0b0c0d0e0f"], 2, "32 hex digits"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "cbc", "--key", KEY], 2, "--mode cbc needs --iv"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", KEY], 2, "--mode ctr needs --counter"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ecb", "--key", KEY, "--iv", IV], 2, "--mode ecb takes no IV or counter: drop --iv"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ecb", "--key", KEY, "--counter", IV], 2, "--mode ecb takes no IV or counter: drop --counter"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", KEY, "--iv", IV], 2, "--mode ctr takes --counter HEX (the initial counter block), not --iv"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "cbc", "--key", KEY, "--counter", IV], 2, "--mode cbc takes --iv"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "cfb8", "--key", KEY, "--iv", IV, "--pad", "pkcs7"], 2, "--pad pkcs7 is for ECB and CBC"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "xts", "--key", KEY], 2, "invalid value 'xts'"),
    piped(&["--port", "sim", "aes", "encrypt", "-m", "ecb", "--key", KEY, "-o", "{o}/c.bin"], b"fifteen bytes!!", 2, "15"),
    row(&["--port", "sim", "aes", "decrypt", "-m", "ecb", "--key", KEY, "--pad", "pkcs7", "-i", "{d}/zero-block.bin", "-o", "{o}/p.bin"], 2, "bad PKCS#7 padding"),
    // aes: input and output paths.
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", KEY, "--counter", IV, "-i", "{d}/missing.bin"], 2, "cannot read the input"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", KEY, "--counter", IV, "-i", "{d}"], 2, "is a directory"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", KEY, "--counter", IV, "-i", "{d}/msg.txt", "-o", "{o}/missing/c.bin"], 2, "cannot write"),
    row(&["--port", "sim", "aes", "encrypt", "-m", "ctr", "--key", KEY, "--counter", IV, "-i", "{d}/msg.txt", "-o", "{o}"], 2, "is a directory"),
    // sign: keys that cannot sign.
    row(&["--port", "sim", "sign", "-k", "{d}/garbage.pem", "-m", "x"], 2, "garbage.pem is not a key"),
    row(&["--port", "sim", "sign", "-k", "{d}/noise.bin", "-m", "x"], 2, "noise.bin is not a key"),
    row(&["--port", "sim", "sign", "-k", "{d}/truncated.der", "-m", "x"], 2, "truncated.der is not a"),
    row(&["--port", "sim", "sign", "-k", "{d}/empty.pem", "-m", "x"], 2, "empty.pem is not a key"),
    row(&["--port", "sim", "sign", "-k", "{d}/ec.pem", "-m", "x"], 2, "ec.pem is an EC key"),
    row(&["--port", "sim", "sign", "-k", "{d}/ed25519.pem", "-m", "x"], 2, "RS256 needs an RSA key"),
    row(&["--port", "sim", "sign", "-k", "{d}/pub.pem", "-m", "x"], 2, "pub.pem is a public key"),
    row(&["--port", "sim", "sign", "-k", "{d}/enc.pem", "--pass", "env:UCRYPTO_WRONG_PASS", "-m", "x"], 2, "wrong passphrase"),
    row(&["--port", "sim", "sign", "-k", "{d}/enc.pem", "-m", "x"], 2, "enc.pem is encrypted: give its passphrase"),
    row(&["--port", "sim", "sign", "-k", "{d}/enc.pem", "--pass", "env:UCRYPTO_NO_SUCH_VAR", "-m", "x"], 2, "UCRYPTO_NO_SUCH_VAR is not set"),
    row(&["--port", "sim", "sign", "-k", "{d}/enc.pem", "--pass", "file:{d}/missing.txt", "-m", "x"], 2, "missing.txt: cannot read it"),
    row(&["--port", "sim", "sign", "-k", "{d}/enc.pem", "--pass", "stdin", "-m", "x"], 2, "--pass"),
    row(&["--port", "sim", "sign", "-k", "{d}/missing.pem", "-m", "x"], 2, "cannot read key file"),
    row(&["--port", "sim", "sign", "-k", "{d}", "-m", "x"], 2, "cannot read key file"),
    // sign: messages and digests.
    row(&["--port", "sim", "sign", "-k", "{d}/rsa.pem"], 2, "required"),
    row(&["--port", "sim", "sign", "-k", "{d}/rsa.pem", "--digest", "xyz"], 2, "64 hex digits"),
    row(&["--port", "sim", "sign", "-k", "{d}/rsa.pem", "--digest", "00112233445566778899aabbccddeeff00112233445566778899aabbccddee"], 2, "64 hex digits"),
    row(&["--port", "sim", "sign", "-k", "{d}/rsa.pem", "-i", "{d}/missing.txt"], 2, "missing.txt"),
    row(&["--port", "sim", "sign", "-k", "{d}/rsa.pem", "-m", "x", "-o", "{o}/missing/s.sig"], 2, "cannot write"),
    // jwt: claims.
    row(&["--port", "sim", "jwt", "-k", "{d}/rsa.pem", "--claims", "not json"], 2, "--claims is not valid JSON"),
    row(&["--port", "sim", "jwt", "-k", "{d}/rsa.pem", "--claims", "[1,2]"], 2, "--claims must be a JSON object"),
    row(&["--port", "sim", "jwt", "-k", "{d}/rsa.pem", "--claims", "{\"iat\":\"yesterday\"}"], 2, "iat must be a whole number"),
    row(&["--port", "sim", "jwt", "-k", "{d}/rsa.pem", "--claims", "{}", "--exp", "18446744073709551615"], 2, "--exp is too large"),
    row(&["--port", "sim", "jwt", "-k", "{d}/ec.pem", "--claims", "{}"], 2, "ec.pem is an EC key"),
    // verify: keys and signatures.
    row(&["verify", "--pubkey", "{d}/pub.pem", "-m", "x", "-s", "AAAA"], 3, "the signature is 2 bytes"),
    row(&["verify", "--pubkey", "{d}/pub.pem", "-m", "x", "-s", "!!!not a signature!!!"], 2, "signature"),
    row(&["verify", "-k", "{d}/ed25519.pem", "-m", "x", "-s", "AAAA"], 2, "RS256 needs an RSA key"),
    row(&["verify", "-m", "x", "-s", "AAAA"], 2, "required"),
];

/// The files the rows name: broken, foreign and valid keys, messages and ciphertexts.
fn fixtures(d: &Path) {
    let p = |name: &str| d.join(name).display().to_string();
    let rsa = rsa_key(&d.join("rsa.pem"));
    openssl_run(
        &["pkey", "-in", &rsa, "-pubout", "-out", &p("pub.pem")],
        b"",
    );
    encrypted_pkcs8(&rsa, &p("enc.pem"), PASSPHRASE);
    openssl_run(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &p("ec.pem"),
        ],
        b"",
    );
    openssl_run(
        &[
            "genpkey",
            "-algorithm",
            "ED25519",
            "-out",
            &p("ed25519.pem"),
        ],
        b"",
    );
    openssl_run(
        &[
            "pkey",
            "-in",
            &rsa,
            "-outform",
            "DER",
            "-out",
            &p("full.der"),
        ],
        b"",
    );
    let der = std::fs::read(d.join("full.der")).unwrap();
    std::fs::write(d.join("truncated.der"), &der[..der.len() / 2]).unwrap();
    std::fs::write(
        d.join("garbage.pem"),
        "-----BEGIN PRIVATE KEY-----\nthis is not base64 at all!\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::write(
        d.join("noise.bin"),
        (0..300u32)
            .map(|i| (i * 97 % 251) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    std::fs::write(d.join("empty.pem"), b"").unwrap();
    std::fs::write(d.join("key15.bin"), [7u8; 15]).unwrap();
    std::fs::write(d.join("msg.txt"), b"a message\n").unwrap();
    // A block whose decryption is all zeros: PKCS#7 never ends in a zero byte.
    let block = openssl_run(&["enc", "-aes-128-ecb", "-K", KEY, "-nopad"], &[0u8; 16]);
    std::fs::write(d.join("zero-block.bin"), block).unwrap();
    for f in ["enc.pem", "ec.pem", "ed25519.pem"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The failure of one row, or `None` when it behaved.
fn check(row: &Row, out: &Output) -> Option<String> {
    let err = stderr(out);
    if out.status.code() != Some(row.code) {
        return Some(format!(
            "exit {:?}, not {}: {err}",
            out.status.code(),
            row.code
        ));
    }
    if !out.stdout.is_empty() {
        return Some(format!("stdout is not empty: {}", stdout(out)));
    }
    let ours: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("ucrypto: error:"))
        .collect();
    let line = match ours.as_slice() {
        [line] => {
            // Besides the error, only warnings (e.g. "virtual device") may be on stderr.
            let others: Vec<&str> = err
                .lines()
                .filter(|l| !l.starts_with("ucrypto: error:") && !l.starts_with("warning:"))
                .collect();
            if !others.is_empty() {
                return Some(format!("more than one line of error: {err}"));
            }
            *line
        }
        // clap's usage errors: exit 2, the problem on the first line, then usage and a hint.
        [] if row.code == 2 && err.starts_with("error: ") => err.lines().next().unwrap_or(""),
        _ => return Some(format!("not one `ucrypto: error:` line: {err}")),
    };
    if !line.contains(row.says) {
        return Some(format!("the message does not say {:?}: {line}", row.says));
    }
    None
}

#[test]
fn every_bad_input_fails_with_its_code_and_one_clear_line() {
    assert!(ROWS.len() >= 40, "{} rows", ROWS.len());
    let fixtures_dir = temp_dir();
    fixtures(fixtures_dir.path());
    let fake = FakeDevice::start(|_| b"\x00Guru Meditation Error\r\n\x00".to_vec());
    let d = fixtures_dir.path().display().to_string();
    let out_dir = temp_dir();
    let o = out_dir.path().display().to_string();

    let mut failures = Vec::new();
    for row in ROWS {
        let args: Vec<String> = row
            .args
            .iter()
            .map(|a| {
                a.replace("{d}", &d)
                    .replace("{o}", &o)
                    .replace("{fake}", &fake.path)
            })
            .collect();
        let mut cmd = ucrypto();
        cmd.args(&args)
            .env("UCRYPTO_WRONG_PASS", "not the passphrase")
            .env_remove("UCRYPTO_NO_SUCH_VAR");
        let Some(out) = run_bounded(&mut cmd, Some(row.stdin), Duration::from_secs(30)) else {
            failures.push(format!("{args:?}: hung"));
            continue;
        };
        if let Some(why) = check(row, &out) {
            failures.push(format!("{args:?}: {why}"));
        }
        let left = files_in(out_dir.path());
        if !left.is_empty() {
            failures.push(format!("{args:?}: left {left:?}"));
            for f in left {
                let _ = std::fs::remove_file(&f).or_else(|_| std::fs::remove_dir_all(&f));
            }
        }
    }
    println!("{} bad inputs, {} misbehaved", ROWS.len(), failures.len());
    assert!(
        failures.is_empty(),
        "{} of {} rows misbehaved:\n{}",
        failures.len(),
        ROWS.len(),
        failures.join("\n")
    );
}

/// `--json` reports a bad input as one JSON error object on stdout, with the same exit code.
#[test]
fn json_errors_carry_the_code_and_the_message() {
    for (args, code, says) in [
        (
            &["--json", "--port", "sim", "rand", "18446744073709551615"][..],
            2,
            "too much to inline in JSON",
        ),
        (
            &[
                "--json",
                "--port",
                "sim",
                "sign",
                "-k",
                "/nonexistent/k.pem",
                "-m",
                "x",
            ][..],
            2,
            "cannot read key file",
        ),
        (
            &["--json", "--port", "/dev/null", "rand", "32"][..],
            4,
            "not a serial port",
        ),
    ] {
        let out = run(args);
        assert_exit(&out, code);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        assert_eq!(v["error"]["exit_code"], code, "{args:?}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{args:?}: {message}");
    }
}
