use std::collections::VecDeque;
use std::vec::Vec;

use ucrypto_protocol::{ErrorCode, FrameDecoder, RequestBody, ResponseBody, MAX_WIRE_FRAME_LEN};

use super::{Link, Port, STALL_TIMEOUT_MS};
use crate::engine::tests::{decode, engine, frame};
use crate::PortId;

/// A port that holds what the host sent and takes at most `per_write` bytes per write.
struct FakePort {
    incoming: VecDeque<u8>,
    sent: Vec<u8>,
    per_write: usize,
    id: PortId,
}

impl FakePort {
    fn new(per_write: usize) -> Self {
        Self {
            incoming: VecDeque::new(),
            sent: Vec::new(),
            per_write,
            id: PortId::DEFAULT,
        }
    }

    fn host_sends(&mut self, bytes: &[u8]) {
        self.incoming.extend(bytes);
    }

    /// The response frames the host has received so far, decoded.
    fn answers(&self) -> Vec<(u32, ResponseBody<'static>)> {
        let mut decoder: FrameDecoder = FrameDecoder::new();
        let mut out = Vec::new();
        let mut rest = &self.sent[..];
        while !rest.is_empty() {
            let (n, result) = decoder.push(rest);
            rest = &rest[n..];
            if let Some(Ok(body)) = result {
                let response = decode(body);
                let body = match response.body {
                    ResponseBody::Pong { nonce } => ResponseBody::Pong { nonce },
                    ResponseBody::SessionStarted { session } => {
                        ResponseBody::SessionStarted { session }
                    }
                    ResponseBody::SessionEnded => ResponseBody::SessionEnded,
                    ResponseBody::Random { data } => ResponseBody::Random {
                        data: data.to_vec().leak(),
                    },
                    ResponseBody::Error(e) => ResponseBody::Error(ucrypto_protocol::DeviceError {
                        code: e.code,
                        message: "",
                    }),
                    other => panic!("unexpected answer {other:?}"),
                };
                out.push((response.seq, body));
            }
        }
        out
    }
}

impl Port for FakePort {
    fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.incoming.len());
        for (slot, byte) in buf.iter_mut().zip(self.incoming.drain(..n)) {
            *slot = byte;
        }
        n
    }

    fn write(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.per_write);
        self.sent.extend_from_slice(&data[..n]);
        n
    }

    fn id(&self) -> PortId {
        self.id
    }
}

fn ping(seq: u32, nonce: u32) -> Vec<u8> {
    frame(seq, RequestBody::Ping { nonce })
}

#[test]
fn interleaved_ports_each_get_their_own_answer() {
    let mut engine = engine();
    let (mut uart, mut usb) = (FakePort::new(128), FakePort::new(64));
    let (mut uart_link, mut usb_link) = (Link::new(), Link::new());
    let a = ping(1, 0xaaaa);
    let b = ping(2, 0xbbbb);
    // Half of A's frame, then all of B's, then the rest of A's: bytes that would corrupt one
    // shared decoder.
    uart.host_sends(&a[..a.len() / 2]);
    for _ in 0..4 {
        uart_link.poll(&mut uart, &mut engine, || 0);
    }
    usb.host_sends(&b);
    for _ in 0..4 {
        usb_link.poll(&mut usb, &mut engine, || 0);
    }
    uart.host_sends(&a[a.len() / 2..]);
    for _ in 0..4 {
        uart_link.poll(&mut uart, &mut engine, || 0);
    }
    assert_eq!(uart.answers(), [(1, ResponseBody::Pong { nonce: 0xaaaa })]);
    assert_eq!(usb.answers(), [(2, ResponseBody::Pong { nonce: 0xbbbb })]);
}

#[test]
fn a_session_opened_on_one_port_is_not_the_other_ports() {
    // The software backend: its self-tests pass, so sessions open.
    let mut engine = crate::Engine::new(crate::backend::software::SoftwareBackend::new(
        ucrypto_protocol::Chip::Esp32C3,
        crate::backend::software::Seed::Fixed(5),
    ));
    let (mut uart, mut usb) = (FakePort::new(4096), FakePort::new(4096));
    (uart.id, usb.id) = (PortId::UART0, PortId::USB_SERIAL_JTAG);
    let (mut uart_link, mut usb_link) = (Link::new(), Link::new());
    uart.host_sends(&frame(1, RequestBody::HashStart));
    uart_link.poll(&mut uart, &mut engine, || 0);
    let [(1, ResponseBody::SessionStarted { session })] = uart.answers()[..] else {
        panic!("{:?}", uart.answers());
    };
    usb.host_sends(&frame(2, RequestBody::EndSession { session }));
    usb.host_sends(&frame(3, RequestBody::HashStart));
    for _ in 0..4 {
        usb_link.poll(&mut usb, &mut engine, || 0);
    }
    let codes: Vec<(u32, ErrorCode)> = usb
        .answers()
        .into_iter()
        .map(|(seq, body)| match body {
            ResponseBody::Error(e) => (seq, e.code),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(codes, [(2, ErrorCode::NoSession), (3, ErrorCode::Busy)]);
    uart.host_sends(&frame(4, RequestBody::EndSession { session }));
    uart_link.poll(&mut uart, &mut engine, || 0);
    assert_eq!(
        uart.answers().last(),
        Some(&(4, ResponseBody::SessionEnded)),
        "the owner still ends it"
    );
}

#[test]
fn an_answer_trickles_out_intact_through_a_slow_port() {
    let mut engine = engine();
    let mut port = FakePort::new(1);
    let mut link = Link::new();
    port.host_sends(&frame(9, RequestBody::Random { words: 300 }));
    // Each poll sends what the port takes (one byte per write, repeatedly), then reads on.
    for _ in 0..100 {
        link.poll(&mut port, &mut engine, || 0);
    }
    let answers = port.answers();
    assert_eq!(answers.len(), 1);
    let (seq, ResponseBody::Random { data }) = &answers[0] else {
        panic!("not random: {answers:?}")
    };
    assert_eq!(*seq, 9);
    // The counting backend's bytes, starting where the engine() helper reset it.
    let expected: Vec<u8> = (0..1200u32).map(|i| i as u8).collect();
    assert_eq!(*data, &expected[..]);
}

#[test]
fn requests_queue_behind_an_unsent_answer_and_are_answered_in_order() {
    let mut engine = engine();
    let mut port = FakePort::new(0);
    let mut link = Link::new();
    let mut both = ping(1, 11);
    both.extend(ping(2, 22));
    port.host_sends(&both);
    link.poll(&mut port, &mut engine, || 0);
    assert!(link.is_sending());
    // Nothing taken yet: the second request waits, unread or unanswered.
    assert_eq!(link.stats().frames, 1);
    port.per_write = 64;
    for _ in 0..4 {
        link.poll(&mut port, &mut engine, || 10);
    }
    assert_eq!(
        port.answers(),
        [
            (1, ResponseBody::Pong { nonce: 11 }),
            (2, ResponseBody::Pong { nonce: 22 })
        ]
    );
}

#[test]
fn a_port_nobody_drains_loses_its_answer_but_never_blocks_the_other() {
    let mut engine = engine();
    let (mut usb, mut uart) = (FakePort::new(0), FakePort::new(128));
    let (mut usb_link, mut uart_link) = (Link::new(), Link::new());
    usb.host_sends(&ping(1, 1));
    usb_link.poll(&mut usb, &mut engine, || 0);
    assert!(usb_link.is_sending());

    uart.host_sends(&ping(2, 2));
    uart_link.poll(&mut uart, &mut engine, || 5);
    assert_eq!(uart.answers(), [(2, ResponseBody::Pong { nonce: 2 })]);

    usb_link.poll(&mut usb, &mut engine, || STALL_TIMEOUT_MS - 1);
    assert!(usb_link.is_sending(), "dropped before the timeout");
    usb_link.poll(&mut usb, &mut engine, || STALL_TIMEOUT_MS);
    assert!(!usb_link.is_sending());
    assert_eq!(usb_link.stats().abandoned, 1);

    // A host that comes back is answered again.
    usb.per_write = 64;
    usb.host_sends(&ping(3, 3));
    usb_link.poll(&mut usb, &mut engine, || STALL_TIMEOUT_MS + 1);
    assert_eq!(usb.answers(), [(3, ResponseBody::Pong { nonce: 3 })]);
}

#[test]
fn the_stall_clock_starts_when_the_answer_is_ready() {
    // Time spent before the answer existed (a long RSA operation) must not count against it.
    let mut engine = engine();
    let mut port = FakePort::new(0);
    let mut link = Link::new();
    port.host_sends(&ping(1, 1));
    // The first reading is taken after the engine answered, as if it had worked for 5 s.
    let mut clock = [5_000].into_iter();
    link.poll(&mut port, &mut engine, || clock.next().unwrap_or(5_000));
    link.poll(&mut port, &mut engine, || 5_000 + STALL_TIMEOUT_MS - 1);
    assert!(link.is_sending());
    assert_eq!(link.stats().abandoned, 0);
}

#[test]
fn an_over_long_run_is_answered_frame_too_long_and_the_link_recovers() {
    let mut engine = engine();
    let mut port = FakePort::new(usize::MAX);
    let mut link = Link::new();
    let mut input = std::vec![0u8];
    input.extend(std::iter::repeat_n(0x55, MAX_WIRE_FRAME_LEN + 100));
    input.push(0);
    input.extend(ping(4, 44));
    port.host_sends(&input);
    for _ in 0..200 {
        link.poll(&mut port, &mut engine, || 0);
    }
    let answers = port.answers();
    assert_eq!(answers.len(), 2, "{answers:?}");
    let (seq, ResponseBody::Error(e)) = &answers[0] else {
        panic!("not an error: {answers:?}")
    };
    assert_eq!((*seq, e.code), (0, ErrorCode::FrameTooLong));
    assert_eq!(answers[1], (4, ResponseBody::Pong { nonce: 44 }));
}

#[test]
fn a_request_leaves_no_bytes_in_the_link() {
    let mut engine = engine();
    let mut port = FakePort::new(usize::MAX);
    let mut link = Link::new();
    port.host_sends(&frame(
        5,
        RequestBody::AesStart {
            direction: ucrypto_protocol::AesDirection::Encrypt,
            mode: ucrypto_protocol::AesMode::Ecb,
            key: &[0x77; 32],
            iv: None,
        },
    ));
    for _ in 0..10 {
        link.poll(&mut port, &mut engine, || 0);
    }
    assert_eq!(port.answers().len(), 1);
    link.poll(&mut port, &mut engine, || 0);
    assert!(link.frame.iter().all(|&b| b == 0));
    assert!(link.input.iter().all(|&b| b == 0));
}
