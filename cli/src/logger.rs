//! The binary's stderr logger for the library's `log` records: warnings always, `-v` adds info
//! (connection, retries), `-vv` debug (every frame, keys redacted by the client's summaries).
//! Hand-written: thirty lines where a logger crate would bring its own formatting and colours.
use log::{Level, LevelFilter, Log, Metadata, Record};

use ucrypto::connect::VIRTUAL_DEVICE_LOG_TARGET;

struct StderrLogger {
    level: LevelFilter,
    /// With `--json` the result says `"virtual": true`; the warning would only be noise.
    quiet_virtual: bool,
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        // Only ucrypto's own records: dependencies' logs are not the user's business.
        metadata.level() <= self.level && metadata.target().starts_with("ucrypto")
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata())
            || (self.quiet_virtual && record.target() == VIRTUAL_DEVICE_LOG_TARGET)
        {
            return;
        }
        match record.level() {
            Level::Error => eprintln!("ucrypto: error: {}", record.args()),
            Level::Warn => eprintln!("warning: {}", record.args()),
            _ => eprintln!("ucrypto: {}", record.args()),
        }
    }

    fn flush(&self) {}
}

/// Installs the logger for `-v` given `verbose` times.
pub fn install(verbose: u8, json: bool) {
    let level = match verbose {
        0 => LevelFilter::Warn,
        1 => LevelFilter::Info,
        2 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    let logger = StderrLogger {
        level,
        quiet_virtual: json,
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level);
    }
}
