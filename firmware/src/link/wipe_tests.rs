//! After a frame is answered, neither the link's nor the engine's buffers hold any piece of what
//! the requests carried (an AES key, plaintext, an RSA private key) or of what the answers
//! carried (AES output, random bytes, a signature); a frame cut short is wiped after the gap
//! timeout; and a port cannot move another port's line rate.
use std::vec::Vec;

use ucrypto_protocol::{
    AesDirection, AesMode, Chip, FrameDecoder, RequestBody, ResponseBody, BAUD_FALLBACK_MS,
    DEFAULT_BAUD, FRAME_GAP_TIMEOUT_MS,
};

use super::{Link, Port};
use crate::backend::software::{Seed, SoftwareBackend};
use crate::engine::rsa::kat;
use crate::engine::tests::{decode, frame};
use crate::{Engine, PortId};

/// A port that takes everything at once.
struct Wire {
    incoming: Vec<u8>,
    sent: Vec<u8>,
}

impl Port for Wire {
    fn read(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.incoming.len());
        buf[..n].copy_from_slice(&self.incoming[..n]);
        self.incoming.drain(..n);
        n
    }

    fn write(&mut self, data: &[u8]) -> usize {
        self.sent.extend_from_slice(data);
        data.len()
    }

    fn id(&self) -> PortId {
        PortId::UART0
    }
}

/// Every 8-byte piece of `secret` that is found in `buffer`.
fn leaks(buffer: &[u8], secret: &[u8]) -> usize {
    secret
        .windows(8)
        .filter(|piece| buffer.windows(8).any(|w| w == *piece))
        .count()
}

#[test]
fn no_key_plaintext_or_answer_bytes_stay_in_the_buffers_after_a_signature() {
    let key: Vec<u8> = (0..32).map(|i| 0x80 | i as u8).collect();
    let plain: Vec<u8> = (0..64).map(|i| 0x40 ^ (7 * i) as u8).collect();
    let mut engine = Engine::new(SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(11)));
    let mut link = Link::new();
    let mut wire = Wire {
        incoming: Vec::new(),
        sent: Vec::new(),
    };

    let mut ask = |body: RequestBody<'_>| -> Vec<u8> {
        wire.incoming.extend(frame(5, body));
        for _ in 0..64 {
            link.poll(&mut wire, &mut engine, || 0);
        }
        assert!(wire.incoming.is_empty() && !link.is_sending());
        let mut decoder: FrameDecoder = FrameDecoder::new();
        let (_, answer) = decoder.push(&wire.sent);
        let answer = answer.expect("an answer").expect("a good frame").to_vec();
        wire.sent.clear();
        answer
    };

    let session = match decode(&ask(RequestBody::AesStart {
        direction: AesDirection::Encrypt,
        mode: AesMode::Cbc,
        key: &key,
        iv: Some([0x33; 16]),
    }))
    .body
    {
        ResponseBody::SessionStarted { session } => session,
        other => panic!("{other:?}"),
    };
    let aes_answer = ask(RequestBody::AesData {
        session,
        offset: 0,
        data: &plain,
    });
    let ResponseBody::AesData { data: cipher, .. } = decode(&aes_answer).body else {
        panic!("no AES output");
    };
    let cipher = cipher.to_vec();
    ask(RequestBody::EndSession { session });
    let random_answer = ask(RequestBody::Random { words: 16 });
    let ResponseBody::Random { data: random } = decode(&random_answer).body else {
        panic!("no random bytes");
    };
    let random = random.to_vec();
    let signature_answer = ask(RequestBody::SignDigest {
        digest: kat::ABC_SHA256,
        key: kat::KEY,
    });
    let ResponseBody::Signature { data: signature } = decode(&signature_answer).body else {
        panic!("no signature");
    };
    assert_eq!(signature, kat::SIGNATURE, "the known answer");

    let secrets: [(&str, &[u8]); 10] = [
        ("AES key", &key),
        ("plaintext", &plain),
        ("AES output", &cipher),
        ("random bytes", &random),
        ("signature", &kat::SIGNATURE),
        ("dq", kat::KEY.dq),
        ("p", kat::KEY.p),
        ("q", kat::KEY.q),
        ("dp", kat::KEY.dp),
        ("qinv", kat::KEY.qinv),
    ];
    let buffers = engine
        .buffers()
        .into_iter()
        .chain(link.buffers())
        .collect::<Vec<_>>();
    for (name, secret) in secrets {
        assert!(secret.len() >= 8, "{name}");
        for (i, buffer) in buffers.iter().enumerate() {
            assert_eq!(leaks(buffer, secret), 0, "{name} left in buffer {i}");
        }
    }
}

/// The frame of a `SignDigest` with the known-answer key, without its closing delimiter.
fn key_frame_cut_short() -> Vec<u8> {
    let mut bytes = frame(
        9,
        RequestBody::SignDigest {
            digest: kat::ABC_SHA256,
            key: kat::KEY,
        },
    );
    assert_eq!(bytes.pop(), Some(0));
    bytes
}

#[test]
fn a_frame_cut_short_is_wiped_from_the_link_after_the_gap_timeout() {
    let mut engine = Engine::new(SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(11)));
    let mut link = Link::new();
    let mut wire = Wire {
        incoming: key_frame_cut_short(),
        sent: Vec::new(),
    };
    for _ in 0..64 {
        link.poll(&mut wire, &mut engine, || 5);
    }
    let held = |link: &Link| {
        link.buffers()
            .iter()
            .map(|b| leaks(b, kat::KEY.p) + leaks(b, kat::KEY.q))
            .sum::<usize>()
    };
    assert!(
        held(&link) > 0,
        "the cut frame is held while its rest may come"
    );
    link.poll(&mut wire, &mut engine, || 5 + FRAME_GAP_TIMEOUT_MS - 1);
    assert!(held(&link) > 0, "not before the timeout");
    link.poll(&mut wire, &mut engine, || 5 + FRAME_GAP_TIMEOUT_MS);
    assert_eq!(held(&link), 0, "parts of the key stayed in the link");
    assert!(wire.sent.is_empty());
}

#[test]
fn a_frame_cut_short_is_dropped_by_the_engine_after_the_gap_timeout() {
    let mut engine = Engine::new(SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(11)));
    let whole = frame(3, RequestBody::Ping { nonce: 77 });
    let (first, rest) = whole.split_at(whole.len() / 2);
    let mut sent = Vec::new();
    engine.receive_on(PortId::DEFAULT, 0, first, |f| sent.extend_from_slice(f));
    engine.tick(FRAME_GAP_TIMEOUT_MS);
    // Its rest alone is no frame: the first half was dropped.
    engine.receive_on(PortId::DEFAULT, FRAME_GAP_TIMEOUT_MS, rest, |f| {
        sent.extend_from_slice(f)
    });
    assert!(sent.is_empty(), "the halves were joined across the gap");
    // Within the gap they are one frame.
    engine.receive_on(PortId::DEFAULT, 5000, first, |f| sent.extend_from_slice(f));
    engine.tick(5000 + FRAME_GAP_TIMEOUT_MS - 1);
    engine.receive_on(
        PortId::DEFAULT,
        5000 + FRAME_GAP_TIMEOUT_MS - 1,
        rest,
        |f| sent.extend_from_slice(f),
    );
    let mut decoder: FrameDecoder = FrameDecoder::new();
    let (_, answer) = decoder.push(&sent);
    let answer = answer.expect("an answer").expect("a good frame").to_vec();
    assert_eq!(decode(&answer).body, ResponseBody::Pong { nonce: 77 });
}

#[test]
fn set_baud_from_the_usb_port_leaves_uart0_alone() {
    let mut engine = Engine::new(SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(11)));
    let set = |baud| frame(1, RequestBody::SetBaud { baud });
    let mut answers = 0;
    engine.receive_on(PortId::USB_SERIAL_JTAG, 0, &set(921_600), |_| answers += 1);
    assert_eq!(answers, 1);
    assert_eq!(
        engine.line_baud(),
        DEFAULT_BAUD,
        "the USB port moved UART0's rate"
    );
    engine.receive_on(PortId::UART0, 10, &set(921_600), |_| answers += 1);
    assert_eq!(engine.line_baud(), 921_600);
    // Only UART0's own frames keep its raised rate alive.
    let ping = frame(2, RequestBody::Ping { nonce: 1 });
    for t in (100..=10 * BAUD_FALLBACK_MS).step_by(100) {
        engine.receive_on(PortId::USB_SERIAL_JTAG, t, &ping, |_| {});
    }
    assert_eq!(engine.line_baud(), DEFAULT_BAUD);
}
