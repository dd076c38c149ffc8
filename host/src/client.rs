//! The protocol client: sequence numbers, framing, per-request timeouts and the handshake.
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ucrypto_protocol::{
    encode_frame, FrameDecoder, HelloPrefix, Request, RequestBody, Response, ResponseBody,
    MAX_FRAME_LEN, MAX_WIRE_FRAME_LEN, PROTOCOL_VERSION, SCHEMA_FINGERPRINT,
};
use zeroize::Zeroizing;

use crate::device_info::DeviceInfo;
use crate::error::{Error, Result, TransportError};
use crate::recovery::Recovery;
use crate::transport::Transport;
use crate::verify::health::HealthTests;

/// One wait for answers: its deadline, and when the next ping goes behind the requests.
struct Wait {
    total: Duration,
    deadline: Instant,
    poke_interval: Duration,
    poke_at: Instant,
}

/// What [`Client::receive_next`] found.
#[derive(Debug)]
pub struct Arrival<R> {
    /// Requests sent before the one answered (or before the ping), never answered: lost.
    pub lost: Vec<u32>,
    /// The answer and its request's sequence number; `None` when a ping's answer showed losses.
    pub answer: Option<(u32, R)>,
}

/// How many times `Hello` goes unanswered (a full wait, or an answer that is not ours) before
/// the device is declared absent. Answers lost on a damaged line, found by a ping within a round
/// trip, are asked again up to [`crate::recovery::MAX_QUICK_LOSSES`] times.
const HELLO_ATTEMPTS: u32 = 2;

/// Sequence numbers remembered as in flight (more than any pipeline window).
const OUTSTANDING_LIMIT: usize = 64;

/// Longest single blocking read, so an interrupt is noticed promptly.
const READ_SLICE: Duration = Duration::from_millis(100);

/// Shortest wait before a ping is sent behind an unanswered request (see [`Client::receive`]).
const MIN_POKE: Duration = Duration::from_millis(20);

/// A connected device that answered the handshake with our protocol. Without a type argument it
/// is the client [`crate::connect()`] returns: any transport, movable to another thread.
pub struct Client<T: Transport = Box<dyn Transport + Send>> {
    transport: T,
    decoder: Box<FrameDecoder>,
    rx: Vec<u8>,
    rx_pos: usize,
    rx_len: usize,
    next_seq: u32,
    timeout: Duration,
    info: Option<DeviceInfo>,
    /// Requests sent and not yet answered, oldest first, with when they were sent. The device
    /// answers in order, so an answer to a later one means the earlier answers were lost.
    outstanding: VecDeque<(u32, Instant)>,
    /// How long answers take: smoothed round trip and its variation (RFC 6298), once measured.
    rtt: Option<(Duration, Duration)>,
    /// The rate `SetBaud` moved the line to, put back when the client is dropped.
    pub(crate) negotiated_baud: Option<u32>,
    /// The rate `SetBaud` proposed, whether or not the line took it.
    pub(crate) asked_baud: Option<u32>,
    /// Whether anything that was not one of our frames arrived (for "not our protocol").
    valid_frames: u64,
    /// The SP 800-90B health tests over every random byte received on this connection, so that
    /// many small requests are tested as one stream.
    random_health: HealthTests,
}

impl<T: Transport> Client<T> {
    /// Connects: drops stale input, sends `Hello`, and checks the device's protocol version and
    /// schema. `timeout` is the allowance for the link on top of each request's own time.
    pub fn connect(transport: T, timeout: Duration) -> Result<Self> {
        let mut seed = [0u8; 4];
        // A random first sequence number: an answer left over from an earlier run cannot match.
        getrandom::fill(&mut seed).unwrap_or(());
        let mut client = Self {
            transport,
            decoder: Box::new(FrameDecoder::new()),
            rx: vec![0; MAX_WIRE_FRAME_LEN],
            rx_pos: 0,
            rx_len: 0,
            next_seq: u32::from_le_bytes(seed).max(1),
            timeout,
            info: None,
            outstanding: VecDeque::new(),
            rtt: None,
            negotiated_baud: None,
            asked_baud: None,
            valid_frames: 0,
            random_health: HealthTests::new(),
        };
        client.transport.discard_input()?;
        // Not `call`: a port with no device behind it should fail after HELLO_ATTEMPTS waits,
        // not after the retries a busy stream gets.
        let hello = RequestBody::Hello;
        let wait = client.wait_for(&hello);
        let (mut attempts, mut quick_losses) = (1, 0);
        let info = loop {
            let seq = client.send(&hello)?;
            let answer = client.receive(seq, wait, |body| match body {
                ResponseBody::Hello(hello) => Ok(DeviceInfo::new(&hello)),
                _ => Err(TransportError::NotOurProtocol.into()),
            });
            match answer {
                // A loss found by a ping: the device is there, the line damaged the answer.
                Err(e @ Error::Transport(TransportError::AnswerLost)) => {
                    quick_losses += 1;
                    if quick_losses > crate::recovery::MAX_QUICK_LOSSES {
                        return Err(e);
                    }
                }
                // Noise can make even our own device look foreign once: ask again.
                Err(e)
                    if (e.is_retryable()
                        || matches!(e, Error::Transport(TransportError::NotOurProtocol)))
                        && attempts < HELLO_ATTEMPTS =>
                {
                    attempts += 1
                }
                other => break other?,
            }
        };
        check_versions(info.protocol_version, &info.schema)?;
        client.info = Some(info.with_port(client.transport.describe()));
        Ok(client)
    }

    /// The health tests of the random bytes received on this connection so far.
    pub fn random_health(&mut self) -> &mut HealthTests {
        &mut self.random_health
    }

    /// What the device said in the handshake.
    pub fn info(&self) -> &DeviceInfo {
        self.info
            .as_ref()
            .expect("a connected client has the device's Hello")
    }

    /// Asks the device for its `Hello` again (a key was made: the slots changed) and keeps the
    /// new answer.
    pub fn refresh_info(&mut self) -> Result<&DeviceInfo> {
        let info = self.call(RequestBody::Hello, |body| match body {
            ResponseBody::Hello(hello) => Ok(DeviceInfo::new(&hello)),
            _ => Err(TransportError::NotOurProtocol.into()),
        })?;
        check_versions(info.protocol_version, &info.schema)?;
        self.info = Some(info.with_port(self.transport.describe()));
        Ok(self.info())
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, to act on the line itself (tests and fuzzing drive fake lines this way).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    /// Sends one request and returns its sequence number, without waiting for the answer.
    pub fn send(&mut self, body: &RequestBody<'_>) -> Result<u32> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        // A request may carry a key: its encodings are wiped once written.
        let mut scratch = Zeroizing::new(vec![0u8; MAX_FRAME_LEN]);
        let mut wire = Zeroizing::new(vec![0u8; MAX_WIRE_FRAME_LEN]);
        let request = Request {
            seq,
            body: body.clone(),
        };
        let frame = encode_frame(&request, &mut scratch, &mut wire)
            .map_err(|_| Error::input("request too large for one frame"))?;
        log::debug!("-> seq {seq} {} ({} bytes)", summary(body), frame.len());
        self.transport.write_all(frame)?;
        if self.outstanding.len() == OUTSTANDING_LIMIT {
            self.outstanding.pop_front();
        }
        self.outstanding.push_back((seq, Instant::now()));
        Ok(seq)
    }

    /// How long to wait for the answer to `body`: the device's own time for it, the line time
    /// of a full frame each way, and the user's `--timeout` allowance.
    pub fn wait_for(&self, body: &RequestBody<'_>) -> Duration {
        let device = Duration::from_millis(body.device_time_ms().into());
        let line = match self.transport.line_rate() {
            Some(rate) if rate > 0 => {
                Duration::from_secs_f64(2.0 * MAX_WIRE_FRAME_LEN as f64 / f64::from(rate))
            }
            _ => Duration::ZERO,
        };
        device + line + self.timeout
    }

    /// Waits up to `wait` for the answer to `seq` and hands its body to `f`. Answers to other
    /// sequence numbers (late answers to earlier requests) are skipped; an error answer becomes
    /// [`Error::Device`]. If the answer to a later request arrives first, the answer to `seq`
    /// was lost on the line: [`TransportError::AnswerLost`], and every request in flight should
    /// be considered lost (see [`Error::is_retryable`]).
    ///
    /// A wait longer than the usual answer time (measured) sends a `Ping` behind
    /// the requests in flight, then again at doubling intervals: the device answers in order, so
    /// a `Pong` before the answer means the request or its answer was lost, found within about
    /// one round trip instead of a whole timeout. A ping can never make a good answer look lost.
    pub fn receive<R>(
        &mut self,
        seq: u32,
        wait: Duration,
        f: impl FnOnce(ResponseBody<'_>) -> Result<R>,
    ) -> Result<R> {
        let mut wait_state = self.start_wait(wait);
        let mut f = Some(f);
        loop {
            while self.rx_pos < self.rx_len {
                let (consumed, frame) = self.decoder.push(&self.rx[self.rx_pos..self.rx_len]);
                self.rx_pos += consumed;
                let Some(Ok(body)) = frame else {
                    if let Some(Err(e)) = frame {
                        log::info!("dropped a damaged frame from the device ({e:?})");
                    }
                    continue;
                };
                let Some(response) = decode_response(body, seq)? else {
                    continue;
                };
                self.valid_frames += 1;
                // Seq 0 is the device's answer to a request it could not read: taken as ours.
                if response.seq != seq && response.seq != 0 {
                    let other = position(&self.outstanding, response.seq);
                    let ours = position(&self.outstanding, seq);
                    match (other, ours) {
                        (Some(later), Some(ours)) if later > ours => {
                            self.outstanding.clear();
                            return Err(TransportError::AnswerLost.into());
                        }
                        // An earlier request's answer (a ping's, or one given up on): done.
                        (Some(earlier), _) => {
                            self.outstanding.drain(..=earlier);
                        }
                        _ => {}
                    }
                    continue;
                }
                if let Some(pos) = position(&self.outstanding, seq) {
                    let (_, sent) = self.outstanding[pos];
                    measured(&mut self.rtt, sent.elapsed());
                    self.outstanding.drain(..=pos);
                }
                return match response.body {
                    ResponseBody::Error(e) => Err(Error::Device {
                        code: e.code,
                        message: e.message.to_string(),
                    }),
                    body => (f.take().expect("called once"))(body),
                };
            }
            let waiting = position(&self.outstanding, seq).is_some();
            self.read_more(&mut wait_state, waiting.then_some(seq))?;
        }
    }

    /// Waits up to `wait` for the next answer to any request in flight, for a client that keeps
    /// several requests going and sends again only what was lost (an AES stream). The device
    /// answers in order, so every request sent before the one answered and not answered itself
    /// was lost: [`Arrival::lost`] lists them. The answer (error answers included, as
    /// [`ResponseBody::Error`]) goes to `f` with its sequence number. When answers are slower
    /// than usual a `Ping` is sent behind the requests, as in [`Client::receive`]; its `Pong`
    /// arriving first gives an arrival with losses and no answer. A timeout (nothing at all
    /// arrived) is [`TransportError::Timeout`], and everything in flight should be taken as lost.
    pub fn receive_next<R>(
        &mut self,
        wait: Duration,
        f: impl FnOnce(u32, ResponseBody<'_>) -> Result<R>,
    ) -> Result<Arrival<R>> {
        let mut wait_state = self.start_wait(wait);
        let mut f = Some(f);
        loop {
            while self.rx_pos < self.rx_len {
                let (consumed, frame) = self.decoder.push(&self.rx[self.rx_pos..self.rx_len]);
                self.rx_pos += consumed;
                let Some(Ok(body)) = frame else {
                    if let Some(Err(e)) = frame {
                        log::info!("dropped a damaged frame from the device ({e:?})");
                    }
                    continue;
                };
                let Some(response) = decode_response(body, 0)? else {
                    continue;
                };
                self.valid_frames += 1;
                // An answer to nothing in flight: seq 0 (a request the device could not read,
                // which the answers after it show as lost) or one given up on.
                let Some(pos) = position(&self.outstanding, response.seq) else {
                    continue;
                };
                let (seq, sent) = self.outstanding[pos];
                measured(&mut self.rtt, sent.elapsed());
                let mut lost: Vec<u32> = self.outstanding.drain(..=pos).map(|(s, _)| s).collect();
                lost.pop(); // the request answered
                if matches!(response.body, ResponseBody::Pong { .. }) {
                    if lost.is_empty() {
                        continue;
                    }
                    return Ok(Arrival { lost, answer: None });
                }
                let answer = (f.take().expect("called once"))(seq, response.body)?;
                return Ok(Arrival {
                    lost,
                    answer: Some((seq, answer)),
                });
            }
            let waiting = !self.outstanding.is_empty();
            self.read_more(&mut wait_state, waiting.then_some(0))?;
        }
    }

    /// Between answers: fails at the deadline, sends a `Ping` with `nonce` behind the requests
    /// in flight when the wait is longer than usual (`None`: nothing is waited for), and reads
    /// what arrives next.
    fn read_more(&mut self, wait: &mut Wait, nonce: Option<u32>) -> Result<()> {
        if crate::interrupt::requested() {
            return Err(Error::Interrupted);
        }
        let now = Instant::now();
        if now >= wait.deadline {
            return Err(
                if self.valid_frames == 0 && self.decoder.drops().total() > 0 {
                    TransportError::NotOurProtocol.into()
                } else {
                    TransportError::Timeout(wait.total).into()
                },
            );
        }
        if let Some(nonce) = nonce.filter(|_| now >= wait.poke_at) {
            self.send(&RequestBody::Ping { nonce })?;
            wait.poke_interval = (wait.poke_interval * 2).min(wait.total);
            wait.poke_at = now + wait.poke_interval;
        }
        let slice = (wait.deadline - now).min(READ_SLICE).min(
            wait.poke_at
                .saturating_duration_since(now)
                .max(Duration::from_millis(1)),
        );
        self.rx_len = self.transport.read(&mut self.rx, slice)?;
        self.rx_pos = 0;
        Ok(())
    }

    /// A new wait of `total`: pings start after the usual answer time.
    fn start_wait(&self, total: Duration) -> Wait {
        let poke_interval = self.usual_answer_time();
        let now = Instant::now();
        Wait {
            total,
            deadline: now + total,
            poke_interval,
            poke_at: now + poke_interval,
        }
    }

    /// How long an answer usually takes, with margin: past it, a ping is sent behind the
    /// requests in flight (RFC 6298's retransmission timeout, at least [`MIN_POKE`]).
    fn usual_answer_time(&self) -> Duration {
        match self.rtt {
            Some((srtt, var)) => (srtt + 4 * var).max(MIN_POKE),
            None => MIN_POKE * 5,
        }
    }

    /// Sends `body` and waits for its answer. A request that is safe to repeat
    /// ([`RequestBody::is_idempotent`]) is sent again when its answer is lost: up to
    /// [`MAX_RETRIES`] full timeouts in a row, or [`crate::recovery::MAX_QUICK_LOSSES`] losses
    /// found within a round trip (a damaged line, where a long request rarely arrives whole).
    pub fn call<R>(
        &mut self,
        body: RequestBody<'_>,
        mut f: impl FnMut(ResponseBody<'_>) -> Result<R>,
    ) -> Result<R> {
        let wait = self.wait_for(&body);
        let mut budget = Recovery::new(1, 1);
        loop {
            let seq = self.send(&body)?;
            match self.receive(seq, wait, &mut f) {
                Err(e) if e.is_retryable() && body.is_idempotent() => {
                    self.note_retry(&e);
                    budget.lost(e)?;
                }
                result => return result,
            }
        }
    }

    /// Logs (at info level, `-v`) that a request is being repeated.
    pub fn note_retry(&self, cause: &Error) {
        log::info!("retrying after: {cause}");
    }
}

/// Decodes one frame's message from the device; `None` (logged) for one that does not decode.
/// A `Hello` answer to `hello_seq` from another protocol version is refused by its prefix.
fn decode_response(body: &[u8], hello_seq: u32) -> Result<Option<Response<'_>>> {
    match postcard::from_bytes::<Response<'_>>(body) {
        Ok(response) => {
            log::debug!(
                "<- seq {} {} ({} bytes)",
                response.seq,
                body_summary(&response.body),
                body.len()
            );
            Ok(Some(response))
        }
        Err(_) => {
            // A device from another protocol version: its Hello prefix still reads.
            if let Ok((prefix, _)) = postcard::take_from_bytes::<HelloPrefix>(body) {
                if prefix.seq == hello_seq && prefix.variant == 0 {
                    check_versions(prefix.protocol_version, &prefix.schema)?;
                }
            }
            log::info!("skipped an undecodable answer");
            Ok(None)
        }
    }
}

/// Where `seq` is among the requests in flight.
fn position(outstanding: &VecDeque<(u32, Instant)>, seq: u32) -> Option<usize> {
    outstanding.iter().position(|&(s, _)| s == seq)
}

/// Takes one answer's delay into the round-trip estimate (RFC 6298's smoothing).
fn measured(rtt: &mut Option<(Duration, Duration)>, sample: Duration) {
    *rtt = Some(match *rtt {
        None => (sample, sample / 2),
        Some((srtt, var)) => {
            let deviation = srtt.abs_diff(sample);
            (srtt * 7 / 8 + sample / 8, var * 3 / 4 + deviation / 4)
        }
    });
}

/// Refuses a device from another protocol version or schema, saying which side to update.
fn check_versions(version: u16, schema: &[u8; 8]) -> Result<()> {
    let ours = PROTOCOL_VERSION;
    let message = if version < ours {
        format!("the device speaks protocol v{version}, this ucrypto speaks v{ours}: update the device's firmware")
    } else if version > ours {
        format!(
            "the device speaks protocol v{version}, this ucrypto speaks v{ours}: update ucrypto"
        )
    } else if *schema != SCHEMA_FINGERPRINT {
        format!(
            "the device's message schema ({}) differs from this ucrypto's ({}) at the same protocol v{ours}: flash the firmware built from the same ucrypto release",
            hex::encode(schema),
            hex::encode(SCHEMA_FINGERPRINT)
        )
    } else {
        return Ok(());
    };
    Err(TransportError::ProtocolMismatch(message).into())
}

/// A request's name and sizes, never its contents (keys must not reach a log).
fn summary(body: &RequestBody<'_>) -> String {
    match body {
        RequestBody::Hello => "Hello".into(),
        RequestBody::Ping { .. } => "Ping".into(),
        RequestBody::Random { words } => format!("Random {{ words: {words} }}"),
        RequestBody::AesStart {
            mode,
            direction,
            key,
            ..
        } => {
            format!(
                "AesStart {{ {direction:?} {mode:?}, {}-bit key }}",
                key.len() * 8
            )
        }
        RequestBody::AesData { offset, data, .. } => {
            format!("AesData {{ offset: {offset}, {} bytes }}", data.len())
        }
        RequestBody::HashStart => "HashStart".into(),
        RequestBody::HashData { offset, data, .. } => {
            format!("HashData {{ offset: {offset}, {} bytes }}", data.len())
        }
        RequestBody::SignHashed { key, .. } => {
            format!("SignHashed {{ {}-bit key }}", key.n.len() * 8)
        }
        RequestBody::SignDigest { key, .. } => {
            format!("SignDigest {{ {}-bit key }}", key.n.len() * 8)
        }
        RequestBody::EndSession { .. } => "EndSession".into(),
        RequestBody::KeyGenerate { slot, bits } => {
            format!("KeyGenerate {{ slot: {slot}, bits: {bits} }}")
        }
        RequestBody::KeyImport { slot, key } => {
            format!("KeyImport {{ slot: {slot}, {}-bit key }}", key.n.len() * 8)
        }
        RequestBody::PublicKey { slot } => format!("PublicKey {{ slot: {slot} }}"),
        RequestBody::SignSlot { slot, .. } => format!("SignSlot {{ slot: {slot} }}"),
        RequestBody::SignDigestSlot { slot, .. } => format!("SignDigestSlot {{ slot: {slot} }}"),
        RequestBody::LoadKey { key } => format!("LoadKey {{ {}-bit key }}", key.n.len() * 8),
        RequestBody::SignDigestLoaded { handle, .. } => {
            format!("SignDigestLoaded {{ key {handle} }}")
        }
        RequestBody::SignHashedLoaded { handle, .. } => {
            format!("SignHashedLoaded {{ key {handle} }}")
        }
        RequestBody::UnloadKey { handle } => format!("UnloadKey {{ key {handle} }}"),
        RequestBody::SetBaud { baud } => format!("SetBaud {{ {baud} }}"),
        // Their Debug shows payloads as lengths and keys as redacted.
        RequestBody::Lock
        | RequestBody::DigestStart { .. }
        | RequestBody::DigestFinish { .. }
        | RequestBody::Decrypt { .. }
        | RequestBody::DecryptSlot { .. }
        | RequestBody::DecryptLoaded { .. }
        | RequestBody::CertWrite { .. }
        | RequestBody::CertRead { .. }
        | RequestBody::Attest { .. } => format!("{body:?}"),
    }
}

fn body_summary(body: &ResponseBody<'_>) -> String {
    match body {
        ResponseBody::Hello(_) => "Hello".into(),
        ResponseBody::Random { data } => format!("Random {{ {} bytes }}", data.len()),
        ResponseBody::AesData { offset, data } => {
            format!("AesData {{ offset: {offset}, {} bytes }}", data.len())
        }
        ResponseBody::Signature { data } => format!("Signature {{ {} bytes }}", data.len()),
        ResponseBody::PublicKey(key) => format!(
            "PublicKey {{ slot: {}, bits: {}, n: {} bytes, e: {} bytes }}",
            key.slot,
            key.bits,
            key.n.len(),
            key.e.len()
        ),
        other => format!("{other:?}"),
    }
}

impl<T: Transport> Drop for Client<T> {
    /// Puts a UART back at the start-up rate, so the next connection is heard at once.
    fn drop(&mut self) {
        self.restore_line_baud();
    }
}
