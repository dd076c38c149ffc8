//! The message chunks of a hash session in flight (`HashData`), kept until the device confirms
//! them, so that a chunk or answer lost on a damaged line is sent again into the same session
//! instead of the hash starting over (protocol section 6: a chunk the device hashed already is
//! answered with where the message stands, one past it is refused and changes nothing).
use std::collections::VecDeque;
use std::time::Duration;

use ucrypto_protocol::{ErrorCode, RequestBody, ResponseBody};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::transport::Transport;

/// Rounds of sending the window again, in a row without progress, before the host gives up on
/// the device's hash (and signs its own digest).
const RESEND_ROUNDS: u32 = 8;

/// One chunk in flight: its request's sequence number, offset, bytes and answer time.
struct Chunk {
    seq: u32,
    offset: u64,
    data: Vec<u8>,
    wait: Duration,
}

/// The chunks sent into one hash session and not yet confirmed, oldest first.
pub(crate) struct HashWindow {
    session: u32,
    chunks: VecDeque<Chunk>,
    /// Rounds of sending again since the last confirmed chunk.
    failed_rounds: u32,
}

impl HashWindow {
    pub(crate) fn new(session: u32) -> Self {
        Self {
            session,
            chunks: VecDeque::new(),
            failed_rounds: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.chunks.len()
    }

    /// Sends `data`, the message's bytes at `offset`.
    pub(crate) fn send<T: Transport>(
        &mut self,
        client: &mut Client<T>,
        offset: u64,
        data: &[u8],
    ) -> Result<()> {
        let mut chunk = Chunk {
            seq: 0,
            offset,
            data: data.to_vec(),
            wait: Duration::ZERO,
        };
        self.transmit(client, &mut chunk)?;
        self.chunks.push_back(chunk);
        Ok(())
    }

    fn transmit<T: Transport>(&self, client: &mut Client<T>, chunk: &mut Chunk) -> Result<()> {
        let body = RequestBody::HashData {
            session: self.session,
            offset: chunk.offset,
            data: &chunk.data,
        };
        chunk.wait = client.wait_for(&body);
        chunk.seq = client.send(&body)?;
        Ok(())
    }

    /// Waits for the oldest chunk's answer. True when it was confirmed, or when it and those
    /// behind it were sent again after a loss; false when the device's hash is gone (the
    /// session ended: a restart, or the idle time) or the line lost too much in a row: the
    /// caller then finishes the hash on the host.
    pub(crate) fn settle<T: Transport>(&mut self, client: &mut Client<T>) -> Result<bool> {
        let chunk = self.chunks.front().expect("a chunk is in flight");
        let end = chunk.offset + chunk.data.len() as u64;
        let answer = client.receive(chunk.seq, chunk.wait, |body| match body {
            // Past `end` when this chunk was a re-send of one hashed before.
            ResponseBody::HashProgress { received } if received >= end => Ok(()),
            ResponseBody::HashProgress { received } => Err(Error::Verification(format!(
                "the device hashed {received} bytes where {end} were sent"
            ))),
            other => Err(Error::Verification(format!(
                "unexpected answer to HashData: {other:?}"
            ))),
        });
        match answer {
            Ok(()) => {
                self.chunks.pop_front();
                self.failed_rounds = 0;
                Ok(true)
            }
            Err(Error::Device {
                code: ErrorCode::NoSession,
                ..
            }) => {
                self.chunks.clear();
                Ok(false)
            }
            Err(e) if e.is_resumable() && self.failed_rounds < RESEND_ROUNDS => {
                client.note_retry(&e);
                self.failed_rounds += 1;
                // Every chunk from the oldest unconfirmed one again, in order: those the device
                // hashed are answered with its position, the others are hashed now.
                let mut chunks = std::mem::take(&mut self.chunks);
                for chunk in chunks.iter_mut() {
                    self.transmit(client, chunk)?;
                }
                self.chunks = chunks;
                Ok(true)
            }
            Err(e) if e.is_resumable() => {
                client.note_retry(&e);
                self.chunks.clear();
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
