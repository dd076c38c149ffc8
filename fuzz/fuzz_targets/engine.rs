//! Any bytes into the virtual device: raw, or cut into well-framed messages so the fuzzer
//! reaches request handling past the CRC. The engine never panics, answers each framed request
//! exactly once, and sends only frames that decode as responses. (`engine_session` drives
//! well-formed AES and signing sessions.)
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "device.rs"]
mod device;

use device::{responses, Device, DEVICES};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    DEVICES.with_borrow_mut(|devices| {
        let device = device::fresh(devices, mode >> 4);
        if mode & 1 == 0 {
            raw(device, rest);
        } else {
            framed(device, rest);
        }
    });
});

/// The bytes as they come: every answer is a good frame holding a response.
fn raw(device: &mut Device, input: &[u8]) {
    let mut wire = Vec::new();
    device.receive(input, |f| wire.extend_from_slice(f));
    responses(&wire);
}

/// Length-prefixed message bodies, each framed with a correct CRC.
fn framed(device: &mut Device, mut input: &[u8]) {
    let mut wire = Vec::new();
    while let Some((&len, tail)) = input.split_first() {
        let len = usize::from(len).min(tail.len());
        let (body, tail) = tail.split_at(len);
        input = tail;
        let framed = device::frame(body);
        let before = wire.len();
        device.receive(&framed, |f| wire.extend_from_slice(f));
        // An empty body is too short to be a frame: the decoder drops it unanswered.
        let expected = usize::from(!body.is_empty());
        assert_eq!(
            responses(&wire[before..]),
            expected,
            "one answer per framed request"
        );
    }
}
