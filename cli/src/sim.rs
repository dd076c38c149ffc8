//! `ucrypto sim`: the virtual device served on a pseudo-terminal, so scripts and tests reach it
//! through the same serial code path as a board.
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::pty::openpty;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use ucrypto_firmware::backend::software::Seed;
use ucrypto_firmware::{Engine, SoftwareBackend};
use ucrypto_protocol::Chip;
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::faults::{FaultInjector, FaultSpec};
use crate::key_files::KeyFiles;

/// A virtual device on a pseudo-terminal.
pub struct PtyDevice {
    master: std::fs::File,
    /// Our own handle on the terminal side: while it is open, a client closing the port does not
    /// hang up the line, so the device serves one client after another.
    _slave: OwnedFd,
    path: String,
    engine: Box<Engine<SoftwareBackend>>,
    faults: Option<FaultInjector>,
    /// Set by `--baud`: the device's output leaves no faster than a UART would carry it.
    pacer: Option<Pacer>,
    /// Set by `--efuse`/`--flash`: the eFuses and flash live in files.
    key_files: Option<KeyFiles>,
}

impl PtyDevice {
    pub fn open(chip: Chip, seed: Seed) -> Result<Self> {
        let pty = openpty(None, None)
            .map_err(|e| Error::input(format!("cannot open a pseudo-terminal: {e}")))?;
        let path = nix::unistd::ttyname(pty.slave.as_fd())
            .map_err(|e| Error::input(format!("cannot name the pseudo-terminal: {e}")))?
            .display()
            .to_string();
        // Raw from the start: no echo, no line editing, no CR/LF translation of binary frames.
        let mut termios = tcgetattr(pty.slave.as_fd()).map_err(|e| Error::input(e.to_string()))?;
        cfmakeraw(&mut termios);
        tcsetattr(pty.slave.as_fd(), SetArg::TCSANOW, &termios)
            .map_err(|e| Error::input(e.to_string()))?;
        Ok(Self {
            master: std::fs::File::from(pty.master),
            _slave: pty.slave,
            path,
            engine: Box::new(Engine::new(SoftwareBackend::new(chip, seed))),
            faults: None,
            pacer: None,
            key_files: None,
        })
    }

    /// Damages the link as `spec` says (for reliability tests).
    pub fn with_faults(mut self, spec: FaultSpec) -> Self {
        self.faults = Some(FaultInjector::new(spec));
        self
    }

    /// Paces the device's output like a UART at `baud`, 8N1 (ten bits on the line per byte).
    /// Input is not paced: on a full-duplex line both directions run at once, so for streams whose
    /// requests and answers are the same size the output alone sets the limit.
    pub fn pace(mut self, baud: u32) -> Self {
        self.pacer = Some(Pacer::new(baud));
        self
    }

    /// Keeps the eFuses in `efuse` and the flash in `flash` (loaded if they exist, written
    /// whenever the device changes them).
    pub fn with_key_files(
        mut self,
        efuse: Option<PathBuf>,
        flash: Option<PathBuf>,
    ) -> Result<Self> {
        let chip = ucrypto_firmware::backend::Backend::chip(self.engine.backend());
        let hardware = self.engine.backend_mut().keys_mut().ok_or_else(|| {
            Error::Unsupported(format!(
                "a virtual {} has no eFuse key blocks: --efuse and --flash need --chip esp32c3 or \
                 esp32c6",
                chip.name()
            ))
        })?;
        self.key_files = Some(KeyFiles::open(efuse, flash, hardware)?);
        Ok(self)
    }

    /// The path clients open (`/dev/pts/N`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Serves requests until the process is interrupted or the terminal fails.
    pub fn serve(mut self) -> Result<()> {
        let mut buf = vec![0u8; 8192];
        loop {
            let n = match self.master.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::input(format!("virtual device stopped: {e}"))),
            };
            let mut input = match &mut self.faults {
                Some(faults) => faults.damage(&buf[..n]),
                None => buf[..n].to_vec(),
            };
            let mut answers: Vec<Vec<u8>> = Vec::new();
            self.engine
                .receive(&input, |frame| answers.push(frame.to_vec()));
            // The bytes may have carried a key; the engine wipes its own copy.
            buf[..n].zeroize();
            input.zeroize();
            // Saved before anything is answered: a burn a host was told of is in the file.
            if let (Some(files), Some(hardware)) =
                (&mut self.key_files, self.engine.backend().keys())
            {
                files.save(hardware)?;
            }
            for answer in answers {
                let wire = match &mut self.faults {
                    Some(faults) => {
                        std::thread::sleep(faults.spec().delay);
                        faults.damage(&answer)
                    }
                    None => answer,
                };
                match &mut self.pacer {
                    Some(pacer) => pacer.write(&mut self.master, &wire),
                    None => self.master.write_all(&wire),
                }
                .map_err(|e| Error::input(format!("virtual device stopped: {e}")))?;
                if self.faults.as_mut().is_some_and(FaultInjector::answered) {
                    // The device restarts: requests it had not answered yet are lost with it.
                    self.engine.reset();
                    break;
                }
            }
        }
    }
}

/// Releases bytes at a UART's pace: each slice of about a millisecond of line time is written when
/// its last bit would have arrived.
struct Pacer {
    bytes_per_second: f64,
    slice: usize,
    /// When the line finishes the bytes already given to it.
    busy_until: Instant,
}

/// A line idle for longer than this starts afresh; shorter gaps are scheduling jitter (a sleep
/// that overran), made up by the next slice so the average rate stays exact.
const IDLE_AFTER: Duration = Duration::from_millis(2);

impl Pacer {
    fn new(baud: u32) -> Self {
        let bytes_per_second = f64::from(baud.max(10)) / 10.0;
        Self {
            bytes_per_second,
            slice: ((bytes_per_second / 1000.0) as usize).clamp(1, 4096),
            busy_until: Instant::now(),
        }
    }

    fn write(&mut self, out: &mut impl Write, bytes: &[u8]) -> std::io::Result<()> {
        for piece in bytes.chunks(self.slice) {
            let now = Instant::now();
            if now > self.busy_until + IDLE_AFTER {
                self.busy_until = now;
            }
            self.busy_until += Duration::from_secs_f64(piece.len() as f64 / self.bytes_per_second);
            if let Some(wait) = self.busy_until.checked_duration_since(now) {
                std::thread::sleep(wait);
            }
            out.write_all(piece)?;
        }
        Ok(())
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
