//! The one stream session the device holds at a time (an AES stream, or a message being hashed
//! for signing or for a digest): its id, the port that opened it and when it was last used. Ending a session,
//! for any reason, drops its state, and each session type wipes its key material in `Drop`.
//!
//! A session belongs to the port that opened it: requests from the other port cannot feed, end
//! or replace it (they get `Busy` or `NoSession`) until it ends or sits idle for
//! [`SESSION_IDLE_TIMEOUT_MS`]. Its id is drawn from the TRNG, so a program on either port
//! cannot guess it.
use ucrypto_protocol::{ErrorCode, SESSION_IDLE_TIMEOUT_MS};

use super::outcome::rng_refusal;
use crate::{Backend, PortId};

mod aes_state;
mod hash_state;

pub(crate) use aes_state::{AesSession, AesUnit, Chaining, Mark, BLOCK, MARKS};
pub(crate) use hash_state::{HashPurpose, HashSession};

// The device holds one session, in place (it has no heap to box the AES session's marks in); the
// hash variant being smaller costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Session<B: Backend> {
    Aes(AesSession),
    Hash(HashSession<B>),
}

struct Open<B: Backend> {
    id: u32,
    port: PortId,
    last_used_ms: u64,
    session: Session<B>,
}

pub(crate) struct SessionSlot<B: Backend> {
    current: Option<Open<B>>,
    /// Where the request being served came from, and when.
    port: PortId,
    now_ms: u64,
}

const BUSY: (ErrorCode, &str) = (
    ErrorCode::Busy,
    "a session opened on the device's other port is in use: wait for it to end or time out",
);

impl<B: Backend> SessionSlot<B> {
    pub(crate) const fn new() -> Self {
        Self {
            current: None,
            port: PortId::DEFAULT,
            now_ms: 0,
        }
    }

    /// Sets who asks for the next requests (their port, and the time on the caller's clock),
    /// ending first a session idle for [`SESSION_IDLE_TIMEOUT_MS`].
    pub(crate) fn serve_from(&mut self, port: PortId, now_ms: u64) {
        self.expire_idle(now_ms);
        self.port = port;
        self.now_ms = now_ms;
    }

    /// Ends the open session if it has not been used for [`SESSION_IDLE_TIMEOUT_MS`].
    pub(crate) fn expire_idle(&mut self, now_ms: u64) {
        if let Some(open) = &self.current {
            if now_ms.saturating_sub(open.last_used_ms) >= u64::from(SESSION_IDLE_TIMEOUT_MS) {
                self.current = None;
            }
        }
    }

    /// Makes room for a session of the requesting port: ends its own open session; `Busy` if
    /// the other port's session is open.
    pub(crate) fn claim(&mut self) -> Result<(), (ErrorCode, &'static str)> {
        match &self.current {
            Some(open) if open.port != self.port => Err(BUSY),
            _ => {
                self.current = None;
                Ok(())
            }
        }
    }

    /// Opens `session` for the requesting port (ending its other session) under an id from the
    /// TRNG, and returns the id.
    pub(crate) fn open(
        &mut self,
        backend: &mut B,
        session: Session<B>,
    ) -> Result<u32, (ErrorCode, &'static str)> {
        self.claim()?;
        let mut id = [0u8; 4];
        let mut tries = 0;
        let id = loop {
            backend.fill_random(&mut id).map_err(|e| {
                rng_refusal(e, (ErrorCode::Internal, "the true RNG did not deliver"))
            })?;
            let candidate = u32::from_le_bytes(id);
            // 0 is never an id; two draws of 0 in a row mean a stuck RNG.
            if candidate != 0 {
                break candidate;
            }
            tries += 1;
            if tries == 2 {
                return Err((ErrorCode::Internal, "the true RNG gave no session id"));
            }
        };
        self.current = Some(Open {
            id,
            port: self.port,
            last_used_ms: self.now_ms,
            session,
        });
        Ok(id)
    }

    /// The open session if its id is `id` and the requesting port opened it; counts as a use.
    pub(crate) fn get(&mut self, id: u32) -> Option<&mut Session<B>> {
        match &mut self.current {
            Some(open) if open.id == id && open.port == self.port => {
                open.last_used_ms = self.now_ms;
                Some(&mut open.session)
            }
            _ => None,
        }
    }

    /// Ends session `id` of the requesting port and hands over its state; `None` if it was not
    /// open there.
    pub(crate) fn take(&mut self, id: u32) -> Option<Session<B>> {
        match self.current.take() {
            Some(open) if open.id == id && open.port == self.port => Some(open.session),
            other => {
                self.current = other;
                None
            }
        }
    }

    /// Ends session `id` of the requesting port; false if it was not open there.
    pub(crate) fn end(&mut self, id: u32) -> bool {
        self.take(id).is_some()
    }

    /// Ends the requesting port's open session, if any (its `Hello`: a new host on that port).
    pub(crate) fn end_own(&mut self) {
        if matches!(&self.current, Some(open) if open.port == self.port) {
            self.current = None;
        }
    }

    /// Ends whatever session is open (a reset).
    pub(crate) fn end_any(&mut self) {
        self.current = None;
    }
}
