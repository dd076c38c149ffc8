//! `ucrypto flash`: find the image, refuse one for the wrong chip, then [`ucrypto_station::flasher::flash`]
//! with a progress bar, and say what happened.
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use ucrypto_protocol::Chip;

use crate::args::{FlashArgs, GlobalArgs};
use crate::error::{Error, Result};
use crate::output::print_json;
use crate::output::print_line;
use ucrypto::progress::Progress;
use ucrypto_station::flasher::FlashOptions;

pub fn run(global: &GlobalArgs, args: &FlashArgs) -> Result<()> {
    let chip = args.chip.map(Chip::from);
    let path = match &args.image {
        Some(path) => path.clone(),
        None => default_image(chip.unwrap_or(Chip::Esp32C3))?,
    };
    let image = std::fs::read(&path)
        .map_err(|e| Error::input(format!("cannot read the image {}: {e}", path.display())))?;
    // Before the board is touched: an image for another chip, or one that would not boot.
    ucrypto_station::flasher::inspect_image(&image, chip)
        .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    let port = match global.port.as_deref() {
        Some(p) if p == "sim" || p.starts_with("sim:") => return Err(Error::input(
            "flash needs a serial port: a board's, or the one `ucrypto sim --download-mode` prints",
        )),
        Some(p) => p.to_string(),
        None => ucrypto::ports::auto_detect()?,
    };
    let options = FlashOptions {
        before: args.before.into(),
        force: args.force,
        flash_baud: args.flash_baud,
        // The restarted firmware listens at its start-up rate; `--baud` is the rate a session
        // moves the line to after its handshake, which the check of `Hello` does not need.
        baud: ucrypto::connect::DEFAULT_BAUD,
        boot_timeout: global.timeout.max(std::time::Duration::from_secs(5)),
    };
    let mut bar = Bar(None);
    let report = ucrypto_station::flasher::flash(&port, &image, &options, &mut bar);
    bar.finish();
    let report = report?;
    if global.json {
        let mut json = serde_json::to_value(&report).expect("the report serializes");
        json["image"] = path.display().to_string().into();
        return print_json(&json);
    }
    print_line(&format!(
        "{} on {} (MAC {}): {}, MD5 {} verified; restarted: firmware {}, protocol v{} (schema {})",
        report.chip,
        report.port,
        report.mac,
        if report.skipped {
            "already held this image, nothing written".to_string()
        } else {
            format!("wrote {} bytes", report.bytes_written)
        },
        report.md5,
        report.firmware_version,
        report.protocol_version,
        report.schema
    ))
}

/// `ucrypto-<chip>-merged.bin` next to the binary (an installed release), else in
/// firmware/chip/dist/ (a source tree after build-images.sh).
fn default_image(chip: Chip) -> Result<PathBuf> {
    let name = format!("ucrypto-{}-merged.bin", chip.name());
    let beside_binary = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)));
    let in_tree = Path::new("firmware/chip/dist").join(&name);
    beside_binary
        .into_iter()
        .chain([in_tree.clone()])
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::input(format!(
                "no {name} next to ucrypto or in firmware/chip/dist/: build it with \
                 firmware/chip/build-images.sh, or pass --image PATH"
            ))
        })
}

/// A bar on stderr while the image is written, whatever its size: at 115200 baud a few
/// hundred KiB take half a minute (indicatif hides it when stderr is not a terminal).
struct Bar(Option<ProgressBar>);

impl Progress for Bar {
    fn start(&mut self, total: Option<u64>) {
        let bar = ProgressBar::new(total.unwrap_or(0));
        bar.set_style(
            ProgressStyle::with_template("flashing {bar:40} {bytes}/{total_bytes} eta {eta}")
                .expect("the template is valid"),
        );
        self.0 = Some(bar);
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(bar) = &self.0 {
            bar.inc(bytes);
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
    }
}
