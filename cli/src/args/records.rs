//! The arguments of `ucrypto records`.
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use ucrypto_station::records::DEFAULT_RECORDS;

#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Every device recorded: id, chip, firmware, station, steps done and failed, keys.
    List(RecordsArgs),
    /// One device's record, steps, keys and its whole event history.
    Show(RecordsShowArgs),
    /// Every device with its keys, as CSV (one row per device and key slot) or JSON.
    Export(RecordsExportArgs),
    /// Walks the event log's hash chain: exit 0 when every event is as written, 3
    /// (verification failed) naming the first event changed, removed or inserted since.
    Verify(RecordsArgs),
}

#[derive(Debug, Args)]
pub struct RecordsArgs {
    /// The record store: a SQLite file, or postgres://user@host/db.
    #[arg(long, value_name = "FILE|URL", default_value = DEFAULT_RECORDS, env = "UCRYPTO_RECORDS")]
    pub records: String,
}

#[derive(Debug, Args)]
pub struct RecordsShowArgs {
    /// The device id (its MAC, as `ucrypto info` shows it).
    #[arg(value_name = "DEVICE")]
    pub device: String,
    #[command(flatten)]
    pub store: RecordsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
    /// Each device's certificate chain (device certificate, then its CAs), after a comment
    /// line naming the device.
    Pem,
}

#[derive(Debug, Args)]
pub struct RecordsExportArgs {
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// Write to FILE (written in full or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub store: RecordsArgs,
}
