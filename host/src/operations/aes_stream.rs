//! One AES stream through a device session: input read in chunks, requests pipelined, every
//! answer checked against the host's own AES, PKCS#7 padding added or removed on the host.
//!
//! Memory is bounded by the window of chunks in flight, whatever the length of the stream.
use std::collections::VecDeque;
use std::io::{self, Read};
use std::time::Duration;

use aes::cipher::block_padding::{Padding, Pkcs7};
use aes::cipher::consts::U16;
use aes::cipher::generic_array::GenericArray;
use ucrypto_protocol::{
    AesDirection, AesMode, Command, ErrorCode, KeySize, RequestBody, ResponseBody, MAX_CHUNK_LEN,
};
use zeroize::{Zeroize, Zeroizing};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::recovery::Recovery;
use crate::transport::Transport;
use crate::verify::aes::AesReference;

/// Chunks in flight at once: enough that the device always has the next request queued while
/// its answer to the previous one is on the line.
pub const WINDOW: usize = 4;

pub(crate) const BLOCK: usize = 16;

/// What to do to the stream.
pub struct AesJob<'k> {
    /// Encrypt or decrypt.
    pub direction: AesDirection,
    /// The mode of operation.
    pub mode: AesMode,
    /// 16, 24 or 32 bytes; copied for the device session, wiped when the stream ends.
    pub key: &'k [u8],
    /// The IV (CBC, CFB8, CFB128) or the initial counter block (CTR); `None` for ECB.
    pub iv: Option<[u8; 16]>,
    /// PKCS#7: added before encryption, checked and removed after decryption (ECB and CBC).
    pub pkcs7: bool,
    /// Recompute every chunk on the host and refuse any difference.
    pub verify: bool,
}

/// What a finished stream amounted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSummary {
    /// Bytes read from the input.
    pub input_bytes: u64,
    /// Bytes of output (after padding was removed).
    pub output_bytes: u64,
    /// Chunks the device answered.
    pub chunks: u64,
}

impl AesJob<'_> {
    /// The usage errors a job can have, found before anything is sent.
    pub fn check(&self) -> Result<()> {
        if KeySize::from_key_len(self.key.len()).is_none() {
            return Err(Error::input(format!(
                "the key is {} bytes: an AES key is 16, 24 or 32 bytes",
                self.key.len()
            )));
        }
        let mode = mode_name(self.mode);
        match (self.mode, self.iv) {
            (AesMode::Ecb, Some(_)) => {
                return Err(Error::input("--mode ecb takes no IV or counter: drop --iv"))
            }
            (AesMode::Ctr, None) => {
                return Err(Error::input(
                    "--mode ctr needs --counter HEX: the initial 16-byte counter block",
                ))
            }
            (m, None) if m.needs_iv() => {
                return Err(Error::input(format!(
                    "--mode {mode} needs --iv HEX (16 bytes)"
                )))
            }
            _ => {}
        }
        if self.pkcs7 && !self.mode.needs_whole_blocks() {
            return Err(Error::input(format!(
                "--pad pkcs7 is for ECB and CBC; --mode {mode} takes input of any length"
            )));
        }
        Ok(())
    }

    /// Refuses early a known input length the job cannot take (a file; stdin is checked at its end).
    pub fn check_input_len(&self, len: u64) -> Result<()> {
        match (self.mode.needs_whole_blocks(), self.pkcs7, self.direction) {
            (true, false, _) if !len.is_multiple_of(BLOCK as u64) => {
                Err(partial_block(self.mode, len))
            }
            (true, true, AesDirection::Decrypt)
                if len == 0 || !len.is_multiple_of(BLOCK as u64) =>
            {
                Err(bad_padded_len(len))
            }
            _ => Ok(()),
        }
    }
}

/// The mode's name on the command line.
pub fn mode_name(mode: AesMode) -> &'static str {
    match mode {
        AesMode::Ecb => "ecb",
        AesMode::Cbc => "cbc",
        AesMode::Cfb8 => "cfb8",
        AesMode::Cfb128 => "cfb128",
        AesMode::Ctr => "ctr",
    }
}

fn partial_block(mode: AesMode, len: u64) -> Error {
    Error::input(format!(
        "--mode {} needs whole 16-byte blocks, but the input is {len} bytes ({} over): pad it with --pad pkcs7",
        mode_name(mode),
        len % BLOCK as u64
    ))
}

fn bad_padded_len(len: u64) -> Error {
    Error::input(format!(
        "with --pad pkcs7 the ciphertext is a non-empty multiple of 16 bytes, but it is {len} bytes: wrong input, or drop --pad"
    ))
}

/// Runs `job` on the device: reads `input` to its end and hands each verified piece of output
/// to `emit`, in order; `progress` is told how many input bytes each answer covered.
///
/// When answers are lost on the line, just their chunks are sent again (protocol section 7.1);
/// when the device restarts, the stream continues in a new session from the last verified
/// chunk: the host knows the IV or counter block there.
pub fn run<T: Transport>(
    client: &mut Client<T>,
    job: &AesJob<'_>,
    input: &mut dyn Read,
    emit: &mut dyn FnMut(&[u8]) -> Result<()>,
    progress: &mut dyn Progress,
) -> Result<StreamSummary> {
    let chunk_len = device_chunk_len(client, job)?;
    let mut device = DeviceStream::new(job);
    let mut recovery = Recovery::new(chunk_len, BLOCK);
    device.open_retrying(client, &mut recovery)?;
    let result = stream(
        client,
        job,
        &mut device,
        &mut recovery,
        input,
        emit,
        progress,
    );
    match &result {
        // The device ends a session on its own errors; after a transport error it cannot be
        // reached. Otherwise end it, so the key is wiped now rather than at the next Hello.
        Err(Error::Device { .. } | Error::Transport(_) | Error::Interrupted) => {}
        Ok(_) => {
            if let Err(e) = device.end(client) {
                // Every byte arrived and was checked: the result stands.
                log::warn!("the device did not confirm the end of the AES session ({e}); it ends at the next connection");
            }
        }
        Err(_) => {
            let _ = device.end(client);
        }
    }
    result
}

/// Checks that the device takes `job` (AES, the key size) and returns the chunk length to send:
/// the device's limit in whole blocks, so ECB and CBC chunks never split a block (and a stream
/// can always continue at a chunk boundary).
pub(crate) fn device_chunk_len<T: Transport>(
    client: &Client<T>,
    job: &AesJob<'_>,
) -> Result<usize> {
    job.check()?;
    let caps = client.info().raw_capabilities;
    if !caps.supports(Command::Aes) {
        return Err(Error::Unsupported(
            "this device does not offer AES: update its firmware".into(),
        ));
    }
    let size = KeySize::from_key_len(job.key.len()).expect("checked");
    if caps.aes_key_sizes & size as u8 == 0 {
        return Err(Error::Unsupported(format!(
            "this device does not take AES-{} keys",
            size.bits()
        )));
    }
    Ok((usize::from(caps.max_chunk_len).min(MAX_CHUNK_LEN) / BLOCK * BLOCK).max(BLOCK))
}

fn unexpected(request: &str, body: &ResponseBody<'_>) -> Error {
    Error::Verification(format!("the device answered {request} with {body:?}"))
}

/// The device's side of the stream: its session, and what a new session needs to carry on from
/// the last verified chunk.
pub(crate) struct DeviceStream {
    direction: AesDirection,
    mode: AesMode,
    /// A copy of the job's key, to open a new session with; wiped when dropped.
    key: Zeroizing<Vec<u8>>,
    /// The IV (CTR: counter block) at the start of the stream.
    iv: Option<[u8; BLOCK]>,
    pub(crate) session: u32,
    /// Stream offset where the current session started (its offset 0).
    pub(crate) base: u64,
    /// Bytes whose answers arrived and were verified.
    pub(crate) confirmed: u64,
    /// The last 16 ciphertext bytes before `confirmed` (the IV's bytes before the first 16):
    /// where CBC and CFB continue.
    last_ciphertext: [u8; BLOCK],
}

impl DeviceStream {
    pub(crate) fn new(job: &AesJob<'_>) -> Self {
        Self {
            direction: job.direction,
            mode: job.mode,
            key: Zeroizing::new(job.key.to_vec()),
            iv: job.iv,
            session: 0,
            base: 0,
            confirmed: 0,
            // The IV, so that CFB8's register shifts in the first ciphertext bytes after it.
            last_ciphertext: job.iv.unwrap_or([0; BLOCK]),
        }
    }

    /// The IV (CTR: the counter block) that continues the stream at `confirmed`, a multiple of
    /// 16 unless the stream has ended.
    fn iv(&self) -> Option<[u8; BLOCK]> {
        match self.mode {
            AesMode::Ecb => None,
            AesMode::Ctr => self.iv.map(|iv| {
                let blocks = u128::from(self.confirmed / BLOCK as u64);
                u128::from_be_bytes(iv).wrapping_add(blocks).to_be_bytes()
            }),
            _ if self.confirmed == 0 => self.iv,
            _ => Some(self.last_ciphertext),
        }
    }

    /// Opens a session at `confirmed`.
    fn open<T: Transport>(&mut self, client: &mut Client<T>) -> Result<()> {
        self.session = client.call(
            RequestBody::AesStart {
                direction: self.direction,
                mode: self.mode,
                key: &self.key,
                iv: self.iv(),
            },
            |body| match body {
                ResponseBody::SessionStarted { session } => Ok(session),
                other => Err(unexpected("AesStart", &other)),
            },
        )?;
        self.base = self.confirmed;
        Ok(())
    }

    /// Opens a session at `confirmed`, again while the line loses the answers (within the
    /// stream's loss budget, `recovery`).
    pub(crate) fn open_retrying<T: Transport>(
        &mut self,
        client: &mut Client<T>,
        recovery: &mut Recovery,
    ) -> Result<()> {
        loop {
            match self.open(client) {
                Err(e) => {
                    client.note_retry(&e);
                    recovery.lost(e)?;
                }
                result => return result,
            }
        }
    }

    /// Sends `chunk` in the current session.
    fn send<T: Transport>(&self, client: &mut Client<T>, chunk: &mut Chunk) -> Result<()> {
        let body = RequestBody::AesData {
            session: self.session,
            offset: chunk.offset - self.base,
            data: &chunk.input,
        };
        chunk.wait = client.wait_for(&body);
        chunk.seq = Some(client.send(&body)?);
        Ok(())
    }

    /// Records that the chunk of `input` whose output ends with `output_tail` is verified.
    pub(crate) fn confirm(&mut self, input: &[u8], output_tail: &[u8]) {
        let ciphertext = match self.direction {
            AesDirection::Encrypt => output_tail,
            AesDirection::Decrypt => input,
        };
        let n = ciphertext.len().min(BLOCK);
        self.last_ciphertext.copy_within(n.., 0);
        self.last_ciphertext[BLOCK - n..].copy_from_slice(&ciphertext[ciphertext.len() - n..]);
        self.confirmed += input.len() as u64;
    }

    pub(crate) fn end<T: Transport>(&self, client: &mut Client<T>) -> Result<()> {
        client.call(
            RequestBody::EndSession {
                session: self.session,
            },
            |body| match body {
                ResponseBody::SessionEnded => Ok(()),
                other => Err(unexpected("EndSession", &other)),
            },
        )
    }
}

impl Drop for DeviceStream {
    fn drop(&mut self) {
        self.last_ciphertext.zeroize();
    }
}

/// A chunk read and not yet emitted: kept until its answer is verified and every chunk before it
/// is out, so it can be sent again.
struct Chunk {
    offset: u64,
    input: Vec<u8>,
    /// The host's output for this chunk (when verifying).
    expected: Option<Vec<u8>>,
    /// The request's sequence number while it is in flight.
    seq: Option<u32>,
    wait: Duration,
    /// The device's answer, checked, waiting for the chunks before it.
    output: Option<Vec<u8>>,
}

impl Chunk {
    fn in_flight(&self) -> bool {
        self.seq.is_some() && self.output.is_none()
    }

    fn unsent(&self) -> bool {
        self.seq.is_none() && self.output.is_none()
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        self.input.zeroize();
        for buf in [&mut self.expected, &mut self.output].into_iter().flatten() {
            buf.zeroize();
        }
    }
}

/// Chunks held at once (in flight, or answered and waiting for a lost one before them): the
/// memory of a stream, whatever its length.
const HELD: usize = 4 * WINDOW;

/// What an answer means for its chunk.
enum Answered {
    /// The chunk's output, checked.
    Output(Vec<u8>),
    /// `OutOfSequence`: the device is not where the chunk starts (a request before it was lost);
    /// send it again behind the ones before it.
    Resend,
    /// The session is gone (`NoSession`: a restart or an idle timeout), or the device cannot get
    /// back to the first unanswered chunk (the device's answer): continue in a new session.
    Reopen(Error),
}

/// Selective repeat (protocol section 7.1): up to [`WINDOW`] chunks in flight; an answer that
/// shows earlier ones lost sends just those again, and the answers after them are kept, checked,
/// until the output can go out in order.
fn stream<T: Transport>(
    client: &mut Client<T>,
    job: &AesJob<'_>,
    device: &mut DeviceStream,
    recovery: &mut Recovery,
    input: &mut dyn Read,
    emit: &mut dyn FnMut(&[u8]) -> Result<()>,
    progress: &mut dyn Progress,
) -> Result<StreamSummary> {
    let mut reference = if job.verify {
        Some(AesReference::new(job.direction, job.mode, job.key, job.iv).map_err(Error::input)?)
    } else {
        None
    };
    let mut chunks = ChunkReader::new(input, recovery.chunk_len(), job);
    let mut unpad = (job.pkcs7 && job.direction == AesDirection::Decrypt).then(Unpadder::default);
    let mut pending: VecDeque<Chunk> = VecDeque::with_capacity(HELD);
    let mut buf = Vec::with_capacity(MAX_CHUNK_LEN + BLOCK);
    let mut offset = 0u64;
    let mut summary = StreamSummary {
        input_bytes: 0,
        output_bytes: 0,
        chunks: 0,
    };
    let mut reopen = false;
    loop {
        // The front's output goes out as soon as it is checked, in order.
        while let Some(mut chunk) = pending.pop_front_if(|c| c.output.is_some()) {
            let output = chunk.output.take().expect("checked above");
            match &mut unpad {
                Some(unpad) => unpad.push(&output, emit)?,
                None => emit(&output)?,
            }
            device.confirm(&chunk.input, &output[output.len().saturating_sub(BLOCK)..]);
            summary.chunks += 1;
            progress.advance(chunk.input.len() as u64);
            let mut output = output;
            output.zeroize();
        }
        if reopen {
            // What was not answered goes again in the new session, from the first chunk not out.
            // Answers held for later chunks stay good in ECB and CTR (the new session goes to
            // any offset); in CBC and CFB the new session has no marks there, so they go again.
            let seeks = matches!(job.mode, AesMode::Ecb | AesMode::Ctr);
            for chunk in &mut pending {
                if chunk.output.is_some() && seeks {
                    continue;
                }
                chunk.seq = None;
                if let Some(mut output) = chunk.output.take() {
                    output.zeroize();
                }
            }
            device.open_retrying(client, recovery)?;
            reopen = false;
        }
        while pending.len() < HELD && {
            // Each chunk is read at the length the line allows now.
            chunks.chunk_len = recovery.chunk_len();
            chunks.next(&mut buf)?
        } {
            let expected = reference.as_mut().map(|r| {
                let mut out = buf.clone();
                r.apply(&mut out);
                out
            });
            pending.push_back(Chunk {
                offset,
                input: buf.clone(),
                expected,
                seq: None,
                wait: Duration::ZERO,
                output: None,
            });
            offset += buf.len() as u64;
        }
        if pending.is_empty() {
            break;
        }
        let in_flight = pending.iter().filter(|c| c.in_flight()).count();
        for chunk in pending
            .iter_mut()
            .filter(|c| c.unsent())
            .take(WINDOW.saturating_sub(in_flight))
        {
            device.send(client, chunk)?;
        }
        let wait = pending
            .iter()
            .filter(|c| c.in_flight())
            .map(|c| c.wait)
            .max()
            .expect("a chunk not out is in flight or was just sent");
        let arrival = client.receive_next(wait, |seq, body| {
            let Some(at) = pending
                .iter()
                .position(|c| c.seq == Some(seq) && c.output.is_none())
            else {
                // A late answer to a chunk sent again since: the newer request's answer counts.
                return Ok(None);
            };
            let first_unanswered = pending.iter().take(at).all(|c| c.output.is_some());
            check_answer(device, &pending[at], first_unanswered, body).map(|a| Some((at, a)))
        });
        let arrival = match arrival {
            Ok(arrival) => arrival,
            Err(e) if e.is_retryable() => {
                // Nothing came back at all: everything in flight goes again.
                client.note_retry(&e);
                recovery.lost(e)?;
                for chunk in pending.iter_mut().filter(|c| c.in_flight()) {
                    chunk.seq = None;
                }
                split(&mut pending, recovery.chunk_len());
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut lost = false;
        for chunk in &mut pending {
            if chunk.in_flight() && arrival.lost.contains(&chunk.seq.expect("in flight")) {
                chunk.seq = None;
                lost = true;
            }
        }
        match arrival.answer {
            Some((_, Some((at, Answered::Output(output))))) => {
                pending[at].output = Some(output);
                recovery.delivered();
            }
            Some((_, Some((at, Answered::Resend)))) => pending[at].seq = None,
            Some((_, Some((_, Answered::Reopen(cause))))) => {
                // Counted as a loss: a device that forgets every session cannot loop forever.
                client.note_retry(&cause);
                recovery.lost(cause)?;
                reopen = true;
            }
            Some((_, None)) | None => {}
        }
        if lost {
            let e = Error::Transport(crate::error::TransportError::AnswerLost);
            client.note_retry(&e);
            recovery.lost(e)?;
            split(&mut pending, recovery.chunk_len());
        }
    }
    buf.zeroize();
    summary.input_bytes = chunks.read;
    summary.output_bytes = offset;
    if let Some(unpad) = unpad {
        summary.output_bytes -= unpad.finish(emit)? as u64;
    }
    Ok(summary)
}

/// Cuts the chunks waiting to be sent to at most `len` bytes each (a whole number of blocks); the
/// ones in flight or answered stay as they are.
fn split(pending: &mut VecDeque<Chunk>, len: usize) {
    let mut out = VecDeque::with_capacity(pending.len());
    for mut chunk in pending.drain(..) {
        if !chunk.unsent() || chunk.input.len() <= len {
            out.push_back(chunk);
            continue;
        }
        for at in (0..chunk.input.len()).step_by(len) {
            let end = (at + len).min(chunk.input.len());
            out.push_back(Chunk {
                offset: chunk.offset + at as u64,
                input: chunk.input[at..end].to_vec(),
                expected: chunk.expected.as_ref().map(|e| e[at..end].to_vec()),
                seq: None,
                wait: Duration::ZERO,
                output: None,
            });
        }
        chunk.seq = None;
        // `chunk` is dropped here, wiping its copy of the data.
    }
    *pending = out;
}

/// Checks the device's answer to `chunk`: its output against the host's, or what the error
/// means for the stream. `first_unanswered`: every chunk before it has its output, so the device
/// should be able to take it; if it cannot, only a new session helps.
fn check_answer(
    device: &DeviceStream,
    chunk: &Chunk,
    first_unanswered: bool,
    body: ResponseBody<'_>,
) -> Result<Answered> {
    let expected_offset = chunk.offset - device.base;
    let len = chunk.input.len();
    match body {
        ResponseBody::AesData { offset, data } if offset == expected_offset && data.len() == len => {
            if let Some(expected) = &chunk.expected {
                if data != expected.as_slice() {
                    let at = data.iter().zip(expected).position(|(a, b)| a != b);
                    return Err(Error::Verification(format!(
                        "the device's AES output differs from the host's at byte {}",
                        chunk.offset + at.unwrap_or(0) as u64
                    )));
                }
            }
            Ok(Answered::Output(data.to_vec()))
        }
        ResponseBody::AesData { offset, data } => Err(Error::Verification(format!(
            "the device answered the chunk at offset {} ({len} bytes) with {} bytes at offset {offset}",
            chunk.offset,
            data.len()
        ))),
        ResponseBody::Error(e) => match e.code {
            ErrorCode::OutOfSequence if !first_unanswered => Ok(Answered::Resend),
            code => {
                let error = Error::Device {
                    code,
                    message: e.message.to_string(),
                };
                match code {
                    ErrorCode::OutOfSequence | ErrorCode::NoSession => {
                        Ok(Answered::Reopen(error))
                    }
                    _ => Err(error),
                }
            }
        },
        other => Err(unexpected("AesData", &other)),
    }
}

/// Cuts the input into chunks; adds PKCS#7 padding at the end of a padded encryption, and checks
/// at the end that a block mode got whole blocks.
struct ChunkReader<'r> {
    input: &'r mut dyn Read,
    chunk_len: usize,
    mode: AesMode,
    pad: bool,
    padded_decrypt: bool,
    read: u64,
    done: bool,
}

impl<'r> ChunkReader<'r> {
    fn new(input: &'r mut dyn Read, chunk_len: usize, job: &AesJob<'_>) -> Self {
        let encrypt = job.direction == AesDirection::Encrypt;
        Self {
            input,
            chunk_len,
            mode: job.mode,
            pad: job.pkcs7 && encrypt,
            padded_decrypt: job.pkcs7 && !encrypt,
            read: 0,
            done: false,
        }
    }

    /// Fills `buf` with the next chunk; false at the end of the stream.
    fn next(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        buf.clear();
        buf.resize(self.chunk_len, 0);
        let mut filled = 0;
        while filled < self.chunk_len {
            match self.input.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::input(format!("cannot read the input: {e}"))),
            }
        }
        buf.truncate(filled);
        self.read += filled as u64;
        if filled == self.chunk_len {
            return Ok(true);
        }
        // The end of the input: a short (maybe empty) last chunk.
        self.done = true;
        if self.pad {
            // chunk_len is a whole number of blocks, so the padded chunk still fits.
            let pad_len = BLOCK - filled % BLOCK;
            buf.resize(filled + pad_len, 0);
            let start = filled - filled % BLOCK;
            let last = GenericArray::<u8, U16>::from_mut_slice(&mut buf[start..]);
            Pkcs7::pad(last, filled % BLOCK);
            return Ok(true);
        }
        if self.padded_decrypt && (self.read == 0 || !self.read.is_multiple_of(BLOCK as u64)) {
            return Err(bad_padded_len(self.read));
        }
        if self.mode.needs_whole_blocks() && !self.read.is_multiple_of(BLOCK as u64) {
            return Err(partial_block(self.mode, self.read));
        }
        Ok(filled > 0)
    }
}

/// Holds back the last block of decrypted output until the end, where its PKCS#7 padding is
/// checked and removed.
#[derive(Default)]
struct Unpadder {
    held: Vec<u8>,
}

impl Unpadder {
    fn push(&mut self, data: &[u8], emit: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<()> {
        // Output arrives in whole blocks (ECB, CBC); release all but the last one.
        self.held.extend_from_slice(data);
        let release = self.held.len().saturating_sub(BLOCK);
        if release > 0 {
            emit(&self.held[..release])?;
            self.held.drain(..release);
        }
        Ok(())
    }

    /// Emits the last block without its padding; returns the padding's length.
    fn finish(mut self, emit: &mut dyn FnMut(&[u8]) -> Result<()>) -> Result<usize> {
        let bad = || {
            Error::input(
                "bad PKCS#7 padding at the end of the decrypted data: wrong key or IV, or the input was not padded (drop --pad)",
            )
        };
        if self.held.len() != BLOCK {
            return Err(bad());
        }
        let block = GenericArray::<u8, U16>::from_slice(&self.held);
        let kept = Pkcs7::unpad(block).map_err(|_| bad())?.len();
        emit(&self.held[..kept])?;
        self.held.zeroize();
        Ok(BLOCK - kept)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(direction: AesDirection, mode: AesMode, pkcs7: bool) -> AesJob<'static> {
        AesJob {
            direction,
            mode,
            key: &[0; 16],
            iv: mode.needs_iv().then_some([0; 16]),
            pkcs7,
            verify: true,
        }
    }

    fn chunks(data: &[u8], chunk_len: usize, job: &AesJob<'_>) -> Result<Vec<Vec<u8>>> {
        let mut input = data;
        let mut reader = ChunkReader::new(&mut input, chunk_len, job);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while reader.next(&mut buf)? {
            out.push(buf.clone());
        }
        Ok(out)
    }

    #[test]
    fn padding_is_whole_blocks_of_the_pad_length_as_rfc_5652_says() {
        let enc = job(AesDirection::Encrypt, AesMode::Cbc, true);
        // Empty input: one block of sixteen 0x10 bytes.
        assert_eq!(chunks(&[], 32, &enc).unwrap(), vec![vec![16u8; 16]]);
        let c = chunks(&[1; 13], 32, &enc).unwrap();
        assert_eq!(c, vec![[vec![1; 13], vec![3; 3]].concat()]);
        // A full last chunk: the padding block goes in a chunk of its own.
        let c = chunks(&[1; 32], 32, &enc).unwrap();
        assert_eq!(c, vec![vec![1; 32], vec![16; 16]]);
    }

    #[test]
    fn block_modes_refuse_a_partial_last_block_without_padding() {
        let enc = job(AesDirection::Encrypt, AesMode::Ecb, false);
        let e = chunks(&[0; 33], 32, &enc).unwrap_err().to_string();
        assert!(e.contains("33 bytes") && e.contains("--pad pkcs7"), "{e}");
        let ctr = job(AesDirection::Encrypt, AesMode::Ctr, false);
        assert_eq!(chunks(&[0; 33], 32, &ctr).unwrap().len(), 2);
        assert!(chunks(&[], 32, &ctr).unwrap().is_empty());
        let dec = job(AesDirection::Decrypt, AesMode::Cbc, true);
        assert!(chunks(&[], 32, &dec).is_err());
        assert!(chunks(&[0; 40], 32, &dec).is_err());
    }

    #[test]
    fn unpadding_holds_back_the_last_block_and_checks_it() {
        let mut data = vec![9u8; 30];
        data.extend([2, 2]);
        let mut u = Unpadder::default();
        let mut released = 0;
        u.push(&data[..16], &mut |d| {
            released += d.len();
            Ok(())
        })
        .unwrap();
        assert_eq!(released, 0, "the only block so far may be the last");
        let mut out = Vec::new();
        let mut collect = |d: &[u8]| {
            out.extend_from_slice(d);
            Ok(())
        };
        u.push(&data[16..], &mut collect).unwrap();
        assert_eq!(u.finish(&mut collect).unwrap(), 2);
        assert_eq!(out, vec![9; 30]);

        for bad_tail in [[0u8; 16], [17; 16], {
            let mut b = [5u8; 16];
            b[12] = 4;
            b
        }] {
            let mut u = Unpadder::default();
            u.push(&bad_tail, &mut |_| Ok(())).unwrap();
            assert!(u.finish(&mut |_| Ok(())).is_err(), "{bad_tail:?}");
        }
    }

    #[test]
    fn a_new_session_continues_where_the_verified_output_ends() {
        let mut ctr = job(AesDirection::Encrypt, AesMode::Ctr, false);
        ctr.iv = Some([0xff; 16]);
        let mut device = DeviceStream::new(&ctr);
        assert_eq!(device.iv(), Some([0xff; 16]));
        device.confirm(&[0; 48], &[0; 16]);
        // ff..ff + 3 blocks wraps around to 00..02.
        let mut expected = [0u8; 16];
        expected[15] = 2;
        assert_eq!(device.iv(), Some(expected));

        let enc = job(AesDirection::Encrypt, AesMode::Cfb8, false);
        let mut device = DeviceStream::new(&enc);
        assert_eq!(device.iv(), Some([0; 16]), "the job's IV before any output");
        let output: Vec<u8> = (0..32).collect();
        device.confirm(&[9; 32], &output[16..]);
        assert_eq!(device.iv().unwrap().to_vec(), output[16..].to_vec());
        // A short chunk shifts in: the IV is always the last 16 ciphertext bytes.
        device.confirm(&[9; 3], &[100, 101, 102]);
        let iv = device.iv().unwrap();
        assert_eq!(iv[..13], output[19..]);
        assert_eq!(iv[13..], [100, 101, 102]);

        // Decryption continues from the ciphertext it was given.
        let dec = job(AesDirection::Decrypt, AesMode::Cbc, false);
        let mut device = DeviceStream::new(&dec);
        device.confirm(&[7; 3072], &[1; 16]);
        assert_eq!(device.iv(), Some([7; 16]));
        assert_eq!(
            DeviceStream::new(&job(AesDirection::Encrypt, AesMode::Ecb, false)).iv(),
            None
        );
    }

    #[test]
    fn jobs_are_checked_before_anything_is_sent() {
        let mut j = job(AesDirection::Encrypt, AesMode::Ctr, false);
        j.iv = None;
        assert!(j.check().unwrap_err().to_string().contains("--counter"));
        let mut j = job(AesDirection::Encrypt, AesMode::Cbc, false);
        j.iv = None;
        assert!(j.check().unwrap_err().to_string().contains("--iv"));
        let mut j = job(AesDirection::Encrypt, AesMode::Ecb, false);
        j.iv = Some([0; 16]);
        assert!(j.check().is_err());
        assert!(job(AesDirection::Encrypt, AesMode::Cfb8, true)
            .check()
            .is_err());
        let j = job(AesDirection::Encrypt, AesMode::Cbc, false);
        assert!(j.check_input_len(17).is_err());
        assert!(j.check_input_len(32).is_ok());
    }
}
