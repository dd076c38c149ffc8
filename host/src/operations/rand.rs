//! Random bits from the device's true RNG, pipelined, every byte through the health tests
//! (SP 800-90B's repetition count and adaptive proportion) before it is handed on.
use std::collections::VecDeque;
use std::time::Duration;

use ucrypto_protocol::{Command, RequestBody, ResponseBody, MAX_RANDOM_WORDS};
use zeroize::Zeroizing;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::progress::{NoProgress, Progress};
use crate::recovery::Recovery;
use crate::transport::Transport;
use crate::verify::health::HealthTests;

/// Requests in flight at once, so the line never idles while the host waits.
const WINDOW: usize = 4;

/// The device's random numbers, as methods of the client.
impl<T: Transport> Client<T> {
    /// `bits` random bits (rounded up to a multiple of 32) from the device's true RNG, health
    /// tested. Bytes that fail the tests are an [`Error::Verification`], never returned.
    pub fn rand(&mut self, bits: u64) -> Result<Zeroizing<Vec<u8>>> {
        let mut data = Zeroizing::new(Vec::new());
        self.rand_into(
            bits,
            &mut |chunk| {
                data.extend_from_slice(chunk);
                Ok(())
            },
            &mut NoProgress,
        )?;
        Ok(data)
    }

    /// `bits` random bits (rounded up to a multiple of 32) handed to `sink` in order, each
    /// piece health tested first; returns the number of bytes. On an error the pieces already
    /// handed on passed the tests, but the caller should discard them with the rest.
    pub fn rand_into(
        &mut self,
        bits: u64,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
        progress: &mut dyn Progress,
    ) -> Result<u64> {
        if bits == 0 {
            return Err(Error::input(
                "BITS must be at least 1 (it is rounded up to a multiple of 32)",
            ));
        }
        if !self.info().raw_capabilities.supports(Command::Random) {
            return Err(Error::Unsupported(
                "this device does not offer random numbers".into(),
            ));
        }
        let words = bits.div_ceil(32);
        progress.start(Some(words * 4));
        let result = self.rand_words(words, sink, progress);
        progress.finish();
        result.map(|()| words * 4)
    }

    /// Pipelined: up to WINDOW requests in flight; answers are checked in request order. Random
    /// requests are safe to repeat: when answers are lost on the line, everything in flight is
    /// asked for again (a late answer to a lost request is skipped, never used twice).
    fn rand_words(
        &mut self,
        words: u64,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        // The tests run over everything this connection received, not per request: many small
        // requests are tested as one stream. (Taken out while `receive` borrows the client.)
        let mut health = std::mem::take(self.random_health());
        let result = self.rand_words_tested(words, sink, progress, &mut health);
        *self.random_health() = health;
        result
    }

    fn rand_words_tested(
        &mut self,
        words: u64,
        sink: &mut dyn FnMut(&[u8]) -> Result<()>,
        progress: &mut dyn Progress,
        health: &mut HealthTests,
    ) -> Result<()> {
        let mut in_flight: VecDeque<(u32, usize, Duration)> = VecDeque::new();
        let mut unrequested = words;
        // Shorter requests while answers are lost: a long answer rarely crosses a damaged line
        // whole.
        let mut recovery = Recovery::new(usize::from(MAX_RANDOM_WORDS) * 4, 4);
        while unrequested > 0 || !in_flight.is_empty() {
            while in_flight.len() < WINDOW && unrequested > 0 {
                let n = unrequested.min(recovery.chunk_len() as u64 / 4) as u16;
                let body = RequestBody::Random { words: n };
                let wait = self.wait_for(&body);
                let seq = self.send(&body)?;
                in_flight.push_back((seq, usize::from(n) * 4, wait));
                unrequested -= u64::from(n);
            }
            let (seq, expected, wait) = *in_flight.front().expect("a request is in flight");
            let received = self.receive(seq, wait, |body| match body {
                ResponseBody::Random { data } if data.len() == expected => {
                    health
                        .feed(data)
                        .map_err(|failure| Error::Verification(failure.to_string()))?;
                    sink(data)
                }
                ResponseBody::Random { data } => Err(Error::Verification(format!(
                    "the device returned {} random bytes where {expected} were asked for",
                    data.len()
                ))),
                other => Err(Error::Verification(format!(
                    "the device answered a random request with {other:?}"
                ))),
            });
            match received {
                Ok(()) => {
                    in_flight.pop_front();
                    progress.advance(expected as u64);
                    recovery.delivered();
                }
                Err(e) if e.is_retryable() => {
                    self.note_retry(&e);
                    recovery.lost(e)?;
                    unrequested += in_flight
                        .drain(..)
                        .map(|(_, n, _)| n as u64 / 4)
                        .sum::<u64>();
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
