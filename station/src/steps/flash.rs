//! The recipe's `flash` step: the image is read and checked once per run (and against the
//! recipe's `sha256` pin), before any board is touched. Each worker first asks the firmware on
//! its port for `Hello`: a board that already runs the image's application (the same
//! `app_sha256`) is left as it is, without download mode. Otherwise the image is written
//! through the board's ROM loader with [`crate::flasher::flash`] (which skips a board whose
//! flash already holds it) and the board restarts into it, on the same port, before the other
//! steps connect.
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::flasher::{Before, FlashOptions, FlashReport, ImageSummary};
use crate::recipe::Flash;
use ucrypto::progress::Progress;
use ucrypto::transport::SerialTransport;
use ucrypto::Client;

/// A `flash` step's image, read and checked for the whole run.
pub struct FlashImage {
    bytes: Vec<u8>,
    summary: ImageSummary,
    /// SHA-256 of the image file, for `devices.image_sha256`.
    pub sha256: String,
    /// The digest appended to the image's application: what a board running it reports in
    /// `Hello` (`app_sha256`).
    app_sha256: Option<[u8; 32]>,
    force: bool,
}

/// How long a board on the port has to answer `Hello` before it is taken to be in download
/// mode (or silent).
const HELLO_FIRST_TIMEOUT: Duration = Duration::from_millis(700);

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
        if let Some(pinned) = &step.sha256 {
            if !pinned.eq_ignore_ascii_case(&sha256) {
                return Err(Error::input(format!(
                    "step 1 (flash): image {} has SHA-256 {sha256}, the recipe pins {pinned}: \
                     put the pinned image there, or change the recipe's sha256",
                    step.image.display()
                )));
            }
        }
        // The image checked out as bootable, so its application is there.
        let app_sha256 = ucrypto_sim::esp_image::app_sha256(&bytes, summary.chip);
        Ok(Self {
            bytes,
            summary,
            sha256,
            app_sha256,
            force: step.force,
        })
    }

    /// What the firmware on `port` runs, if it answers `Hello` (a board in download mode, or a
    /// silent one, does not).
    fn running(&self, port: &str, baud: u32) -> Option<ucrypto::device_info::DeviceInfo> {
        let transport = SerialTransport::open(port, baud).ok()?;
        let client = Client::connect(transport, HELLO_FIRST_TIMEOUT).ok()?;
        Some(client.info().clone())
    }

    /// The board already runs this image's application: the step's report, nothing written.
    fn already_running(
        &self,
        port: &str,
        info: &ucrypto::device_info::DeviceInfo,
    ) -> Option<FlashReport> {
        let digest = self.app_sha256?;
        let runs_it = info.chip == self.summary.chip
            && info.app_sha256.as_deref() == Some(hex::encode(digest).as_str());
        runs_it.then(|| FlashReport {
            port: port.to_string(),
            chip: info.chip.name(),
            mac: info.device_id_string(),
            loader: "none",
            image_bytes: self.bytes.len() as u64,
            bytes_written: 0,
            skipped: true,
            md5: hex::encode(self.summary.md5),
            // Nothing was read back from the flash: the running firmware's word is the check.
            md5_verified: false,
            firmware_version: info.firmware_version.clone(),
            protocol_version: info.protocol_version,
            schema: hex::encode(info.schema),
            device_id: info.device_id_string(),
            app_sha256: info.app_sha256.clone(),
        })
    }

    /// Leaves a board that runs the image as it is; else flashes the board on `port` (reset
    /// into download mode where the port can) and waits for its restarted firmware.
    pub fn write(&self, port: &str, baud: u32, progress: &mut dyn Progress) -> Result<FlashReport> {
        if !self.force {
            if let Some(info) = self.running(port, baud) {
                if let Some(report) = self.already_running(port, &info) {
                    log::info!("{port}: already runs the image's application: not flashed");
                    return Ok(report);
                }
                if !crate::flasher::port_can_reset(port) {
                    return Err(Error::input(format!(
                        "step 1 (flash): {port} runs firmware {} ({}), not this image, and the \
                         port has no reset line to enter download mode: hold BOOT, press RESET, \
                         release BOOT, and run the recipe again",
                        info.firmware_version,
                        info.app_sha256
                            .as_deref()
                            .map_or("no image SHA-256".to_string(), |d| format!(
                                "app SHA-256 {d}"
                            ))
                    )));
                }
            }
        }
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
            // false: the board already ran the image and was left alone.
            "download_mode": report.loader != "none",
            "loader": report.loader,
            "bytes_written": report.bytes_written,
            "md5": report.md5,
            "md5_verified": report.md5_verified,
            "firmware_version": report.firmware_version,
        })
    }
}
