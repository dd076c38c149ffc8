//! The engine: decodes frames, serves each request on the backend, encodes the answer.
//!
//! All buffers are fixed-size fields: the engine never allocates, whatever arrives.
use ucrypto_protocol::{
    encode_frame, Capabilities, Command, DeviceError, Entropy, EntropyState, ErrorCode,
    FrameDecoder, HelloInfo, KeySize, Request, RequestBody, RequestPrefix, Response, ResponseBody,
    SecurityState, SelfTest, TestOutcome, FRAME_GAP_TIMEOUT_MS, MAX_CHUNK_LEN, MAX_FRAME_LEN,
    MAX_WIRE_FRAME_LEN, MIN_RSA_BITS, PROTOCOL_VERSION, REQUEST_VARIANTS, SCHEMA_FINGERPRINT,
};

use zeroize::Zeroize;

use crate::{Backend, ChipProfile, PortId, FIRMWARE_VERSION};

mod aes;
mod attest;
mod decrypt;
mod device_keys;
mod digest;
mod health_checked;
mod line_rate;
mod loaded_key;
mod outcome;
mod random;
pub(crate) mod rsa;
mod self_test;
mod session;
mod sign;
mod startup_health;

use device_keys::certificate::CertUpload;
use health_checked::HealthChecked;
use line_rate::LineRate;
use loaded_key::KeySlot;
use outcome::Outcome;
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
    /// The backend, its RNG output health-tested word by word.
    backend: HealthChecked<B>,
    decoder: FrameDecoder,
    /// Payload of the response being built (random bytes, AES output, a signature).
    data: [u8; MAX_CHUNK_LEN],
    scratch: [u8; MAX_FRAME_LEN],
    out: [u8; MAX_WIRE_FRAME_LEN],
    self_test: SelfTest,
    sessions: SessionSlot<HealthChecked<B>>,
    connection: Connection,
    stats: EngineStats,
    /// The time of the last [`Engine::tick`].
    now_ms: u64,
    /// When bytes last arrived: a frame cut short is dropped [`FRAME_GAP_TIMEOUT_MS`] after.
    last_input_ms: u64,
    /// Whether the backend drives device keys (known at start: it is the hardware's).
    device_keys: bool,
    /// What `Hello` reports: this crate's version, or the version of the image a virtual chip
    /// booted (`set_firmware_version`).
    firmware_version: &'static str,
    /// The running application image's SHA-256 (docs/protocol.md, `HelloInfo.app_sha256`), set
    /// by whoever knows the image: the chip's start-up code, or a virtual chip that booted one.
    app_sha256: Option<[u8; 32]>,
}

/// What a host sets up for its connection and a new `Hello` or a restart forgets: the loaded
/// signing key and the UART rate.
pub(crate) struct Connection {
    keys: KeySlot,
    line: LineRate,
    cert: CertUpload,
}

impl<B: Backend> Engine<B> {
    /// Wraps `backend`, running the start-up self-tests on it first.
    pub fn new(backend: B) -> Self {
        let mut backend = HealthChecked::new(backend);
        let self_test = self_test::run(&mut backend);
        let device_keys = device_keys::available(&mut backend);
        Self {
            backend,
            decoder: FrameDecoder::new(),
            data: [0; MAX_CHUNK_LEN],
            scratch: [0; MAX_FRAME_LEN],
            out: [0; MAX_WIRE_FRAME_LEN],
            self_test,
            sessions: SessionSlot::new(),
            connection: Connection {
                keys: KeySlot::new(),
                line: LineRate::new(),
                cert: CertUpload::new(),
            },
            stats: EngineStats::default(),
            now_ms: 0,
            last_input_ms: 0,
            device_keys,
            firmware_version: FIRMWARE_VERSION,
            app_sha256: None,
        }
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Whether a continuous RNG health test has failed since the last reset (then `Hello`
    /// reports the entropy state `Failed` and every draw from the RNG is refused).
    pub fn rng_health_failed(&self) -> bool {
        self.backend.failed()
    }

    /// Reports `version` in `Hello` instead of this crate's: a virtual chip that booted an
    /// application image reports the version written in that image.
    pub fn set_firmware_version(&mut self, version: &'static str) {
        self.firmware_version = version;
    }

    /// Reports `digest` in `Hello` as the running application image's SHA-256.
    pub fn set_app_sha256(&mut self, digest: Option<[u8; 32]>) {
        self.app_sha256 = digest;
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
        self.connection.keys.wipe();
        self.connection.line.reset();
        self.backend.restart();
        self.connection.cert.forget();
        self.self_test = self_test::run(&mut self.backend);
    }

    /// The device's one clock, in milliseconds from any fixed start (monotonic): call it often
    /// (every pass of the main loop), so that nothing secret outlives its host. An open session
    /// ends after [`ucrypto_protocol::SESSION_IDLE_TIMEOUT_MS`] unused, a loaded key is wiped
    /// after `KEY_IDLE_MS` without a request from its port, and after `BAUD_FALLBACK_MS` without
    /// a frame the UART rate returns to `DEFAULT_BAUD`, and a frame cut short is dropped and
    /// wiped [`FRAME_GAP_TIMEOUT_MS`] after its last byte.
    pub fn tick(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        if self.decoder.is_receiving()
            && now_ms.saturating_sub(self.last_input_ms) >= FRAME_GAP_TIMEOUT_MS
        {
            // The rest of the frame is not coming: its bytes may be part of a key.
            self.decoder.reset();
        }
        self.sessions.expire_idle(now_ms);
        self.connection.keys.tick(now_ms);
        self.connection.line.tick(now_ms);
    }

    /// The UART rate the host asked for (`SetBaud`), or `DEFAULT_BAUD`. The port switches to it
    /// once the answer before it has left the UART.
    pub fn line_baud(&self) -> u32 {
        self.connection.line.baud()
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

    /// Feeds bytes received from the host on a single-port device (the virtual device), at the
    /// time of the last [`Engine::tick`]. `send` is called with each complete response frame.
    pub fn receive(&mut self, input: &[u8], send: impl FnMut(&[u8])) {
        self.receive_on(PortId::DEFAULT, self.now_ms, input, send);
    }

    /// Feeds bytes received on `port` at `now_ms` (the clock of [`Engine::tick`], which this
    /// also advances); `send` is called with each complete response frame. After `send`
    /// returns, the frame and the payload it carried (random bytes, AES output, a signature)
    /// are wiped from the engine.
    pub fn receive_on(
        &mut self,
        port: PortId,
        now_ms: u64,
        mut input: &[u8],
        mut send: impl FnMut(&[u8]),
    ) {
        self.tick(now_ms);
        if !input.is_empty() {
            self.last_input_ms = now_ms;
        }
        self.sessions.serve_from(port, now_ms);
        self.connection.keys.serve_from(port, now_ms);
        self.connection.line.serve_from(port);
        while !input.is_empty() {
            let (consumed, frame) = self.decoder.push(input);
            input = &input[consumed..];
            let body = match frame {
                None => continue,
                Some(Ok(body)) => body,
                // Damaged and over-long frames are only counted: their sequence number cannot be
                // trusted, and an over-long run is most often line noise or two frames whose
                // delimiter was lost, which no request of the host's is waiting for. (The host
                // knows the limit from the protocol; `FrameTooLong` is never sent.)
                Some(Err(_)) => {
                    self.decoder.wipe_frame();
                    continue;
                }
            };
            self.connection.keys.touch();
            self.connection.line.touch();
            let mut response = serve(
                &mut self.backend,
                self.device_keys,
                &self.self_test,
                &mut self.sessions,
                &mut self.connection,
                &mut self.stats,
                &mut self.data,
                &mut self.scratch,
                self.firmware_version,
                self.app_sha256,
                body,
            );
            if let ResponseBody::Hello(info) = &mut response.body {
                info.firmware_version = self.firmware_version;
                info.app_sha256 = self.app_sha256;
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

/// Decodes one checked frame body and serves it. (The engine's fields are passed one by one so
/// that the answer may borrow `data` while the others are changed.)
#[allow(clippy::too_many_arguments)]
fn serve<'d, B: Backend>(
    backend: &mut B,
    device_keys: bool,
    self_test: &SelfTest,
    sessions: &mut SessionSlot<B>,
    connection: &mut Connection,
    stats: &mut EngineStats,
    data: &'d mut [u8; MAX_CHUNK_LEN],
    scratch: &mut [u8; MAX_FRAME_LEN],
    firmware_version: &str,
    app_sha256: Option<[u8; 32]>,
    body: &[u8],
) -> Response<'d> {
    let request: Request<'_> = match decode_canonical(body, scratch) {
        Some(request) => request,
        None => {
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
        connection,
        data,
        firmware_version,
        app_sha256,
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

/// Decodes `body` only in its one canonical encoding (protocol section 3): re-encoded, the
/// request must give back the same bytes, so trailing bytes and varints longer than needed are
/// refused (`Undecodable`) and every request has one encoding. `scratch` takes the re-encoding
/// and is wiped (the request may carry a key).
fn decode_canonical<'b>(body: &'b [u8], scratch: &mut [u8]) -> Option<Request<'b>> {
    let request: Request<'b> = postcard::from_bytes(body).ok()?;
    let same = postcard::to_slice(&request, scratch).is_ok_and(|encoded| *encoded == *body);
    scratch.zeroize();
    same.then_some(request)
}

#[allow(clippy::too_many_arguments)]
fn dispatch<'d, B: Backend>(
    backend: &mut B,
    device_keys: bool,
    self_test: &SelfTest,
    sessions: &mut SessionSlot<B>,
    connection: &mut Connection,
    data: &'d mut [u8; MAX_CHUNK_LEN],
    firmware_version: &str,
    app_sha256: Option<[u8; 32]>,
    body: RequestBody<'_>,
) -> Outcome<'d> {
    let Connection {
        keys: loaded,
        line,
        cert,
    } = connection;
    match body {
        RequestBody::Hello => {
            // A new host on this port (or the same one after a timeout): nothing of its old
            // stream or its loaded key survives (the other port's are not this host's to end).
            sessions.end_own();
            loaded.wipe_own();
            cert.forget();
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
        RequestBody::LoadKey { key } => loaded.load(backend, self_test, &key),
        RequestBody::SignDigestLoaded { handle, digest } => {
            loaded.sign(backend, self_test, handle, &digest, data)
        }
        RequestBody::SignHashedLoaded {
            handle,
            session,
            length,
        } => sign::sign_hashed_loaded(
            backend, self_test, sessions, loaded, handle, session, length, data,
        ),
        RequestBody::UnloadKey { handle } => loaded.unload(handle),
        RequestBody::SetBaud { baud } => line.set(baud),
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
            device_keys::generate(backend, self_test, slot, bits, data)
        }
        RequestBody::KeyImport { slot, key } => {
            sessions.end_own();
            device_keys::import(backend, self_test, slot, &key, data)
        }
        RequestBody::PublicKey { slot } => device_keys::public_key(backend, slot, data),
        RequestBody::SignSlot {
            session,
            length,
            slot,
        } => {
            let digest = sign::finish_hash(backend, sessions, session, length)?;
            device_keys::sign_digest(backend, self_test, slot, &digest, data)
        }
        RequestBody::SignDigestSlot { digest, slot } => {
            device_keys::sign_digest(backend, self_test, slot, &digest, data)
        }
        RequestBody::DigestStart { alg } => digest::start(backend, self_test, sessions, alg),
        RequestBody::DigestFinish { session, length } => {
            digest::finish(backend, sessions, session, length, data)
        }
        RequestBody::Decrypt {
            padding,
            ciphertext,
            key,
        } => decrypt::with_key(backend, self_test, padding, ciphertext, &key, data),
        RequestBody::DecryptLoaded {
            handle,
            padding,
            ciphertext,
        } => decrypt::loaded(
            backend, self_test, loaded, handle, padding, ciphertext, data,
        ),
        RequestBody::DecryptSlot {
            slot,
            padding,
            ciphertext,
        } => decrypt::slot(backend, self_test, slot, padding, ciphertext, data),
        RequestBody::Lock if device_keys => device_keys::lock(backend),
        RequestBody::Lock => Err(NOT_YET),
        RequestBody::CertWrite {
            kind,
            offset,
            total,
            data: piece,
        } => cert.write(backend, kind, offset, total, piece),
        RequestBody::CertRead { kind, offset } => {
            device_keys::certificate::read(backend, kind, offset, data)
        }
        RequestBody::Attest { slot, challenge } => {
            let identity = attest::Identity {
                device_id: backend.device_id(),
                chip: backend.chip(),
                virtual_device: backend.is_virtual(),
                firmware_version,
                app_sha256,
                security: security(backend),
            };
            attest::attest(backend, self_test, &identity, slot, &challenge, data)
        }
    }
}

/// Requests of this protocol version that this firmware does not serve yet (their capability bits
/// are clear): a host that checks `capabilities` never sends them.
const NOT_YET: outcome::Refusal = (
    ErrorCode::Unsupported,
    "this firmware does not serve that request yet: update the firmware",
);

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
            device_keys::slots(backend)
        } else {
            None
        },
        security: security(backend),
        app_sha256: None,
    }
}

/// The security state `Hello` and `Attest` report, read from the eFuses; none without device-key
/// hardware.
fn security<B: Backend>(backend: &mut B) -> Option<SecurityState> {
    if device_keys::available(backend) {
        device_keys::security_state(backend)
    } else {
        None
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
    // Certificates live in the same partition as the key records, and attestation signs with a
    // device key.
    let keys = if device_keys {
        Command::DeviceKeys as u32
            | Command::Lock as u32
            | Command::Certificates as u32
            | Command::Attest as u32
    } else {
        0
    };
    Capabilities {
        commands: Command::Random as u32
            | Command::Aes as u32
            | Command::Sign as u32
            | keys
            | Command::LoadedKey as u32
            | Command::SetBaud as u32
            | Command::Digest as u32
            | Command::Decrypt as u32,
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
mod decrypt_tests;
#[cfg(test)]
mod decrypt_wycheproof_tests;
#[cfg(test)]
mod digest_tests;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
pub(crate) mod tests;
