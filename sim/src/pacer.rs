//! A UART's pace for the virtual device's line (`ucrypto sim --baud N`): one pacer for each
//! direction, the device's output and its input.
use std::io::Write;
use std::time::{Duration, Instant};

/// Releases bytes at a UART's pace: each slice of about a millisecond of line time is written when
/// its last bit would have arrived at the far end.
pub(crate) struct Pacer {
    bytes_per_second: f64,
    slice: usize,
    /// When the line finishes the bytes already given to it.
    busy_until: Instant,
}

/// A line idle for longer than this starts afresh; shorter gaps are scheduling jitter (a sleep
/// that overran), made up by the next slice so the average rate stays exact.
const IDLE_AFTER: Duration = Duration::from_millis(2);

impl Pacer {
    pub(crate) fn new(baud: u32) -> Self {
        let bytes_per_second = f64::from(baud.max(10)) / 10.0;
        Self {
            bytes_per_second,
            slice: ((bytes_per_second / 1000.0) as usize).clamp(1, 4096),
            busy_until: Instant::now(),
        }
    }

    pub(crate) fn write(&mut self, out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
        for piece in bytes.chunks(self.slice) {
            self.carry(piece.len());
            out.write_all(piece)?;
        }
        Ok(())
    }

    /// Waits until `bytes` more have crossed the line after those already given to it.
    pub(crate) fn carry(&mut self, bytes: usize) {
        let now = Instant::now();
        if now > self.busy_until + IDLE_AFTER {
            self.busy_until = now;
        }
        self.busy_until += Duration::from_secs_f64(bytes as f64 / self.bytes_per_second);
        if let Some(wait) = self.busy_until.checked_duration_since(now) {
            std::thread::sleep(wait);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Not a timing assertion on the machine's speed: a pacer can only slow output down, so the
    /// lower bound holds on any machine.
    #[test]
    fn paced_output_takes_at_least_its_line_time() {
        // 9600 baud: 960 bytes per second, so 96 bytes need 100 ms of line time.
        let mut pacer = Pacer::new(9600);
        let mut out = Vec::new();
        let started = Instant::now();
        pacer.write(&mut out, &[0x55; 96]).unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(95),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(out, vec![0x55; 96]);
    }
}
