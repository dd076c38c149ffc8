//! docs/protocol.md is the contract, precise enough to write a client from. Its golden frames
//! are pinned in protocol/tests/golden.rs; here the Python client of its section 9 runs, as
//! printed, against the virtual device on a pseudo-terminal.
mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// The ```python block of docs/protocol.md.
fn python_client() -> String {
    let spec = include_str!("../docs/protocol.md");
    let start = spec
        .find("```python\n")
        .expect("docs/protocol.md has a Python client")
        + "```python\n".len();
    let len = spec[start..].find("```").expect("the block ends");
    spec[start..start + len].to_string()
}

/// What the client uses of pyserial (`Serial(port, baud, timeout)`, `write`, `read_until`), on
/// the standard library, so that the test needs no package from PyPI. Like pyserial, a read
/// gives up after `timeout` seconds without a byte and returns what it has.
const SERIAL_SHIM: &str = r#"
import os, select, tty

class Serial:
    def __init__(self, port, baudrate, timeout):
        self.fd = os.open(port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)
        self.timeout = timeout

    def write(self, data):
        while data:
            data = data[os.write(self.fd, data):]

    def read_until(self, expected):
        out = bytearray()
        while not out.endswith(expected):
            if not select.select([self.fd], [], [], self.timeout)[0]:
                break
            out += os.read(self.fd, 1)
        return bytes(out)
"#;

/// Checks the answer as the spec's last comment describes it, and prints the random bytes.
const CHECK_ANSWER: &str = r#"
s = varint(seq)
assert message[:len(s)] == s, "seq: " + message.hex()
body = message[len(s):]
assert body[:2] == bytes([0x02, 16]) and len(body) == 18, "body: " + body.hex()
print(body[2:].hex())
"#;

#[test]
fn the_python_client_in_the_spec_gets_random_bytes_from_the_device() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("serial.py"), SERIAL_SHIM).unwrap();
    let sim = Sim::start(&["--seed", "7"]);
    let client = python_client();
    assert!(client.contains("\"/dev/ttyACM0\""), "{client}");
    let script = client.replace("\"/dev/ttyACM0\"", &format!("{:?}", sim.port)) + CHECK_ANSWER;

    let mut python = Command::new("python3");
    python
        .args(["-c", &script])
        .env("PYTHONPATH", dir.path())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run_bounded(&mut python, None, Duration::from_secs(30)).expect("python3 finishes");
    assert!(
        out.status.success(),
        "the spec's client failed: {}",
        stderr(&out)
    );
    let from_python = stdout(&out).trim().to_string();

    // The same first request to a virtual device with the same seed, through ucrypto.
    let sim = Sim::start(&["--seed", "7"]);
    let out = sim.run(&["rand", "128"]);
    assert_exit(&out, 0);
    assert_eq!(from_python, stdout(&out).trim(), "the same 16 bytes");
    assert_eq!(from_python.len(), 32);
}
