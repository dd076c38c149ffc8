//! Sessions belong to the port that opened them, have unpredictable ids and end when idle.
use std::vec::Vec;

use ucrypto_protocol::{
    AesDirection, AesMode, Chip, ErrorCode, RequestBody, ResponseBody, SESSION_IDLE_TIMEOUT_MS,
};

use super::tests::{decode, frame};
use super::Engine;
use crate::backend::software::{Seed, SoftwareBackend};
use crate::PortId;

const UART: PortId = PortId::UART0;
const USB: PortId = PortId::USB_SERIAL_JTAG;
const KEY: [u8; 16] = [0x2b; 16];
const IV: Option<[u8; 16]> = Some([0x0f; 16]);

fn device() -> Engine<SoftwareBackend> {
    Engine::new(SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(3)))
}

/// The single answer to `body` sent on `port` at `now_ms`, as its response body or error code.
fn ask(
    engine: &mut Engine<SoftwareBackend>,
    port: PortId,
    now_ms: u64,
    body: RequestBody<'_>,
) -> Result<ResponseBody<'static>, ErrorCode> {
    let mut wire = Vec::new();
    engine.receive_on(port, now_ms, &frame(9, body), |f| wire.extend_from_slice(f));
    let mut decoder: ucrypto_protocol::FrameDecoder = ucrypto_protocol::FrameDecoder::new();
    let (_, answer) = decoder.push(&wire);
    let answer = answer.expect("one answer").expect("a good frame").to_vec();
    match decode(&answer).body {
        ResponseBody::Error(e) => Err(e.code),
        ResponseBody::SessionStarted { session } => Ok(ResponseBody::SessionStarted { session }),
        ResponseBody::AesData { offset, data } => Ok(ResponseBody::AesData {
            offset,
            data: data.to_vec().leak(),
        }),
        ResponseBody::SessionEnded => Ok(ResponseBody::SessionEnded),
        ResponseBody::HashProgress { received } => Ok(ResponseBody::HashProgress { received }),
        ResponseBody::Hello(_) => Ok(ResponseBody::SessionEnded),
        other => panic!("unexpected answer {other:?}"),
    }
}

fn aes_start(
    engine: &mut Engine<SoftwareBackend>,
    port: PortId,
    now: u64,
) -> Result<u32, ErrorCode> {
    let body = RequestBody::AesStart {
        direction: AesDirection::Encrypt,
        mode: AesMode::Ctr,
        key: &KEY,
        iv: IV,
    };
    match ask(engine, port, now, body)? {
        ResponseBody::SessionStarted { session } => Ok(session),
        other => panic!("AesStart answered {other:?}"),
    }
}

fn aes_data(
    engine: &mut Engine<SoftwareBackend>,
    port: PortId,
    now: u64,
    session: u32,
    offset: u64,
) -> Result<ResponseBody<'static>, ErrorCode> {
    let data = [0u8; 16];
    ask(
        engine,
        port,
        now,
        RequestBody::AesData {
            session,
            offset,
            data: &data,
        },
    )
}

#[test]
fn a_session_cannot_be_fed_ended_or_replaced_from_the_other_port() {
    let mut engine = device();
    let session = aes_start(&mut engine, UART, 0).unwrap();
    assert_eq!(
        aes_data(&mut engine, USB, 1, session, 0),
        Err(ErrorCode::NoSession)
    );
    assert_eq!(
        ask(&mut engine, USB, 2, RequestBody::EndSession { session }),
        Err(ErrorCode::NoSession)
    );
    assert_eq!(
        ask(&mut engine, USB, 3, RequestBody::HashStart),
        Err(ErrorCode::Busy)
    );
    assert_eq!(aes_start(&mut engine, USB, 4), Err(ErrorCode::Busy));
    // A Hello on the other port is a new host there, not an end of this port's stream.
    ask(&mut engine, USB, 5, RequestBody::Hello).unwrap();
    // The owner's stream went on untouched through all of that.
    assert!(aes_data(&mut engine, UART, 6, session, 0).is_ok());
    assert_eq!(
        ask(&mut engine, UART, 7, RequestBody::EndSession { session }),
        Ok(ResponseBody::SessionEnded)
    );
    // Once it has ended, the other port may open its own.
    let other = aes_start(&mut engine, USB, 8).unwrap();
    assert_eq!(
        aes_data(&mut engine, UART, 9, other, 0),
        Err(ErrorCode::NoSession)
    );
    assert!(aes_data(&mut engine, USB, 10, other, 0).is_ok());
}

#[test]
fn session_ids_come_from_the_rng_not_a_counter() {
    let mut engine = device();
    let ids: Vec<u32> = (0..16)
        .map(|i| aes_start(&mut engine, UART, i).unwrap())
        .collect();
    for pair in ids.windows(2) {
        assert_ne!(pair[1], pair[0].wrapping_add(1), "sequential ids: {ids:x?}");
    }
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "{ids:x?}");
    assert!(!ids.contains(&0));
    // Another device (another seed) opens other ids.
    let mut other = Engine::new(SoftwareBackend::new(Chip::Esp32C3, Seed::Fixed(4)));
    assert_ne!(aes_start(&mut other, UART, 0).unwrap(), ids[0]);
}

#[test]
fn an_idle_session_times_out_and_frees_the_slot_for_the_other_port() {
    let timeout = u64::from(SESSION_IDLE_TIMEOUT_MS);
    let mut engine = device();
    let session = aes_start(&mut engine, UART, 1_000).unwrap();
    // Each use restarts the clock.
    assert!(aes_data(&mut engine, UART, 1_000 + timeout - 1, session, 0).is_ok());
    assert!(aes_data(&mut engine, UART, 1_000 + 2 * timeout - 2, session, 16).is_ok());
    assert_eq!(
        aes_start(&mut engine, USB, 1_000 + 2 * timeout - 1),
        Err(ErrorCode::Busy)
    );
    // Idle for the whole timeout: ended, even with no request on its own port.
    engine.expire_idle_session(1_000 + 3 * timeout - 2);
    assert_eq!(
        aes_data(&mut engine, UART, 1_000 + 3 * timeout - 2, session, 32),
        Err(ErrorCode::NoSession)
    );
    assert!(aes_start(&mut engine, USB, 1_000 + 3 * timeout).is_ok());
}
