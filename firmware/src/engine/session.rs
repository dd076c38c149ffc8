//! The one stream session the device holds at a time (an AES stream, or a message being hashed
//! for signing), with its id. Ending a session, for any reason, drops its state, and each
//! session type wipes its key material in `Drop`.
use super::aes::AesSession;
use super::sign::HashSession;
use crate::Backend;

pub(crate) enum Session<B: Backend> {
    Aes(AesSession),
    Hash(HashSession<B>),
}

pub(crate) struct SessionSlot<B: Backend> {
    current: Option<(u32, Session<B>)>,
    next_id: u32,
}

impl<B: Backend> SessionSlot<B> {
    pub(crate) const fn new() -> Self {
        Self {
            current: None,
            next_id: 1,
        }
    }

    /// Opens `session`, ending any other, and returns its id.
    pub(crate) fn open(&mut self, session: Session<B>) -> u32 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.current = Some((id, session));
        id
    }

    /// The open session if its id is `id`.
    pub(crate) fn get(&mut self, id: u32) -> Option<&mut Session<B>> {
        match &mut self.current {
            Some((current, session)) if *current == id => Some(session),
            _ => None,
        }
    }

    /// Ends session `id` and hands over its state; `None` if it was not open.
    pub(crate) fn take(&mut self, id: u32) -> Option<Session<B>> {
        match self.current.take() {
            Some((current, session)) if current == id => Some(session),
            other => {
                self.current = other;
                None
            }
        }
    }

    /// Ends session `id`; false if it was not open.
    pub(crate) fn end(&mut self, id: u32) -> bool {
        if self.get(id).is_some() {
            self.current = None;
            true
        } else {
            false
        }
    }

    /// Ends whatever session is open (a new `Hello`, an error inside the session).
    pub(crate) fn end_any(&mut self) {
        self.current = None;
    }
}
