//! The factory station: runs a recipe on many devices at once, one worker thread per device,
//! and records every device, step, key and event in the record store. The device is the source
//! of truth; the records say what was done, so a re-run skips what is done and re-checks what
//! was in flight.
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::records::{Records, RunContext};

pub mod display;
pub mod recipe;
pub mod steps;
pub mod targets;
pub mod worker;

pub use recipe::{Recipe, Step};
pub use targets::Target;
pub use worker::DeviceReport;

use display::Display;
use worker::{Job, Status};

/// Everything a station run needs; built by the CLI or by a program.
#[derive(Debug, Clone)]
pub struct StationOptions {
    pub recipe: Recipe,
    pub targets: Vec<Target>,
    /// The station's name in the records (the host name by default).
    pub station_id: String,
    /// Baud rate for UART ports.
    pub baud: u32,
    /// Allowance for the link on top of each request's own time.
    pub timeout: Duration,
    /// One JSON line per device and a summary line, instead of text and live status.
    pub json: bool,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub run_id: String,
    pub reports: Vec<DeviceReport>,
    pub elapsed: Duration,
}

impl RunSummary {
    pub fn failed(&self) -> usize {
        self.reports.iter().filter(|r| r.failed()).count()
    }
}

/// The station's default name: this machine's host name.
pub fn default_station_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "station".to_string())
}

/// Runs the recipe on every target at once and records it all. Devices that fail are in the
/// summary; an error is returned only when the run could not start or the records failed for
/// the run itself.
pub fn run(options: &StationOptions, records: &Records) -> Result<RunSummary> {
    crate::client::handle_interrupts();
    let started = Instant::now();
    let shared = steps::Shared::prepare(&options.recipe.steps)?;
    let ctx = RunContext {
        station_id: options.station_id.clone(),
        run_id: new_run_id(),
        recipe_sha256: options.recipe.sha256.clone(),
    };
    records.start_run(
        &ctx,
        &default_station_id(),
        &options.recipe.name,
        options.targets.len(),
    )?;
    let job = Job {
        recipe: &options.recipe,
        shared: &shared,
        records,
        ctx: &ctx,
        baud: options.baud,
        timeout: options.timeout,
    };
    let labels: Vec<String> = options.targets.iter().map(Target::label).collect();
    let display = Display::new(&labels, options.recipe.steps.len(), options.json);
    let mut reports: Vec<Option<DeviceReport>> = vec![None; options.targets.len()];
    let (tx, rx) = mpsc::channel::<Status>();
    let shown = std::thread::scope(|scope| -> Result<()> {
        for (worker, target) in options.targets.iter().enumerate() {
            let tx = tx.clone();
            let job = &job;
            std::thread::Builder::new()
                .name(format!("station-{}", target.label()))
                .spawn_scoped(scope, move || {
                    let report = worker::provision(job, worker, target, &tx);
                    let _ = tx.send(Status::Finished { worker, report });
                })
                .map_err(|e| Error::input(format!("cannot start a worker thread: {e}")))?;
        }
        drop(tx);
        let mut shown = Ok(());
        for status in rx {
            if let Status::Finished { worker, report } = &status {
                reports[*worker] = Some(report.clone());
            }
            if shown.is_ok() {
                shown = display.update(&status);
            }
        }
        shown
    });
    let reports: Vec<DeviceReport> = reports
        .into_iter()
        .zip(&labels)
        .map(|(report, label)| {
            // A worker that ended without a report panicked: that device failed.
            report.unwrap_or_else(|| DeviceReport {
                device: label.clone(),
                device_id: None,
                status: "failed",
                steps_run: 0,
                steps_skipped: 0,
                step: None,
                step_kind: None,
                error: Some("the worker stopped unexpectedly".into()),
                error_kind: Some("internal"),
                interrupted: false,
            })
        })
        .collect();
    let summary = RunSummary {
        run_id: ctx.run_id.clone(),
        reports,
        elapsed: started.elapsed(),
    };
    let failed = summary.failed();
    records.finish_run(
        &ctx,
        if failed == 0 {
            "done"
        } else {
            "devices-failed"
        },
    )?;
    shown?;
    let total = summary.reports.len();
    let json = serde_json::json!({
        "summary": {
            "station_id": ctx.station_id,
            "run_id": ctx.run_id,
            "recipe": options.recipe.name,
            "recipe_sha256": ctx.recipe_sha256,
            "records": records.describe(),
            "devices": total,
            "done": total - failed,
            "failed": failed,
            "seconds": summary.elapsed.as_secs_f64(),
        }
    });
    let text = format!(
        "station {} run {}: {} of {total} devices done, {failed} failed in {:.1} s (records: {})",
        ctx.station_id,
        ctx.run_id,
        total - failed,
        summary.elapsed.as_secs_f64(),
        records.describe()
    );
    display.summary(&json, &text)?;
    Ok(summary)
}

/// A run's id: 16 random bytes in hex, unique across stations without coordination.
fn new_run_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the host OS has no random number generator");
    hex::encode(bytes)
}
