//! `ucrypto sim`: the virtual device served on a pseudo-terminal, so scripts and tests reach it
//! through the same serial code path as a board.
use std::io::{PipeWriter, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
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
    /// The rate the host's bytes come in at on a paced line (`pacer` is the other direction),
    /// shared with the thread that carries them in ([`carry_in`]).
    input_baud: Arc<AtomicU32>,
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
            input_baud: Arc::new(AtomicU32::new(DEFAULT_BAUD)),
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

    /// Paces the line like a UART at `baud`, 8N1 (ten bits on the line per byte), in both
    /// directions: the device's answers leave no faster than the line carries them, and the
    /// host's bytes reach the engine no faster than the line delivers them (a thread reads the
    /// terminal and passes its bytes on at the line's pace). The line is full duplex: each
    /// direction has its own pace, both run at once.
    ///
    /// A client may move the rate with `SetBaud`: the pacing follows the engine's rate from the
    /// answer after the acknowledgement on, and returns to `baud` when the engine falls back to
    /// its start-up rate (`DEFAULT_BAUD`).
    pub fn pace(mut self, baud: u32) -> Self {
        self.pacer = Some(Pacer::new(baud));
        self.input_baud.store(baud, Ordering::Relaxed);
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
            let paced = if baud == DEFAULT_BAUD {
                self.start_baud
            } else {
                baud
            };
            *pacer = Pacer::new(paced);
            self.input_baud.store(paced, Ordering::Relaxed);
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
        // On a paced line the host's bytes come through the pipe of the thread that carries
        // them in at the line's pace; otherwise straight from the terminal.
        let mut line_in = match self.pacer {
            Some(_) => {
                let (reader, writer) = std::io::pipe()
                    .map_err(|e| Error::input(format!("cannot pace the input: {e}")))?;
                let terminal = self
                    .master
                    .try_clone()
                    .map_err(|e| Error::input(format!("cannot pace the input: {e}")))?;
                let baud = Arc::clone(&self.input_baud);
                std::thread::spawn(move || carry_in(terminal, writer, &baud));
                Some(reader)
            }
            None => None,
        };
        loop {
            let n = if pending.is_empty() {
                let fd = match &line_in {
                    Some(pipe) => pipe.as_fd(),
                    None => self.master.as_fd(),
                };
                if !readable(fd)? {
                    // Silence: the device's clock still runs (its rate falls back after
                    // BAUD_FALLBACK_MS without a frame, as the chip's main loop sees it).
                    self.engine.tick(self.started.elapsed().as_millis() as u64);
                    self.follow_rate();
                    continue;
                }
                let read = match &mut line_in {
                    Some(pipe) => pipe.read(&mut buf),
                    None => self.master.read(&mut buf),
                };
                match read {
                    // The pipe ends only when its thread stopped on the terminal.
                    Ok(0) if line_in.is_some() => {
                        return Err(Error::input("virtual device stopped: the terminal failed"))
                    }
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

/// Waits up to a tick for input on `fd`; false when none came.
fn readable(fd: BorrowedFd<'_>) -> Result<bool> {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(TICK_MS)) {
        Ok(n) => Ok(n > 0),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(e) => Err(Error::input(format!("virtual device stopped: {e}"))),
    }
}

/// The host-to-device direction of a paced line: reads what the host writes (`terminal`) and
/// passes it to the engine's side (`engine`) at the pace of a UART at `baud` (followed when it
/// changes), so the device takes bytes in no faster than the line delivers them. Bytes the host
/// writes while the line is busy wait in the terminal, as they wait in the host's UART. Returns
/// when either side fails or the terminal ends.
fn carry_in(mut terminal: impl Read, mut engine: PipeWriter, baud: &AtomicU32) {
    let mut buf = [0u8; 4096];
    let mut rate = baud.load(Ordering::Relaxed);
    let mut pacer = Pacer::new(rate);
    loop {
        let n = match terminal.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        let now = baud.load(Ordering::Relaxed);
        if now != rate {
            rate = now;
            pacer = Pacer::new(rate);
        }
        let carried = pacer.write(&mut engine, &buf[..n]);
        // The bytes may have carried a key.
        buf[..n].zeroize();
        if carried.is_err() {
            return;
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Lower bounds only, which hold on any machine: pacing can only slow bytes down.
    #[test]
    fn input_reaches_the_engine_no_faster_than_the_line_delivers_it() {
        // 9600 baud: 960 bytes per second, so 96 bytes need 100 ms of line time.
        let (mut reader, writer) = std::io::pipe().unwrap();
        let baud = Arc::new(AtomicU32::new(9600));
        let started = Instant::now();
        let carrier = {
            let baud = Arc::clone(&baud);
            std::thread::spawn(move || carry_in(&[0x55u8; 96][..], writer, &baud))
        };
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        carrier.join().unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(95),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(got, vec![0x55; 96]);
    }

    /// End to end on a paced virtual device: a request behind half a second of line time (zero
    /// bytes, which only end frames) is answered no sooner than that. The answer is a few bytes,
    /// so the output's pacing alone would answer in milliseconds.
    #[test]
    fn a_paced_device_takes_its_input_at_the_line_rate() {
        use nix::sys::termios::{cfsetspeed, BaudRate};
        let device = PtyDevice::open(Chip::Esp32C3, Seed::Fixed(1))
            .unwrap()
            .pace(115_200);
        let path = device.path().to_string();
        std::thread::spawn(move || device.serve());
        let mut port = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        // The host's side at the device's start-up rate, or the line garbles.
        let mut termios = tcgetattr(port.as_fd()).unwrap();
        cfsetspeed(&mut termios, BaudRate::B115200).unwrap();
        tcsetattr(port.as_fd(), SetArg::TCSANOW, &termios).unwrap();
        // 5760 bytes: 0.5 s at 11,520 B/s.
        let mut wire = vec![0u8; 5760];
        wire.extend(
            ucrypto_protocol::frame::encode_frame_vec(&ucrypto_protocol::Request {
                seq: 1,
                body: ucrypto_protocol::RequestBody::Ping { nonce: 7 },
            })
            .unwrap(),
        );
        let started = Instant::now();
        port.write_all(&wire).unwrap();
        // Reads until the answer's closing delimiter.
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while answer.iter().filter(|&&b| b != 0).count() == 0 || byte[0] != 0 {
            port.read_exact(&mut byte).unwrap();
            answer.push(byte[0]);
        }
        assert!(
            started.elapsed() >= Duration::from_millis(490),
            "{:?}",
            started.elapsed()
        );
        let mut decoder: ucrypto_protocol::FrameDecoder = ucrypto_protocol::FrameDecoder::new();
        let (_, frame) = decoder.push(&answer);
        let body = frame.expect("an answer").expect("a good frame");
        let response: ucrypto_protocol::Response<'_> = postcard::from_bytes(body).unwrap();
        assert_eq!(response.seq, 1);
    }
}
