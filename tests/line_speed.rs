//! Moving the line to a faster rate after the handshake (`SetBaud`) with `ucrypto sim --baud`,
//! whose pacing follows the device's rate: the exchange, the ping at the new rate, and the way
//! back to the start-up rate when the client is done. Counted from the frames `-vv` logs.
mod common;

use common::*;

#[test]
fn the_client_moves_a_paced_line_to_its_baud_and_back() {
    let sim = Sim::start(&["--baud", "115200"]);
    let out = sim.run(&["--baud", "921600", "-vv", "rand", "128"]);
    assert_exit(&out, 0);
    let log = stderr(&out);
    let frames: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("ucrypto: "))
        .filter(|l| l.starts_with("->") || l.starts_with("<-") || l.starts_with("line at"))
        .map(|l| {
            l.split_once(" seq ")
                .map_or(l, |(_, rest)| rest.split_once(' ').unwrap().1)
        })
        .collect();
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
