//! Any bytes, split anywhere, into the frame decoder both sides use: no panic, bounded frames,
//! and every accepted frame that decodes as a message re-encodes to a frame that decodes alike.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ucrypto_protocol::frame::{encode_frame_vec, FRAME_CRC};
use ucrypto_protocol::{FrameDecoder, Request, Response, MAX_FRAME_LEN};

fuzz_target!(|data: &[u8]| {
    // The first byte picks how the stream is cut into reads, as a serial port would.
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).max(1);
    let mut decoder: Box<FrameDecoder> = Box::new(FrameDecoder::new());
    for piece in stream.chunks(cut) {
        let mut rest = piece;
        while !rest.is_empty() {
            let (used, frame) = decoder.push(rest);
            assert!(used > 0 && used <= rest.len());
            rest = &rest[used..];
            let Some(Ok(body)) = frame else { continue };
            assert!(!body.is_empty() && body.len() + 4 <= MAX_FRAME_LEN);
            let _ = FRAME_CRC.checksum(body);
            if let Ok(request) = postcard::from_bytes::<Request>(body) {
                let again = encode_frame_vec(&request).expect("a decoded request re-encodes");
                check_round_trip::<Request>(&again, &request);
            }
            if let Ok(response) = postcard::from_bytes::<Response>(body) {
                let again = encode_frame_vec(&response).expect("a decoded response re-encodes");
                check_round_trip::<Response>(&again, &response);
            }
        }
    }
});

fn check_round_trip<'a, T>(wire: &[u8], original: &T)
where
    T: serde::Deserialize<'a> + PartialEq + core::fmt::Debug,
{
    let mut decoder: Box<FrameDecoder> = Box::new(FrameDecoder::new());
    let (_, frame) = decoder.push(&wire[1..]);
    let body = frame.expect("one frame").expect("a good frame").to_vec();
    let body: &'static [u8] = Box::leak(body.into_boxed_slice());
    let back: T = postcard::from_bytes(body).expect("decodes");
    assert_eq!(&back, original);
}
