//! What the station shows while it runs: a live line per device on a terminal (indicatif's
//! multi-progress on stderr), and when each device ends one line on stdout, as text or as JSON.
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::error::Result;
use crate::output::print_line;
use ucrypto_station::{DeviceReport, Observer, RunSummary, Status};

pub struct Display {
    json: bool,
    /// Present when stderr is a terminal and the output is for people.
    live: Option<(MultiProgress, Vec<ProgressBar>)>,
}

impl Display {
    pub fn new(labels: &[String], steps: usize, json: bool) -> Self {
        let live = (!json && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
            let multi = MultiProgress::new();
            let style =
                ProgressStyle::with_template("{prefix:24} [{bar:20}] {pos}/{len} {wide_msg}")
                    .expect("the template is valid")
                    .progress_chars("=> ");
            let bars = labels
                .iter()
                .map(|label| {
                    let bar = multi.add(ProgressBar::new(steps as u64));
                    bar.set_style(style.clone());
                    bar.set_prefix(label.clone());
                    bar.set_message("connecting");
                    bar
                })
                .collect();
            (multi, bars)
        });
        Self { json, live }
    }

    /// The run's last line.
    pub fn summary(&self, summary: &RunSummary) -> Result<()> {
        let total = summary.reports.len();
        let failed = summary.failed();
        let json = serde_json::json!({
            "summary": {
                "station_id": summary.station_id,
                "run_id": summary.run_id,
                "recipe": summary.recipe_name,
                "recipe_sha256": summary.recipe_sha256,
                "records": summary.records,
                "devices": total,
                "done": total - failed,
                "failed": failed,
                "seconds": summary.elapsed.as_secs_f64(),
            }
        });
        let text = format!(
            "station {} run {}: {} of {total} devices done, {failed} failed in {:.1} s (records: {})",
            summary.station_id,
            summary.run_id,
            total - failed,
            summary.elapsed.as_secs_f64(),
            summary.records
        );
        match (&self.live, self.json) {
            (_, true) => print_line(&json.to_string()),
            (Some((multi, _)), false) => {
                // Each device's line is already printed: the live lines give way to the summary.
                let _ = multi.clear();
                print_line(&text)
            }
            (None, false) => print_line(&text),
        }
    }

    fn device_line(&self, report: &DeviceReport) -> Result<()> {
        if report.failed() && self.live.is_none() {
            // The failure also goes to stderr, where an operator or a log collector looks.
            eprintln!("ucrypto: station: {}", report.line());
        }
        if self.json {
            let value = serde_json::to_value(report).expect("a report serializes");
            return print_line(&value.to_string());
        }
        match &self.live {
            Some((multi, _)) => multi.suspend(|| print_line(&report.line())),
            None => print_line(&report.line()),
        }
    }
}

impl Observer for Display {
    /// Shows a worker's progress; prints a device's line when it ends.
    fn update(&mut self, status: &Status) -> ucrypto_station::Result<()> {
        let bar = |worker: usize| self.live.as_ref().map(|(_, bars)| &bars[worker]);
        match status {
            Status::Connected { worker, device_id } => {
                if let Some(bar) = bar(*worker) {
                    bar.set_prefix(format!("{} {device_id}", bar.prefix()));
                    bar.set_message("claimed");
                }
            }
            Status::Step {
                worker,
                index,
                kind,
                skipped,
            } => {
                if let Some(bar) = bar(*worker) {
                    bar.set_position(*index as u64 + u64::from(*skipped));
                    bar.set_message(if *skipped {
                        format!("{kind}: already done")
                    } else {
                        format!("{kind}…")
                    });
                }
            }
            Status::StepProgress {
                worker,
                kind,
                percent,
            } => {
                if let Some(bar) = bar(*worker) {
                    bar.set_message(format!("{kind} {percent}%"));
                }
            }
            Status::Finished { worker, report } => {
                if let Some(bar) = bar(*worker) {
                    if report.failed() && self.live.is_none() {
                        bar.abandon_with_message(format!(
                            "FAILED: {}",
                            report.error.as_deref().unwrap_or_default()
                        ));
                    } else {
                        bar.set_position(bar.length().unwrap_or(0));
                        bar.finish_with_message("done");
                    }
                }
                // Only stdout can fail here: the run stops as it would on a closed terminal.
                self.device_line(report)
                    .map_err(|e| ucrypto_station::Error::input(e.to_string()))?;
            }
        }
        Ok(())
    }
}
