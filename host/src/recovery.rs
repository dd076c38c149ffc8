//! How a stream copes with a damaged line: chunks that shrink when frames are lost and grow back
//! while the line is clean (as ZMODEM does), and how many losses in a row it takes before the
//! stream gives up.
//!
//! A frame of `n` bytes survives a line that damages one byte in `1/p` with probability about
//! `(1 - p)^n`: at one byte in a thousand a 3 KiB frame almost never arrives, a 128-byte one does
//! nine times in ten. The chunk length follows the losses, not a guess of the line's quality.
use crate::error::{Error, Result, TransportError};

/// The shortest chunk: below it the framing overhead (about 25 bytes each way) dominates.
pub const MIN_CHUNK_LEN: usize = 64;

/// Clean answers in a row at one length before the length doubles.
pub const GROW_AFTER: u32 = 8;

/// Losses in a row detected within a round trip (the device answered a later request, or a
/// ping sent behind the request) before the stream gives up: the device is alive, the line is
/// bad. Each costs a round trip, so even this many is seconds at most.
pub const MAX_QUICK_LOSSES: u32 = 64;

/// Full timeouts in a row (the device answered nothing at all) before the stream gives up.
pub const MAX_TIMEOUTS: u32 = MAX_RETRIES;

/// How often a request that is safe to repeat is sent again after its answer was lost.
pub const MAX_RETRIES: u32 = 3;

/// The chunk length of one stream and its loss budget.
#[derive(Debug, Clone)]
pub struct Recovery {
    max: usize,
    step: usize,
    len: usize,
    clean: u32,
    quick_losses: u32,
    timeouts: u32,
}

impl Recovery {
    /// Chunks of at most `max` bytes in multiples of `step` (16 for ECB and CBC, 4 for random
    /// words), starting at `max`: a clean line never pays for the adaptation.
    pub fn new(max: usize, step: usize) -> Self {
        let step = step.max(1);
        let max = (max / step * step).max(step);
        Self {
            max,
            step,
            len: max,
            clean: 0,
            quick_losses: 0,
            timeouts: 0,
        }
    }

    /// The length to use for the next chunk.
    pub fn chunk_len(&self) -> usize {
        self.len
    }

    /// A chunk's answer arrived and was verified.
    pub fn delivered(&mut self) {
        self.quick_losses = 0;
        self.timeouts = 0;
        self.clean += 1;
        if self.clean >= GROW_AFTER && self.len < self.max {
            self.len = (self.len * 2).min(self.max);
            self.clean = 0;
        }
    }

    /// An answer was lost (`cause`): halves the chunk length, and returns `cause` itself when
    /// the stream should give up instead of trying again.
    pub fn lost(&mut self, cause: Error) -> Result<()> {
        if !cause.is_resumable() {
            return Err(cause);
        }
        self.clean = 0;
        let floor = MIN_CHUNK_LEN.div_ceil(self.step) * self.step;
        self.len = (self.len / 2 / self.step * self.step)
            .max(floor)
            .min(self.max);
        let exhausted = if matches!(cause, Error::Transport(TransportError::Timeout(_))) {
            self.timeouts += 1;
            self.timeouts > MAX_TIMEOUTS
        } else {
            self.quick_losses += 1;
            self.quick_losses > MAX_QUICK_LOSSES
        };
        if exhausted {
            Err(cause)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn lost() -> Error {
        TransportError::AnswerLost.into()
    }

    #[test]
    fn halves_on_loss_down_to_the_floor_and_grows_back_when_clean() {
        let mut r = Recovery::new(3072, 16);
        let mut lengths = vec![r.chunk_len()];
        for _ in 0..7 {
            r.lost(lost()).unwrap();
            lengths.push(r.chunk_len());
        }
        assert_eq!(lengths, [3072, 1536, 768, 384, 192, 96, 64, 64]);
        for _ in 0..GROW_AFTER - 1 {
            r.delivered();
        }
        assert_eq!(r.chunk_len(), 64);
        r.delivered();
        assert_eq!(r.chunk_len(), 128);
        for _ in 0..5 * GROW_AFTER {
            r.delivered();
        }
        assert_eq!(r.chunk_len(), 3072, "never above the maximum");
    }

    #[test]
    fn lengths_stay_whole_steps() {
        let mut r = Recovery::new(3000, 16);
        assert_eq!(r.chunk_len(), 2992);
        r.lost(lost()).unwrap();
        assert_eq!(r.chunk_len() % 16, 0);
        let mut words = Recovery::new(3072, 4);
        for _ in 0..20 {
            words.lost(lost()).unwrap();
        }
        assert_eq!(words.chunk_len(), 64);
    }

    #[test]
    fn gives_up_after_its_budget_and_at_once_on_other_errors() {
        let mut r = Recovery::new(3072, 16);
        for _ in 0..MAX_QUICK_LOSSES {
            r.lost(lost()).unwrap();
        }
        assert!(r.lost(lost()).is_err());

        let mut r = Recovery::new(3072, 16);
        let timeout = || Error::from(TransportError::Timeout(Duration::from_secs(1)));
        for _ in 0..MAX_TIMEOUTS {
            r.lost(timeout()).unwrap();
        }
        // A success in between resets the count.
        r.delivered();
        for _ in 0..MAX_TIMEOUTS {
            r.lost(timeout()).unwrap();
        }
        assert!(r.lost(timeout()).is_err());

        let mut r = Recovery::new(3072, 16);
        assert!(r.lost(Error::input("bad")).is_err());
        assert_eq!(r.chunk_len(), 3072);
    }
}
