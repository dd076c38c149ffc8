//! The files that keep a virtual device's eFuses and flash across runs (`ucrypto sim --efuse
//! FILE --flash FILE`, and the in-process virtual device of the host library).
use std::path::{Path, PathBuf};

use ucrypto_firmware::backend::virtual_key_hardware::EFUSE_FILE_LEN;
use ucrypto_firmware::{Backend, Engine, SoftwareBackend};

use crate::error::{Error, Result};

/// The files that keep a virtual device's eFuses and flash across runs.
pub struct KeyFiles {
    efuse: Option<PathBuf>,
    flash: Option<PathBuf>,
    /// The key hardware's write count when the files were last saved.
    saved_at: u64,
}

impl KeyFiles {
    /// Loads a virtual device's eFuses and flash from these files (creating missing ones).
    pub fn open(
        engine: &mut Engine<SoftwareBackend>,
        efuse: Option<PathBuf>,
        flash: Option<PathBuf>,
    ) -> Result<Self> {
        let chip = engine.backend().chip();
        let hw = engine.backend_mut().keys_mut().ok_or_else(|| {
            Error::input(format!(
                "the {} has no eFuse key blocks or Digital Signature peripheral: --efuse and --flash need --chip esp32c3 or esp32c6",
                chip.name()
            ))
        })?;
        if let Some(path) = &efuse {
            if let Some(bytes) = read_if_present(path)? {
                hw.load_efuse_file(&bytes).ok_or_else(|| {
                    Error::input(format!(
                        "{}: not an eFuse file ({} bytes, expected {EFUSE_FILE_LEN}, or 512 for espefuse's --virt file): pass another path to start a new one",
                        path.display(),
                        bytes.len()
                    ))
                })?;
            }
        }
        if let Some(path) = &flash {
            if let Some(bytes) = read_if_present(path)? {
                hw.load_flash(&bytes).ok_or_else(|| {
                    Error::input(format!(
                        "{}: larger than the 4 MiB flash ({} bytes)",
                        path.display(),
                        bytes.len()
                    ))
                })?;
            }
        }
        let mut files = KeyFiles {
            efuse,
            flash,
            saved_at: u64::MAX,
        };
        // Missing files are created now, so a user sees them before the first burn.
        files.save(engine)?;
        Ok(files)
    }

    /// Writes the files if the key hardware changed since the last save (each replaced whole,
    /// through a temporary file, so a crash never leaves half a file).
    pub fn save(&mut self, engine: &Engine<SoftwareBackend>) -> Result<()> {
        let Some(hw) = engine.backend().keys() else {
            return Ok(());
        };
        if hw.writes() == self.saved_at {
            return Ok(());
        }
        if let Some(path) = &self.efuse {
            replace_file(path, &hw.efuse_file_bytes())?;
        }
        if let Some(path) = &self.flash {
            replace_file(path, hw.flash_bytes())?;
        }
        self.saved_at = hw.writes();
        Ok(())
    }
}

fn read_if_present(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::input(format!("{}: {e}", path.display()))),
    }
}

fn replace_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::input(format!("{}: cannot save: {e}", path.display())))
}
