//! The line CA end to end on virtual devices: `ca init` → a station's `certify` → the
//! certificates in the device's esp_secure_cert partition → `attest`. Everything is checked with
//! tools that are not ucrypto's: `openssl verify`/`x509`/`crl`, an ESP-IDF TLV reader written
//! here in Python from Espressif's format, Python's `cryptography`, and SoftHSM2 as the HSM.
mod common;

use std::path::Path;
use std::process::Output;

use common::{assert_exit, openssl_run, stderr, stdout, temp_dir, ucrypto, Sim};

const PASS_VAR: &str = "UCRYPTO_TEST_CA_PASS";
const PASS: &str = "line ca passphrase 7";

/// The esp_secure_cert partition in the virtual device's flash image (docs/keys.md).
const PARTITION: std::ops::Range<usize> = 0xd000..0x10000;

fn recipe(dir: &Path, ca: &str, name: &str) -> String {
    let text = format!(
        "name = \"{name}\"
[[step]]
kind = \"key-generate\"
slot = 0
bits = 1024
[[step]]
kind = \"csr\"
slot = 0
subject = \"CN={{device_id}},O=ucrypto test line\"
[[step]]
kind = \"certify\"
slot = 0
ca = \"{ca}\"
subject = \"CN={{device_id}},O=ucrypto test line\"
[[step]]
kind = \"attest\"
slot = 0
ca = \"{ca}\"
"
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    ucrypto()
        .current_dir(dir)
        .env(PASS_VAR, PASS)
        .args(args)
        .output()
        .expect("ucrypto runs")
}

fn station(dir: &Path, recipe: &str, port: &str, records: &str) -> Output {
    run(
        dir,
        &[
            "--json",
            "station",
            "run",
            recipe,
            "--ports",
            port,
            "--records",
            records,
        ],
    )
}

/// `ca init` of a root with its key in an encrypted file.
fn file_ca(dir: &Path, name: &str) {
    let out = run(
        dir,
        &[
            "ca",
            "init",
            "--dir",
            name,
            "--subject",
            &format!("CN={name},O=ucrypto test"),
            "--bits",
            "2048",
            "--pass",
            &format!("env:{PASS_VAR}"),
        ],
    );
    assert_exit(&out, 0);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// What esp_secure_cert_mgr finds of the certificates in an esp_secure_cert partition image,
/// read from Espressif's published TLV format (`esp_secure_cert_tlv_config.h`, `tlv_format.py`,
/// `esp_secure_cert_tlv_read.c`): a 12-byte header (magic 0xBA5EBA11 LE, flags, 3 reserved,
/// type, subtype, length LE16), the data, zero padding to 16 bytes, zlib CRC-32 started from
/// 0xffffffff over header, data and padding; the first word that is not the magic ends the list.
/// Its two readers: by default the FIRST entry of the type with subtype 0, and with its legacy
/// formats enabled the LAST entry of the type; either fails on a bad CRC rather than skip.
/// Prints "first|latest type hex(data)|bad-crc".
const TLV_READER: &str = r#"
import struct, sys, zlib
part = open(sys.argv[1], "rb").read()
off, entries = 0, []
while off + 12 <= len(part):
    magic, flags, typ, sub, length = struct.unpack_from("<IB3xBBH", part, off)
    if magic != 0xBA5EBA11:
        break
    pad = (16 - length % 16) % 16
    end = off + 12 + length + pad
    (crc,) = struct.unpack_from("<I", part, end)
    ok = crc == zlib.crc32(part[off:end], 0xFFFFFFFF) & 0xFFFFFFFF
    entries.append((typ, sub, part[off + 12 : off + 12 + length], ok))
    off = end + 4
for typ in (0, 1):
    of_type = [e for e in entries if e[0] == typ]
    first = [e for e in of_type if e[1] == 0]
    for mode, entry in (("first", first[:1]), ("latest", of_type[-1:])):
        for _, _, data, ok in entry:
            print(mode, typ, data.hex() if ok else "bad-crc")
"#;

/// (reader, type, data) of the certificates esp_secure_cert_mgr's two readers find in the
/// flash image `flash` (data `bad-crc` where the entry found is damaged).
fn esp_idf_certificates(dir: &Path, flash: &Path) -> Vec<(String, u8, Vec<u8>)> {
    let image = std::fs::read(flash).unwrap();
    let part = write(dir, "esp_secure_cert.bin", &image[PARTITION]);
    let script = write(dir, "tlv_reader.py", TLV_READER.as_bytes());
    let out = std::process::Command::new("python3")
        .args([&script, &part])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let data = match f[2] {
                "bad-crc" => b"bad-crc".to_vec(),
                hex => hex_decode(hex),
            };
            (f[0].to_string(), f[1].parse().unwrap(), data)
        })
        .collect()
}

/// Both of esp_secure_cert_mgr's readers find `device` and `ca` (DER) and nothing else.
fn assert_esp_idf_finds(dir: &Path, flash: &Path, device: &[u8], ca: &[u8]) {
    let found = esp_idf_certificates(dir, flash);
    let mut want = Vec::new();
    for mode in ["first", "latest"] {
        want.push((mode.to_string(), 0, ca.to_vec()));
        want.push((mode.to_string(), 1, device.to_vec()));
    }
    want.sort();
    let mut found = found;
    found.sort();
    assert!(
        found == want,
        "esp_secure_cert_mgr's readers find other certificates"
    );
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn der_of_pem(pem: &[u8]) -> Vec<u8> {
    openssl_run(&["x509", "-outform", "DER"], pem)
}

/// `ucrypto ca revoke SERIAL --reason REASON` for the line CA, with `--records` when given.
fn revoke(dir: &Path, serial: &str, reason: &str, records: Option<&str>) {
    let mut args = vec![
        "ca",
        "revoke",
        serial,
        "--reason",
        reason,
        "--ca",
        "line-ca/ca.toml",
    ];
    args.extend(records.into_iter().flat_map(|r| ["--records", r]));
    assert_exit(&run(dir, &args), 0);
}

/// The JSON line of the one device of a station run, asserting it is done.
fn done_line(out: &Output) -> serde_json::Value {
    assert_exit(out, 0);
    let line = stdout(out).lines().next().unwrap().to_string();
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["status"], "done", "{value}");
    value
}

fn certify_detail(db: &Path) -> serde_json::Value {
    let conn = rusqlite::Connection::open(db).unwrap();
    let detail: String = conn
        .query_row(
            "SELECT detail FROM steps WHERE kind = 'certify' ORDER BY finished_ms DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str(&detail).unwrap()
}

/// A board (a virtual device with `seed`) through the whole line recipe (`recipe`, under the
/// CA in `line-ca/`) with the records `db`: returns it and its certificate's serial.
fn certified_board(d: &Path, seed: &str, db: &Path) -> (Sim, String) {
    let sim = Sim::start(&["--seed", seed]);
    let line = recipe(d, "line-ca/ca.toml", "line");
    done_line(&station(d, &line, &sim.port, db.to_str().unwrap()));
    let serial = certify_detail(db)["serial"].as_str().unwrap().to_string();
    (sim, serial)
}

/// A failed attestation: exit 3, one line naming `check`.
fn assert_check_failed(out: &Output, check: &str) {
    assert_exit(out, 3);
    let err = stderr(out);
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.contains(&format!("check {check} failed")),
        "expected check {check}: {err}"
    );
}

#[test]
fn a_file_ca_certifies_a_device_whose_certificates_esp_idf_finds_and_which_attests() {
    let dir = temp_dir();
    let d = dir.path();
    file_ca(d, "line-ca");
    let flash = d.join("flash.bin");
    let sim = Sim::start(&["--seed", "21", "--flash", flash.to_str().unwrap()]);
    let db = d.join("records.db");
    let db_s = db.to_str().unwrap();
    let recipe_path = recipe(d, "line-ca/ca.toml", "line");
    let line = done_line(&station(d, &recipe_path, &sim.port, db_s));
    let device_id = line["device_id"].as_str().unwrap().to_string();
    let mac_hex = device_id.replace(':', "");
    let detail = certify_detail(&db);
    assert_eq!(detail["issued"], true);
    let serial = detail["serial"].as_str().unwrap().to_string();
    assert!(serial.len() >= 16, "a serial of at least 64 bits: {serial}");

    // Read back from the device; openssl accepts the chain and shows the extensions.
    let shown = sim.run(&["cert", "show"]);
    assert_exit(&shown, 0);
    let device_pem = write(d, "device.pem", stdout(&shown).as_bytes());
    let ca_pem = d.join("line-ca/ca.pem").display().to_string();
    openssl_run(&["verify", "-CAfile", &ca_pem, &device_pem], b"");
    let text = String::from_utf8(openssl_run(
        &["x509", "-in", &device_pem, "-noout", "-text", "-serial"],
        b"",
    ))
    .unwrap();
    for expected in [
        "Version: 3",
        "CA:FALSE",
        "X509v3 Key Usage: critical",
        "Digital Signature",
        "TLS Web Client Authentication",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
        &format!("URI:urn:dev:mac:{mac_hex}"),
        &format!("Subject: O = ucrypto test line, CN = {device_id}"),
        &format!("serial={}", serial.to_uppercase()),
    ] {
        assert!(text.contains(expected), "{expected} not in:\n{text}");
    }

    // ESP-IDF's reading of the partition finds both certificates, either way it reads.
    let device_der = der_of_pem(stdout(&shown).as_bytes());
    let ca_der = der_of_pem(&std::fs::read(&ca_pem).unwrap());
    assert_esp_idf_finds(d, &flash, &device_der, &ca_der);

    // Attestation passes, with the records.
    let out = sim.run(&["attest", "--ca", &ca_pem, "--records", db_s]);
    assert_exit(&out, 0);
    assert!(stdout(&out).starts_with("genuine:"), "{}", stdout(&out));
    assert!(stdout(&out).contains("revocation"));
    let out = sim.run(&["--json", "attest", "--ca", &ca_pem]);
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(json["verdict"], "genuine");
    assert_eq!(json["serial"], serial.as_str());
    // A third party checks the same answer with Python's cryptography alone.
    let evidence = write(d, "evidence.json", json["evidence"].to_string().as_bytes());
    let challenge = json["statement"]["challenge"].as_str().unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/examples/verify_attestation.py"
    );
    let py = std::process::Command::new("python3")
        .args([script, &evidence, &ca_pem, challenge])
        .output()
        .unwrap();
    assert!(py.status.success(), "{}{}", stdout(&py), stderr(&py));
    assert!(stdout(&py).ends_with("OK\n"), "{}", stdout(&py));
    assert!(stdout(&py).contains(&format!("device_id: {mac_hex}")));
    // The same script refuses a replayed answer (another challenge).
    let py = std::process::Command::new("python3")
        .args([script, &evidence, &ca_pem, &"00".repeat(32)])
        .output()
        .unwrap();
    assert!(!py.status.success());
    assert!(stdout(&py).contains("FAILED challenge"), "{}", stdout(&py));

    // The records export each device's chain.
    let export = d.join("chains.pem");
    let out = run(
        d,
        &[
            "records",
            "export",
            "--format",
            "pem",
            "--records",
            db_s,
            "-o",
            export.to_str().unwrap(),
        ],
    );
    assert_exit(&out, 0);
    let exported = std::fs::read_to_string(&export).unwrap();
    assert!(exported.starts_with(&format!("# device {device_id}\n")));
    let first = &exported[exported.find("-----BEGIN").unwrap()..];
    openssl_run(&["verify", "-CAfile", &ca_pem], first.as_bytes());

    // A re-run under another recipe finds the valid certificate and issues nothing.
    let again = recipe(d, "line-ca/ca.toml", "line-again");
    done_line(&station(d, &again, &sim.port, db_s));
    let detail = certify_detail(&db);
    assert_eq!(detail["issued"], false, "{detail}");
    assert_eq!(detail["serial"], serial.as_str());

    // Another CA's certificate: the chain check fails.
    file_ca(d, "other-ca");
    let other = d.join("other-ca/ca.pem").display().to_string();
    assert_check_failed(&sim.run(&["attest", "--ca", &other]), "chain");
    // Records that do not know the device.
    let empty = d.join("empty.db");
    let out = run(
        d,
        &["records", "list", "--records", empty.to_str().unwrap()],
    );
    drop(out);
    let out = sim.run(&[
        "attest",
        "--ca",
        &ca_pem,
        "--records",
        empty.to_str().unwrap(),
    ]);
    assert_check_failed(&out, "records: device");

    // Revoked: the records say so, and the CRL openssl accepts lists it.
    revoke(d, &serial, "key-compromise", Some(db_s));
    assert_check_failed(
        &sim.run(&["attest", "--ca", &ca_pem, "--records", db_s]),
        "revocation",
    );
    let crl = d.join("line.crl");
    let out = run(
        d,
        &[
            "ca",
            "crl",
            "--ca",
            "line-ca/ca.toml",
            "-o",
            crl.to_str().unwrap(),
        ],
    );
    assert_exit(&out, 0);
    let crl_s = crl.to_str().unwrap();
    let crl_text = String::from_utf8(openssl_run(
        &[
            "crl", "-in", crl_s, "-CAfile", &ca_pem, "-verify", "-noout", "-text",
        ],
        b"",
    ))
    .unwrap();
    assert!(crl_text.contains(&serial.to_uppercase()), "{crl_text}");
    assert!(crl_text.contains("Key Compromise"), "{crl_text}");
    let out = std::process::Command::new("openssl")
        .args([
            "verify",
            "-crl_check",
            "-CRLfile",
            crl_s,
            "-CAfile",
            &ca_pem,
            &device_pem,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stdout(&out).contains("revoked") || stderr(&out).contains("revoked"));

    // The CA key's private exponent and its passphrase appear in no record and no output.
    let d_hex = String::from_utf8(
        std::process::Command::new("python3")
            .args([
                "-c",
                "import sys; from cryptography.hazmat.primitives import serialization as s; \
                 k = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), sys.argv[2].encode()); \
                 print('%x' % k.private_numbers().d)",
                d.join("line-ca/ca-key.pem").to_str().unwrap(),
                PASS,
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let d_bytes = hex_decode(&format!("{:0>512}", d_hex.trim()));
    let mut seen = std::fs::read(&db).unwrap();
    for args in [
        &["--json", "attest", "--ca", &ca_pem][..],
        &["-vv", "cert", "show"],
    ] {
        let out = sim.run(args);
        seen.extend(&out.stdout);
        seen.extend(&out.stderr);
    }
    let out = ucrypto()
        .current_dir(d)
        .env(PASS_VAR, PASS)
        .args([
            "-vv",
            "--json",
            "station",
            "run",
            &recipe(d, "line-ca/ca.toml", "third"),
            "--ports",
            &sim.port,
            "--records",
            db_s,
        ])
        .output()
        .unwrap();
    seen.extend(&out.stdout);
    seen.extend(&out.stderr);
    let windows = |needle: &[u8]| seen.windows(needle.len()).any(|w| w == needle);
    assert!(
        !windows(&d_bytes[d_bytes.len() - 32..]),
        "the CA key's exponent leaked"
    );
    assert!(
        !windows(&d_hex.trim().as_bytes()[..64]),
        "the CA key's exponent leaked as hex"
    );
    assert!(!windows(PASS.as_bytes()), "the passphrase leaked");
}

fn client_on(port: &str) -> ucrypto::Client {
    ucrypto::connect(&ucrypto::ConnectOptions::new(ucrypto::Port::Path(
        port.to_string(),
    )))
    .expect("the sim answers")
}

/// A recipe of `steps` (TOML `[[step]]` tables) under `name`.
fn recipe_of(dir: &Path, name: &str, steps: &str) -> String {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, format!("name = \"{name}\"\n{steps}")).unwrap();
    path.display().to_string()
}

const KEY_ONLY: &str = "[[step]]\nkind = \"key-generate\"\nslot = 0\nbits = 1024\n";

#[test]
fn a_swapped_certificate_a_replayed_answer_and_an_unknown_key_each_fail_their_check() {
    use ucrypto::verify::attestation::{check, Trust};
    use ucrypto_protocol::CertKind;
    let dir = temp_dir();
    let d = dir.path();
    file_ca(d, "line-ca");
    let ca_pem = d.join("line-ca/ca.pem").display().to_string();
    let db = d.join("records.db");
    let db_s = db.to_str().unwrap();
    let (a, _) = certified_board(d, "31", &db);
    let b = Sim::start(&["--seed", "32"]);
    done_line(&station(d, &recipe_of(d, "keys", KEY_ONLY), &b.port, db_s));

    // Board B holds board A's certificate (and the right CA): its signature is not A's key's.
    let (a_cert, a_ca) = {
        let mut client = client_on(&a.port);
        (
            client.cert_read(CertKind::Device).unwrap().unwrap(),
            client.cert_read(CertKind::Ca).unwrap().unwrap(),
        )
    };
    {
        let mut client = client_on(&b.port);
        client.cert_write(CertKind::Device, &a_cert).unwrap();
        client.cert_write(CertKind::Ca, &a_ca).unwrap();
    }
    assert_check_failed(&b.run(&["attest", "--ca", &ca_pem]), "signature");

    // An answer to another challenge (a replayed one) fails the challenge check.
    let mut client = client_on(&a.port);
    let evidence = client.attest(0, [7; 32]).unwrap();
    let cert = ucrypto_station::ca::from_der(&a_cert).unwrap();
    let anchors = ucrypto_station::ca::read_certificates(Path::new(&ca_pem)).unwrap();
    let trust = |challenge| Trust {
        anchors: &anchors,
        challenge,
        crls: &[],
        now: std::time::SystemTime::now(),
    };
    let failure = check(&evidence, &cert, None, &trust([8; 32])).unwrap_err();
    assert_eq!(failure.check, "challenge");
    let verdict = check(&evidence, &cert, None, &trust([7; 32])).unwrap();
    assert!(verdict.checks.contains(&"chain"));
    // A statement changed after signing fails the signature check.
    let mut forged = evidence.clone();
    forged.statement[97] ^= 1;
    assert_eq!(
        check(&forged, &cert, None, &trust([7; 32]))
            .unwrap_err()
            .check,
        "signature"
    );
    drop(client);

    // Records that know board A but not its key.
    let other = d.join("other.db");
    let self_test = recipe_of(d, "check", "[[step]]\nkind = \"self-test\"\n");
    done_line(&station(d, &self_test, &a.port, other.to_str().unwrap()));
    let out = a.run(&[
        "attest",
        "--ca",
        &ca_pem,
        "--records",
        other.to_str().unwrap(),
    ]);
    assert_check_failed(&out, "records: key");
    // And the genuine board with its own records passes.
    assert_exit(&a.run(&["attest", "--ca", &ca_pem, "--records", db_s]), 0);
}

/// The detail of the last `attest` step in the records `db`.
fn attest_detail(db: &Path) -> serde_json::Value {
    let conn = rusqlite::Connection::open(db).unwrap();
    let detail: String = conn
        .query_row(
            "SELECT detail FROM steps WHERE kind = 'attest' AND state = 'done'
             ORDER BY finished_ms DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str(&detail).unwrap()
}

/// A station run whose one device failed its `attest` step on `check`: exit 6, the device's
/// line names the step and the check. Returns the error.
fn assert_attest_step_failed(out: &Output, check: &str) -> String {
    assert_exit(out, 6);
    let line: serde_json::Value =
        serde_json::from_str(stdout(out).lines().next().unwrap()).unwrap();
    assert_eq!(line["status"], "failed", "{line}");
    assert_eq!(line["step_kind"], "attest", "{line}");
    let error = line["error"].as_str().unwrap().to_string();
    assert!(
        error.contains(&format!("check {check} failed")) && !error.contains('\n'),
        "expected check {check}: {error}"
    );
    error
}

const ATTEST_ONLY: &str = "[[step]]\nkind = \"attest\"\nslot = 0\nca = \"line-ca/ca.toml\"\n";

#[test]
fn the_attest_step_checks_the_records_and_the_cas_own_revocations() {
    let dir = temp_dir();
    let d = dir.path();
    file_ca(d, "line-ca");
    let db = d.join("records.db");
    let db_s = db.to_str().unwrap();

    // Genuine boards pass the whole recipe: the key that key-generate recorded earlier in the
    // same run is known to the records when attest runs.
    let (a, serial_a) = certified_board(d, "51", &db);
    let detail = attest_detail(&db);
    assert_eq!(detail["serial"], serial_a.as_str());
    assert_eq!(
        detail["checks"],
        serde_json::json!([
            "statement",
            "challenge",
            "signature",
            "certificate key",
            "device id",
            "chain",
            "records: device",
            "records: key",
            "revocation"
        ])
    );
    let (b, serial_b) = certified_board(d, "52", &db);
    assert_ne!(serial_a, serial_b);
    // An attest-only recipe on the same records passes too.
    done_line(&station(
        d,
        &recipe_of(d, "attest-a", ATTEST_ONLY),
        &a.port,
        db_s,
    ));

    // The records of another run know the board (the run claims it) but not its key.
    let other = d.join("other.db");
    let out = station(
        d,
        &recipe_of(d, "attest-elsewhere", ATTEST_ONLY),
        &a.port,
        other.to_str().unwrap(),
    );
    let error = assert_attest_step_failed(&out, "records: key");
    assert!(error.contains("the records hold no key"), "{error}");

    // Revoked by the CA alone (`ca revoke` without --records): the step reads the CA's
    // revocations and refuses the serial all the same.
    revoke(d, &serial_a, "superseded", None);
    let out = station(d, &recipe_of(d, "attest-a-2", ATTEST_ONLY), &a.port, db_s);
    let error = assert_attest_step_failed(&out, "revocation");
    assert!(
        error.contains(&serial_a)
            && error.contains("superseded")
            && error.contains("the records were not told"),
        "{error}"
    );

    // Revoked with --records: the records say so.
    revoke(d, &serial_b, "key-compromise", Some(db_s));
    let out = station(d, &recipe_of(d, "attest-b", ATTEST_ONLY), &b.port, db_s);
    let error = assert_attest_step_failed(&out, "revocation");
    assert!(
        error.contains(&serial_b)
            && error.contains("key-compromise")
            && !error.contains("not told"),
        "{error}"
    );
    // The records' revocation counts without the CA's file too (`ucrypto attest`).
    let ca_pem = d.join("line-ca/ca.pem").display().to_string();
    assert_check_failed(
        &b.run(&["attest", "--ca", &ca_pem, "--records", db_s]),
        "revocation",
    );
}

/// Writes the CRL of the CA in folder `ca` (`ucrypto ca crl`) to `name`; returns its path.
fn ucrypto_crl(dir: &Path, ca: &str, name: &str) -> String {
    let path = dir.join(name).display().to_string();
    let config = format!("{ca}/ca.toml");
    assert_exit(&run(dir, &["ca", "crl", "--ca", &config, "-o", &path]), 0);
    path
}

/// The line CA's key for openssl: its key file is encrypted PKCS#8 with scrypt parameters above
/// openssl's memory limit, so Python's `cryptography` opens it and encrypts the same key again
/// with PBKDF2 (PBES2), under the same passphrase.
const REENCRYPT_KEY: &str = r#"
import sys
from cryptography.hazmat.primitives import serialization as s
key = s.load_pem_private_key(open(sys.argv[1], "rb").read(), sys.argv[3].encode())
pem = key.private_bytes(
    s.Encoding.PEM, s.PrivateFormat.PKCS8, s.BestAvailableEncryption(sys.argv[3].encode())
)
open(sys.argv[2], "wb").write(pem)
"#;

/// A CRL made by `openssl ca -gencrl` with the line CA's key (read with -passin) from an
/// openssl CA database revoking `revoked` (serial, openssl reason name); `times` sets
/// lastUpdate and nextUpdate. Returns its path.
fn openssl_crl(dir: &Path, name: &str, revoked: Option<(&str, &str)>, times: &[&str]) -> String {
    let key = dir.join("ca-key-pbkdf2.pem");
    if !key.exists() {
        let script = write(dir, "reencrypt_key.py", REENCRYPT_KEY.as_bytes());
        let py = std::process::Command::new("python3")
            .current_dir(dir)
            .args([&script, "line-ca/ca-key.pem", key.to_str().unwrap(), PASS])
            .output()
            .unwrap();
        assert!(py.status.success(), "{}", stderr(&py));
    }
    let db = dir.join(format!("{name}.index"));
    let entry = revoked.map(|(serial, reason)| {
        format!(
            "R\t301231000000Z\t261201000000Z,{reason}\t{}\tunknown\t/CN=device\n",
            serial.to_uppercase()
        )
    });
    std::fs::write(&db, entry.unwrap_or_default()).unwrap();
    std::fs::write(dir.join(format!("{name}.number")), "01\n").unwrap();
    let config = format!(
        "[ca]\ndefault_ca = line\n[line]\ndatabase = {}\ncrlnumber = {}\ndefault_md = sha256\n\
         default_crl_days = 7\ncrl_extensions = crl_ext\n[crl_ext]\n\
         authorityKeyIdentifier = keyid:always\n",
        db.display(),
        dir.join(format!("{name}.number")).display()
    );
    let config = write(dir, &format!("{name}.cnf"), config.as_bytes());
    let path = dir.join(name).display().to_string();
    let mut args = vec![
        "ca",
        "-gencrl",
        "-config",
        &config,
        "-keyfile",
        key.to_str().unwrap(),
        "-cert",
        "line-ca/ca.pem",
        "-passin",
        "env:UCRYPTO_TEST_CA_PASS",
        "-out",
        &path,
    ];
    args.extend(times);
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .env(PASS_VAR, PASS)
        .args(&args)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "{}", stderr(&out));
    path
}

/// A CRL in the name of the CA of `ca_pem`, signed by a key of its own (Python's
/// `cryptography`): what a CRL of another CA claiming to be this one looks like.
const FORGED_CRL: &str = r#"
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
ca = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
now = datetime.datetime.now(datetime.timezone.utc)
crl = (
    x509.CertificateRevocationListBuilder()
    .issuer_name(ca.subject)
    .last_update(now - datetime.timedelta(minutes=1))
    .next_update(now + datetime.timedelta(days=1))
    .sign(key, hashes.SHA256())
)
open(sys.argv[2], "wb").write(crl.public_bytes(serialization.Encoding.PEM))
"#;

/// `ucrypto --json attest` that failed `check`: exit 3, the check in the line and the JSON.
fn assert_json_check_failed(out: &Output, check: &str) -> String {
    assert_check_failed(out, check);
    let text = stdout(out);
    let json: serde_json::Value = serde_json::from_str(text.lines().next().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(json["verdict"], "failed", "{json}");
    assert_eq!(json["check"], check, "{json}");
    json["reason"].as_str().unwrap().to_string()
}

#[test]
fn attest_checks_crls_of_ucrypto_and_openssl_and_refuses_a_stale_or_foreign_one() {
    let dir = temp_dir();
    let d = dir.path();
    file_ca(d, "line-ca");
    file_ca(d, "other-ca");
    let db = d.join("records.db");
    let db_s = db.to_str().unwrap();
    let (sim, serial) = certified_board(d, "53", &db);
    let ca_pem = d.join("line-ca/ca.pem").display().to_string();
    let attest = |crls: &[&str]| {
        let mut args = vec!["--json", "attest", "--ca", &ca_pem, "--records", db_s];
        for crl in crls {
            args.extend(["--crl", *crl]);
        }
        sim.run(&args)
    };
    let genuine = |out: &Output| {
        assert_exit(out, 0);
        let json: serde_json::Value = serde_json::from_str(stdout(out).trim()).unwrap();
        assert_eq!(json["verdict"], "genuine", "{json}");
        let checks = json["checks"].as_array().unwrap();
        for check in [
            "crl: issuer",
            "crl: signature",
            "crl: current",
            "revocation",
        ] {
            assert!(checks.iter().any(|c| c == check), "{check} not in {json}");
        }
    };

    // The line CA's CRL without this serial passes, as PEM and as DER (openssl converts).
    let empty = ucrypto_crl(d, "line-ca", "empty.crl");
    genuine(&attest(&[&empty]));
    let empty_der = d.join("empty.der").display().to_string();
    openssl_run(
        &["crl", "-in", &empty, "-outform", "DER", "-out", &empty_der],
        b"",
    );
    genuine(&attest(&[&empty_der]));
    // And so does openssl's CRL of the same CA key, revoking another serial.
    let openssl_other = openssl_crl(
        d,
        "openssl-other.crl",
        Some(("0a1b2c3d4e5f6071", "keyCompromise")),
        &[],
    );
    genuine(&attest(&[&openssl_other]));
    // Both in one PEM file.
    let mut both = std::fs::read(&empty).unwrap();
    both.extend(std::fs::read(&openssl_other).unwrap());
    genuine(&attest(&[&write(d, "both.crl", &both)]));

    // A file that holds no CRL is bad input, before the device is asked.
    let out = sim.run(&["attest", "--ca", &ca_pem, "--crl", &ca_pem]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("not an X509 CRL"), "{}", stderr(&out));

    // Another CA's CRL: its issuer is no CA of the device's chain, given alone or with the
    // line CA's.
    let foreign = ucrypto_crl(d, "other-ca", "other.crl");
    let reason = assert_json_check_failed(&attest(&[&foreign]), "crl: issuer");
    assert!(reason.contains("other-ca"), "{reason}");
    assert_json_check_failed(&attest(&[&empty, &foreign]), "crl: issuer");
    // A CRL in the line CA's name signed by another key.
    let script = write(d, "forged_crl.py", FORGED_CRL.as_bytes());
    let forged = d.join("forged.crl").display().to_string();
    let py = std::process::Command::new("python3")
        .args([&script, &ca_pem, &forged])
        .output()
        .unwrap();
    assert!(py.status.success(), "{}", stderr(&py));
    assert_json_check_failed(&attest(&[&forged]), "crl: signature");
    // A stale CRL (its nextUpdate passed) of the right CA.
    let stale = openssl_crl(
        d,
        "stale.crl",
        None,
        &[
            "-crl_lastupdate",
            "20200101000000Z",
            "-crl_nextupdate",
            "20200102000000Z",
        ],
    );
    let reason = assert_json_check_failed(&attest(&[&stale]), "crl: current");
    assert!(reason.contains("stale"), "{reason}");

    // openssl's CRL listing the device certificate: revoked, with openssl's reason.
    let listed = openssl_crl(
        d,
        "openssl-listed.crl",
        Some((&serial, "keyCompromise")),
        &[],
    );
    let reason = assert_json_check_failed(&attest(&[&listed]), "revocation");
    assert!(
        reason.contains(&serial) && reason.contains("key-compromise"),
        "{reason}"
    );
    // ucrypto's: `ca revoke` without --records (the records alone would pass), then `ca crl`.
    revoke(d, &serial, "cessation-of-operation", None);
    assert_exit(&attest(&[]), 0);
    let revoked = ucrypto_crl(d, "line-ca", "revoked.crl");
    let reason = assert_json_check_failed(&attest(&[&revoked]), "revocation");
    assert!(reason.contains("cessation-of-operation"), "{reason}");
    // Without --json too: exit 3, one line naming the check.
    assert_check_failed(
        &sim.run(&["attest", "--ca", &ca_pem, "--crl", &revoked]),
        "revocation",
    );
}

/// Nothing certificate-shaped on the device: `cert show` says so.
fn assert_no_certificate(sim: &Sim) {
    let out = sim.run(&["cert", "show"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("holds no certificate"),
        "{}",
        stderr(&out)
    );
}

/// Exit 2 and one line of error on stderr that contains `text`.
fn assert_one_line(out: &Output, text: &str) {
    assert_exit(out, 2);
    let err = stderr(out);
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("ucrypto: error"))
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(text), "{text} not in {err}");
}

#[test]
fn bad_ca_input_is_one_line_and_writes_nothing_to_the_device() {
    let dir = temp_dir();
    let d = dir.path();
    file_ca(d, "line-ca");
    let sim = Sim::start(&["--seed", "41"]);
    let recipe_path = recipe(d, "line-ca/ca.toml", "line");
    let db = d.join("records.db");
    let db_s = db.to_str().unwrap();

    // A wrong passphrase.
    let out = ucrypto()
        .current_dir(d)
        .env(PASS_VAR, "not the passphrase")
        .args([
            "station",
            "run",
            &recipe_path,
            "--ports",
            &sim.port,
            "--records",
            db_s,
        ])
        .output()
        .unwrap();
    assert_one_line(&out, "wrong passphrase");
    assert_no_certificate(&sim);

    // A token whose PIN is not given.
    let hsm = d.join("hsm-ca");
    std::fs::create_dir_all(&hsm).unwrap();
    std::fs::copy(d.join("line-ca/ca.pem"), hsm.join("ca.pem")).unwrap();
    std::fs::write(
        hsm.join("ca.toml"),
        "certificate = \"ca.pem\"\n[key.pkcs11]\nmodule = \"/usr/lib/softhsm/libsofthsm2.so\"\n\
         token = \"line\"\nkey-label = \"ca\"\npin = \"env:UCRYPTO_TEST_UNSET_PIN\"\n[policy]\n",
    )
    .unwrap();
    let out = run(
        d,
        &[
            "station",
            "run",
            &recipe(d, "hsm-ca/ca.toml", "hsm"),
            "--ports",
            &sim.port,
            "--records",
            db_s,
        ],
    );
    assert_one_line(&out, "UCRYPTO_TEST_UNSET_PIN is not set");
    assert_no_certificate(&sim);

    // An expired CA certificate (made with the CA's own key by Python's cryptography).
    let expired = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, datetime as dt\n\
             from cryptography import x509\n\
             from cryptography.hazmat.primitives import hashes, serialization as s\n\
             k = s.load_pem_private_key(open(sys.argv[1], 'rb').read(), sys.argv[2].encode())\n\
             n = x509.Name.from_rfc4514_string('CN=expired line ca')\n\
             now = dt.datetime.now(dt.timezone.utc)\n\
             c = (x509.CertificateBuilder().subject_name(n).issuer_name(n).public_key(k.public_key())\n\
                  .serial_number(x509.random_serial_number())\n\
                  .not_valid_before(now - dt.timedelta(days=30)).not_valid_after(now - dt.timedelta(days=1))\n\
                  .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)\n\
                  .sign(k, hashes.SHA256()))\n\
             sys.stdout.buffer.write(c.public_bytes(s.Encoding.PEM))",
            d.join("line-ca/ca-key.pem").to_str().unwrap(),
            PASS,
        ])
        .output()
        .unwrap();
    assert!(expired.status.success(), "{}", stderr(&expired));
    std::fs::write(d.join("line-ca/ca.pem"), &expired.stdout).unwrap();
    let out = run(
        d,
        &[
            "station",
            "run",
            &recipe_path,
            "--ports",
            &sim.port,
            "--records",
            db_s,
        ],
    );
    assert_one_line(&out, "is not valid now");
    assert_no_certificate(&sim);
}

#[test]
fn a_csr_whose_key_is_not_the_slots_is_refused_before_anything_is_issued() {
    use ucrypto_station::ca::issue::{device_certificate, read_request, DeviceRequest};
    use ucrypto_station::ca::Ca;
    let dir = temp_dir();
    let d = dir.path();
    file_ca(d, "line-ca");
    let pass_file = write(d, "pass.txt", PASS.as_bytes());
    let ca = Ca::open(
        &d.join("line-ca/ca.toml"),
        Some(&format!("file:{pass_file}")),
    )
    .unwrap();
    let a = Sim::start(&["--seed", "51"]);
    let b = Sim::start(&["--seed", "52"]);
    let db = d.join("records.db");
    for sim in [&a, &b] {
        done_line(&station(
            d,
            &recipe_of(d, "keys", KEY_ONLY),
            &sim.port,
            db.to_str().unwrap(),
        ));
    }
    let mut client_a = client_on(&a.port);
    let csr = ucrypto_station::steps::csr::make_csr(&mut client_a, 0, "CN={device_id}").unwrap();
    let request = read_request(csr.csr_pem.unwrap().as_bytes()).unwrap();
    let b_key = client_on(&b.port).key_public(0).unwrap();
    let issued = device_certificate(
        &ca.key,
        &ca.certificate,
        &ca.config.config.policy,
        &DeviceRequest {
            csr: &request,
            slot_spki_der: &b_key.spki_der,
            device_id: client_a.info().device_id,
            subject: "CN=mismatch",
        },
    );
    let Err(ucrypto_station::Error::Verification(message)) = issued else {
        panic!("a CSR for another key was certified");
    };
    assert!(
        message.contains("not the key the device reported"),
        "{message}"
    );
    // A damaged CSR signature is refused when it is read.
    let mut pem = ucrypto_station::steps::csr::make_csr(&mut client_a, 0, "CN={device_id}")
        .unwrap()
        .csr_pem
        .unwrap()
        .into_bytes();
    let body_end = pem.len() - 40;
    pem[body_end] = if pem[body_end] == b'A' { b'B' } else { b'A' };
    assert!(read_request(&pem).is_err());
}

/// SoftHSM2's module, where Debian's `softhsm2` puts it.
const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A SoftHSM2 token of this test's own (its store in `dir`, found through SOFTHSM2_CONF).
struct Token {
    conf: String,
}

impl Token {
    fn create(dir: &Path, label: &str, pin: &str) -> Option<Token> {
        if !Path::new(SOFTHSM).exists() {
            eprintln!(
                "######## SKIPPED: no SoftHSM2 ({SOFTHSM}): apt-get install softhsm2 ########"
            );
            return None;
        }
        let store = dir.join("tokens");
        std::fs::create_dir_all(&store).unwrap();
        let conf = write(
            dir,
            "softhsm2.conf",
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\n",
                store.display()
            )
            .as_bytes(),
        );
        let out = std::process::Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                "12345678",
                "--pin",
                pin,
            ])
            .output()
            .expect("softhsm2-util runs");
        assert!(out.status.success(), "{}", stderr(&out));
        Some(Token { conf })
    }

    fn run(&self, dir: &Path, args: &[&str]) -> Output {
        ucrypto()
            .current_dir(dir)
            .env("SOFTHSM2_CONF", &self.conf)
            .env("UCRYPTO_TEST_PIN", "87654321")
            .args(args)
            .output()
            .expect("ucrypto runs")
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        let _ = std::process::Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &self.conf)
            .args(["--delete-token", "--token", "line"])
            .output();
    }
}

#[test]
fn an_intermediate_ca_in_softhsm_under_an_offline_root_certifies_a_device() {
    let dir = temp_dir();
    let d = dir.path();
    let Some(token) = Token::create(d, "line", "87654321") else {
        return;
    };
    // The offline root: openssl's, not ucrypto's.
    let root_key = d.join("root.key").display().to_string();
    let root_pem = d.join("root.pem").display().to_string();
    openssl_run(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &root_key,
            "-out",
            &root_pem,
            "-subj",
            "/O=ucrypto test/CN=Offline Root",
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        b"",
    );
    // The intermediate's key is made on the token; its request goes to the root.
    let out = token.run(
        d,
        &[
            "ca",
            "init",
            "--dir",
            "inter",
            "--intermediate",
            "--subject",
            "CN=Line Intermediate,O=ucrypto test",
            "--bits",
            "2048",
            "--pkcs11-module",
            SOFTHSM,
            "--token",
            "line",
            "--key-label",
            "line-ca",
            "--pin",
            "env:UCRYPTO_TEST_PIN",
        ],
    );
    assert_exit(&out, 0);
    let ext = write(
        d,
        "inter.ext",
        b"basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n\
          subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    );
    let inter_pem = d.join("inter.pem").display().to_string();
    openssl_run(
        &[
            "x509",
            "-req",
            "-in",
            d.join("inter/ca.csr").to_str().unwrap(),
            "-CA",
            &root_pem,
            "-CAkey",
            &root_key,
            "-CAcreateserial",
            "-days",
            "30",
            "-extfile",
            &ext,
            "-out",
            &inter_pem,
        ],
        b"",
    );
    let out = token.run(
        d,
        &[
            "ca",
            "import-cert",
            "--ca",
            "inter/ca.toml",
            &inter_pem,
            "--chain",
            &root_pem,
        ],
    );
    assert_exit(&out, 0);
    // No key material in the config: a reference to the token and to the PIN's variable.
    let config = std::fs::read_to_string(d.join("inter/ca.toml")).unwrap();
    assert!(
        config.contains("env:UCRYPTO_TEST_PIN") && !config.contains("87654321"),
        "{config}"
    );

    let sim = Sim::start(&["--seed", "61"]);
    let db = d.join("records.db");
    let recipe_path = recipe(d, "inter/ca.toml", "hsm-line");
    let out = token.run(
        d,
        &[
            "--json",
            "station",
            "run",
            &recipe_path,
            "--ports",
            &sim.port,
            "--records",
            db.to_str().unwrap(),
        ],
    );
    done_line(&out);
    let shown = sim.run(&["cert", "show"]);
    assert_exit(&shown, 0);
    let device_pem = write(d, "device.pem", stdout(&shown).as_bytes());
    openssl_run(
        &[
            "verify",
            "-CAfile",
            &root_pem,
            "-untrusted",
            &inter_pem,
            &device_pem,
        ],
        b"",
    );
    // The device's CA entry is the intermediate, so an attestation chains to the root alone.
    let ca_entry = sim.run(&["cert", "show", "--kind", "ca"]);
    assert_eq!(
        der_of_pem(stdout(&ca_entry).as_bytes()),
        der_of_pem(&std::fs::read(&inter_pem).unwrap())
    );
    let out = sim.run(&["attest", "--ca", &root_pem]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("chains to CN=Offline Root"),
        "{}",
        stdout(&out)
    );

    // A token that is not there, and a wrong PIN: one line each, nothing on a new device.
    let fresh = Sim::start(&["--seed", "62"]);
    let config = std::fs::read_to_string(d.join("inter/ca.toml")).unwrap();
    std::fs::create_dir_all(d.join("gone")).unwrap();
    for (folder, text) in [
        (
            "gone",
            config.replace("token = \"line\"", "token = \"absent\""),
        ),
        (
            "wrong-pin",
            config.replace("env:UCRYPTO_TEST_PIN", "env:UCRYPTO_TEST_WRONG_PIN"),
        ),
    ] {
        std::fs::create_dir_all(d.join(folder)).unwrap();
        for file in ["ca.pem", "chain.pem"] {
            std::fs::copy(d.join("inter").join(file), d.join(folder).join(file)).unwrap();
        }
        std::fs::write(d.join(folder).join("ca.toml"), text).unwrap();
        let recipe_path = recipe(d, &format!("{folder}/ca.toml"), folder);
        let out = ucrypto()
            .current_dir(d)
            .env("SOFTHSM2_CONF", &token.conf)
            .env("UCRYPTO_TEST_PIN", "87654321")
            .env("UCRYPTO_TEST_WRONG_PIN", "11111111")
            .args([
                "station",
                "run",
                &recipe_path,
                "--ports",
                &fresh.port,
                "--records",
                db.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let expected = if folder == "gone" {
            "no token labelled \"absent\""
        } else {
            "refused the PIN"
        };
        assert_one_line(&out, expected);
    }
    assert_no_certificate(&fresh);
}

#[test]
fn renew_replaces_a_valid_certificate_where_both_esp_idf_readers_find_it() {
    let dir = temp_dir();
    let d = dir.path();
    file_ca(d, "line-ca");
    let ca_pem = d.join("line-ca/ca.pem").display().to_string();
    let ca_der = der_of_pem(&std::fs::read(&ca_pem).unwrap());
    let flash = d.join("flash.bin");
    let sim = Sim::start(&["--seed", "22", "--flash", flash.to_str().unwrap()]);
    let db = d.join("records.db");
    let db_s = db.to_str().unwrap();
    done_line(&station(
        d,
        &recipe(d, "line-ca/ca.toml", "line"),
        &sim.port,
        db_s,
    ));
    let mut serial = certify_detail(&db)["serial"].as_str().unwrap().to_string();
    for round in 0..2 {
        // A recipe of its own each time: the records hold a device's run of a recipe once.
        let renew = recipe_of(
            d,
            &format!("renew-{round}"),
            "[[step]]\nkind = \"certify\"\nslot = 0\nca = \"line-ca/ca.toml\"\nrenew = true\n\
             [[step]]\nkind = \"attest\"\nslot = 0\nca = \"line-ca/ca.toml\"\n",
        );
        done_line(&station(d, &renew, &sim.port, db_s));
        let detail = certify_detail(&db);
        assert_eq!(detail["issued"], true, "round {round}: {detail}");
        assert_eq!(detail["replaced"], serial.as_str(), "round {round}");
        let new_serial = detail["serial"].as_str().unwrap().to_string();
        assert_ne!(new_serial, serial);
        serial = new_serial;
        // The device answers with the new certificate, which openssl accepts, and both of
        // ESP-IDF's readers find it with the CA's.
        let shown = sim.run(&["cert", "show"]);
        assert_exit(&shown, 0);
        let device_pem = write(d, "device.pem", stdout(&shown).as_bytes());
        openssl_run(&["verify", "-CAfile", &ca_pem, &device_pem], b"");
        let serial_line = String::from_utf8(openssl_run(
            &["x509", "-in", &device_pem, "-noout", "-serial"],
            b"",
        ))
        .unwrap();
        assert_eq!(
            serial_line.trim(),
            format!("serial={}", serial.to_uppercase())
        );
        let device_der = der_of_pem(stdout(&shown).as_bytes());
        assert_esp_idf_finds(d, &flash, &device_der, &ca_der);
        // The records know the new certificate: attestation with them passes.
        let out = sim.run(&["--json", "attest", "--ca", &ca_pem, "--records", db_s]);
        assert_exit(&out, 0);
        let json: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
        assert_eq!(json["serial"], serial.as_str());
    }
    // `cert show --slot` checks whose key the certificate holds.
    let shown = sim.run(&["--json", "cert", "show", "--slot", "0"]);
    assert_exit(&shown, 0);
    let json: serde_json::Value = serde_json::from_str(stdout(&shown).trim()).unwrap();
    assert_eq!(
        (json["slot"].as_u64(), json["serial"].as_str()),
        (Some(0), Some(serial.as_str()))
    );
    let other = sim.run(&["cert", "show", "--slot", "3"]);
    assert_exit(&other, 3);
    assert!(
        stderr(&other).contains("not for slot 3's key (it certifies slot 0's)"),
        "{}",
        stderr(&other)
    );
    // Without `renew`, a re-run leaves the renewed certificate alone.
    done_line(&station(
        d,
        &recipe(d, "line-ca/ca.toml", "again"),
        &sim.port,
        db_s,
    ));
    let detail = certify_detail(&db);
    assert_eq!(detail["issued"], false, "{detail}");
    assert_eq!(detail["serial"], serial.as_str());

    // `attest --ca ca.toml` also knows what the CA itself revoked, without the records.
    let out = run(
        d,
        &["--port", &sim.port, "attest", "--ca", "line-ca/ca.toml"],
    );
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("revocation"), "{}", stdout(&out));
    revoke(d, &serial, "superseded", None);
    let out = run(
        d,
        &["--port", &sim.port, "attest", "--ca", "line-ca/ca.toml"],
    );
    assert_check_failed(&out, "revocation");
    assert!(stderr(&out).contains("superseded"), "{}", stderr(&out));
    // A PEM CA carries no revocations: that needs --crl or --records.
    assert_exit(&sim.run(&["attest", "--ca", &ca_pem]), 0);
}
