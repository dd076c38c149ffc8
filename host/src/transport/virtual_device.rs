//! The virtual device in this process (`--port sim`): the firmware's engine on the software
//! backend, behind the same framed byte stream as a serial port.
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ucrypto_firmware::backend::software::Seed;
use ucrypto_firmware::{Engine, SoftwareBackend};
use ucrypto_protocol::Chip;

use super::Transport;
use crate::error::TransportError;
use ucrypto_sim::KeyFiles;

pub struct VirtualTransport {
    engine: Box<Engine<SoftwareBackend>>,
    /// Response bytes the engine produced and the client has not read yet.
    pending: VecDeque<u8>,
    /// The device's clock starts with it.
    started: Instant,
    /// Where the eFuses and flash are kept across runs, if anywhere.
    files: Option<KeyFiles>,
}

impl VirtualTransport {
    pub fn new(chip: Chip, seed: Seed) -> Self {
        Self {
            engine: Box::new(Engine::new(SoftwareBackend::new(chip, seed))),
            pending: VecDeque::new(),
            started: Instant::now(),
            files: None,
        }
    }

    /// Keeps the device's eFuses and flash in these files (loaded now, created if missing, saved
    /// after every request that burns or writes), like `ucrypto sim --efuse --flash`.
    pub fn with_key_files(mut self, efuse: PathBuf, flash: PathBuf) -> crate::Result<Self> {
        let files = KeyFiles::open(&mut self.engine, Some(efuse), Some(flash))
            .map_err(|e| crate::Error::Input(e.to_string()))?;
        self.files = Some(files);
        Ok(self)
    }
}

impl Transport for VirtualTransport {
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.engine.tick(self.started.elapsed().as_millis() as u64);
        let pending = &mut self.pending;
        self.engine.receive(bytes, |frame| pending.extend(frame));
        // Burned eFuses and written flash reach their files before the answer is read.
        if let Some(files) = &mut self.files {
            files
                .save(&self.engine)
                .map_err(|e| TransportError::Disconnected(format!("virtual device: {e}")))?;
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, TransportError> {
        if self.pending.is_empty() {
            // The engine answers synchronously: nothing pending means nothing will come. Wait
            // as a line would, so callers see the same timing as with a real device.
            std::thread::sleep(timeout);
            return Ok(0);
        }
        let n = buf.len().min(self.pending.len());
        for (dst, src) in buf.iter_mut().zip(self.pending.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }

    fn discard_input(&mut self) -> Result<(), TransportError> {
        self.pending.clear();
        Ok(())
    }

    fn describe(&self) -> String {
        "sim".to_string()
    }
}
