//! The engine: decodes frames, serves each request on the backend, encodes the answer.
//!
//! All buffers are fixed-size fields: the engine never allocates, whatever arrives.
use ucrypto_protocol::{
    encode_frame, Capabilities, Command, DeviceError, Entropy, EntropyState, ErrorCode,
    FrameDecoder, FrameError, HelloInfo, KeySize, Request, RequestBody, RequestPrefix, Response,
    ResponseBody, SelfTest, TestOutcome, MAX_CHUNK_LEN, MAX_FRAME_LEN, MAX_WIRE_FRAME_LEN,
    MIN_RSA_BITS, PROTOCOL_VERSION, REQUEST_VARIANTS, SCHEMA_FINGERPRINT,
};

use zeroize::Zeroize;

use crate::{Backend, ChipProfile, PortId, FIRMWARE_VERSION};

mod aes;
mod keys;
mod random;
pub(crate) mod rsa;
mod self_test;
mod session;
mod sign;
mod startup_health;

use session::SessionSlot;

/// Counters the engine keeps about its link, for diagnostics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EngineStats {
    /// Requests answered (including error answers).
    pub requests: u32,
    /// Frames dropped by the decoder (bad CRC, bad COBS, too short, too long).
    pub dropped_frames: u32,
    /// Frames with a good CRC whose message could not be decoded.
    pub undecodable: u32,
}

/// A device: the backend plus the protocol state around it.
pub struct Engine<B: Backend> {
    backend: B,
    decoder: FrameDecoder,
    /// Payload of the response being built (random bytes, AES output, a signature).
    data: [u8; MAX_CHUNK_LEN],
    scratch: [u8; MAX_FRAME_LEN],
    out: [u8; MAX_WIRE_FRAME_LEN],
    self_test: SelfTest,
    sessions: SessionSlot<B>,
    stats: EngineStats,
    /// Whether the backend drives device keys (known at start: it is the hardware's).
    device_keys: bool,
    /// What `Hello` reports: this crate's version, or the version of the image a virtual chip
    /// booted (`set_firmware_version`).
    firmware_version: &'static str,
}

/// What a request handler returns: a response body, or an error code with a hint.
pub(crate) type Outcome<'d> = Result<ResponseBody<'d>, (ErrorCode, &'static str)>;

impl<B: Backend> Engine<B> {
    /// Wraps `backend`, running the start-up self-tests on it first.
    pub fn new(mut backend: B) -> Self {
        let self_test = self_test::run(&mut backend);
        let device_keys = keys::available(&mut backend);
        Self {
            backend,
            decoder: FrameDecoder::new(),
            data: [0; MAX_CHUNK_LEN],
            scratch: [0; MAX_FRAME_LEN],
            out: [0; MAX_WIRE_FRAME_LEN],
            self_test,
            sessions: SessionSlot::new(),
            stats: EngineStats::default(),
            device_keys,
            firmware_version: FIRMWARE_VERSION,
        }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Reports `version` in `Hello` instead of this crate's: a virtual chip that booted an
    /// application image reports the version written in that image.
    pub fn set_firmware_version(&mut self, version: &'static str) {
        self.firmware_version = version;
    }

    /// The backend, for a host that keeps the virtual device's eFuse and flash images.
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }

    /// What a chip reset does: any half-received frame and the open session (with its keys)
    /// are dropped, and the self-tests run again on the same backend.
    pub fn reset(&mut self) {
        self.decoder.reset();
        self.sessions.end_any();
        self.self_test = self_test::run(&mut self.backend);
    }

    pub fn self_test(&self) -> SelfTest {
        self.self_test
    }

    pub fn stats(&self) -> EngineStats {
        EngineStats {
            dropped_frames: self.decoder.drops().total(),
            ..self.stats
        }
    }

    /// The capabilities this engine reports on its backend.
    pub fn capabilities(&self) -> Capabilities {
        capabilities(&self.backend, self.device_keys)
    }

    /// Feeds bytes received from the host on a single-port device without a clock (the virtual
    /// device): sessions never time out. `send` is called with each complete response frame.
    pub fn receive(&mut self, input: &[u8], send: impl FnMut(&[u8])) {
        self.receive_on(PortId::DEFAULT, 0, input, send);
    }

    /// Ends an open session idle for [`ucrypto_protocol::SESSION_IDLE_TIMEOUT_MS`] on the
    /// caller's millisecond clock, wiping its key: called between requests, so that a key does
    /// not stay in RAM after its host went away.
    pub fn expire_idle_session(&mut self, now_ms: u64) {
        self.sessions.expire_idle(now_ms);
    }

    /// Feeds bytes received on `port` at `now_ms` (a monotonic millisecond clock); `send` is
    /// called with each complete response frame. After `send` returns, the frame and the
    /// payload it carried (random bytes, AES output, a signature) are wiped from the engine.
    pub fn receive_on(
        &mut self,
        port: PortId,
        now_ms: u64,
        mut input: &[u8],
        mut send: impl FnMut(&[u8]),
    ) {
        self.sessions.serve_from(port, now_ms);
        while !input.is_empty() {
            let (consumed, frame) = self.decoder.push(input);
            input = &input[consumed..];
            let body = match frame {
                None => continue,
                Some(Ok(body)) => body,
                // A frame too long to hold is answered, so the host learns its limit; damaged
                // frames are only counted: their sequence number cannot be trusted.
                Some(Err(FrameError::TooLong)) => &[][..],
                Some(Err(_)) => {
                    self.decoder.wipe_frame();
                    continue;
                }
            };
            let mut response = if body.is_empty() {
                error(
                    0,
                    ErrorCode::FrameTooLong,
                    "frame longer than the protocol limit",
                )
            } else {
                serve(
                    &mut self.backend,
                    self.device_keys,
                    &self.self_test,
                    &mut self.sessions,
                    &mut self.stats,
                    &mut self.data,
                    body,
                )
            };
            if let ResponseBody::Hello(info) = &mut response.body {
                info.firmware_version = self.firmware_version;
            }
            // The request may have carried a key: none of it stays in the receive buffer.
            self.decoder.wipe_frame();
            self.stats.requests = self.stats.requests.wrapping_add(1);
            // Every response fits by construction (payloads are at most MAX_CHUNK_LEN); if one
            // did not, answering with an error keeps the host from waiting for nothing.
            let frame = match encode_frame(&response, &mut self.scratch, &mut self.out) {
                Ok(frame) => frame,
                Err(_) => {
                    let fallback = error(response.seq, ErrorCode::Internal, "response too large");
                    match encode_frame(&fallback, &mut self.scratch, &mut self.out) {
                        Ok(frame) => frame,
                        Err(_) => {
                            self.wipe_answer();
                            continue;
                        }
                    }
                }
            };
            send(frame);
            self.wipe_answer();
        }
    }

    /// Wipes the response just sent: its payload, its encoding and its frame.
    fn wipe_answer(&mut self) {
        self.data.zeroize();
        self.scratch.zeroize();
        self.out.zeroize();
    }

    /// The engine's buffers, for tests that look for secrets left behind.
    #[cfg(test)]
    pub(crate) fn buffers(&self) -> [&[u8]; 3] {
        [&self.data, &self.scratch, &self.out]
    }
}

fn error(seq: u32, code: ErrorCode, message: &'static str) -> Response<'static> {
    Response {
        seq,
        body: ResponseBody::Error(DeviceError { code, message }),
    }
}

/// Decodes one checked frame body and serves it.
fn serve<'d, B: Backend>(
    backend: &mut B,
    device_keys: bool,
    self_test: &SelfTest,
    sessions: &mut SessionSlot<B>,
    stats: &mut EngineStats,
    data: &'d mut [u8; MAX_CHUNK_LEN],
    body: &[u8],
) -> Response<'d> {
    let request: Request<'_> = match postcard::from_bytes(body) {
        Ok(request) => request,
        Err(_) => {
            stats.undecodable = stats.undecodable.wrapping_add(1);
            return match postcard::take_from_bytes::<RequestPrefix>(body) {
                Ok((prefix, _)) if prefix.variant >= REQUEST_VARIANTS => error(
                    prefix.seq,
                    ErrorCode::UnknownRequest,
                    "request not known to this firmware: update the firmware",
                ),
                Ok((prefix, _)) => error(prefix.seq, ErrorCode::Undecodable, "malformed request"),
                Err(_) => error(0, ErrorCode::Undecodable, "malformed request"),
            };
        }
    };
    let seq = request.seq;
    let outcome = dispatch(
        backend,
        device_keys,
        self_test,
        sessions,
        data,
        request.body,
    );
    Response {
        seq,
        body: match outcome {
            Ok(body) => body,
            Err((code, message)) => ResponseBody::Error(DeviceError { code, message }),
        },
    }
}

fn dispatch<'d, B: Backend>(
    backend: &mut B,
    device_keys: bool,
    self_test: &SelfTest,
    sessions: &mut SessionSlot<B>,
    data: &'d mut [u8; MAX_CHUNK_LEN],
    body: RequestBody<'_>,
) -> Outcome<'d> {
    match body {
        RequestBody::Hello => {
            // A new host on this port (or the same one after a timeout): nothing of its old
            // stream survives. The other port's session is not this host's to end.
            sessions.end_own();
            Ok(ResponseBody::Hello(hello(backend, device_keys, self_test)))
        }
        RequestBody::Ping { nonce } => Ok(ResponseBody::Pong { nonce }),
        RequestBody::Random { words } => random::serve(backend, self_test, data, words),
        RequestBody::AesStart {
            direction,
            mode,
            key,
            iv,
        } => aes::start(backend, self_test, sessions, direction, mode, key, iv),
        RequestBody::AesData {
            session,
            offset,
            data: chunk,
        } => aes::data(backend, sessions, data, session, offset, chunk),
        RequestBody::HashStart => sign::start(backend, self_test, sessions),
        RequestBody::HashData {
            session,
            offset,
            data: chunk,
        } => sign::update(backend, sessions, session, offset, chunk),
        RequestBody::SignHashed {
            session,
            length,
            key,
        } => sign::sign_hashed(backend, self_test, sessions, session, length, &key, data),
        RequestBody::SignDigest { digest, key } => {
            sign::sign_digest(backend, self_test, &digest, &key, data)
        }
        RequestBody::EndSession { session } => {
            if sessions.end(session) {
                Ok(ResponseBody::SessionEnded)
            } else {
                Err((ErrorCode::NoSession, "no such session"))
            }
        }
        RequestBody::KeyGenerate { slot, bits } => {
            // Long: nothing of this port's open stream survives it (the other port's session is
            // not this host's to end).
            sessions.end_own();
            keys::generate(backend, self_test, slot, bits, data)
        }
        RequestBody::KeyImport { slot, key } => {
            sessions.end_own();
            keys::import(backend, self_test, slot, &key, data)
        }
        RequestBody::PublicKey { slot } => keys::public_key(backend, slot, data),
        RequestBody::SignSlot {
            session,
            length,
            slot,
        } => {
            let digest = sign::finish_hash(backend, sessions, session, length)?;
            keys::sign_digest(backend, self_test, slot, &digest, data)
        }
        RequestBody::SignDigestSlot { digest, slot } => {
            keys::sign_digest(backend, self_test, slot, &digest, data)
        }
    }
}

fn hello<B: Backend>(
    backend: &mut B,
    device_keys: bool,
    self_test: &SelfTest,
) -> HelloInfo<'static> {
    HelloInfo {
        protocol_version: PROTOCOL_VERSION,
        schema: SCHEMA_FINGERPRINT,
        firmware_version: FIRMWARE_VERSION,
        chip: backend.chip(),
        virtual_device: backend.is_virtual(),
        device_id: backend.device_id(),
        capabilities: capabilities(backend, device_keys),
        entropy: entropy(backend, self_test),
        self_test: *self_test,
        key_slots: if device_keys {
            keys::slots(backend)
        } else {
            None
        },
    }
}

/// The backend's entropy source, `Failed` also when the start-up health test failed.
fn entropy<B: Backend>(backend: &B, self_test: &SelfTest) -> Entropy {
    let mut entropy = backend.entropy();
    if matches!(self_test.rng, TestOutcome::Failed) {
        entropy.state = EntropyState::Failed;
    }
    entropy
}

/// What this engine can do on `backend`'s chip.
fn capabilities<B: Backend>(backend: &B, device_keys: bool) -> Capabilities {
    let profile = ChipProfile::of(backend.chip());
    let keys = if device_keys {
        Command::DeviceKeys as u32
    } else {
        0
    };
    Capabilities {
        commands: Command::Random as u32 | Command::Aes as u32 | Command::Sign as u32 | keys,
        // Key sizes the accelerator lacks run in software on the device.
        aes_key_sizes: KeySize::Aes128 as u8 | KeySize::Aes192 as u8 | KeySize::Aes256 as u8,
        aes_hw_key_sizes: profile.aes_hw_key_sizes,
        min_rsa_bits: MIN_RSA_BITS,
        max_rsa_bits: profile.max_rsa_bits,
        max_chunk_len: MAX_CHUNK_LEN as u16,
    }
}

#[cfg(test)]
mod aes_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
pub(crate) mod tests;
