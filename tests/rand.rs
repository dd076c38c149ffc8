//! End-to-end tests of `ucrypto rand`, `info` and the transport errors, against the virtual
//! device in-process (`--port sim`) and `ucrypto sim` on a pseudo-terminal.
mod common;

use common::*;

#[test]
fn rand_128_in_process_prints_32_hex_digits() {
    let out = run(&["--port", "sim", "rand", "128"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert_eq!(text.trim_end().len(), 32, "{text:?}");
    assert!(text
        .trim_end()
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert!(stderr(&out).contains("virtual device"));
}
