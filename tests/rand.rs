//! End-to-end tests of `ucrypto rand` and `info`, against the virtual device in-process
//! (`--port sim`) and `ucrypto sim` on a pseudo-terminal.
mod common;

use base64::Engine as _;
use common::*;

const BITS: [u64; 6] = [1, 32, 33, 100, 128, 4096];

fn expected_bytes(bits: u64) -> usize {
    (bits.div_ceil(32) * 4) as usize
}

#[test]
fn rand_128_in_process_prints_32_lowercase_hex_digits() {
    let out = run(&["--port", "sim", "rand", "128"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.ends_with('\n'));
    let line = text.trim_end();
    assert_eq!(line.len(), 32, "{text:?}");
    assert!(line
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert!(
        stderr(&out).contains("warning: virtual device"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rand_over_a_pty_in_every_format_rounds_bits_up_to_words() {
    let sim = Sim::start(&["--seed", "1"]);
    for bits in BITS {
        let n = expected_bytes(bits);
        let b = bits.to_string();

        let out = sim.run(&["rand", &b]);
        assert_exit(&out, 0);
        let hex_text = stdout(&out);
        assert_eq!(
            hex::decode(hex_text.trim_end()).unwrap().len(),
            n,
            "hex, {bits} bits"
        );

        let out = sim.run(&["rand", &b, "--format", "base64"]);
        assert_exit(&out, 0);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(stdout(&out).trim_end())
            .unwrap();
        assert_eq!(decoded.len(), n, "base64, {bits} bits");

        let out = sim.run(&["rand", &b, "--format", "raw"]);
        assert_exit(&out, 0);
        assert_eq!(out.stdout.len(), n, "raw, {bits} bits");

        let out = sim.run(&["--json", "rand", &b]);
        assert_exit(&out, 0);
        let lines: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
        assert_eq!(lines.len(), 1, "one JSON object per result");
        let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
        assert_eq!(v["command"], "rand");
        assert_eq!(v["bits_requested"], bits);
        assert_eq!(v["bits"], bits.div_ceil(32) * 32);
        assert_eq!(v["bytes"], n);
        assert_eq!(v["virtual"], true);
        assert_eq!(v["deterministic"], true);
        assert_eq!(v["health_tests"], "passed");
        assert_eq!(hex::decode(v["data"].as_str().unwrap()).unwrap().len(), n);
        assert!(
            stderr(&out).is_empty(),
            "--json keeps stderr quiet: {}",
            stderr(&out)
        );

        let out = sim.run(&["--json", "rand", &b, "--format", "base64"]);
        assert_exit(&out, 0);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let data = base64::engine::general_purpose::STANDARD
            .decode(v["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(data.len(), n);
    }
}

#[test]
fn a_fixed_seed_gives_the_same_stream_and_another_seed_does_not() {
    let a = Sim::start(&["--seed", "42"]);
    let b = Sim::start(&["--seed", "42"]);
    let c = Sim::start(&["--seed", "43"]);
    let first = |sim: &Sim| stdout(&sim.run(&["rand", "256"]));
    let (ra, rb, rc) = (first(&a), first(&b), first(&c));
    assert_eq!(ra, rb);
    assert_ne!(ra, rc);
    // The stream goes on: the next request gives new bytes.
    assert_ne!(first(&a), ra);
}

#[test]
fn a_large_request_is_split_into_frames_and_written_whole_to_a_file() {
    let dir = temp_dir();
    let path = dir.path().join("r.bin");
    let out = run(&[
        "--port",
        "sim",
        "rand",
        "80000000",
        "--format",
        "raw",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 10_000_000);
    assert_eq!(files_in(dir.path()), vec![path], "no temporary file left");
}

#[test]
fn json_with_an_output_file_names_the_file() {
    let sim = Sim::start(&["--seed", "3"]);
    let dir = temp_dir();
    let path = dir.path().join("r.hex");
    let out = sim.run(&["--json", "rand", "4096", "-o", path.to_str().unwrap()]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["output"], path.to_str().unwrap());
    assert!(v.get("data").is_none());
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(hex::decode(text.trim_end()).unwrap().len(), 512);
}

#[test]
fn info_reports_the_handshake() {
    let sim = Sim::start(&["--seed", "5", "--chip", "esp32c6"]);
    let out = sim.run(&["--json", "info"]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["chip"], "esp32c6");
    assert_eq!(v["virtual"], true);
    assert_eq!(v["port"], sim.port.as_str());
    assert_eq!(v["protocol_version"], ucrypto_protocol::PROTOCOL_VERSION);
    assert_eq!(
        v["schema"],
        hex::encode(ucrypto_protocol::SCHEMA_FINGERPRINT)
    );
    assert_eq!(v["entropy"]["source"], "fixed-seed");
    assert_eq!(v["entropy"]["state"], "deterministic");
    assert_eq!(v["self_test"]["rng"], "passed");
    assert_eq!(v["capabilities"]["rsa_max_bits"], 4096);
    assert!(v["capabilities"]["commands"]
        .as_array()
        .unwrap()
        .contains(&"rand".into()));
    let id = v["device_id"].as_str().unwrap();
    assert_eq!(id.len(), 17, "a MAC address: {id}");

    let out = sim.run(&["info"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("esp32c6 (virtual device"), "{text}");
    assert!(text.contains(id), "{text}");

    let out = run(&["--port", "sim:esp32", "--json", "info"]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["chip"], "esp32");
    assert_eq!(v["capabilities"]["rsa_max_bits"], 4096);
    assert_eq!(v["entropy"]["source"], "host-os");
}

#[test]
fn the_port_can_come_from_the_environment() {
    let sim = Sim::start(&["--seed", "8"]);
    let out = ucrypto()
        .env("UCRYPTO_PORT", &sim.port)
        .args(["rand", "64"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim_end().len(), 16);
}

#[test]
fn a_closed_stdout_ends_quietly() {
    use std::process::Stdio;
    let mut child = ucrypto()
        .args(["--port", "sim", "rand", "8000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        !stderr(&out).contains("panicked"),
        "a closed pipe is not a crash: {}",
        stderr(&out)
    );
    assert_exit(&out, 0);
}

#[test]
fn mixing_host_entropy_changes_a_fixed_seed_stream_and_says_so() {
    let plain = Sim::start(&["--seed", "42"]);
    let mixed_a = Sim::start(&["--seed", "42"]);
    let mixed_b = Sim::start(&["--seed", "42"]);
    let device_only = stdout(&plain.run(&["rand", "256"]));
    let run_mixed = |sim: &Sim| {
        let out = sim.run(&["--json", "rand", "256", "--mix-host-entropy"]);
        assert_exit(&out, 0);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let (a, b) = (run_mixed(&mixed_a), run_mixed(&mixed_b));
    // Same device bytes on all three; the host's share makes the mixed ones differ.
    assert_ne!(a["data"], b["data"]);
    assert_ne!(a["data"].as_str().unwrap(), device_only.trim_end());
    assert_eq!(a["host_entropy_mixed"], true);
    assert_eq!(a["health_tested_bytes"], 32);
    let out = plain.run(&["--json", "rand", "256"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["host_entropy_mixed"], false);
}

#[test]
fn info_says_what_is_and_is_not_tested_of_the_entropy() {
    let out = run(&["--port", "sim", "--json", "info"]);
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entropy = &v["entropy"];
    assert!(entropy["device_tests"]
        .as_str()
        .unwrap()
        .contains("1024 words"));
    assert!(entropy["host_tests"]
        .as_str()
        .unwrap()
        .contains("cumulative over the connection"));
    assert!(entropy["not_tested"]
        .as_str()
        .unwrap()
        .contains("unpredictable"));
    let text = stdout(&run(&["--port", "sim", "info"]));
    assert!(
        text.contains("entropy tested:") && text.contains("not tested:"),
        "{text}"
    );
}
