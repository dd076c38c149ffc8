//! The factory station: runs a recipe on many devices at once, one worker thread per device,
//! and records every device, step, key and event in the record store. The device is the source
//! of truth; the records say what was done, so a re-run skips what is done and re-checks what
//! was in flight.
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ucrypto::line_speed::LineSpeed;

use crate::records::{Records, RunContext};

pub mod attestation;
pub mod ca;
pub mod error;
#[cfg(feature = "flash")]
pub mod flash_session;
#[cfg(feature = "flash")]
pub mod flasher;
pub mod recipe;
pub mod records;
#[cfg(feature = "serve")]
pub mod serve;
pub mod steps;
pub mod targets;
pub mod worker;

pub use error::{Error, Result};

pub use recipe::{Recipe, Step};
pub use targets::Target;
pub use worker::DeviceReport;

use worker::Job;
pub use worker::Status;

/// Everything a station run needs; built by the CLI or by a program.
#[derive(Debug, Clone)]
pub struct StationOptions {
    pub recipe: Recipe,
    pub targets: Vec<Target>,
    /// The station's name in the records (the host name by default).
    pub station_id: String,
    /// Baud rate UART ports open at: the firmware's start-up rate, `DEFAULT_BAUD`.
    pub baud: u32,
    /// The rate each device's line is moved to after its handshake (`SetBaud`), negotiated per
    /// connection; a device whose line fails at that rate carries on at `DEFAULT_BAUD`.
    pub speed: LineSpeed,
    /// Allowance for the link on top of each request's own time.
    pub timeout: Duration,
}

/// Told what the workers do while a run goes on (the CLI draws live lines and prints each
/// device's result; a program may log, or ignore it).
pub trait Observer {
    /// A worker's news: connected, a step begun or skipped, progress, finished.
    fn update(&mut self, status: &Status) -> Result<()> {
        let _ = status;
        Ok(())
    }
}

/// Observes nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl Observer for NoObserver {}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub station_id: String,
    pub run_id: String,
    pub recipe_name: String,
    pub recipe_sha256: String,
    /// Where the records went (no password).
    pub records: String,
    /// One per target, in the order given.
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
pub fn run(
    options: &StationOptions,
    records: &Records,
    observer: &mut dyn Observer,
) -> Result<RunSummary> {
    let started = Instant::now();
    if matches!(options.recipe.steps.first(), Some(Step::Flash(_)))
        && options
            .targets
            .iter()
            .any(|t| matches!(t, Target::Sim { .. }))
    {
        return Err(Error::input(
            "step 1 (flash) needs boards in download mode on serial ports: pass --ports (e.g. \
             ptys of `ucrypto sim --download-mode`), not --sim",
        ));
    }
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
        speed: options.speed,
        timeout: options.timeout,
    };
    let labels: Vec<String> = options.targets.iter().map(Target::label).collect();
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
                shown = observer.update(&status);
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
        station_id: ctx.station_id.clone(),
        run_id: ctx.run_id.clone(),
        recipe_name: options.recipe.name.clone(),
        recipe_sha256: ctx.recipe_sha256.clone(),
        records: records.describe(),
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
    Ok(summary)
}

/// A run's id: 16 random bytes in hex, unique across stations without coordination.
fn new_run_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the host OS has no random number generator");
    hex::encode(bytes)
}
