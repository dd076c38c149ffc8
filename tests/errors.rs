//! End-to-end tests of failures: bad arguments, missing and busy ports, a device that dies
//! mid-command, a device from another protocol version, and a device that is not ours. Each
//! must end with its documented exit code, one clear message, and no partial output file.
mod common;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use ucrypto_protocol::frame::encode_frame_vec;
use ucrypto_protocol::*;

#[test]
fn zero_bits_is_a_usage_error() {
    let out = run(&["--port", "sim", "rand", "0"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("BITS must be at least 1"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn non_numeric_bits_is_a_usage_error() {
    let out = run(&["--port", "sim", "rand", "lots"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("invalid value 'lots'"),
        "{}",
        stderr(&out)
    );

    let out = run(&["--port", "sim", "--json", "rand", "lots"]);
    assert_exit(&out, 2);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["exit_code"], 2);
}

#[test]
fn a_missing_port_is_a_transport_error() {
    let out = run(&["--port", "/dev/ttyUSB-none", "rand", "32"]);
    assert_exit(&out, 4);
    let err = stderr(&out);
    assert!(err.contains("cannot open /dev/ttyUSB-none"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    let out = run(&["--port", "/dev/ttyUSB-none", "--json", "rand", "32"]);
    assert_exit(&out, 4);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["exit_code"], 4);
    assert_eq!(v["error"]["kind"], "open-failed");
}

#[test]
fn a_file_that_is_not_a_serial_port_is_refused() {
    let out = run(&["--port", "/dev/null", "rand", "32"]);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("not a serial port"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_port_held_by_another_program_is_busy() {
    let sim = Sim::start(&["--seed", "1"]);
    // Hold the port as another ucrypto would: an exclusive flock on the device.
    let holder = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&sim.port)
        .unwrap();
    assert_eq!(unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_EX) }, 0);
    let out = sim.run(&["rand", "32"]);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("port busy"), "{}", stderr(&out));
    drop(holder);
    assert_exit(&sim.run(&["rand", "32"]), 0);
}

#[test]
fn output_into_a_directory_or_a_missing_folder_is_refused() {
    let dir = temp_dir();
    let out = run(&[
        "--port",
        "sim",
        "rand",
        "32",
        "-o",
        dir.path().to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));

    let missing = dir.path().join("no/such/dir/r.bin");
    let out = run(&[
        "--port",
        "sim",
        "rand",
        "32",
        "-o",
        missing.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("cannot write"), "{}", stderr(&out));
    assert!(files_in(dir.path()).is_empty());
}

#[test]
fn raw_bytes_in_json_are_refused() {
    let out = run(&["--port", "sim", "--json", "rand", "32", "--format", "raw"]);
    assert_exit(&out, 2);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "bad-input");
}

/// Waits for a child with an upper bound, so a hang fails the test instead of stalling it.
fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("ucrypto hung for {limit:?} after the device went away");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_device_killed_mid_command_ends_with_exit_4_and_no_file() {
    let mut sim = Sim::start(&["--seed", "1"]);
    let dir = temp_dir();
    let path = dir.path().join("r.bin");
    // 100 MB takes seconds over the pty: long enough to be cut in the middle.
    let mut child = ucrypto()
        .args(["--port", &sim.port, "--timeout", "2", "rand", "800000000"])
        .args(["--format", "raw", "-o", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    sim.kill();
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(4), "{err}");
    assert!(
        err.contains("disconnected") || err.contains("no answer"),
        "{err}"
    );
    assert!(
        files_in(dir.path()).is_empty(),
        "no partial file: {:?}",
        files_in(dir.path())
    );
}

fn hello_with_version(seq: u32, version: u16, schema: [u8; 8]) -> Vec<u8> {
    encode_frame_vec(&Response {
        seq,
        body: ResponseBody::Hello(HelloInfo {
            protocol_version: version,
            schema,
            firmware_version: "9.9.9",
            chip: Chip::Esp32C3,
            virtual_device: false,
            device_id: [0; 6],
            capabilities: Capabilities {
                commands: 1,
                aes_key_sizes: 0,
                aes_hw_key_sizes: 0,
                min_rsa_bits: 1024,
                max_rsa_bits: 3072,
                max_chunk_len: 3072,
            },
            entropy: Entropy {
                source: EntropySource::SarAdc,
                state: EntropyState::Ready,
            },
            self_test: SelfTest {
                rng: TestOutcome::Passed,
                aes: TestOutcome::Passed,
                sha256: TestOutcome::Passed,
                rsa: TestOutcome::Passed,
            },
            key_slots: None,
            security: None,
            app_sha256: None,
        }),
    })
    .unwrap()
}

#[test]
fn a_newer_device_asks_to_update_ucrypto() {
    let device = FakeDevice::start(|seq| hello_with_version(seq, PROTOCOL_VERSION + 1, [0; 8]));
    let out = run(&["--port", &device.path, "rand", "32"]);
    assert_exit(&out, 4);
    assert!(stderr(&out).contains("update ucrypto"), "{}", stderr(&out));
}

#[test]
fn an_older_device_asks_to_update_the_firmware() {
    let device = FakeDevice::start(|seq| hello_with_version(seq, PROTOCOL_VERSION - 1, [0; 8]));
    let out = run(&["--port", &device.path, "info"]);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("update the device's firmware"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_device_with_another_schema_is_refused() {
    let device = FakeDevice::start(|seq| hello_with_version(seq, PROTOCOL_VERSION, [1; 8]));
    let out = run(&["--port", &device.path, "--json", "info"]);
    assert_exit(&out, 4);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "protocol-mismatch");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("flash the firmware built from the same ucrypto release"));
}

#[test]
fn a_device_that_is_not_ours_is_named_as_such() {
    let device = FakeDevice::start(|_| b"\x00Guru Meditation Error\r\n\x00".to_vec());
    let out = run(&["--port", &device.path, "--timeout", "0.5", "info"]);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("not in the ucrypto protocol"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_silent_device_times_out() {
    let device = FakeDevice::start(|_| Vec::new());
    let start = Instant::now();
    let out = run(&["--port", &device.path, "--timeout", "0.3", "rand", "32"]);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("no answer from the device"),
        "{}",
        stderr(&out)
    );
    // A bound against hanging, far above the expected ~2 s (two Hello attempts).
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn sigint_mid_stream_exits_cleanly_and_the_device_serves_the_next_command() {
    let sim = Sim::start(&["--seed", "2"]);
    let dir = temp_dir();
    let path = dir.path().join("r.bin");
    let mut child = ucrypto()
        .args(["--port", &sim.port, "rand", "800000000", "--format", "raw"])
        .args(["-o", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(files_in(dir.path()).is_empty(), "no partial file");
    let out = sim.run(&["rand", "128"]);
    assert_exit(&out, 0);
    assert_eq!(stdout(&out).trim_end().len(), 32);
}
