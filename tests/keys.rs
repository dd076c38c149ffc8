//! End-to-end tests of device keys on the virtual device: `key generate` → `sign --slot` checked
//! by `openssl dgst -verify`, a CSR checked by `openssl req -verify`, a restart of `ucrypto sim`
//! with the same eFuse and flash files, the eFuse file read by its documented layout, the bytes
//! on the line of the generate path (no private number crosses it), imported keys signing as
//! OpenSSL does, and every refusal with its exit code.
mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use ucrypto_protocol::{FrameDecoder, Request, RequestBody, Response, ResponseBody};

/// Key size of the tests' generated keys: the smallest the device takes, so the virtual device
/// (software bignums, a debug build) finds its primes quickly.
const BITS: &str = "1024";

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("JSON ({e}): {} / {}", stdout(out), stderr(out)))
}

/// Exactly one line on stderr names the error (warnings aside), and it carries `text`.
#[track_caller]
fn assert_refused(out: &Output, code: i32, text: &str) {
    assert_exit(out, code);
    let err = stderr(out);
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains(text), "`{text}` in: {err}");
    assert!(out.stdout.is_empty(), "no output: {}", stdout(out));
}

fn openssl_ok(args: &[&str]) -> Output {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// The eFuse file as docs/keys.md and the virtual device document it: 11 blocks of 8
/// little-endian words; `BLOCK0` word 0 `WR_DIS` (bit 23 + n: `KEYn`, bit 8 + n: its purpose),
/// word 1 bit n `RD_DIS` of `KEYn`, `KEY_PURPOSE_n` the 4 bits at bit 88 + 4n of `BLOCK0`.
struct Efuse(Vec<u8>);

impl Efuse {
    fn read(path: &Path) -> Efuse {
        let bytes = std::fs::read(path).expect("the eFuse file");
        assert_eq!(bytes.len(), 352, "11 blocks of 32 bytes");
        Efuse(bytes)
    }

    fn word(&self, block: usize, word: usize) -> u32 {
        let at = 32 * block + 4 * word;
        u32::from_le_bytes(self.0[at..at + 4].try_into().unwrap())
    }

    fn block0_bit(&self, bit: usize) -> bool {
        self.word(0, bit / 32) >> (bit % 32) & 1 == 1
    }

    fn purpose(&self, slot: usize) -> u32 {
        let bit = 88 + 4 * slot;
        self.word(0, bit / 32) >> (bit % 32) & 0xf
    }

    fn read_protected(&self, slot: usize) -> bool {
        self.block0_bit(32 + slot)
    }

    fn write_protected(&self, slot: usize) -> bool {
        self.block0_bit(23 + slot)
    }

    fn key_block(&self, slot: usize) -> &[u8] {
        &self.0[32 * (4 + slot)..32 * (5 + slot)]
    }
}

/// SHA-256 of a public key's DER SubjectPublicKeyInfo, computed by OpenSSL.
fn openssl_spki_sha256(public_pem: &Path) -> String {
    let der = openssl_ok(&[
        "pkey",
        "-pubin",
        "-in",
        &public_pem.display().to_string(),
        "-outform",
        "DER",
    ])
    .stdout;
    let out = run_bounded(
        std::process::Command::new("openssl").args(["dgst", "-sha256", "-r"]),
        Some(&der),
        Duration::from_secs(30),
    )
    .expect("openssl dgst finishes");
    stdout(&out).split_whitespace().next().unwrap().to_string()
}

#[test]
fn a_generated_key_signs_makes_a_csr_and_survives_a_restart() {
    let dir = temp_dir();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let (efuse, flash) = (p("efuse.bin"), p("flash.bin"));
    let mut sim = Sim::start(&["--seed", "19", "--efuse", &efuse, "--flash", &flash]);

    // A dry run says what it would burn, burns nothing and exits 0.
    let out = sim.run(&["key", "generate", "--slot", "2", "--bits", BITS]);
    assert_exit(&out, 0);
    let plan = stdout(&out);
    for word in [
        "dry run",
        "BLOCK6",
        "slot 2",
        "purpose 7",
        "irreversible",
        "--burn",
    ] {
        assert!(plan.contains(word), "`{word}` in {plan}");
    }
    assert_eq!(
        Efuse::read(Path::new(&efuse)).0,
        vec![0; 352],
        "nothing burned"
    );
    let out = sim.run(&["--json", "key", "generate", "--slot", "2", "--bits", BITS]);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["dry_run"], true);

    // Stdin is not a terminal: --burn alone confirms.
    let out = sim.run(&[
        "--json", "key", "generate", "--slot", "2", "--bits", BITS, "--burn",
    ]);
    assert_exit(&out, 0);
    let made = json(&out);
    assert_eq!(made["slot"], 2);
    assert_eq!(made["bits"], 1024);
    assert_eq!(made["verified"], true);
    let fingerprint = made["spki_sha256"].as_str().unwrap().to_string();

    // The eFuse file: KEY2 has purpose 7, is read- and write-protected and holds a key; no other
    // block was touched.
    let fuses = Efuse::read(Path::new(&efuse));
    assert_eq!(fuses.purpose(2), 7, "HMAC_DOWN_DIGITAL_SIGNATURE");
    assert!(fuses.read_protected(2), "RD_DIS of KEY2");
    assert!(fuses.write_protected(2), "WR_DIS of KEY2");
    assert!(fuses.block0_bit(8 + 2), "KEY_PURPOSE_2 write-protected");
    assert_ne!(fuses.key_block(2), &[0; 32], "the key is burned");
    for other in [0, 1, 3, 4, 5] {
        assert_eq!(fuses.purpose(other), 0, "slot {other}");
        assert!(!fuses.read_protected(other) && !fuses.write_protected(other));
        assert_eq!(fuses.key_block(other), &[0; 32], "slot {other}");
    }

    // The public key, its fingerprint by OpenSSL equal to the one the device lists.
    let out = sim.run(&["key", "public", "--slot", "2", "-o", &p("pub.pem")]);
    assert_exit(&out, 0);
    assert_eq!(
        openssl_spki_sha256(&dir.path().join("pub.pem")),
        fingerprint
    );
    let out = sim.run(&["--json", "key", "list"]);
    assert_eq!(json(&out)["slots"][2]["spki_sha256"], fingerprint.as_str());
    assert_eq!(json(&out)["slots"][2]["state"], "ds-key");

    // sign --slot: OpenSSL verifies with the exported key.
    std::fs::write(p("msg"), b"firmware image 1.2.3\n\x00\xff binary").unwrap();
    let out = sim.run(&[
        "sign",
        "--slot",
        "2",
        "-i",
        &p("msg"),
        "-f",
        "raw",
        "-o",
        &p("sig"),
    ]);
    assert_exit(&out, 0);
    let verified = openssl_ok(&[
        "dgst",
        "-sha256",
        "-verify",
        &p("pub.pem"),
        "-signature",
        &p("sig"),
        &p("msg"),
    ]);
    assert!(stdout(&verified).contains("Verified OK"));

    // The CSR: OpenSSL checks its signature, its subject and that it carries the slot's key.
    let out = sim.run(&[
        "csr",
        "--slot",
        "2",
        "--subject",
        "CN=device-1,O=Example Ltd",
        "-o",
        &p("req.csr"),
    ]);
    assert_exit(&out, 0);
    let checked = openssl_ok(&["req", "-in", &p("req.csr"), "-verify", "-noout", "-subject"]);
    let report = format!("{}{}", stdout(&checked), stderr(&checked));
    assert!(report.contains("verify OK"), "{report}");
    assert!(report.contains("CN = device-1"), "{report}");
    assert!(report.contains("O = Example Ltd"), "{report}");
    let csr_key = openssl_ok(&["req", "-in", &p("req.csr"), "-pubkey", "-noout"]).stdout;
    assert_eq!(csr_key, std::fs::read(p("pub.pem")).unwrap());
    let out = sim.run(&[
        "csr",
        "--slot",
        "2",
        "--subject",
        "CN=d",
        "-f",
        "der",
        "-o",
        &p("req.der"),
    ]);
    assert_exit(&out, 0);
    openssl_ok(&[
        "req",
        "-inform",
        "DER",
        "-in",
        &p("req.der"),
        "-verify",
        "-noout",
    ]);

    // jwt --slot: an independent JWT implementation accepts it with the exported key.
    let out = sim.run(&["jwt", "--slot", "2", "--claims", r#"{"aud":"fleet"}"#]);
    assert_exit(&out, 0);
    let key =
        jsonwebtoken::DecodingKey::from_rsa_pem(&std::fs::read(p("pub.pem")).unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["fleet"]);
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Value>(stdout(&out).trim(), &key, &validation)
        .expect("the JWT verifies");

    // A second generate in the used slot is refused and burns nothing.
    let before = std::fs::read(&efuse).unwrap();
    let out = sim.run(&["key", "generate", "--slot", "2", "--bits", BITS, "--burn"]);
    assert_refused(&out, 1, "slot 2 (BLOCK6) is not free");
    assert_eq!(std::fs::read(&efuse).unwrap(), before);

    // Restart the virtual device with the same files: the key is there and still signs.
    sim.kill();
    let sim = Sim::start(&["--seed", "19", "--efuse", &efuse, "--flash", &flash]);
    let out = sim.run(&["--json", "key", "list"]);
    assert_eq!(json(&out)["slots"][2]["spki_sha256"], fingerprint.as_str());
    std::fs::remove_file(p("sig")).unwrap();
    let out = sim.run(&[
        "sign",
        "--slot",
        "2",
        "-i",
        &p("msg"),
        "-f",
        "raw",
        "-o",
        &p("sig"),
    ]);
    assert_exit(&out, 0);
    openssl_ok(&[
        "dgst",
        "-sha256",
        "-verify",
        &p("pub.pem"),
        "-signature",
        &p("sig"),
        &p("msg"),
    ]);
}

/// The bytes both ways between `ucrypto` and a virtual device, recorded by a relay the client
/// talks to instead of the device.
struct Tap {
    path: String,
    to_device: Arc<Mutex<Vec<u8>>>,
    from_device: Arc<Mutex<Vec<u8>>>,
}

impl Tap {
    fn start(device: &str) -> Tap {
        let (host_side, slave, path) = raw_pty();
        let device_side = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(device)
            .expect("the sim's port");
        let to_device = Arc::new(Mutex::new(Vec::new()));
        let from_device = Arc::new(Mutex::new(Vec::new()));
        let relay = |mut from: std::fs::File, mut to: std::fs::File, log: Arc<Mutex<Vec<u8>>>| {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = from.read(&mut buf) {
                    log.lock().unwrap().extend_from_slice(&buf[..n]);
                    if to.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            })
        };
        relay(
            host_side.try_clone().unwrap(),
            device_side.try_clone().unwrap(),
            Arc::clone(&to_device),
        );
        relay(device_side, host_side, Arc::clone(&from_device));
        // The terminal side stays open for the relay's lifetime (the test's).
        std::mem::forget(slave);
        Tap {
            path,
            to_device,
            from_device,
        }
    }

    fn take(&self) -> (Vec<u8>, Vec<u8>) {
        (
            std::mem::take(&mut self.to_device.lock().unwrap()),
            std::mem::take(&mut self.from_device.lock().unwrap()),
        )
    }
}

/// The frames' contents in `wire`.
fn frames(wire: &[u8]) -> Vec<Vec<u8>> {
    let mut decoder: Box<FrameDecoder> = Box::default();
    let mut out = Vec::new();
    let mut rest = wire;
    while !rest.is_empty() {
        let (used, frame) = decoder.push(rest);
        rest = &rest[used..];
        if let Some(frame) = frame {
            out.push(frame.expect("an undamaged frame").to_vec());
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What crosses the line when a key is generated: requests without key material, and answers
/// that decode completely (re-encoded, byte-equal: no trailing bytes) to `Hello`, the public
/// key, and the test signature. The import path, through the same relay, does carry p and q:
/// the relay would see them if they crossed.
#[test]
fn the_generate_path_carries_no_private_number() {
    let sim = Sim::start(&["--seed", "19"]);
    let tap = Tap::start(&sim.port);
    tap.take();
    let out = ucrypto()
        .args(["--port", &tap.path, "-vv", "key", "generate", "--slot", "0"])
        .args(["--bits", BITS, "--burn"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let (sent, received) = tap.take();

    let mut answers = Vec::new();
    for frame in frames(&received) {
        let response: Response<'_> = postcard::from_bytes(&frame).expect("a response");
        let mut again = vec![0u8; frame.len() + 16];
        let encoded = postcard::to_slice(&response, &mut again).unwrap();
        assert_eq!(encoded, &frame[..], "the frame is exactly its message");
        let name = match &response.body {
            ResponseBody::Hello(_) => "Hello".to_string(),
            ResponseBody::PublicKey(key) => {
                assert_eq!(key.n.len(), 128);
                assert_eq!(key.e, &[1, 0, 1]);
                "PublicKey".into()
            }
            ResponseBody::Signature { data } => {
                assert_eq!(data.len(), 128);
                "Signature".into()
            }
            // The host's probe behind a long request (quick recovery): a nonce, nothing else.
            ResponseBody::Pong { .. } => continue,
            other => panic!("unexpected answer {other:?}"),
        };
        answers.push(name);
    }
    assert_eq!(answers, ["Hello", "PublicKey", "Hello", "Signature"]);
    let mut requests = Vec::new();
    for frame in frames(&sent) {
        let request: Request<'_> = postcard::from_bytes(&frame).expect("a request");
        assert!(frame.len() <= 48, "no request carries a key: {request:?}");
        if !matches!(request.body, RequestBody::Ping { .. }) {
            requests.push(format!("{:?}", request.body));
        }
    }
    assert_eq!(requests[1], "KeyGenerate { slot: 0, bits: 1024 }");

    // `-vv` shows the same exchange, frame by frame, with the answers' sizes.
    let log = stderr(&out);
    let arrows: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("-> seq") || l.contains("<- seq"))
        // The probes behind a long request: `Ping (18 bytes)` out, `Pong { nonce }` back.
        .filter(|l| !l.contains(" Ping (") && !l.contains("Pong {"))
        .collect();
    assert_eq!(arrows.len(), 8, "{log}");
    assert!(
        arrows[2].contains("KeyGenerate { slot: 0, bits: 1024 }"),
        "{log}"
    );
    assert!(
        arrows[3].contains("PublicKey { slot: 0, bits: 1024, n: 128 bytes, e: 3 bytes }"),
        "{log}"
    );
    assert!(arrows[7].contains("Signature { 128 bytes }"), "{log}");

    // The import path through the same relay: p and q are on the line (once, to the device),
    // never in an answer. So the relay sees private numbers when they cross.
    let dir = temp_dir();
    let key_path = dir.path().join("k.pem");
    rsa_key(&key_path);
    let key = {
        use pkcs8::DecodePrivateKey;
        rsa::RsaPrivateKey::read_pkcs8_pem_file(&key_path).unwrap()
    };
    let out = ucrypto()
        .args([
            "--port", &tap.path, "key", "import", "--slot", "1", "--burn",
        ])
        .args(["-k", &key_path.display().to_string()])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let (sent, received) = tap.take();
    // The frames' contents: on the wire, COBS splits the numbers at their zero bytes.
    let (sent, received) = (frames(&sent).concat(), frames(&received).concat());
    for prime in key.primes() {
        let prime = prime.to_bytes_be();
        assert!(contains(&sent, &prime), "the import sends the primes");
        assert!(!contains(&received, &prime), "never back");
    }
    assert!(!contains(&received, &key.d().to_bytes_be()));
    assert!(
        contains(&received, &key.n().to_bytes_be()),
        "the public key comes back"
    );
}

#[test]
fn an_imported_key_signs_byte_equal_to_openssl() {
    let dir = temp_dir();
    let p = |name: &str| dir.path().join(name).display().to_string();
    rsa_key(&dir.path().join("k.pem"));
    let sim = Sim::start(&["--seed", "19"]);

    let out = sim.run(&["key", "import", "--slot", "any", "-k", &p("k.pem")]);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("dry run"), "{}", stdout(&out));
    assert!(stderr(&out).contains("weaker"), "{}", stderr(&out));

    let out = sim.run(&[
        "key",
        "import",
        "--slot",
        "any",
        "-k",
        &p("k.pem"),
        "--burn",
    ]);
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("crossed the link"),
        "{}",
        stderr(&out)
    );
    assert!(
        stdout(&out).starts_with("slot 5 (BLOCK9): 2048-bit"),
        "{}",
        stdout(&out)
    );
    // `key list` names where the key came from.
    let out = sim.run(&["key", "list"]);
    assert!(
        stdout(&out).contains("slot 5  BLOCK9  ds-key          RSA-2048  imported"),
        "{}",
        stdout(&out)
    );

    std::fs::write(p("msg"), b"signed by an imported key").unwrap();
    let expected = openssl_ok(&["dgst", "-sha256", "-sign", &p("k.pem"), &p("msg")]).stdout;
    let out = sim.run(&["sign", "--slot", "5", "-i", &p("msg"), "-f", "hex"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim(), hex::encode(&expected));
    let out = sim.run(&[
        "--json",
        "sign",
        "--slot",
        "5",
        "-i",
        &p("msg"),
        "-f",
        "hex",
    ]);
    let signed = json(&out);
    assert_eq!(signed["signature"], hex::encode(&expected));
    assert_eq!(signed["key_source"], "device");

    // The public key in every format: PEM equal to OpenSSL's, DER its bytes, JWK its numbers.
    let pem = openssl_ok(&["pkey", "-in", &p("k.pem"), "-pubout"]).stdout;
    let out = sim.run(&["key", "public", "--slot", "5"]);
    assert_eq!(out.stdout, pem);
    let der = openssl_ok(&["pkey", "-in", &p("k.pem"), "-pubout", "-outform", "DER"]).stdout;
    let out = sim.run(&[
        "key",
        "public",
        "--slot",
        "5",
        "-f",
        "der",
        "-o",
        &p("pub.der"),
    ]);
    assert_exit(&out, 0);
    assert_eq!(std::fs::read(p("pub.der")).unwrap(), der);
    let out = sim.run(&["key", "public", "--slot", "5", "-f", "jwk"]);
    let jwk: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = {
        use pkcs8::DecodePrivateKey;
        rsa::RsaPrivateKey::read_pkcs8_pem_file(dir.path().join("k.pem")).unwrap()
    };
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    assert_eq!(jwk["n"], b64.encode(key.n().to_bytes_be()));
    assert_eq!(jwk["e"], "AQAB");
    assert_eq!(jwk["kty"], "RSA");
}

/// Runs `ucrypto ARGS` with stdin a pseudo-terminal that is (with `ctty`) the controlling
/// terminal, waits for `prompt` on the screen, types `typed` and Enter.
fn at_a_terminal(args: &[&str], ctty: bool, prompt: &str, typed: &str) -> (String, Output) {
    let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
    let mut master = std::fs::File::from(pty.master);
    let mut command = std::process::Command::new("setsid");
    if ctty {
        command.arg("--ctty");
    }
    let mut child = command
        .arg(bin())
        .args(args)
        .env_remove("UCRYPTO_PORT")
        .stdin(Stdio::from(pty.slave))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setsid (util-linux) runs ucrypto");
    // The command holds our copy of the terminal side: closed, the reader ends when ucrypto does.
    drop(command);
    let screen = Arc::new(Mutex::new(Vec::new()));
    let reader = {
        let screen = Arc::clone(&screen);
        let mut master = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n @ 1..) = master.read(&mut buf) {
                screen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    if ctty {
        while !String::from_utf8_lossy(&screen.lock().unwrap()).contains(prompt) {
            assert!(Instant::now() < deadline, "no prompt on the terminal");
            assert!(
                child.try_wait().unwrap().is_none(),
                "exited before its prompt"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Ctrl-C alone; anything else is a line ended by the Enter key.
        let enter = if typed == "\x03" { "" } else { "\r" };
        master
            .write_all(format!("{typed}{enter}").as_bytes())
            .unwrap();
    }
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ucrypto did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    drop(master);
    let _ = reader.join();
    let screen = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    (screen, out)
}

#[test]
fn at_a_terminal_the_device_id_must_be_typed_back() {
    let dir = temp_dir();
    let efuse = dir.path().join("efuse.bin").display().to_string();
    let sim = Sim::start(&["--seed", "19", "--efuse", &efuse]);
    let id = json(&sim.run(&["--json", "info"]))["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    let generate = [
        "--port", &sim.port, "key", "generate", "--slot", "3", "--bits", BITS, "--burn",
    ];

    let (screen, out) = at_a_terminal(&generate, true, "to burn: ", "00:11:22:33:44:55");
    assert_refused(&out, 2, "burn not confirmed");
    assert!(
        screen.contains(&format!("Type the device id ({id})")),
        "{screen}"
    );
    assert!(
        screen.contains("BLOCK7"),
        "the plan names the block: {screen}"
    );
    assert_eq!(
        Efuse::read(Path::new(&efuse)).0,
        vec![0; 352],
        "nothing burned"
    );

    // Ctrl-C at the question: exit 130, nothing burned.
    let (_, out) = at_a_terminal(&generate, true, "to burn: ", "\x03");
    assert_exit(&out, 130);
    assert_eq!(
        Efuse::read(Path::new(&efuse)).0,
        vec![0; 352],
        "nothing burned"
    );

    // No controlling terminal to ask on.
    let (_, out) = at_a_terminal(&generate, false, "", "");
    assert_refused(&out, 2, "not a terminal");
    assert_eq!(
        Efuse::read(Path::new(&efuse)).0,
        vec![0; 352],
        "nothing burned"
    );

    let (_, out) = at_a_terminal(&generate, true, "to burn: ", &id.to_uppercase());
    assert_exit(&out, 0);
    assert!(stdout(&out).starts_with("slot 3 (BLOCK7): 1024-bit device key"));
    assert_eq!(Efuse::read(Path::new(&efuse)).purpose(3), 7);
}

#[test]
fn every_slot_used_then_no_free_block() {
    // `any` (and no --slot at all) fills slots 5 down to 2; 0 and 1 only when named.
    let sim = Sim::start(&["--seed", "19"]);
    for slot in (2..6).rev() {
        let mut args = vec!["--json", "key", "generate", "--bits", BITS, "--burn"];
        if slot % 2 == 0 {
            args.extend(["--slot", "any"]);
        }
        let out = sim.run(&args);
        assert_exit(&out, 0);
        assert_eq!(json(&out)["slot"], slot);
    }
    let out = sim.run(&["key", "generate", "--slot", "any", "--bits", BITS, "--burn"]);
    assert_refused(&out, 1, "slots 0 and 1 are used only when named");
    let out = sim.run(&["key", "generate", "--slot", "any", "--bits", BITS]);
    assert_refused(&out, 1, "no eFuse key block of slots 2 to 5 is free");
    for slot in ["0", "1"] {
        let out = sim.run(&["key", "generate", "--slot", slot, "--bits", BITS, "--burn"]);
        assert_exit(&out, 0);
    }
    let out = sim.run(&["key", "list"]);
    assert_eq!(
        stdout(&out).matches("ds-key").count(),
        6,
        "{}",
        stdout(&out)
    );
}

#[test]
fn refusals_are_one_line_with_their_exit_code() {
    let sim = |args: &[&str]| run(&[&["--port", "sim"][..], args].concat());
    let esp32 = |args: &[&str]| run(&[&["--port", "sim:esp32"][..], args].concat());

    // A chip without the Digital Signature peripheral.
    assert_refused(&esp32(&["key", "list"]), 5, "has no device keys");
    assert_refused(
        &esp32(&["key", "generate", "--slot", "0", "--burn"]),
        5,
        "has no device keys",
    );
    assert_refused(
        &esp32(&["sign", "--slot", "0", "-m", "x"]),
        5,
        "has no device keys",
    );
    let out = esp32(&["--json", "key", "list"]);
    assert_exit(&out, 5);
    assert_eq!(json(&out)["error"]["kind"], "unsupported");

    // Sizes and slots.
    assert_refused(
        &sim(&["key", "generate", "--slot", "0", "--bits", "4096"]),
        5,
        "beyond this esp32c3",
    );
    assert_refused(
        &sim(&["key", "generate", "--slot", "0", "--bits", "1000"]),
        2,
        "multiple of 64",
    );
    assert_exit(&sim(&["key", "generate", "--slot", "6"]), 2);
    assert_exit(&sim(&["key", "generate", "--slot", "first"]), 2);
    assert_exit(&sim(&["key", "public", "--slot", "9"]), 2);

    // A slot without a key.
    assert_refused(
        &sim(&["sign", "--slot", "0", "-m", "x"]),
        1,
        "holds no device key",
    );
    assert_refused(
        &sim(&["jwt", "--slot", "1", "--claims", "{}"]),
        1,
        "holds no device key",
    );
    assert_refused(
        &sim(&["key", "public", "--slot", "0"]),
        1,
        "holds no device key",
    );
    assert_refused(
        &sim(&["csr", "--slot", "0", "--subject", "CN=x"]),
        1,
        "holds no device key",
    );
    let out = sim(&["--json", "sign", "--slot", "0", "-m", "x"]);
    assert_eq!(json(&out)["error"]["kind"], "no-key");

    // Arguments.
    assert_exit(
        &sim(&["sign", "--slot", "0", "--key", "k.pem", "-m", "x"]),
        2,
    );
    assert_exit(&sim(&["sign", "-m", "x"]), 2);
    assert_refused(
        &sim(&["csr", "--slot", "0", "--subject", "no equals sign"]),
        2,
        "not a distinguished name",
    );
    let out = sim(&["--json", "key", "public", "--slot", "0", "-f", "der"]);
    assert_exit(&out, 2);
    assert_eq!(json(&out)["error"]["kind"], "bad-input");
    let out = run(&["sim", "--chip", "esp32", "--efuse", "/nonexistent/e.bin"]);
    assert_refused(&out, 2, "has no eFuse key blocks");
    let dir = temp_dir();
    let bad = dir.path().join("short.bin");
    std::fs::write(&bad, [0u8; 10]).unwrap();
    let out = run(&["sim", "--efuse", &bad.display().to_string()]);
    assert_refused(&out, 2, "not an eFuse file");
}

/// The same operations through the library, as a station program calls them: a key generated
/// in process, a signature OpenSSL verifies with the exported key, and a CSR it accepts.
#[test]
fn the_library_generates_signs_and_makes_a_csr() {
    use ucrypto::{connect, ConnectOptions, Port, SigningKey, SlotChoice};
    let dir = temp_dir();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let mut device = connect(&ConnectOptions::new(Port::Sim(
        ucrypto_protocol::Chip::Esp32C3,
    )))
    .expect("a virtual device");
    assert!(device
        .key_slots()
        .unwrap()
        .iter()
        .all(|s| s.state == "free"));
    // A randomly seeded device takes no key under 2048 bits; `any` is the highest free slot.
    assert!(matches!(
        device.key_generate(SlotChoice::Any, 1024),
        Err(ucrypto::Error::Input(_))
    ));
    let made = device.key_generate(SlotChoice::Any, 2048).unwrap();
    assert_eq!(made.public.slot, 5);
    assert_eq!(device.key_slots().unwrap()[5].state, "ds-key");
    assert_eq!(device.key_slots().unwrap()[5].origin, Some("generated"));
    let public = device.key_public(5).unwrap();
    assert_eq!(public.spki_sha256, made.public.spki_sha256);
    std::fs::write(p("pub.der"), &public.spki_der).unwrap();

    let key = SigningKey::slot(&mut device, 5).unwrap();
    let signed = device
        .sign_message(&key, &mut &b"from the library"[..])
        .unwrap();
    std::fs::write(p("sig"), &signed.signature).unwrap();
    std::fs::write(p("msg"), b"from the library").unwrap();
    openssl_ok(&[
        "dgst",
        "-sha256",
        "-verify",
        &p("pub.der"),
        "-keyform",
        "DER",
        "-signature",
        &p("sig"),
        &p("msg"),
    ]);

    std::fs::write(p("req.der"), device.csr(5, "CN=station-7").unwrap()).unwrap();
    openssl_ok(&[
        "req",
        "-inform",
        "DER",
        "-in",
        &p("req.der"),
        "-verify",
        "-noout",
    ]);
    assert!(matches!(
        device.key_generate(SlotChoice::Slot(5), 2048),
        Err(ucrypto::Error::Device { .. })
    ));
}

/// `ucrypto lock` is confirmed like a burn: a dry run without --burn, the device id typed back
/// at a terminal (a wrong id or none burns nothing), --burn alone without a terminal. Locked,
/// the device refuses key generation and import with `locked` and keeps signing; `info` and
/// `--json info` report the lock; the bit is BLOCK0 bit 183 in the eFuse file.
#[test]
fn lock_is_confirmed_like_a_burn_and_refuses_every_later_burn() {
    let dir = temp_dir();
    let efuse = dir.path().join("efuse.bin").display().to_string();
    let sim = Sim::start(&["--seed", "23", "--efuse", &efuse]);
    assert_exit(
        &sim.run(&["key", "generate", "--slot", "4", "--bits", BITS, "--burn"]),
        0,
    );
    let id = json(&sim.run(&["--json", "info"]))["device_id"]
        .as_str()
        .unwrap()
        .to_string();
    let lock_bit = |path: &str| Efuse::read(Path::new(path)).0[22] & 0x80 != 0;

    let out = sim.run(&["lock"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).starts_with("dry run: would lock"),
        "{}",
        stdout(&out)
    );
    assert!(!lock_bit(&efuse));
    let lock = ["--port", &sim.port, "lock", "--burn"];
    let (screen, out) = at_a_terminal(&lock, true, "to burn: ", "00:11:22:33:44:55");
    assert_refused(&out, 2, "burn not confirmed");
    assert!(
        screen.contains("bit 183"),
        "the plan names the bit: {screen}"
    );
    assert!(!lock_bit(&efuse), "nothing burned");
    let (_, out) = at_a_terminal(&lock, true, "to burn: ", &id);
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("locked"), "{}", stdout(&out));
    assert!(lock_bit(&efuse));

    // Locking again burns nothing and says so; without a terminal --burn alone confirms.
    let out = sim.run(&["--json", "lock", "--burn"]);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["was_locked"], true);
    let info = json(&sim.run(&["--json", "info"]));
    assert_eq!(info["security"]["provisioning_locked"], true);
    assert_eq!(info["key_slots"][4]["origin"], "generated");
    assert!(stdout(&sim.run(&["info"])).contains("provisioning:     locked"));

    let out = sim.run(&["key", "generate", "--slot", "2", "--bits", BITS, "--burn"]);
    assert_refused(&out, 1, "locked");
    let pem = dir.path().join("k.pem");
    common::rsa_key(&pem);
    let out = sim.run(&[
        "key",
        "import",
        "--slot",
        "2",
        "-k",
        pem.to_str().unwrap(),
        "--burn",
    ]);
    assert_refused(&out, 1, "locked");
    assert_exit(
        &sim.run(&["sign", "--slot", "4", "-m", "after the lock"]),
        0,
    );
}

/// A record and eFuses as Espressif's tools leave them in development mode (no read protection,
/// subtype 0, key id 2 in the DS context; firmware/testdata/espressif_ds_partition.py): `key
/// list` shows slot 2 as a DS key of unknown origin with a loud line, and it signs.
#[test]
fn a_development_burn_by_espressifs_tools_is_listed_loudly_and_signs() {
    let dir = temp_dir();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../firmware/testdata/espressif_ds_partition.py"
    );
    let out = std::process::Command::new("python3")
        .args([script, dir.path().to_str().unwrap(), "2", "readable"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut flash = vec![0xffu8; 0xd000];
    flash.extend(std::fs::read(dir.path().join("esp_secure_cert.bin")).unwrap());
    let flash_path = dir.path().join("flash.bin");
    std::fs::write(&flash_path, &flash).unwrap();
    let efuse = dir.path().join("efuse.bin");
    let sim = Sim::start(&[
        "--seed",
        "29",
        "--efuse",
        efuse.to_str().unwrap(),
        "--flash",
        flash_path.to_str().unwrap(),
    ]);
    let out = sim.run(&["key", "list"]);
    assert_exit(&out, 0);
    let line = stdout(&out)
        .lines()
        .find(|l| l.starts_with("slot 2"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("ds-key")
            && line.contains("unknown")
            && line.contains("DEVELOPMENT BURN: KEY READABLE"),
        "{line}"
    );
    let listed = json(&sim.run(&["--json", "key", "list"]));
    assert_eq!(listed["slots"][2]["readable"], true);
    assert_eq!(listed["slots"][2]["origin"], "unknown");
    assert_exit(&sim.run(&["sign", "--slot", "2", "-m", "dev"]), 0);
}
