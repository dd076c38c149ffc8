//! `ucrypto sim`: the virtual device served on a pseudo-terminal, so scripts and tests reach it
//! through the same serial code path as a board.
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Instant;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::pty::openpty;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use ucrypto_firmware::backend::software::Seed;
use ucrypto_firmware::{Engine, SoftwareBackend};
use ucrypto_protocol::{Chip, DEFAULT_BAUD};
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::faults::{FaultInjector, FaultSpec};
use crate::key_files::KeyFiles;
use crate::pacer::Pacer;

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
    /// The rate `--baud` set: the pacing while the engine is at its start-up rate.
    start_baud: u32,
    /// The rate the device's UART is at: the engine's, followed once the answer before a change
    /// is out.
    engine_baud: u32,
    /// Set by `--line-limit`: the fastest rate the line carries intact.
    line_limit: Option<u32>,
    started: Instant,
    /// Set by `--efuse` / `--flash`: where the key hardware's state is kept.
    files: Option<KeyFiles>,
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
            start_baud: DEFAULT_BAUD,
            engine_baud: DEFAULT_BAUD,
            line_limit: None,
            started: Instant::now(),
            files: None,
        })
    }

    /// Loads the eFuses and flash from these files (creating missing ones) and saves them after
    /// every request that burns or writes.
    pub fn with_key_files(
        mut self,
        efuse: Option<PathBuf>,
        flash: Option<PathBuf>,
    ) -> Result<Self> {
        self.files = Some(KeyFiles::open(&mut self.engine, efuse, flash)?);
        Ok(self)
    }

    /// Damages the link as `spec` says (for reliability tests).
    pub fn with_faults(mut self, spec: FaultSpec) -> Self {
        self.faults = Some(FaultInjector::new(spec));
        self
    }

    /// Paces the device's output like a UART at `baud`, 8N1 (ten bits on the line per byte).
    /// Input is not paced: on a full-duplex line both directions run at once, so for streams whose
    /// requests and answers are the same size the output alone sets the limit.
    ///
    /// A client may move the rate with `SetBaud`: the pacing follows the engine's rate from the
    /// answer after the acknowledgement on, and returns to `baud` when the engine falls back to
    /// its start-up rate (`DEFAULT_BAUD`).
    pub fn pace(mut self, baud: u32) -> Self {
        self.pacer = Some(Pacer::new(baud));
        self.start_baud = baud;
        self
    }

    /// A line that carries at most `baud` (a long cable, a bridge that cannot make the rate):
    /// bytes at a faster rate arrive garbled, in both directions. Only for a paced device (a
    /// UART), whose two ends must also agree on the rate.
    pub fn with_line_limit(mut self, baud: u32) -> Self {
        self.line_limit = Some(baud);
        self
    }

    /// Whether bytes cross the line intact now. A paced device is a UART: the host's side (the
    /// rate the client set on the terminal) and the device's side must be at one rate, no
    /// faster than the line's limit; otherwise each side reads garbage, as a UART does. An
    /// unpaced device is USB-Serial-JTAG, whose rate means nothing.
    fn line_intact(&self) -> bool {
        if self.pacer.is_none() {
            return true;
        }
        let host_agrees = host_baud(&self._slave).is_none_or(|host| host == self.engine_baud);
        host_agrees
            && self
                .line_limit
                .is_none_or(|limit| self.engine_baud <= limit)
    }

    /// Follows a rate change of the engine (after the answer that acknowledged it is out).
    fn follow_rate(&mut self) {
        let baud = self.engine.line_baud();
        if baud == self.engine_baud {
            return;
        }
        self.engine_baud = baud;
        if let Some(pacer) = &mut self.pacer {
            *pacer = Pacer::new(if baud == DEFAULT_BAUD {
                self.start_baud
            } else {
                baud
            });
        }
    }

    /// The path clients open (`/dev/pts/N`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The id the device reports in `Hello` (also its eFuse MAC in download mode).
    pub fn device_id(&self) -> [u8; 6] {
        ucrypto_firmware::Backend::device_id(self.engine.backend())
    }

    /// The chip revision its eFuse BLOCK1 gives (`major * 100 + minor`), or the virtual chip's
    /// default when BLOCK1 is not programmed ([`crate::chip_revision`]).
    pub fn chip_revision(&self) -> u16 {
        let chip = ucrypto_firmware::Backend::chip(self.engine.backend());
        self.engine
            .backend()
            .keys()
            .and_then(|hw| crate::chip_revision::from_block1(chip, &hw.efuse_bytes()[32..64]))
            .unwrap_or_else(|| crate::chip_revision::default_revision(chip))
    }

    /// The terminal's master side, for the ROM loader of download mode.
    pub(crate) fn master(&self) -> &std::fs::File {
        &self.master
    }

    /// What a reset into an application does: the device's flash is what download mode left
    /// (key partition included), and the engine restarts (self-tests again) reporting the
    /// application's version.
    pub(crate) fn boot(&mut self, firmware_version: &'static str, flash: &[u8]) {
        if let Some(hw) = self.engine.backend_mut().keys_mut() {
            // Both are the same 4 MiB raw image, so the load cannot be too large.
            let _ = hw.load_flash(flash);
        }
        self.engine.set_firmware_version(firmware_version);
        let chip = ucrypto_firmware::Backend::chip(self.engine.backend());
        self.engine
            .set_app_sha256(crate::esp_image::app_sha256(flash, chip));
        self.engine.reset();
    }

    /// Serves requests until the process is interrupted or the terminal fails.
    pub fn serve(self) -> Result<()> {
        self.serve_after(&[])
    }

    /// Serves `pending` (bytes already read from the terminal), then requests as they come.
    pub(crate) fn serve_after(mut self, pending: &[u8]) -> Result<()> {
        let mut buf = vec![0u8; 8192];
        let mut pending = pending.to_vec();
        loop {
            let n = if pending.is_empty() {
                if !self.readable()? {
                    // Silence: the device's clock still runs (its rate falls back after
                    // BAUD_FALLBACK_MS without a frame, as the chip's main loop sees it).
                    self.engine.tick(self.started.elapsed().as_millis() as u64);
                    self.follow_rate();
                    continue;
                }
                match self.master.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(Error::input(format!("virtual device stopped: {e}"))),
                }
            } else {
                let n = pending.len().min(buf.len());
                buf[..n].copy_from_slice(&pending[..n]);
                pending.drain(..n);
                n
            };
            let mut input = match &mut self.faults {
                Some(faults) => faults.damage(&buf[..n]),
                None => buf[..n].to_vec(),
            };
            let mut answers: Vec<Vec<u8>> = Vec::new();
            // The device's clock, for the loaded key's idle time: checked when bytes arrive
            // (the key of a host gone quiet is wiped before anything else is served).
            self.engine.tick(self.started.elapsed().as_millis() as u64);
            self.follow_rate();
            if !self.line_intact() {
                garble(&mut input);
            }
            self.engine
                .receive(&input, |frame| answers.push(frame.to_vec()));
            // The bytes may have carried a key; the engine wipes its own copy.
            buf[..n].zeroize();
            input.zeroize();
            // Burned eFuses and written flash reach their files before the answer leaves.
            if let Some(files) = &mut self.files {
                files.save(&self.engine)?;
            }
            for answer in answers {
                let mut wire = match &mut self.faults {
                    Some(faults) => {
                        std::thread::sleep(faults.spec().delay);
                        faults.damage(&answer)
                    }
                    None => answer.clone(),
                };
                if self.faults.as_ref().is_some_and(|f| f.loses(&answer)) {
                    wire.clear();
                }
                if !self.line_intact() {
                    garble(&mut wire);
                }
                match &mut self.pacer {
                    Some(pacer) => pacer.write(&mut self.master, &wire),
                    None => self.master.write_all(&wire),
                }
                .map_err(|e| Error::input(format!("virtual device stopped: {e}")))?;
                self.follow_rate();
                if self.faults.as_mut().is_some_and(FaultInjector::answered) {
                    // The device restarts: requests it had not answered yet are lost with it.
                    self.engine.reset();
                    break;
                }
            }
        }
    }
}

impl PtyDevice {
    /// Waits up to a tick for input; false when none came.
    fn readable(&self) -> Result<bool> {
        let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(TICK_MS)) {
            Ok(n) => Ok(n > 0),
            Err(nix::errno::Errno::EINTR) => Ok(false),
            Err(e) => Err(Error::input(format!("virtual device stopped: {e}"))),
        }
    }
}

/// How often a silent device's clock is read.
const TICK_MS: u16 = 20;

/// The rate the client set on its side of the terminal (`termios2`, as serialport sets it), or
/// none if it cannot be read.
fn host_baud(slave: &OwnedFd) -> Option<u32> {
    // SAFETY: TCGETS2 fills a `termios2` from an open terminal's descriptor and reads nothing
    // else; the struct is plain data, valid when zeroed.
    let mut termios: libc::termios2 = unsafe { std::mem::zeroed() };
    let done = unsafe { libc::ioctl(slave.as_raw_fd(), libc::TCGETS2, &mut termios) };
    (done == 0).then_some(termios.c_ospeed)
}

/// What a UART at another rate reads of `bytes`: every byte altered (zeros appear and vanish,
/// so frames split and merge; none passes its CRC).
fn garble(bytes: &mut [u8]) {
    for b in bytes {
        *b ^= 0x55;
    }
}
