//! Keys never leak: the most verbose runs (`-vv`, and `--json`) of aes, sign, jwt and verify, in
//! process and against `ucrypto sim` on a pty, succeeding and failing, must not show any piece of
//! the AES key, the RSA private exponent or primes, or the passphrase, in any common encoding.
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use common::*;

/// Distinctive bytes, so a match cannot be chance.
const AES_KEY: &str = "9f3a71c2e04b58d6a1b2c3d4e5f60718293a4b5c6d7e8f90a5b4c3d2e1f00ffe";
const COUNTER: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
const PASSPHRASE: &str = "Tr0ub4dor&3 purple monkey dishwasher";

/// How long a leaked piece must be to count: 12 bytes, far beyond what chance produces.
const WINDOW: usize = 12;

/// A secret and every way it could be written out.
struct Secret {
    name: &'static str,
    bytes: Vec<u8>,
}

impl Secret {
    /// Every `WINDOW`-byte piece as raw bytes, hex (both cases), base64 and base64url. Pieces at
    /// every offset cover every base64 alignment of a longer leak.
    fn forms(&self) -> Vec<Vec<u8>> {
        let mut forms = Vec::new();
        for piece in self.bytes.windows(WINDOW.min(self.bytes.len())) {
            forms.push(piece.to_vec());
            forms.push(hex::encode(piece).into_bytes());
            forms.push(hex::encode_upper(piece).into_bytes());
            forms.push(
                STANDARD
                    .encode(piece)
                    .trim_end_matches('=')
                    .as_bytes()
                    .to_vec(),
            );
            forms.push(URL_SAFE_NO_PAD.encode(piece).into_bytes());
        }
        forms
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Fails if any piece of any secret is in the output of `what`.
#[track_caller]
fn assert_no_secret(what: &str, out: &Output, secrets: &[Secret]) {
    for secret in secrets {
        for form in secret.forms() {
            for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
                assert!(
                    !contains(bytes, &form),
                    "{what}: {stream} shows a piece of the {}: {}",
                    secret.name,
                    String::from_utf8_lossy(bytes)
                );
            }
        }
    }
}

/// A field of `openssl rsa -text` (e.g. `privateExponent`), as bytes without the sign byte.
fn rsa_field(text: &str, field: &str) -> Vec<u8> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with(&format!("{field}:")));
    lines.next().expect("the field is listed");
    let digits: String = lines
        .take_while(|l| l.starts_with(' '))
        .flat_map(|l| l.trim().split(':'))
        .collect();
    let mut bytes = hex::decode(digits).expect("hex digits");
    if bytes.first() == Some(&0) {
        bytes.remove(0);
    }
    assert!(bytes.len() >= 100, "{field}: {} bytes", bytes.len());
    bytes
}

/// The keys (PKCS#8, PKCS#1, encrypted PKCS#8) and the secrets they hold.
fn rsa_fixtures(d: &Path) -> Vec<Secret> {
    let p = |name: &str| d.join(name).display().to_string();
    rsa_key(&d.join("k8.pem"));
    openssl_run(
        &[
            "rsa",
            "-in",
            &p("k8.pem"),
            "-traditional",
            "-out",
            &p("k1.pem"),
        ],
        b"",
    );
    encrypted_pkcs8(&p("k8.pem"), &p("enc.pem"), PASSPHRASE);
    std::fs::write(d.join("pass.txt"), format!("{PASSPHRASE}\n")).unwrap();
    for f in ["k1.pem", "enc.pem", "pass.txt"] {
        std::fs::set_permissions(d.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let text = String::from_utf8(openssl_run(
        &["rsa", "-in", &p("k8.pem"), "-text", "-noout"],
        b"",
    ))
    .unwrap();
    let mut secrets: Vec<Secret> = [
        ("private exponent d", "privateExponent"),
        ("prime p", "prime1"),
        ("prime q", "prime2"),
        ("CRT exponent dp", "exponent1"),
    ]
    .into_iter()
    .map(|(name, field)| Secret {
        name,
        bytes: rsa_field(&text, field),
    })
    .collect();
    secrets.push(Secret {
        name: "passphrase",
        bytes: PASSPHRASE.as_bytes().to_vec(),
    });
    secrets
}

fn run_with(args: &[&str], stdin: &[u8]) -> Output {
    let mut cmd = ucrypto();
    cmd.args(args)
        .env("UCRYPTO_SECRET_KEY", AES_KEY)
        .env("UCRYPTO_SECRET_PASS", PASSPHRASE)
        .env("UCRYPTO_WRONG_PASS", "not it");
    run_bounded(&mut cmd, Some(stdin), Duration::from_secs(60)).expect("ucrypto finishes")
}

#[test]
fn aes_keys_never_show_even_at_vv() {
    let dir = temp_dir();
    let key_file = dir.path().join("aes.key");
    std::fs::write(&key_file, hex::decode(AES_KEY).unwrap()).unwrap();
    let at_file = format!("@{}", key_file.display());
    let secrets = [Secret {
        name: "AES key",
        bytes: hex::decode(AES_KEY).unwrap(),
    }];
    let sim = Sim::start(&[]);
    let plain = vec![0x5au8; 10_000];
    let mut runs = 0;
    for port in ["sim", sim.port.as_str()] {
        for key in [AES_KEY, "env:UCRYPTO_SECRET_KEY", at_file.as_str()] {
            for json in [false, true] {
                let mut args = vec!["-vv", "--port", port];
                if json {
                    args.push("--json");
                }
                args.extend([
                    "aes",
                    "encrypt",
                    "--mode",
                    "ctr",
                    "--key",
                    key,
                    "--counter",
                    COUNTER,
                ]);
                let out = run_with(&args, &plain);
                assert_exit(&out, 0);
                assert!(stderr(&out).contains("AesStart"), "-vv shows the frames");
                assert_no_secret(&format!("{args:?}"), &out, &secrets);
                runs += 1;
            }
        }
        // Failing runs: the key (or a near copy of it) must not be repeated in the message.
        let near_copy = format!("{AES_KEY}zz");
        for (args, code) in [
            (
                vec![
                    "-vv",
                    "--port",
                    port,
                    "aes",
                    "encrypt",
                    "--mode",
                    "cbc",
                    "--key",
                    AES_KEY,
                    "--iv",
                    "0001020304050607",
                ],
                2,
            ),
            (
                vec![
                    "-vv", "--port", port, "aes", "encrypt", "--mode", "cbc", "--key", AES_KEY,
                ],
                2,
            ),
            (
                vec![
                    "-vv",
                    "--port",
                    port,
                    "aes",
                    "encrypt",
                    "--mode",
                    "ctr",
                    "--key",
                    &near_copy,
                    "--counter",
                    COUNTER,
                ],
                2,
            ),
            (
                vec![
                    "-vv",
                    "--port",
                    port,
                    "aes",
                    "encrypt",
                    "--mode",
                    "ctr",
                    "--key",
                    &AES_KEY[1..],
                    "--counter",
                    COUNTER,
                ],
                2,
            ),
            (
                vec![
                    "-vv", "--port", port, "aes", "encrypt", "--mode", "ecb", "--key", AES_KEY,
                ],
                2,
            ),
            (
                vec![
                    "-vv", "--json", "--port", port, "aes", "decrypt", "--mode", "ecb", "--pad",
                    "pkcs7", "--key", AES_KEY,
                ],
                2,
            ),
        ] {
            let out = run_with(&args, b"fifteen bytes!!");
            assert_exit(&out, code);
            assert_no_secret(&format!("{args:?}"), &out, &secrets);
            runs += 1;
        }
    }
    println!("{runs} aes runs checked for the key");
}

#[test]
fn rsa_keys_and_passphrases_never_show_even_at_vv() {
    let dir = temp_dir();
    let secrets = rsa_fixtures(dir.path());
    let p = |name: &str| dir.path().join(name).display().to_string();
    let (k8, k1, enc, pass_file) = (
        p("k8.pem"),
        p("k1.pem"),
        p("enc.pem"),
        format!("file:{}", p("pass.txt")),
    );
    let sim = Sim::start(&[]);
    let mut runs = 0;
    for port in ["sim", sim.port.as_str()] {
        let keys: [&[&str]; 4] = [
            &["-k", &k8],
            &["-k", &k1],
            &["-k", &enc, "--pass", "env:UCRYPTO_SECRET_PASS"],
            &["-k", &enc, "--pass", &pass_file],
        ];
        for key in keys {
            for (command, extra) in [
                ("sign", &["-m", "a message"][..]),
                ("jwt", &["--claims", "{\"aud\":\"secrets-test\"}"][..]),
            ] {
                for json in [false, true] {
                    let mut args = vec!["-vv", "--port", port];
                    if json {
                        args.push("--json");
                    }
                    args.push(command);
                    args.extend(key);
                    args.extend(extra);
                    let out = run_with(&args, b"");
                    assert_exit(&out, 0);
                    assert!(
                        stderr(&out).contains("Sign"),
                        "-vv shows the frames: {}",
                        stderr(&out)
                    );
                    assert_no_secret(&format!("{args:?}"), &out, &secrets);
                    runs += 1;
                }
            }
        }
        // Failing runs: a wrong or missing passphrase, an unreadable pass file, a bad digest.
        for (args, code) in [
            (
                vec![
                    "-vv",
                    "--port",
                    port,
                    "sign",
                    "-k",
                    &enc,
                    "--pass",
                    "env:UCRYPTO_WRONG_PASS",
                    "-m",
                    "x",
                ],
                2,
            ),
            (
                vec!["-vv", "--port", port, "sign", "-k", &enc, "-m", "x"],
                2,
            ),
            (
                vec![
                    "-vv",
                    "--port",
                    port,
                    "jwt",
                    "-k",
                    &enc,
                    "--pass",
                    "file:/nonexistent",
                    "--claims",
                    "{}",
                ],
                2,
            ),
            (
                vec!["-vv", "--port", port, "sign", "-k", &k1, "--digest", "xyz"],
                2,
            ),
            (
                vec![
                    "-vv",
                    "--json",
                    "--port",
                    port,
                    "sign",
                    "-k",
                    &enc,
                    "--pass",
                    "env:UCRYPTO_WRONG_PASS",
                    "-m",
                    "x",
                ],
                2,
            ),
        ] {
            let out = run_with(&args, b"");
            assert_exit(&out, code);
            assert_no_secret(&format!("{args:?}"), &out, &secrets);
            runs += 1;
        }
    }
    // verify reads private keys too.
    let signature = run_with(
        &[
            "--port",
            "sim",
            "sign",
            "-k",
            &enc,
            "--pass",
            "env:UCRYPTO_SECRET_PASS",
            "-m",
            "v",
        ],
        b"",
    );
    assert_exit(&signature, 0);
    let sig = stdout(&signature);
    let out = run_with(
        &[
            "-vv",
            "verify",
            "-k",
            &enc,
            "--pass",
            "env:UCRYPTO_SECRET_PASS",
            "-m",
            "v",
            "-s",
            sig.trim(),
        ],
        b"",
    );
    assert_exit(&out, 0);
    assert_no_secret("verify -vv", &out, &secrets);
    println!(
        "{} rsa runs checked for d, p, q, dp and the passphrase",
        runs + 1
    );
}

/// Starts `ucrypto -vv ARGS` on `sim`, kills the sim mid-stream, and returns the output.
fn kill_mid_stream(args: &[&str], input: Vec<u8>) -> Output {
    let mut sim = Sim::start(&[]);
    let mut child = ucrypto()
        .args(["-vv", "--timeout", "0.5", "--port", &sim.port])
        .args(args)
        .env("UCRYPTO_SECRET_KEY", AES_KEY)
        .env("UCRYPTO_SECRET_PASS", PASSPHRASE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut stdin, &input);
    });
    // Killed once the stream is under way (the first frames are on stderr).
    std::thread::sleep(Duration::from_millis(500));
    sim.kill();
    let out = child.wait_with_output().unwrap();
    let _ = feeder.join();
    out
}

#[test]
fn a_device_killed_mid_stream_leaks_nothing() {
    let dir = temp_dir();
    let mut secrets = rsa_fixtures(dir.path());
    secrets.push(Secret {
        name: "AES key",
        bytes: hex::decode(AES_KEY).unwrap(),
    });
    let big = vec![0xa5u8; 64 << 20];
    let out = kill_mid_stream(
        &[
            "aes",
            "encrypt",
            "--mode",
            "ctr",
            "--key",
            "env:UCRYPTO_SECRET_KEY",
            "--counter",
            COUNTER,
        ],
        big.clone(),
    );
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("AesData"), "{}", stderr(&out));
    assert_no_secret("aes, device killed", &out, &secrets);
    let enc = dir.path().join("enc.pem").display().to_string();
    let out = kill_mid_stream(
        &[
            "sign",
            "-k",
            &enc,
            "--pass",
            "env:UCRYPTO_SECRET_PASS",
            "-i",
            "-",
        ],
        big,
    );
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("HashData"), "{}", stderr(&out));
    assert_no_secret("sign, device killed", &out, &secrets);
}

#[test]
fn sign_warns_about_a_key_file_others_can_read() {
    let dir = temp_dir();
    let _ = rsa_fixtures(dir.path());
    let key = dir.path().join("k8.pem");
    let k = key.display().to_string();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&["--port", "sim", "sign", "-k", &k, "-m", "x"]);
    assert_exit(&out, 0);
    let warning = stderr(&out);
    assert!(
        warning.contains("is readable by other users (mode 644): chmod 600 it"),
        "{warning}"
    );
    assert!(
        warning.contains(&k),
        "the warning names the file: {warning}"
    );

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(&["--port", "sim", "sign", "-k", &k, "-m", "x"]);
    assert_exit(&out, 0);
    assert!(
        !stderr(&out).contains("readable by other users"),
        "{}",
        stderr(&out)
    );
}

/// The check itself can fail: a key written in any of the forms, at any offset, is caught.
#[test]
fn the_leak_check_catches_every_form() {
    use std::os::unix::process::ExitStatusExt;
    let key = hex::decode(AES_KEY).unwrap();
    let secrets = [Secret {
        name: "AES key",
        bytes: key.clone(),
    }];
    for leak in [
        key[3..20].to_vec(),
        hex::encode(&key[5..]).into_bytes(),
        hex::encode_upper(&key[..13]).into_bytes(),
        STANDARD.encode(&key[1..]).into_bytes(),
        URL_SAFE_NO_PAD.encode(&key[2..17]).into_bytes(),
    ] {
        let mut stderr = b"ucrypto: -> seq 1 AesStart ".to_vec();
        stderr.extend(&leak);
        let out = Output {
            status: std::process::ExitStatus::from_raw(0),
            stdout: Vec::new(),
            stderr,
        };
        let caught = std::panic::catch_unwind(|| assert_no_secret("planted", &out, &secrets));
        assert!(caught.is_err(), "missed {}", String::from_utf8_lossy(&leak));
    }
}

/// `sign` with an encrypted key and no `--pass`, run on a terminal, with the terminal typed at:
/// what the screen showed (everything the terminal echoed or was written), and the command's
/// output. The command runs in a session of its own whose controlling terminal is
/// the pseudo-terminal (`setsid --ctty`), as in a login shell, so the prompt goes to `/dev/tty`.
fn sign_at_a_terminal(key: &str, typed: &str) -> (String, Output) {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    // A terminal in its usual cooked mode, echo on: if the prompt did not turn echo off, the
    // typed passphrase would come back on the screen.
    let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
    let mut master = std::fs::File::from(pty.master);
    let mut child = std::process::Command::new("setsid")
        .arg("--ctty")
        .arg(bin())
        .args([
            "--port",
            "sim",
            "sign",
            "-k",
            key,
            "-m",
            "typed at the prompt",
        ])
        .args(["--format", "hex"])
        .env_remove("UCRYPTO_PORT")
        .stdin(Stdio::from(pty.slave))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setsid (util-linux) runs ucrypto");

    let screen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let screen = Arc::clone(&screen);
        let mut master = master.try_clone().expect("a second handle");
        // Ends with EIO when the command, the terminal's last user, exits.
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n @ 1..) = master.read(&mut buf) {
                screen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !contains(&screen.lock().unwrap(), b"Passphrase for ") {
        assert!(
            Instant::now() < deadline,
            "no passphrase prompt on the terminal"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "ucrypto exited before its prompt"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The prompt turns echo off just after writing its text; type only then, as a person would
    // (what is typed before would be echoed by the terminal, whatever the program does).
    let echo = nix::sys::termios::LocalFlags::ECHO;
    while nix::sys::termios::tcgetattr(&master)
        .expect("terminal settings")
        .local_flags
        .contains(echo)
    {
        assert!(
            Instant::now() < deadline,
            "the prompt never turned echo off"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The Enter key sends a carriage return.
    master.write_all(format!("{typed}\r").as_bytes()).unwrap();
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ucrypto did not finish after the passphrase was typed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    reader.join().unwrap();
    let screen = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    (screen, out)
}

/// The terminal prompt, the path taken when no `--pass` is given: the passphrase typed there
/// signs (byte-equal to OpenSSL's signature with the plain key), is never echoed, and a wrong
/// one is a clean exit 2 that shows nothing typed.
#[test]
fn a_passphrase_typed_at_the_terminal_prompt_signs_and_is_not_echoed() {
    let dir = temp_dir();
    let secrets = rsa_fixtures(dir.path());
    let p = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(dir.path().join("msg"), "typed at the prompt").unwrap();
    let expected = openssl_run(&["dgst", "-sha256", "-sign", &p("k8.pem"), &p("msg")], b"");

    let (screen, out) = sign_at_a_terminal(&p("enc.pem"), PASSPHRASE);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim(), hex::encode(&expected), "the signature");
    assert!(
        screen.contains(&format!("Passphrase for {}: ", p("enc.pem"))),
        "the prompt names the key file: {screen:?}"
    );
    assert!(!screen.contains(PASSPHRASE), "echoed: {screen:?}");
    assert_no_secret("sign, passphrase typed", &out, &secrets);

    let wrong = "a wrong passphrase typed";
    let (screen, out) = sign_at_a_terminal(&p("enc.pem"), wrong);
    assert_exit(&out, 2);
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let message = stderr(&out);
    assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
    assert!(message.contains("passphrase"), "{message}");
    assert!(
        !screen.contains(wrong) && !message.contains(wrong),
        "{screen:?} {message}"
    );
    assert_no_secret("sign, wrong passphrase typed", &out, &secrets);
}
