//! What the page's server, its routes and its records reader share: the board, the signal that it
//! changed, the records, the token, and the stop.
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

use super::board::Board;
use crate::records::Records;

/// What the routes share.
pub(super) struct Shared {
    pub(super) board: Mutex<Board>,
    /// Bumped whenever the board changes; each open page's event stream waits on it.
    pub(super) changed: watch::Sender<u64>,
    pub(super) records: Records,
    pub(super) token: Option<String>,
    pub(super) stop: AtomicBool,
}

impl Shared {
    pub(super) fn board(&self) -> MutexGuard<'_, Board> {
        // A panic while the board was held leaves a board still fit to show.
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn touch(&self) {
        self.changed.send_modify(|version| *version += 1);
    }
}
