//! Stopping a long wait from outside: a program's signal handler (the command line's Ctrl-C)
//! calls [`request`], and every wait for a device ends with [`crate::Error::Interrupted`] at
//! its next slice (at most 100 ms). The library installs no handler itself.
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every wait in this process to end with [`crate::Error::Interrupted`]. Safe to call
/// from a signal handler.
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Whether [`request`] was called.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}
