//! `ucrypto sim`: the virtual device served on a pseudo-terminal, so scripts and tests reach it
//! through the same serial code path as a board.
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

use nix::pty::openpty;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use ucrypto_firmware::backend::software::Seed;
use ucrypto_firmware::{Engine, SoftwareBackend};
use ucrypto_protocol::Chip;
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::faults::{FaultInjector, FaultSpec};

/// A virtual device on a pseudo-terminal.
pub struct PtyDevice {
    master: std::fs::File,
    /// Our own handle on the terminal side: while it is open, a client closing the port does not
    /// hang up the line, so the device serves one client after another.
    _slave: OwnedFd,
    path: String,
    engine: Box<Engine<SoftwareBackend>>,
    faults: Option<FaultInjector>,
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
        })
    }

    /// Damages the link as `spec` says (for reliability tests).
    pub fn with_faults(mut self, spec: FaultSpec) -> Self {
        self.faults = Some(FaultInjector::new(spec));
        self
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
            for answer in answers {
                let wire = match &mut self.faults {
                    Some(faults) => {
                        std::thread::sleep(faults.spec().delay);
                        faults.damage(&answer)
                    }
                    None => answer,
                };
                self.master
                    .write_all(&wire)
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
