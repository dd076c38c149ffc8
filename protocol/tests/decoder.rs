//! The frame decoder under hostile input: garbage, truncation, bit flips and oversized frames
//! never panic, never yield a frame that was not sent, and never stop later frames.
use proptest::prelude::*;

use ucrypto_protocol::*;

fn all_frames(decoder: &mut FrameDecoder, mut input: &[u8]) -> (Vec<Vec<u8>>, u32) {
    let mut frames = Vec::new();
    let mut errors = 0;
    while !input.is_empty() {
        let (n, frame) = decoder.push(input);
        assert!(n > 0 && n <= input.len());
        input = &input[n..];
        match frame {
            Some(Ok(body)) => frames.push(body.to_vec()),
            Some(Err(_)) => errors += 1,
            None => {}
        }
    }
    (frames, errors)
}

fn request(seq: u32, words: u16) -> Vec<u8> {
    encode_frame_vec(&Request {
        seq,
        body: RequestBody::Random { words },
    })
    .unwrap()
}

proptest! {
    #[test]
    fn garbage_never_panics_and_memory_stays_bounded(input in proptest::collection::vec(any::<u8>(), 0..20_000)) {
        let mut decoder: FrameDecoder = FrameDecoder::new();
        let (frames, _) = all_frames(&mut decoder, &input);
        // Random bytes pass a 32-bit CRC about once in 4 billion frames.
        for f in frames {
            prop_assert!(f.len() <= MAX_FRAME_LEN);
        }
    }

    #[test]
    fn a_good_frame_after_garbage_is_received(garbage in proptest::collection::vec(any::<u8>(), 0..10_000), seq in 1u32.., words in 1u16..768) {
        let mut decoder: FrameDecoder = FrameDecoder::new();
        let mut input = garbage;
        input.extend(request(seq, words));
        let (frames, _) = all_frames(&mut decoder, &input);
        let last = frames.last().expect("the good frame arrives");
        let req: Request = postcard::from_bytes(last).unwrap();
        prop_assert_eq!(req.seq, seq);
    }

    #[test]
    fn a_bit_flip_is_dropped_and_counted(seq in 1u32.., words in 1u16..768, bit in 0usize..64) {
        let mut wire = request(seq, words);
        // Flip one bit inside the frame (not the delimiters), keeping it free of 0x00 so the
        // frame is not split (a split frame is dropped too, but as two pieces).
        let inner = wire.len() - 2;
        let pos = 1 + (bit / 8) % inner;
        wire[pos] ^= 1 << (bit % 8);
        prop_assume!(wire[pos] != 0);
        let mut decoder: FrameDecoder = FrameDecoder::new();
        let (frames, errors) = all_frames(&mut decoder, &wire);
        prop_assert!(frames.is_empty());
        prop_assert_eq!(errors, 1);
        prop_assert_eq!(decoder.drops().total(), 1);
    }

    #[test]
    fn truncated_frames_are_dropped_and_the_next_is_received(seq in 1u32.., cut in 1usize..8) {
        let mut wire = request(seq, 5);
        wire.truncate(wire.len() - 1 - cut.min(wire.len() - 3));
        wire.extend(request(seq + 1, 6));
        let mut decoder: FrameDecoder = FrameDecoder::new();
        let (frames, errors) = all_frames(&mut decoder, &wire);
        prop_assert_eq!(frames.len(), 1);
        prop_assert_eq!(errors, 1);
        let req: Request = postcard::from_bytes(&frames[0]).unwrap();
        prop_assert_eq!(req.seq, seq + 1);
    }

    #[test]
    fn round_trip_of_data_messages(seq in any::<u32>(), data in proptest::collection::vec(any::<u8>(), 0..MAX_CHUNK_LEN)) {
        let msg = Response { seq, body: ResponseBody::AesData { offset: u64::from(seq) * 3, data: &data } };
        let wire = encode_frame_vec(&msg).unwrap();
        prop_assert!(wire.len() <= MAX_WIRE_FRAME_LEN);
        let mut decoder: FrameDecoder = FrameDecoder::new();
        let (frames, _) = all_frames(&mut decoder, &wire);
        let back: Response = postcard::from_bytes(&frames[0]).unwrap();
        prop_assert_eq!(back, msg);
    }
}

#[test]
fn an_oversized_frame_is_reported_once_and_skipped() {
    let mut input = vec![0u8];
    input.extend(std::iter::repeat_n(0x55u8, MAX_WIRE_FRAME_LEN * 3));
    input.push(0);
    input.extend(request(9, 1));
    let mut decoder: FrameDecoder = FrameDecoder::new();
    let (frames, errors) = all_frames(&mut decoder, &input);
    assert_eq!(errors, 1);
    assert_eq!(decoder.drops().too_long, 1);
    assert_eq!(frames.len(), 1);
}

#[test]
fn a_message_larger_than_a_frame_is_refused_by_the_encoder() {
    let data = vec![7u8; MAX_FRAME_LEN];
    let msg = Response {
        seq: 1,
        body: ResponseBody::AesData {
            offset: 0,
            data: &data,
        },
    };
    assert!(encode_frame_vec(&msg).is_err());
}

#[test]
fn every_byte_split_decodes_the_same() {
    let mut wire = request(1, 2);
    wire.extend(request(2, 3));
    let mut decoder: FrameDecoder = FrameDecoder::new();
    let mut frames = Vec::new();
    for b in &wire {
        let (_, f) = decoder.push(std::slice::from_ref(b));
        if let Some(f) = f {
            frames.push(f.unwrap().to_vec());
        }
    }
    assert_eq!(frames.len(), 2);
}

/// Encodes one frame into a vector (the crate's own helper needs its `std` feature).
fn encode_frame_vec<T: serde::Serialize>(
    msg: &T,
) -> Result<Vec<u8>, ucrypto_protocol::frame::EncodeError> {
    let mut scratch = vec![0u8; MAX_FRAME_LEN];
    let mut out = vec![0u8; MAX_WIRE_FRAME_LEN];
    Ok(encode_frame(msg, &mut scratch, &mut out)?.to_vec())
}
