//! The recipe's `flash` step: the image is read and checked once per run, before any board is
//! touched; each worker then writes it through its board's ROM loader with
//! [`crate::flasher::flash`] (which skips a board whose flash already holds it) and the board
//! restarts into it, on the same port, before the other steps connect.
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::flasher::{Before, FlashOptions, FlashReport, ImageSummary};
use crate::recipe::Flash;
use ucrypto::progress::Progress;

/// A `flash` step's image, read and checked for the whole run.
pub struct FlashImage {
    bytes: Vec<u8>,
    summary: ImageSummary,
    /// SHA-256 of the image file, for `devices.image_sha256`.
    pub sha256: String,
    force: bool,
}

impl FlashImage {
    /// Reads the step's image and checks it boots and is for the recipe's chip: a missing or
    /// wrong image stops the run before any board is touched.
    pub fn load(step: &Flash) -> Result<Self> {
        let bytes = std::fs::read(&step.image).map_err(|e| {
            Error::input(format!(
                "step 1 (flash): cannot read image {}: {e}; build it with \
                 firmware/chip/build-images.sh or fix the path",
                step.image.display()
            ))
        })?;
        let summary = crate::flasher::inspect_image(&bytes, step.chip()).map_err(|e| {
            Error::input(format!(
                "step 1 (flash): image {}: {e}",
                step.image.display()
            ))
        })?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        Ok(Self {
            bytes,
            summary,
            sha256,
            force: step.force,
        })
    }

    /// Flashes the board on `port` (in download mode) and waits for its restarted firmware.
    pub fn write(&self, port: &str, baud: u32, progress: &mut dyn Progress) -> Result<FlashReport> {
        let options = FlashOptions {
            // A board is reset into download mode by DTR/RTS; a port without those lines (a
            // pseudo-terminal) continues without reset.
            before: Before::DefaultReset,
            force: self.force,
            baud,
            flash_baud: None,
            boot_timeout: Duration::from_secs(10),
        };
        crate::flasher::flash(port, &self.bytes, &options, progress)
    }

    /// The step's record: what was written and what the restarted firmware said.
    pub fn detail(&self, report: &FlashReport) -> serde_json::Value {
        serde_json::json!({
            "image_sha256": self.sha256,
            "image_version": self.summary.version,
            "chip": report.chip,
            "skipped": report.skipped,
            "bytes_written": report.bytes_written,
            "md5": report.md5,
            "md5_verified": report.md5_verified,
            "firmware_version": report.firmware_version,
        })
    }
}
