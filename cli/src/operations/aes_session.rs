//! An incremental AES session on the device: [`AesSession::update`] continues the chain across
//! calls (like OpenSSL's `EVP_CipherUpdate`), every chunk cross-checked with the host's own AES.
use ucrypto_protocol::{AesDirection, AesMode, RequestBody, ResponseBody};
use zeroize::Zeroizing;

use crate::aes_stream::{device_chunk_len, AesJob, DeviceStream, BLOCK};
use crate::client::{Client, MAX_RETRIES};
use crate::error::{Error, Result};
use crate::transport::Transport;
use crate::verify::aes::AesReference;

/// An AES session on the device that takes its input a piece at a time. Each piece's output is
/// returned only once it equals the host's; a difference is an [`Error::Verification`]. ECB,
/// CBC, CFB128 and CTR work in whole blocks: up to 15 bytes wait for the next
/// [`update`](Self::update) (or [`finish`](Self::finish), for CFB128 and CTR). No padding is
/// added or removed.
///
/// When an answer is lost on the line or the device restarts, the session is opened again from
/// the last verified byte, as the `aes` command does.
pub struct AesSession<'c, T: Transport = Box<dyn Transport + Send>> {
    client: &'c mut Client<T>,
    device: DeviceStream,
    mode: AesMode,
    reference: AesReference,
    chunk_len: usize,
    /// Input waiting for a whole block.
    held: Zeroizing<Vec<u8>>,
    ended: bool,
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
        let job = AesJob {
            direction,
            mode,
            key,
            iv,
            pkcs7: false,
            verify: true,
        };
        let chunk_len = device_chunk_len(self, &job)?;
        let reference = AesReference::new(direction, mode, key, iv).map_err(Error::input)?;
        let mut device = DeviceStream::new(&job);
        device.open_retrying(self, &mut 0)?;
        Ok(AesSession {
            client: self,
            device,
            mode,
            reference,
            chunk_len,
            held: Zeroizing::new(Vec::new()),
            ended: false,
        })
    }
}

impl<T: Transport> AesSession<'_, T> {
    /// Runs `input` through the session and returns the verified output so far (in whole
    /// blocks, except in CFB8).
    pub fn update(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        self.held.extend_from_slice(input);
        let ready = match self.mode {
            AesMode::Cfb8 => self.held.len(),
            _ => self.held.len() / BLOCK * BLOCK,
        };
        let data = Zeroizing::new(self.held.drain(..ready).collect::<Vec<u8>>());
        self.process(&data)
    }

    /// Ends the session: CFB128 and CTR process the held partial block; ECB and CBC refuse one
    /// (pad the input yourself). The device wipes the key.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        let tail = Zeroizing::new(std::mem::take(&mut *self.held));
        if !tail.is_empty() && self.mode.needs_whole_blocks() {
            return Err(Error::input(format!(
                "the input ends {} bytes into a block: ECB and CBC take whole 16-byte blocks",
                tail.len()
            )));
        }
        let output = self.process(&tail)?;
        self.ended = true;
        self.device.end(self.client)?;
        Ok(output)
    }

    fn process(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let mut output = Vec::with_capacity(data.len());
        for chunk in data.chunks(self.chunk_len) {
            let mut expected = Zeroizing::new(chunk.to_vec());
            self.reference.apply(&mut expected);
            let answer = self.send(chunk)?;
            if answer != *expected {
                return Err(Error::Verification(format!(
                    "the device's AES output differs from the host's at byte {}",
                    self.device.confirmed
                        + answer
                            .iter()
                            .zip(expected.iter())
                            .position(|(a, b)| a != b)
                            .unwrap_or(0) as u64
                )));
            }
            self.device
                .confirm(chunk, &answer[answer.len().saturating_sub(BLOCK)..]);
            output.extend_from_slice(&answer);
        }
        Ok(output)
    }

    /// Sends one chunk and returns the device's answer, opening a new session from the last
    /// verified byte when the answer is lost or the device forgot the session.
    fn send(&mut self, chunk: &[u8]) -> Result<Vec<u8>> {
        let mut failures = 0;
        loop {
            let offset = self.device.confirmed - self.device.base;
            let body = RequestBody::AesData {
                session: self.device.session,
                offset,
                data: chunk,
            };
            let answer = self.client.call(body, |body| match body {
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
            });
            match answer {
                Err(e) if e.is_resumable() && failures < MAX_RETRIES => {
                    failures += 1;
                    self.client.note_retry(&e);
                    self.device.open_retrying(self.client, &mut failures)?;
                }
                other => return other,
            }
        }
    }
}

impl<T: Transport> Drop for AesSession<'_, T> {
    /// A session dropped without [`AesSession::finish`] is still ended, so the device wipes the
    /// key now rather than at the next connection.
    fn drop(&mut self) {
        if !self.ended {
            let _ = self.device.end(self.client);
        }
    }
}
