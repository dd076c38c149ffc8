//! Any bytes into the virtual device: raw, or cut into well-framed messages so the fuzzer
//! reaches request handling past the CRC. The engine never panics and answers only with frames
//! that decode as responses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ucrypto_firmware::backend::software::Seed;
use ucrypto_firmware::{Engine, SoftwareBackend};
use ucrypto_protocol::frame::FRAME_CRC;
use ucrypto_protocol::{Chip, FrameDecoder, Response, MAX_FRAME_LEN};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let chip = Chip::ALL[usize::from(mode >> 4) % Chip::ALL.len()];
    let mut engine = Box::new(Engine::new(SoftwareBackend::new(chip, Seed::Fixed(1))));
    let mut wire = Vec::new();
    if mode & 1 == 0 {
        engine.receive(rest, |f| wire.extend_from_slice(f));
    } else {
        // Length-prefixed message bodies, each framed with a correct CRC.
        let mut input = rest;
        while let Some((&len, tail)) = input.split_first() {
            let len = usize::from(len).min(tail.len());
            let (body, tail) = tail.split_at(len);
            input = tail;
            let mut raw = body.to_vec();
            raw.extend_from_slice(&FRAME_CRC.checksum(body).to_le_bytes());
            let mut framed = vec![0u8; MAX_FRAME_LEN + 64];
            let n = cobs::encode(&raw, &mut framed[1..]);
            framed.truncate(n + 2);
            framed[0] = 0;
            framed[n + 1] = 0;
            engine.receive(&framed, |f| wire.extend_from_slice(f));
        }
    }
    let mut decoder: Box<FrameDecoder> = Box::new(FrameDecoder::new());
    let mut rest = &wire[..];
    while !rest.is_empty() {
        let (used, frame) = decoder.push(rest);
        rest = &rest[used..];
        if let Some(frame) = frame {
            let body = frame.expect("the engine sends only good frames");
            postcard::from_bytes::<Response>(body).expect("the engine sends only responses");
        }
    }
});
