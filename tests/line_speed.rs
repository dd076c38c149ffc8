//! Moving the line to a faster rate after the handshake (`SetBaud`) with `ucrypto sim --baud`,
//! whose pacing follows the device's rate: the exchange, the ping at the new rate, and the way
//! back to the start-up rate when the client is done. Counted from the frames `-vv` logs.
//!
//! A paced sim is a UART: bytes cross intact only while the client's side of the terminal and
//! the device are at one rate (and, with `--line-limit`, no faster than the line carries), so a
//! side left at the wrong rate is heard as garbage, as on a board.
mod common;

use common::*;

#[test]
fn the_client_moves_a_paced_line_to_its_baud_and_back() {
    let sim = Sim::start(&["--baud", "115200"]);
    let out = sim.run(&["--baud", "921600", "-vv", "rand", "128"]);
    assert_exit(&out, 0);
    let log = stderr(&out);
    let frames = frames(&log);
    let set = frames
        .iter()
        .position(|f| f.starts_with("SetBaud { 921600 }"))
        .expect(&log);
    assert!(
        frames[set + 1].starts_with("BaudSet { baud: 921600 }"),
        "{log}"
    );
    assert!(frames[set + 2].starts_with("Ping"), "{log}");
    assert!(frames[set + 3].starts_with("Pong"), "{log}");
    assert_eq!(frames[set + 4], "line at 921600 baud", "{log}");
    // Random, then back to the start-up rate so the next connection is heard at once.
    assert!(
        frames[frames.len() - 2].starts_with("SetBaud { 115200 }"),
        "{log}"
    );
    assert!(
        frames[frames.len() - 1].starts_with("BaudSet { baud: 115200 }"),
        "{log}"
    );

    // The next client, without --baud, talks at the start-up rate (a pseudo-terminal has no
    // USB bridge, so nothing is negotiated) and is answered.
    let out = sim.run(&["-vv", "rand", "128"]);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("SetBaud"));
}

#[test]
fn a_rate_outside_the_devices_range_is_refused_with_the_device_error() {
    let sim = Sim::start(&["--baud", "115200"]);
    let out = sim.run(&["--baud", "6000000", "rand", "128"]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("baud rate outside"),
        "{}",
        stderr(&out)
    );
}

/// The frames `-vv` logged (request or answer, without direction and sequence number), and the
/// `line at N baud` line, in order.
fn frames(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|l| l.strip_prefix("ucrypto: "))
        .filter(|l| l.starts_with("->") || l.starts_with("<-") || l.starts_with("line at"))
        .map(|l| {
            l.split_once(" seq ")
                .map_or(l, |(_, rest)| rest.split_once(' ').unwrap().1)
        })
        .collect()
}

/// The rate the client reported the line at after the negotiation.
fn line_rate(log: &str) -> &str {
    frames(log)
        .into_iter()
        .find_map(|f| f.strip_prefix("line at "))
        .unwrap_or_else(|| panic!("no `line at` in the log: {log}"))
}

/// Runs `rand 128` at `--baud 921600` and checks the bits came (16 bytes in hex).
fn rand_at_921600(sim: &Sim) -> String {
    rand_at_921600_with(sim, &[])
}

fn rand_at_921600_with(sim: &Sim, extra: &[&str]) -> String {
    let out = sim.run(&[&["--baud", "921600", "-vv"], extra, &["rand", "128"]].concat());
    assert_exit(&out, 0);
    let hex = stdout(&out);
    assert_eq!(hex.trim().len(), 32, "{hex}");
    assert!(hex.trim().bytes().all(|b| b.is_ascii_hexdigit()), "{hex}");
    stderr(&out)
}

/// The device is at its start-up rate: a client that stays there (no `SetBaud`) is answered.
#[track_caller]
fn answers_at_the_start_up_rate(sim: &Sim) {
    let out = sim.run(&["-vv", "rand", "16"]);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("SetBaud"), "{}", stderr(&out));
}

#[test]
fn a_line_that_breaks_at_the_new_rate_falls_back_to_115200_and_the_command_succeeds() {
    // The device takes 921600 (it is in range) but the line garbles anything above 460800.
    let sim = Sim::start(&["--baud", "115200", "--line-limit", "460800"]);
    // With no allowance for the link the pings at 921600 give up well before the device's
    // fallback: the client must wait for it before it pings at 115200.
    for timeout in ["2", "0.05"] {
        let log = rand_at_921600_with(&sim, &["--timeout", timeout]);
        a_fallback_in(&log);
        answers_at_the_start_up_rate(&sim);
    }

    // A rate the line carries still works on the same device.
    let out = sim.run(&["--baud", "460800", "-vv", "rand", "16"]);
    assert_exit(&out, 0);
    assert_eq!(line_rate(&stderr(&out)), "460800 baud");
    answers_at_the_start_up_rate(&sim);
}

/// The log of a client that set 921600, was acknowledged, found the line dead at that rate and
/// came back to 115200.
#[track_caller]
fn a_fallback_in(log: &str) {
    let frames = frames(log);
    let set = frames
        .iter()
        .position(|f| f.starts_with("SetBaud { 921600 }"))
        .expect(log);
    assert!(
        frames[set + 1].starts_with("BaudSet { baud: 921600 }"),
        "{log}"
    );
    // The pings at 921600 go unanswered; the ping back at 115200, after the device's own
    // fallback, is answered (a device still at 921600 would hear garbage and stay silent).
    let pong = frames
        .iter()
        .position(|f| f.starts_with("Pong"))
        .expect(log);
    assert!(pong > set + 3, "{log}");
    assert!(
        frames[set + 2..pong].iter().all(|f| f.starts_with("Ping")),
        "{log}"
    );
    assert!(
        log.contains("warning: 921600 baud did not work on this line: back to 115200"),
        "{log}"
    );
    assert_eq!(line_rate(log), "115200 baud", "{log}");
    // Nothing to put back at the end: the line was never at 921600 for this client.
    assert!(!log.contains("SetBaud { 115200 }"), "{log}");
}

#[test]
fn a_lost_baud_set_answer_is_settled_by_the_ping_at_the_new_rate() {
    // The device switches, but its BaudSet never reaches the client.
    let sim = Sim::start(&["--baud", "115200", "--faults", "lose=baud-set"]);
    let log = rand_at_921600(&sim);
    assert!(log.contains("SetBaud { 921600 }"), "{log}");
    assert!(
        !frames(&log).iter().any(|f| f.starts_with("BaudSet")),
        "{log}"
    );
    // The ping at 921600 reaches the device before its fallback: the line stays there.
    assert_eq!(line_rate(&log), "921600 baud", "{log}");
    assert!(!log.contains("did not work"), "{log}");
    answers_at_the_start_up_rate(&sim);
}

#[test]
fn a_lost_baud_set_answer_on_a_line_that_breaks_ends_at_115200() {
    let sim = Sim::start(&[
        "--baud",
        "115200",
        "--line-limit",
        "460800",
        "--faults",
        "lose=baud-set",
    ]);
    let log = rand_at_921600(&sim);
    assert!(
        !frames(&log).iter().any(|f| f.starts_with("BaudSet")),
        "{log}"
    );
    assert!(
        log.contains("warning: 921600 baud did not work on this line: back to 115200"),
        "{log}"
    );
    assert_eq!(line_rate(&log), "115200 baud", "{log}");
    answers_at_the_start_up_rate(&sim);
}

#[test]
fn line_limit_is_for_a_paced_line() {
    let out = run(&["sim", "--line-limit", "460800"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("--line-limit needs --baud"),
        "{}",
        stderr(&out)
    );
}
