//! An incremental AES session on the device: [`AesSession::update`] continues the chain across
//! calls (like OpenSSL's `EVP_CipherUpdate`), every chunk cross-checked with the host's own AES.
//! [`AesChain`] is the same session without a borrow of the client, for a program that keeps
//! several sessions, or a session beside other calls, on one connection.
use ucrypto_protocol::{AesDirection, AesMode, ErrorCode, RequestBody, ResponseBody};
use zeroize::Zeroizing;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::operations::aes_stream::{device_chunk_len, AesJob, DeviceStream, BLOCK};
use crate::recovery::Recovery;
use crate::recovery::MAX_RETRIES;
use crate::transport::Transport;
use crate::verify::aes::AesReference;

/// An AES session on the device that takes its input a piece at a time. Each piece's output is
/// returned only once it equals the host's; a difference is an [`Error::Verification`]. ECB and
/// CBC work in whole blocks: up to 15 bytes wait for the next [`update`](Self::update). CFB8,
/// CFB128 and CTR return every byte at once, and the next update continues mid-block. No
/// padding is added or removed.
///
/// When an answer is lost on the line or the device restarts, the session is opened again from
/// the last verified byte, as the `aes` command does.
pub struct AesSession<'c, T: Transport = Box<dyn Transport + Send>> {
    client: &'c mut Client<T>,
    chain: AesChain,
}

impl<T: Transport> Client<T> {
    /// Opens an AES session on the device: `key` is 16, 24 or 32 bytes; `iv` is the IV (CBC,
    /// CFB8, CFB128) or initial counter block (CTR), `None` for ECB.
    pub fn aes_session(
        &mut self,
        direction: AesDirection,
        mode: AesMode,
        key: &[u8],
        iv: Option<[u8; 16]>,
    ) -> Result<AesSession<'_, T>> {
        let chain = AesChain::open(self, direction, mode, key, iv)?;
        Ok(AesSession {
            client: self,
            chain,
        })
    }
}

impl<T: Transport> AesSession<'_, T> {
    /// Runs `input` through the session and returns the verified output so far.
    pub fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.chain.update(self.client, input)
    }

    /// Ends the session: ECB and CBC refuse a partial block left over (pad the input yourself).
    /// The device wipes the key.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        self.chain.finish(self.client)
    }
}

impl<T: Transport> Drop for AesSession<'_, T> {
    /// A session dropped without [`AesSession::finish`] is still ended, so the device wipes the
    /// key now rather than at the next connection.
    fn drop(&mut self) {
        self.chain.close(self.client);
    }
}

/// The state of an AES session, kept by the caller and handed the client on each call: the
/// device's session, the host's reference AES, and the input of an unfinished block. Several
/// chains may share a client: the device holds one session at a time, so a chain whose session
/// another one ended is opened again where it stood (one more `AesStart`). Call
/// [`close`](Self::close) (or [`finish`](Self::finish)) when done, so the device wipes the key.
pub struct AesChain {
    device: DeviceStream,
    mode: AesMode,
    reference: AesReference,
    chunk_len: usize,
    /// ECB and CBC: input waiting for a whole block.
    held: Zeroizing<Vec<u8>>,
    /// CFB128 and CTR: input and output of the current block so far, already sent and returned.
    /// The device continues mid-block, but a new session starts on a block boundary, so these
    /// bytes are sent again after one (their output must come back the same).
    partial_in: Zeroizing<Vec<u8>>,
    partial_out: Zeroizing<Vec<u8>>,
    ended: bool,
}

impl AesChain {
    /// Opens the session on the device (see [`Client::aes_session`] for the arguments).
    pub fn open<T: Transport>(
        client: &mut Client<T>,
        direction: AesDirection,
        mode: AesMode,
        key: &[u8],
        iv: Option<[u8; 16]>,
    ) -> Result<Self> {
        let job = AesJob {
            direction,
            mode,
            key,
            iv,
            pkcs7: false,
            verify: true,
        };
        let chunk_len = device_chunk_len(client, &job)?;
        let reference = AesReference::new(direction, mode, key, iv).map_err(Error::input)?;
        let mut device = DeviceStream::new(&job);
        device.open_retrying(client, &mut Recovery::new(chunk_len, BLOCK))?;
        Ok(Self {
            device,
            mode,
            reference,
            chunk_len,
            held: Zeroizing::new(Vec::new()),
            partial_in: Zeroizing::new(Vec::new()),
            partial_out: Zeroizing::new(Vec::new()),
            ended: false,
        })
    }

    /// The mode of operation.
    pub fn mode(&self) -> AesMode {
        self.mode
    }

    /// Runs `input` through the session and returns the verified output so far (whole blocks
    /// in ECB and CBC, every byte in the other modes). After an error the session is ended.
    pub fn update<T: Transport>(
        &mut self,
        client: &mut Client<T>,
        input: &[u8],
    ) -> Result<Vec<u8>> {
        if self.ended {
            return Err(Error::input("this AES session has ended: open a new one"));
        }
        let result = if self.mode.needs_whole_blocks() {
            self.held.extend_from_slice(input);
            let ready = self.held.len() / BLOCK * BLOCK;
            let data = Zeroizing::new(self.held.drain(..ready).collect::<Vec<u8>>());
            self.process(client, &data)
        } else {
            self.process(client, input)
        };
        if result.is_err() {
            // The host's reference has moved past a chunk the device did not answer for: the
            // chain cannot continue. End it, so the device wipes the key.
            self.close(client);
        }
        result
    }

    /// Ends the session: ECB and CBC refuse a partial block left over (pad the input yourself).
    /// The device wipes the key.
    pub fn finish<T: Transport>(&mut self, client: &mut Client<T>) -> Result<Vec<u8>> {
        if !self.held.is_empty() {
            let held = self.held.len();
            self.held.clear();
            self.close(client);
            return Err(Error::input(format!(
                "the input ends {held} bytes into a block: ECB and CBC take whole 16-byte blocks"
            )));
        }
        if self.ended {
            return Ok(Vec::new());
        }
        self.ended = true;
        match self.device.end(client) {
            // Another session (or a restart) already ended this one, and the key went with it.
            Err(Error::Device {
                code: ErrorCode::NoSession,
                ..
            }) => Ok(Vec::new()),
            other => other.map(|()| Vec::new()),
        }
    }

    /// Ends the session on the device if it is still open (errors ignored: the device also ends
    /// it at the next session or connection). Input held for a partial block is dropped.
    pub fn close<T: Transport>(&mut self, client: &mut Client<T>) {
        self.held.clear();
        if !self.ended {
            self.ended = true;
            let _ = self.device.end(client);
        }
    }

    fn process<T: Transport>(&mut self, client: &mut Client<T>, data: &[u8]) -> Result<Vec<u8>> {
        let mut output = Vec::with_capacity(data.len());
        for chunk in data.chunks(self.chunk_len) {
            let mut expected = Zeroizing::new(chunk.to_vec());
            self.reference.apply(&mut expected);
            let answer = Zeroizing::new(self.send(client, chunk)?);
            self.check(&answer, &expected, 0)?;
            self.confirm(chunk, &answer);
            output.extend_from_slice(&answer);
        }
        Ok(output)
    }

    /// Refuses an answer that differs from the host's, naming the stream offset of the first
    /// difference (`at` bytes into the current block's unconfirmed part).
    fn check(&self, answer: &[u8], expected: &[u8], at: usize) -> Result<()> {
        if answer == expected {
            return Ok(());
        }
        let first = answer
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        Err(Error::Verification(format!(
            "the device's AES output differs from the host's at byte {}",
            self.device.confirmed + (at + first) as u64
        )))
    }

    /// Records a verified chunk: whole blocks go to the device stream (where a new session
    /// would start), the rest of a block waits in `partial_*` (CFB128 and CTR).
    fn confirm(&mut self, input: &[u8], output: &[u8]) {
        if !matches!(self.mode, AesMode::Cfb128 | AesMode::Ctr) {
            self.device
                .confirm(input, &output[output.len().saturating_sub(BLOCK)..]);
            return;
        }
        self.partial_in.extend_from_slice(input);
        self.partial_out.extend_from_slice(output);
        let whole = self.partial_in.len() / BLOCK * BLOCK;
        if whole > 0 {
            let done_in = Zeroizing::new(self.partial_in.drain(..whole).collect::<Vec<u8>>());
            let done_out = Zeroizing::new(self.partial_out.drain(..whole).collect::<Vec<u8>>());
            self.device.confirm(&done_in, &done_out[whole - BLOCK..]);
        }
    }

    /// Sends one chunk and returns the device's answer, opening a new session from the last
    /// verified block (and sending the current block's earlier bytes again) when the answer is
    /// lost or the device forgot the session.
    fn send<T: Transport>(&mut self, client: &mut Client<T>, chunk: &[u8]) -> Result<Vec<u8>> {
        let mut failures = 0;
        loop {
            let offset = self.device.confirmed - self.device.base + self.partial_in.len() as u64;
            match self.data(client, offset, chunk) {
                Err(e) if e.is_resumable() && failures < MAX_RETRIES => {
                    failures += 1;
                    client.note_retry(&e);
                    self.reopen(client, &mut failures)?;
                }
                other => return other,
            }
        }
    }

    /// A new session where the stream stands: at the last whole block, then the current
    /// block's bytes again, whose output must equal what was returned for them.
    fn reopen<T: Transport>(&mut self, client: &mut Client<T>, failures: &mut u32) -> Result<()> {
        loop {
            let mut recovery = Recovery::new(self.chunk_len, BLOCK);
            self.device.open_retrying(client, &mut recovery)?;
            if self.partial_in.is_empty() {
                return Ok(());
            }
            let replay = Zeroizing::new(self.partial_in.to_vec());
            match self.data(client, 0, &replay) {
                Ok(answer) => {
                    let answer = Zeroizing::new(answer);
                    return self.check(&answer, &self.partial_out, 0);
                }
                Err(e) if e.is_resumable() && *failures < MAX_RETRIES => {
                    *failures += 1;
                    client.note_retry(&e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One `AesData` request at `offset` in the current session.
    fn data<T: Transport>(
        &self,
        client: &mut Client<T>,
        offset: u64,
        chunk: &[u8],
    ) -> Result<Vec<u8>> {
        let body = RequestBody::AesData {
            session: self.device.session,
            offset,
            data: chunk,
        };
        client.call(body, |body| match body {
            ResponseBody::AesData { offset: at, data }
                if at == offset && data.len() == chunk.len() =>
            {
                Ok(data.to_vec())
            }
            ResponseBody::AesData { offset: at, data } => Err(Error::Verification(format!(
                "the device answered {} bytes at offset {offset} with {} bytes at offset {at}",
                chunk.len(),
                data.len()
            ))),
            other => Err(Error::Verification(format!(
                "the device answered AesData with {other:?}"
            ))),
        })
    }
}
