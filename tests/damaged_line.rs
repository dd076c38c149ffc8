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
