//! What the line's page shows, kept current: the stations with their latest run, each device of
//! those runs with its step, progress and failure, and the devices done and failed per hour.
//! Fed by the records' events (any station of the line) and, in `station run --serve`, by the
//! running station's own workers, which also give a step's progress in percent.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::records::floor::{EventRow, StationRow};
use crate::records::now_ms;
use crate::Status;

/// How far back the totals per hour go.
pub const HOURS_SHOWN: i64 = 24;
const HOUR_MS: i64 = 3_600_000;

/// How far below the last event read the next read starts. PostgreSQL hands out event ids when
/// a transaction inserts, not when it commits, so a station's event can become visible after
/// one with a higher id from another station; each read looks again at the last ids and folds
/// only the events it has not seen.
pub const EVENT_OVERLAP: i64 = 256;

/// One device as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceView {
    pub station_id: String,
    pub run_id: String,
    /// Where it is: its port, or `sim#N` for a virtual device in the station's process.
    pub port: String,
    pub device_id: Option<String>,
    /// `connecting`, `connected`, `running`, `done` or `failed`.
    pub state: &'static str,
    /// The step running now, or the step that failed (1-based), and its kind.
    pub step: Option<usize>,
    pub kind: Option<String>,
    /// The recipe's steps, when known (a live station knows; the records say it at the end).
    pub steps: Option<usize>,
    pub steps_done: usize,
    /// The running step's progress, when the step reports one (live station only).
    pub percent: Option<u8>,
    pub error: Option<String>,
    pub updated_ms: i64,
}

impl DeviceView {
    fn new(station_id: &str, run_id: &str, port: String) -> Self {
        Self {
            station_id: station_id.to_string(),
            run_id: run_id.to_string(),
            port,
            device_id: None,
            state: "connecting",
            step: None,
            kind: None,
            steps: None,
            steps_done: 0,
            percent: None,
            error: None,
            updated_ms: now_ms(),
        }
    }
}

/// The devices of the running station itself (`station run --serve`), one per worker.
#[derive(Debug, Clone)]
struct Live {
    station_id: String,
    devices: Vec<DeviceView>,
    finished: bool,
}

/// Devices done and failed in one hour.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct HourTotals {
    pub done: u64,
    pub failed: u64,
}

/// Everything on the page.
#[derive(Debug, Clone, Default)]
pub struct Board {
    stations: Vec<StationRow>,
    /// From the records' events, by station and device id.
    recorded: HashMap<(String, String), DeviceView>,
    hours: BTreeMap<i64, HourTotals>,
    /// The last event folded in, and the ids folded in from `EVENT_OVERLAP` below it.
    pub last_event: i64,
    seen: BTreeSet<i64>,
    live: Option<Live>,
    /// Why the records could not be read, if the last attempt failed.
    pub records_error: Option<String>,
}

impl Board {
    /// A board for a running station whose workers will report on `labels` (in worker order).
    pub fn live(station_id: &str, run_id: &str, labels: &[String], steps: usize) -> Self {
        let devices = labels
            .iter()
            .map(|label| DeviceView {
                steps: Some(steps),
                ..DeviceView::new(station_id, run_id, label.clone())
            })
            .collect();
        Self {
            live: Some(Live {
                station_id: station_id.to_string(),
                devices,
                finished: false,
            }),
            ..Self::default()
        }
    }

    /// The stations as last read, as JSON (to tell whether a new read changed them).
    pub fn stations_json(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.stations).ok()
    }

    pub fn set_stations(&mut self, stations: Vec<StationRow>) {
        self.stations = stations;
    }

    /// The running station's run has ended: nothing more will come from its workers.
    pub fn finish(&mut self) {
        if let Some(live) = &mut self.live {
            live.finished = true;
        }
    }

    pub fn finished(&self) -> bool {
        self.live.as_ref().is_some_and(|live| live.finished)
    }

    /// A worker's news, from the running station.
    pub fn apply(&mut self, status: &Status) {
        let Some(live) = &mut self.live else {
            return;
        };
        let worker = match status {
            Status::Connected { worker, .. }
            | Status::Step { worker, .. }
            | Status::StepProgress { worker, .. }
            | Status::Finished { worker, .. } => *worker,
        };
        let Some(view) = live.devices.get_mut(worker) else {
            return;
        };
        view.updated_ms = now_ms();
        match status {
            Status::Connected { device_id, .. } => {
                view.device_id = Some(device_id.clone());
                view.state = "connected";
            }
            Status::Step {
                index,
                kind,
                skipped,
                ..
            } => {
                view.state = "running";
                view.step = Some(index + 1);
                view.kind = Some((*kind).to_string());
                view.percent = None;
                view.steps_done = index + usize::from(*skipped);
            }
            Status::StepProgress { percent, .. } => view.percent = Some(*percent),
            Status::Finished { report, .. } => {
                view.device_id = report.device_id.clone().or(view.device_id.take());
                view.state = if report.failed() { "failed" } else { "done" };
                view.percent = None;
                if report.failed() {
                    view.step = report.step;
                    view.kind = report.step_kind.map(str::to_string);
                    view.error = report.error.clone();
                } else {
                    view.steps_done = report.steps_run + report.steps_skipped;
                    view.step = None;
                    view.kind = None;
                }
            }
        }
    }

    /// Folds one recorded event into the devices and the totals per hour; false if it was
    /// folded in before.
    pub fn fold(&mut self, event: &EventRow) -> bool {
        if event.event_id <= self.last_event - EVENT_OVERLAP || !self.seen.insert(event.event_id) {
            return false;
        }
        self.last_event = self.last_event.max(event.event_id);
        let detail: serde_json::Value =
            serde_json::from_str(&event.detail).unwrap_or(serde_json::Value::Null);
        let error = || {
            detail
                .get("error")
                .and_then(|e| e.as_str())
                .map(str::to_string)
        };
        match event.kind.as_str() {
            "device-done" => self.hour(event.at_ms).done += 1,
            "device-failed" => self.hour(event.at_ms).failed += 1,
            _ => {}
        }
        let key = (event.station_id.clone(), event.device_id.clone());
        let view = self
            .recorded
            .entry(key)
            .or_insert_with(|| DeviceView::new(&event.station_id, &event.run_id, String::new()));
        if view.run_id != event.run_id {
            // The device's next run starts from the beginning.
            *view = DeviceView::new(&event.station_id, &event.run_id, view.port.clone());
        }
        view.device_id = Some(event.device_id.clone());
        view.updated_ms = event.at_ms;
        let step = event.step_index.map(|i| i as usize + 1);
        match event.kind.as_str() {
            "seen" => {
                if let Some(port) = detail.get("port").and_then(|p| p.as_str()) {
                    view.port = port.to_string();
                }
                view.state = "connected";
            }
            "step-started" => {
                view.state = "running";
                view.step = step;
                // The event's detail is the step's kind.
                view.kind = Some(event.detail.clone());
            }
            "step-done" => {
                view.steps_done += 1;
                view.step = step;
            }
            "step-failed" => {
                view.state = "failed";
                view.step = step;
                view.error = error();
            }
            "claim-refused" => {
                view.state = "failed";
                view.error = detail
                    .get("held_by")
                    .and_then(|h| h.as_str())
                    .map(|h| format!("provisioned by station {h}"));
            }
            "device-failed" => {
                view.state = "failed";
                view.error = error().or(view.error.take());
            }
            "device-done" => {
                view.state = "done";
                let count = |name: &str| detail.get(name).and_then(|n| n.as_u64()).unwrap_or(0);
                view.steps = Some((count("steps_run") + count("steps_skipped")) as usize);
                view.steps_done = view.steps.unwrap_or(view.steps_done);
                view.step = None;
                view.kind = None;
            }
            _ => {}
        }
        true
    }

    fn hour(&mut self, at_ms: i64) -> &mut HourTotals {
        self.hours
            .entry(at_ms - at_ms.rem_euclid(HOUR_MS))
            .or_default()
    }

    /// The page's whole state as JSON: what `/api/floor` returns and each server-sent event
    /// carries.
    pub fn snapshot(&self) -> serde_json::Value {
        let now = now_ms();
        let first_hour = now - now.rem_euclid(HOUR_MS) - (HOURS_SHOWN - 1) * HOUR_MS;
        let hours: Vec<serde_json::Value> = (0..HOURS_SHOWN)
            .map(|i| {
                let start = first_hour + i * HOUR_MS;
                let totals = self.hours.get(&start).copied().unwrap_or_default();
                serde_json::json!({ "hour_ms": start, "done": totals.done, "failed": totals.failed })
            })
            .collect();
        let latest_run = |station: &str| {
            self.stations
                .iter()
                .find(|s| s.station_id == station)
                .and_then(|s| s.run.as_ref())
                .map(|r| r.run_id.as_str())
        };
        let live_station = self.live.as_ref().map(|l| l.station_id.as_str());
        let mut devices: Vec<&DeviceView> = self
            .recorded
            .values()
            .filter(|d| Some(d.station_id.as_str()) != live_station)
            .filter(|d| latest_run(&d.station_id) == Some(d.run_id.as_str()))
            .collect();
        devices.sort_by(|a, b| (&a.station_id, &a.port).cmp(&(&b.station_id, &b.port)));
        if let Some(live) = &self.live {
            devices.splice(0..0, live.devices.iter());
        }
        serde_json::json!({
            "mode": if self.live.is_some() { "live" } else { "records" },
            "live_station": live_station,
            "finished": self.finished(),
            "now_ms": now,
            "stations": self.stations,
            "devices": devices,
            "hours": hours,
            "records_error": self.records_error,
        })
    }

    /// Drops the totals of hours no longer shown.
    pub fn prune(&mut self) {
        let now = now_ms();
        let first_hour = now - now.rem_euclid(HOUR_MS) - (HOURS_SHOWN - 1) * HOUR_MS;
        self.hours.retain(|start, _| *start >= first_hour);
        let oldest = self.last_event - EVENT_OVERLAP;
        self.seen.retain(|id| *id > oldest);
        // Devices of a station's earlier runs are no longer on the floor.
        let stations = &self.stations;
        self.recorded.retain(|(station, _), view| {
            stations
                .iter()
                .find(|s| &s.station_id == station)
                .and_then(|s| s.run.as_ref())
                .is_none_or(|run| run.run_id == view.run_id || run.started_ms < view.updated_ms)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_id: i64, device: &str, step: Option<i64>, kind: &str, detail: &str) -> EventRow {
        EventRow {
            event_id,
            at_ms: now_ms(),
            device_id: device.into(),
            station_id: "bench-1".into(),
            run_id: "run-1".into(),
            step_index: step,
            kind: kind.into(),
            detail: detail.into(),
        }
    }

    fn device<'a>(snapshot: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
        snapshot["devices"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["device_id"] == id)
            .unwrap_or_else(|| panic!("{id} is on the board: {snapshot}"))
    }

    #[test]
    fn events_fold_into_steps_failures_and_hours_once_each() {
        let mut board = Board::default();
        board.set_stations(vec![StationRow {
            station_id: "bench-1".into(),
            hostname: "host".into(),
            last_seen_ms: 0,
            run: Some(crate::records::floor::RunRow {
                run_id: "run-1".into(),
                recipe_name: "line".into(),
                devices: 2,
                started_ms: 0,
                finished_ms: None,
                outcome: None,
            }),
        }]);
        let a = "02:00:00:00:00:0a";
        let b = "02:00:00:00:00:0b";
        assert!(board.fold(&event(1, a, None, "seen", r#"{"port":"/dev/ttyACM0"}"#)));
        assert!(board.fold(&event(2, a, Some(0), "step-started", "self-test")));
        assert!(board.fold(&event(3, a, Some(0), "step-done", "{}")));
        assert!(board.fold(&event(4, a, Some(1), "step-started", "rand-health")));
        // Event 5 is committed late (another station's transaction): 6 comes first.
        assert!(board.fold(&event(
            6,
            b,
            Some(0),
            "step-failed",
            r#"{"error":"device disconnected","kind":"disconnected"}"#
        )));
        let snapshot = board.snapshot();
        assert_eq!(device(&snapshot, a)["state"], "running");
        assert_eq!(device(&snapshot, a)["step"], 2);
        assert_eq!(device(&snapshot, a)["kind"], "rand-health");
        assert_eq!(device(&snapshot, a)["steps_done"], 1);
        assert_eq!(device(&snapshot, a)["port"], "/dev/ttyACM0");
        assert_eq!(device(&snapshot, b)["state"], "failed");
        assert_eq!(device(&snapshot, b)["error"], "device disconnected");

        assert!(board.fold(&event(5, a, Some(1), "step-done", "{}")));
        assert!(board.fold(&event(
            7,
            a,
            None,
            "device-done",
            r#"{"steps_run":2,"steps_skipped":0}"#
        )));
        assert!(board.fold(&event(
            8,
            b,
            None,
            "device-failed",
            r#"{"step":1,"error":"device disconnected"}"#
        )));
        // Read again (the overlap): nothing counts twice.
        for id in [5, 6, 7, 8] {
            let again = event(
                id,
                a,
                None,
                "device-done",
                r#"{"steps_run":2,"steps_skipped":0}"#,
            );
            assert!(!board.fold(&again));
        }
        let snapshot = board.snapshot();
        assert_eq!(device(&snapshot, a)["state"], "done");
        assert_eq!(device(&snapshot, a)["steps"], 2);
        assert_eq!(device(&snapshot, a)["steps_done"], 2);
        let hours = snapshot["hours"].as_array().unwrap();
        assert_eq!(hours.len() as i64, HOURS_SHOWN);
        let total = |name: &str| hours.iter().map(|h| h[name].as_u64().unwrap()).sum::<u64>();
        assert_eq!((total("done"), total("failed")), (1, 1));
    }

    #[test]
    fn a_live_station_shows_its_workers_progress() {
        let labels = ["sim#0".to_string(), "sim#1".to_string()];
        let mut board = Board::live("bench-1", "run-1", &labels, 3);
        board.apply(&Status::Connected {
            worker: 1,
            device_id: "02:00:00:00:00:01".into(),
        });
        board.apply(&Status::Step {
            worker: 1,
            index: 1,
            kind: "rand-health",
            skipped: false,
        });
        board.apply(&Status::StepProgress {
            worker: 1,
            kind: "rand-health",
            percent: 40,
        });
        let snapshot = board.snapshot();
        let devices = snapshot["devices"].as_array().unwrap();
        assert_eq!(devices[0]["state"], "connecting");
        assert_eq!(devices[1]["state"], "running");
        assert_eq!(devices[1]["step"], 2);
        assert_eq!(devices[1]["steps"], 3);
        assert_eq!(devices[1]["steps_done"], 1);
        assert_eq!(devices[1]["percent"], 40);
        assert_eq!(snapshot["finished"], false);
        board.finish();
        assert_eq!(board.snapshot()["finished"], true);
    }
}
