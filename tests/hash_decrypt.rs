//! `ucrypto hash`, `encrypt` and `decrypt` end to end on the virtual device, against `sha256sum`
//! and `openssl` (digests, and RSA-OAEP-SHA256 / PKCS#1 v1.5 ciphertexts both ways).
mod common;

use std::path::Path;
use std::process::Output;

use common::{assert_exit, run, stderr, stdout, temp_dir, Sim};

fn openssl(args: &[&str]) -> Output {
    let out = std::process::Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `openssl dgst -<alg>` of a file, as lowercase hex.
fn openssl_digest(alg: &str, path: &str) -> String {
    let text =
        String::from_utf8(openssl(&["dgst", &format!("-{alg}"), "-r", path]).stdout).unwrap();
    text.split_whitespace().next().unwrap().to_string()
}

fn sim(args: &[&str]) -> Output {
    run(&[&["--port", "sim"][..], args].concat())
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("JSON: {}", stdout(out)))
}

#[test]
fn digests_equal_sha256sum_and_openssl_at_block_boundaries_and_streamed() {
    let dir = temp_dir();
    // Empty, one byte, one block (64), the boundaries of the length field (55, 56) and of one
    // and two blocks, each +-1, a device chunk (3072) +-1, and 5 MiB through stdin.
    let lengths = [
        0usize, 1, 55, 56, 63, 64, 65, 127, 128, 129, 3071, 3072, 3073,
    ];
    for len in lengths {
        let path = dir.path().join(format!("m{len}"));
        let data: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let path = path.display().to_string();
        let sha256sum = std::process::Command::new("sha256sum")
            .arg(&path)
            .output()
            .unwrap();
        let expected = String::from_utf8(sha256sum.stdout).unwrap();
        let out = sim(&["hash", "-i", &path]);
        assert_exit(&out, 0);
        assert_eq!(
            stdout(&out).trim(),
            expected.split_whitespace().next().unwrap(),
            "{len}"
        );
        for alg in ["sha224", "sha1"] {
            let out = sim(&["hash", "--alg", alg, "-i", &path]);
            assert_exit(&out, 0);
            assert_eq!(
                stdout(&out).trim(),
                openssl_digest(alg, &path),
                "{alg} {len}"
            );
        }
    }
    let big = dir.path().join("big");
    let data: Vec<u8> = (0..5u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&big, &data).unwrap();
    let big = big.display().to_string();
    let out = common::ucrypto()
        .args(["--port", "sim", "hash", "-i", "-"])
        .stdin(std::fs::File::open(&big).unwrap())
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim(), openssl_digest("sha256", &big));
    let out = sim(&["hash", "--no-verify", "-i", &big]);
    assert_eq!(stdout(&out).trim(), openssl_digest("sha256", &big));
}

#[test]
fn hash_formats_json_and_the_legacy_warning() {
    let expected = openssl_digest_of(b"abc", "sha256");
    let out = sim(&["--json", "hash", "-m", "abc"]);
    assert_exit(&out, 0);
    let j = json(&out);
    assert_eq!(j["digest"], hex::encode(&expected));
    assert_eq!(j["verified"], true);
    assert_eq!(j["hashed_on"], "device");
    assert_eq!(j["bytes"], 3);
    let out = sim(&["hash", "-m", "abc", "-f", "base64"]);
    use base64::Engine as _;
    assert_eq!(
        stdout(&out).trim(),
        base64::engine::general_purpose::STANDARD.encode(&expected)
    );
    let out = sim(&["hash", "-m", "abc", "-f", "raw"]);
    assert_eq!(out.stdout, expected);
    let out = sim(&["hash", "--alg", "sha1", "-m", "abc"]);
    assert_exit(&out, 0);
    assert!(stderr(&out).contains("SHA-1 is legacy"), "{}", stderr(&out));
    let out = sim(&["--json", "hash", "-m", "abc", "-f", "raw"]);
    assert_exit(&out, 2);
    let out = sim(&["hash", "-i", "/nonexistent/file"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("cannot read /nonexistent/file"),
        "{}",
        stderr(&out)
    );
}

fn openssl_digest_of(data: &[u8], alg: &str) -> Vec<u8> {
    let dir = temp_dir();
    let path = dir.path().join("m");
    std::fs::write(&path, data).unwrap();
    hex::decode(openssl_digest(alg, &path.display().to_string())).unwrap()
}

fn genrsa(path: &Path, bits: &str) {
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        &format!("rsa_keygen_bits:{bits}"),
        "-out",
        &path.display().to_string(),
    ]);
}

/// `openssl pkeyutl ARGS OPTS -in INPUT`: its output.
fn pkeyutl(args: &[&str], opts: &[&str], input: &str) -> Vec<u8> {
    let all: Vec<&str> = ["pkeyutl"]
        .iter()
        .chain(args)
        .chain(opts)
        .chain(&["-in", input])
        .copied()
        .collect();
    openssl(&all).stdout
}

/// `openssl pkeyutl -encrypt` of `input` to the public key `public` into `output`.
fn openssl_seal(public: &str, opts: &[&str], input: &str, output: &str) {
    pkeyutl(
        &["-encrypt", "-pubin", "-inkey", public, "-out", output],
        opts,
        input,
    );
}

const OAEP: [&str; 4] = [
    "-pkeyopt",
    "rsa_padding_mode:oaep",
    "-pkeyopt",
    "rsa_oaep_md:sha256",
];

#[test]
fn ciphertexts_go_both_ways_with_openssl_and_a_sent_key() {
    let dir = temp_dir();
    let p = |name: &str| dir.path().join(name).display().to_string();
    for bits in ["1024", "2048", "3072", "4096"] {
        genrsa(&dir.path().join("k.pem"), bits);
        openssl(&["pkey", "-in", &p("k.pem"), "-pubout", "-out", &p("pub.pem")]);
        std::fs::write(p("secret"), b"an AES key, or a Wi-Fi password").unwrap();
        for (padding, opts) in [("oaep", &OAEP[..]), ("pkcs1v15", &[][..])] {
            // ucrypto seals, openssl opens.
            let out = run(&[
                "encrypt",
                "--pubkey",
                &p("pub.pem"),
                "-i",
                &p("secret"),
                "--padding",
                padding,
                "-o",
                &p("c.bin"),
            ]);
            assert_exit(&out, 0);
            assert_eq!(
                pkeyutl(&["-decrypt", "-inkey", &p("k.pem")], opts, &p("c.bin")),
                b"an AES key, or a Wi-Fi password"
            );
            // openssl seals, the device opens (and the host checks it).
            openssl_seal(&p("pub.pem"), opts, &p("secret"), &p("o.bin"));
            let out = sim(&[
                "decrypt",
                "--key",
                &p("k.pem"),
                "-i",
                &p("o.bin"),
                "--padding",
                padding,
            ]);
            assert_exit(&out, 0);
            assert_eq!(
                out.stdout, b"an AES key, or a Wi-Fi password",
                "{bits} {padding}"
            );
        }
        // The other padding does not open it: one error, exit 1, no output file.
        let out = sim(&[
            "decrypt",
            "--key",
            &p("k.pem"),
            "-i",
            &p("o.bin"),
            "-o",
            &p("plain"),
        ]);
        assert_exit(&out, 1);
        assert!(stderr(&out).contains("decrypt-failed"), "{}", stderr(&out));
        assert!(!Path::new(&p("plain")).exists());
    }
    // Too long a message for the key is bad input, before anything is written.
    std::fs::write(p("long"), vec![b'x'; 4096 / 8 - 65]).unwrap();
    let out = run(&[
        "encrypt",
        "--pubkey",
        &p("pub.pem"),
        "-i",
        &p("long"),
        "-o",
        &p("c2.bin"),
    ]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("seals at most 446"),
        "{}",
        stderr(&out)
    );
    assert!(!Path::new(&p("c2.bin")).exists());
}

#[test]
fn a_device_key_opens_what_openssl_and_ucrypto_sealed_to_it() {
    let dir = temp_dir();
    let p = |name: &str| dir.path().join(name).display().to_string();
    genrsa(&dir.path().join("k.pem"), "2048");
    let sim = Sim::start(&[]);
    let out = sim.run(&["key", "import", "--slot", "1", "-k", &p("k.pem"), "--burn"]);
    assert_exit(&out, 0);
    std::fs::write(
        p("pub.pem"),
        sim.run(&["key", "public", "--slot", "1"]).stdout,
    )
    .unwrap();
    std::fs::write(p("secret"), b"licence 42").unwrap();

    // ucrypto seals to the slot (its key read from the device), the device and openssl open it.
    let out = sim.run(&[
        "--json",
        "encrypt",
        "--slot",
        "1",
        "-i",
        &p("secret"),
        "-o",
        &p("c.bin"),
    ]);
    assert_exit(&out, 0);
    assert_eq!(json(&out)["slot"], 1);
    assert_eq!(
        pkeyutl(&["-decrypt", "-inkey", &p("k.pem")], &OAEP, &p("c.bin")),
        b"licence 42"
    );
    let out = sim.run(&["decrypt", "--slot", "1", "-i", &p("c.bin")]);
    assert_exit(&out, 0);
    assert_eq!(out.stdout, b"licence 42");

    // openssl seals to the exported public key, both paddings.
    for (padding, opts) in [("oaep", &OAEP[..]), ("pkcs1v15", &[][..])] {
        openssl_seal(&p("pub.pem"), opts, &p("secret"), &p("o.bin"));
        let out = sim.run(&[
            "--json",
            "decrypt",
            "--slot",
            "1",
            "-i",
            &p("o.bin"),
            "--padding",
            padding,
            "-f",
            "hex",
        ]);
        assert_exit(&out, 0);
        let j = json(&out);
        assert_eq!(j["plaintext"], hex::encode(b"licence 42"));
        assert_eq!(j["key_source"], "device");
    }
    // A damaged ciphertext: the one error.
    let mut c = std::fs::read(p("c.bin")).unwrap();
    c[100] ^= 1;
    std::fs::write(p("bad.bin"), &c).unwrap();
    let out = sim.run(&["decrypt", "--slot", "1", "-i", &p("bad.bin")]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("decrypt-failed"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    // A ciphertext of the wrong length is bad input, found on the host.
    let out = sim.run(&["decrypt", "--slot", "1", "-i", &p("secret")]);
    assert_exit(&out, 2);
}
