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
    let dir = temp_dir();
    let input = dir.path().join("in");
    let output = dir.path().join("out");
    let plain = data(len, salt);
    std::fs::write(&input, &plain).unwrap();
    let out = sim.run(&[
        "aes",
        "encrypt",
        "--mode",
        "ctr",
        "--key",
        KEY,
        "--counter",
        COUNTER,
        "-i",
        &input.display().to_string(),
        "-o",
        &output.display().to_string(),
    ]);
    assert_exit(&out, 0);
    let expected = openssl_run(&["enc", "-aes-128-ctr", "-K", KEY, "-iv", COUNTER], &plain);
    assert!(
        std::fs::read(&output).unwrap() == expected,
        "AES output differs from openssl's"
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
