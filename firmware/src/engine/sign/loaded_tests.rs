//! A key loaded once per connection (`LoadKey`), through the engine's frames: signatures equal
//! Python's, the key is gone after `UnloadKey`, a `Hello`, a restart or the idle time, and it
//! belongs to the port that loaded it.
use sha2::{Digest, Sha256};
use ucrypto_protocol::{Chip, Command, ErrorCode, RequestBody, ResponseBody, KEY_IDLE_MS};

use super::super::rsa::tests::vectors;
use super::super::tests::{decode, error_code};
use super::tests::{ask, engine, signature, started};
use crate::Backend;

fn load<B: Backend>(
    e: &mut super::super::Engine<B>,
    key: ucrypto_protocol::RsaPrivateKey<'_>,
) -> u32 {
    match decode(&ask(e, RequestBody::LoadKey { key })).body {
        ResponseBody::KeyLoaded { handle } => handle,
        other => panic!("not loaded: {other:?}"),
    }
}

fn sign_loaded<B: Backend>(
    e: &mut super::super::Engine<B>,
    handle: u32,
    digest: [u8; 32],
) -> std::vec::Vec<u8> {
    ask(e, RequestBody::SignDigestLoaded { handle, digest })
}

#[test]
fn a_loaded_key_signs_every_vector_as_python_did_many_times() {
    for v in vectors() {
        let mut e = engine(Chip::Esp32C3);
        assert!(e.capabilities().supports(Command::LoadedKey));
        let handle = load(&mut e, v.key());
        for _ in 0..3 {
            let answer = sign_loaded(&mut e, handle, v.digest());
            assert_eq!(signature(&answer), v.get("signature"), "{}", v.name);
        }
    }
}

#[test]
fn a_streamed_message_is_signed_with_the_loaded_key() {
    let all = vectors();
    let v = &all[1];
    assert_eq!(Sha256::digest(b"\0nul\0").as_slice(), v.get("digest"));
    let mut e = engine(Chip::Esp32C6);
    let handle = load(&mut e, v.key());
    let session = started(&mut e);
    ask(
        &mut e,
        RequestBody::HashData {
            session,
            offset: 0,
            data: b"\0nul\0",
        },
    );
    let answer = ask(
        &mut e,
        RequestBody::SignHashedLoaded {
            handle,
            session,
            length: 5,
        },
    );
    assert_eq!(signature(&answer), v.get("signature"));
    // A wrong handle is NoKey, and it ends the hash session as SignHashed would.
    let session = started(&mut e);
    let answer = ask(
        &mut e,
        RequestBody::SignHashedLoaded {
            handle: handle + 1,
            session,
            length: 0,
        },
    );
    assert_eq!(error_code(&decode(&answer)), ErrorCode::NoKey);
    let answer = ask(
        &mut e,
        RequestBody::SignHashedLoaded {
            handle,
            session,
            length: 0,
        },
    );
    assert_eq!(error_code(&decode(&answer)), ErrorCode::NoSession);
}

#[test]
fn the_key_is_wiped_by_unload_hello_restart_and_idle_time() {
    let all = vectors();
    let v = &all[0];
    let no_key =
        |e: &mut super::super::Engine<_>, handle| match decode(&sign_loaded(e, handle, v.digest()))
            .body
        {
            ResponseBody::Error(err) => err.code == ErrorCode::NoKey,
            ResponseBody::Signature { data } => {
                assert_eq!(data, v.get("signature"));
                false
            }
            other => panic!("{other:?}"),
        };
    let mut e = engine(Chip::Esp32C3);

    let handle = load(&mut e, v.key());
    let answer = ask(&mut e, RequestBody::UnloadKey { handle });
    assert_eq!(decode(&answer).body, ResponseBody::KeyUnloaded);
    assert!(no_key(&mut e, handle));
    let answer = ask(&mut e, RequestBody::UnloadKey { handle });
    assert_eq!(error_code(&decode(&answer)), ErrorCode::NoKey);

    let handle = load(&mut e, v.key());
    ask(&mut e, RequestBody::Hello);
    assert!(no_key(&mut e, handle));

    let handle = load(&mut e, v.key());
    e.reset();
    assert!(no_key(&mut e, handle));

    // Idle: requests keep the key; KEY_IDLE_MS of silence wipes it. (The virtual device's
    // requests arrive at the time of the last tick.)
    e.tick(1_000);
    let handle = load(&mut e, v.key());
    let mut last = 1_000;
    for _ in 0..2 {
        e.tick(last + KEY_IDLE_MS - 1);
        assert!(
            !no_key(&mut e, handle),
            "a request came within the idle time"
        );
        last += KEY_IDLE_MS - 1;
    }
    e.tick(last + KEY_IDLE_MS);
    assert!(no_key(&mut e, handle), "idle for KEY_IDLE_MS");

    // Loading another key replaces the first.
    let first = load(&mut e, v.key());
    let second = load(&mut e, all[1].key());
    assert!(no_key(&mut e, first));
    assert_eq!(
        signature(&sign_loaded(&mut e, second, all[1].digest())),
        all[1].get("signature")
    );
}

#[test]
fn a_bad_key_is_refused_at_load_and_nothing_stays_loaded() {
    let all = vectors();
    let v = &all[0];
    let mut e = engine(Chip::Esp32C3);
    let handle = load(&mut e, v.key());
    let bad = ucrypto_protocol::RsaPrivateKey {
        p: v.get("q"),
        q: &[3],
        ..v.key()
    };
    let answer = ask(&mut e, RequestBody::LoadKey { key: bad });
    assert_eq!(error_code(&decode(&answer)), ErrorCode::BadArgument);
    assert_eq!(
        error_code(&decode(&sign_loaded(&mut e, handle, v.digest()))),
        ErrorCode::NoKey
    );
}

/// The answer to `body` sent on `port` at `now_ms` (a request from one of the chip's two ports).
fn ask_on<B: Backend>(
    e: &mut super::super::Engine<B>,
    port: crate::PortId,
    now_ms: u64,
    body: RequestBody<'_>,
) -> std::vec::Vec<u8> {
    let mut wire = std::vec::Vec::new();
    e.receive_on(port, now_ms, &super::super::tests::frame(1, body), |f| {
        wire.extend_from_slice(f)
    });
    let mut decoder: ucrypto_protocol::FrameDecoder = ucrypto_protocol::FrameDecoder::new();
    let (_, answer) = decoder.push(&wire);
    answer.expect("one answer").expect("a good frame").to_vec()
}

#[test]
fn the_key_belongs_to_the_port_that_loaded_it() {
    use crate::PortId;
    let all = vectors();
    let v = &all[0];
    let (uart, usb) = (PortId::UART0, PortId::USB_SERIAL_JTAG);
    let mut e = engine(Chip::Esp32C3);
    let handle = match decode(&ask_on(
        &mut e,
        uart,
        0,
        RequestBody::LoadKey { key: v.key() },
    ))
    .body
    {
        ResponseBody::KeyLoaded { handle } => handle,
        other => panic!("not loaded: {other:?}"),
    };
    let sign = RequestBody::SignDigestLoaded {
        handle,
        digest: v.digest(),
    };

    // The other port can neither sign with it, nor unload it, nor replace it, and its `Hello`
    // leaves it loaded.
    let answer = ask_on(&mut e, usb, 10, sign.clone());
    assert_eq!(error_code(&decode(&answer)), ErrorCode::NoKey);
    let answer = ask_on(&mut e, usb, 20, RequestBody::UnloadKey { handle });
    assert_eq!(error_code(&decode(&answer)), ErrorCode::NoKey);
    let answer = ask_on(&mut e, usb, 30, RequestBody::LoadKey { key: all[1].key() });
    assert_eq!(error_code(&decode(&answer)), ErrorCode::Busy);
    ask_on(&mut e, usb, 40, RequestBody::Hello);
    let answer = ask_on(&mut e, uart, 50, sign.clone());
    assert_eq!(signature(&answer), v.get("signature"));

    // The other port's requests do not keep it alive: KEY_IDLE_MS after the owner's last
    // request it is gone, however busy the other port was.
    ask_on(
        &mut e,
        usb,
        50 + KEY_IDLE_MS / 2,
        RequestBody::Ping { nonce: 1 },
    );
    ask_on(
        &mut e,
        usb,
        50 + KEY_IDLE_MS,
        RequestBody::Ping { nonce: 2 },
    );
    let answer = ask_on(&mut e, uart, 60 + KEY_IDLE_MS, sign.clone());
    assert_eq!(error_code(&decode(&answer)), ErrorCode::NoKey);

    // Once it is gone the other port may load its own, and the owner's `Hello` wipes the key.
    let now = 100 + KEY_IDLE_MS;
    let answer = ask_on(&mut e, usb, now, RequestBody::LoadKey { key: all[1].key() });
    let handle = match decode(&answer).body {
        ResponseBody::KeyLoaded { handle } => handle,
        other => panic!("not loaded: {other:?}"),
    };
    ask_on(&mut e, usb, now + 1, RequestBody::Hello);
    let answer = ask_on(
        &mut e,
        usb,
        now + 2,
        RequestBody::SignDigestLoaded {
            handle,
            digest: all[1].digest(),
        },
    );
    assert_eq!(error_code(&decode(&answer)), ErrorCode::NoKey);
}
