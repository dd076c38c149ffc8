//! How long work reports its progress: a small trait the caller implements (the CLI draws a bar
//! with indicatif, a station updates its display); the library never draws anything itself.

/// Told how far a long operation (a stream, many random bytes) has come. Every method has a
/// no-op default, so an implementation overrides only what it shows.
pub trait Progress {
    /// The work begins: `total` bytes, when known up front.
    fn start(&mut self, total: Option<u64>) {
        let _ = total;
    }

    /// `bytes` more are done (verified).
    fn advance(&mut self, bytes: u64) {
        let _ = bytes;
    }

    /// The work ended, well or not.
    fn finish(&mut self) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
