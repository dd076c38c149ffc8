//! One device's provisioning, on its own thread: connect, record the device, claim it, then run
//! each recipe step that is not already recorded as done, recording each before and after.
use std::sync::mpsc::Sender;
use std::time::Duration;

use serde::Serialize;

use super::recipe::{Recipe, Step};
use super::steps::{self, Shared};
use super::targets::Target;
use crate::error::{Error, Result};
use crate::records::{Claim, DeviceRecord, Records, RunContext, StepOutcome, StepState};
use ucrypto::device_info::DeviceInfo;
use ucrypto::line_speed::LineSpeed;
use ucrypto::progress::Progress;

/// What a worker tells the display while it runs.
#[derive(Debug, Clone)]
pub enum Status {
    Connected {
        worker: usize,
        device_id: String,
    },
    Step {
        worker: usize,
        index: usize,
        kind: &'static str,
        skipped: bool,
    },
    /// How far the running step has come, in percent.
    StepProgress {
        worker: usize,
        kind: &'static str,
        percent: u8,
    },
    Finished {
        worker: usize,
        report: DeviceReport,
    },
}

/// How one device ended.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceReport {
    /// Where it was (`/dev/ttyACM0`, `sim#3`).
    pub device: String,
    pub device_id: Option<String>,
    /// `done` or `failed`.
    pub status: &'static str,
    /// Steps run in this run, and steps skipped as already done.
    pub steps_run: usize,
    pub steps_skipped: usize,
    /// The failed step (1-based) and its kind; absent when the device failed before any step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error's kind (as in `--json` errors), e.g. `disconnected`, `claimed-elsewhere`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<&'static str>,
    #[serde(skip)]
    pub interrupted: bool,
}

impl DeviceReport {
    pub fn failed(&self) -> bool {
        self.status != "done"
    }

    /// One line for people: device, id, and the step that failed.
    pub fn line(&self) -> String {
        let id = self.device_id.as_deref().unwrap_or("-");
        match (&self.error, self.step, self.step_kind) {
            (None, _, _) => format!(
                "{} {id}: done ({} steps run, {} already done)",
                self.device, self.steps_run, self.steps_skipped
            ),
            (Some(e), Some(step), Some(kind)) => {
                format!("{} {id}: FAILED at step {step} ({kind}): {e}", self.device)
            }
            (Some(e), _, _) => format!("{} {id}: FAILED: {e}", self.device),
        }
    }
}

/// Settings every worker shares.
pub struct Job<'a> {
    pub recipe: &'a Recipe,
    pub shared: &'a Shared,
    pub records: &'a Records,
    pub ctx: &'a RunContext,
    pub baud: u32,
    pub speed: LineSpeed,
    pub timeout: Duration,
}

/// Provisions the device at `target`, reporting progress on `status`; never panics on a
/// device's failure (it is in the report).
pub fn provision(
    job: &Job<'_>,
    worker: usize,
    target: &Target,
    status: &Sender<Status>,
) -> DeviceReport {
    let mut report = DeviceReport {
        device: target.label(),
        device_id: None,
        status: "failed",
        steps_run: 0,
        steps_skipped: 0,
        step: None,
        step_kind: None,
        error: None,
        error_kind: None,
        interrupted: false,
    };
    match run_steps(job, worker, target, status, &mut report) {
        Ok(()) => report.status = "done",
        Err(e) => {
            report.interrupted = e.is_interrupted();
            report.error_kind = report.error_kind.or(Some(e.slug()));
            report.error = Some(e.to_string());
            if let Some(id) = &report.device_id {
                let detail = serde_json::json!({
                    "step": report.step,
                    "error": e.to_string(),
                });
                // The device's own failure is already reported; a records error here adds
                // nothing the report does not say.
                let _ = job
                    .records
                    .event(job.ctx, id, "device-failed", &detail.to_string());
            }
        }
    }
    report
}

fn run_steps(
    job: &Job<'_>,
    worker: usize,
    target: &Target,
    status: &Sender<Status>,
    report: &mut DeviceReport,
) -> Result<()> {
    let flashed = flash_first(job, worker, target, status, report)?;
    let mut client = target.connect(job.baud, job.speed, job.timeout)?;
    let info = client.info().clone();
    let device_id = info.device_id_string();
    report.device_id = Some(device_id.clone());
    let _ = status.send(Status::Connected {
        worker,
        device_id: device_id.clone(),
    });
    let mut device = device_record(&info, &target.label());
    device.line_baud = client.line_baud();
    device.asked_baud = client.asked_baud();
    device.image_sha256 = flashed.as_ref().map(|(sha256, _)| sha256.clone());
    if let Claim::Taken { station_id } = job.records.claim_device(job.ctx, &device)? {
        report.error_kind = Some("claimed-elsewhere");
        return Err(Error::input(format!(
            "provisioned by station {station_id}: this station leaves it alone"
        )));
    }
    for (index, step) in job.recipe.steps.iter().enumerate() {
        let kind = step.kind();
        if job.records.step_state(job.ctx, &device_id, index)? == Some(StepState::Done) {
            report.steps_skipped += 1;
            let _ = status.send(Status::Step {
                worker,
                index,
                kind,
                skipped: true,
            });
            continue;
        }
        let _ = status.send(Status::Step {
            worker,
            index,
            kind,
            skipped: false,
        });
        report.step = Some(index + 1);
        report.step_kind = Some(kind);
        job.records.step_started(job.ctx, &device_id, index, kind)?;
        let mut progress = StepProgress::new(status, worker, kind);
        let ran = match (&flashed, step) {
            // Written before connecting; recorded now that the device is known.
            (Some((_, detail)), Step::Flash(_)) => Ok(steps::Found::from(detail.clone())),
            _ => steps::run(
                step,
                &mut client,
                job.shared,
                job.records,
                job.ctx,
                &mut progress,
            ),
        };
        let outcome = match ran {
            Ok(found) => StepOutcome {
                state: StepState::Done,
                detail: found.detail,
                keys: found.keys,
                certificates: found.certificates,
            },
            Err(e) => {
                let failed = StepOutcome {
                    state: StepState::Failed,
                    detail: serde_json::json!({ "error": e.to_string(), "kind": e.slug() }),
                    keys: Vec::new(),
                    certificates: Vec::new(),
                };
                job.records
                    .step_finished(job.ctx, &device_id, index, &failed)?;
                return Err(e);
            }
        };
        job.records
            .step_finished(job.ctx, &device_id, index, &outcome)?;
        report.steps_run += 1;
    }
    report.step = None;
    report.step_kind = None;
    let detail = serde_json::json!({
        "steps_run": report.steps_run,
        "steps_skipped": report.steps_skipped,
    });
    job.records
        .event(job.ctx, &device_id, "device-done", &detail.to_string())
}

#[cfg(not(feature = "flash"))]
fn flash_first(
    _job: &Job<'_>,
    _worker: usize,
    _target: &Target,
    _status: &Sender<Status>,
    _report: &mut DeviceReport,
) -> Result<Option<(String, serde_json::Value)>> {
    // `Shared::prepare` refused a recipe with a flash step.
    Ok(None)
}

/// A recipe's first step `flash`: writes the image to the board in download mode on the
/// target's port, which then restarts into it on the same port. Returns the image's SHA-256
/// and the step's record, written once the device's id is known.
#[cfg(feature = "flash")]
fn flash_first(
    job: &Job<'_>,
    worker: usize,
    target: &Target,
    status: &Sender<Status>,
    report: &mut DeviceReport,
) -> Result<Option<(String, serde_json::Value)>> {
    let (Some(Step::Flash(_)), Some(image)) = (job.recipe.steps.first(), &job.shared.image) else {
        return Ok(None);
    };
    let Target::Port(port) = target else {
        return Err(Error::input(
            "step 1 (flash) needs a serial port in download mode, not a virtual device",
        ));
    };
    let kind = "flash";
    report.step = Some(1);
    report.step_kind = Some(kind);
    let _ = status.send(Status::Step {
        worker,
        index: 0,
        kind,
        skipped: false,
    });
    let mut progress = StepProgress::new(status, worker, kind);
    let flashed = image.write(port, job.baud, &mut progress)?;
    Ok(Some((image.sha256.clone(), image.detail(&flashed))))
}

/// Passes a step's progress to the display, once per percent.
struct StepProgress<'a> {
    status: &'a Sender<Status>,
    worker: usize,
    kind: &'static str,
    total: u64,
    done: u64,
    shown: u8,
}

impl<'a> StepProgress<'a> {
    /// A step's progress that has not started yet.
    fn new(status: &'a Sender<Status>, worker: usize, kind: &'static str) -> Self {
        Self {
            status,
            worker,
            kind,
            total: 0,
            done: 0,
            shown: 0,
        }
    }
}

impl Progress for StepProgress<'_> {
    fn start(&mut self, total: Option<u64>) {
        self.total = total.unwrap_or(0);
    }

    fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        if self.total == 0 {
            return;
        }
        let percent = (self.done.min(self.total) * 100 / self.total) as u8;
        if percent != self.shown {
            self.shown = percent;
            let _ = self.status.send(Status::StepProgress {
                worker: self.worker,
                kind: self.kind,
                percent,
            });
        }
    }
}

fn device_record(info: &DeviceInfo, port: &str) -> DeviceRecord {
    DeviceRecord {
        device_id: info.device_id_string(),
        mac: info.device_id_string(),
        chip: info.chip.name().to_string(),
        firmware_version: info.firmware_version.clone(),
        image_sha256: None,
        line_baud: None,
        asked_baud: None,
        is_virtual: info.virtual_device,
        port: port.to_string(),
        entropy: format!("{} ({})", info.entropy.source, info.entropy.state),
        self_test: serde_json::to_string(&info.self_test).expect("self-test summary serializes"),
        security: info
            .security
            .as_ref()
            .map(|s| serde_json::to_string(s).expect("security summary serializes")),
    }
}
