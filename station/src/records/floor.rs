//! What the line's page reads from the records (`ucrypto station serve`): each station with its
//! latest run, the events after a known one, and a search over the devices.
use serde::Serialize;

use super::report::{device_of, key_of, DeviceSummary, DEVICE_COLUMNS};
use super::sql::Value;
use super::Records;
use crate::error::Result;

/// A station and its latest run.
#[derive(Debug, Clone, Serialize)]
pub struct StationRow {
    pub station_id: String,
    pub hostname: String,
    pub last_seen_ms: i64,
    pub run: Option<RunRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRow {
    pub run_id: String,
    pub recipe_name: String,
    pub devices: i64,
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
    /// `done` or `devices-failed` once finished.
    pub outcome: Option<String>,
}

/// One event of a device's history.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub event_id: i64,
    pub at_ms: i64,
    pub device_id: String,
    pub station_id: String,
    pub run_id: String,
    pub step_index: Option<i64>,
    pub kind: String,
    pub detail: String,
}

impl Records {
    /// Every station, by id, with its latest run.
    pub fn stations(&self) -> Result<Vec<StationRow>> {
        let mut stations = Vec::new();
        self.transaction(&mut |sql| {
            let runs = sql.query(
                "SELECT r.station_id, r.run_id, r.recipe_name, r.devices, r.started_ms,
                     r.finished_ms, r.outcome
                 FROM runs r
                 WHERE r.started_ms = (SELECT max(r2.started_ms) FROM runs r2
                                       WHERE r2.station_id = r.station_id)",
                &[],
            )?;
            stations = sql
                .query(
                    "SELECT station_id, hostname, last_seen_ms FROM stations ORDER BY station_id",
                    &[],
                )?
                .iter()
                .map(|row| {
                    let station_id = row[0].text();
                    let run = runs
                        .iter()
                        .find(|run| run[0].text() == station_id)
                        .map(|run| RunRow {
                            run_id: run[1].text(),
                            recipe_name: run[2].text(),
                            devices: run[3].int(),
                            started_ms: run[4].int(),
                            finished_ms: optional_int(&run[5]),
                            outcome: run[6].opt_text(),
                        });
                    StationRow {
                        station_id,
                        hostname: row[1].text(),
                        last_seen_ms: row[2].int(),
                        run,
                    }
                })
                .collect();
            Ok(())
        })?;
        Ok(stations)
    }

    /// Up to `limit` events with an id above `after` and a time stamp from `since_ms` on,
    /// oldest first.
    pub fn events_after(&self, after: i64, since_ms: i64, limit: i64) -> Result<Vec<EventRow>> {
        let mut events = Vec::new();
        self.transaction(&mut |sql| {
            events = sql
                .query(
                    "SELECT event_id, at_ms, device_id, station_id, run_id, step_index, kind,
                         detail
                     FROM events WHERE event_id > $1 AND at_ms >= $2
                     ORDER BY event_id LIMIT $3",
                    &[after.into(), since_ms.into(), limit.into()],
                )?
                .iter()
                .map(|row| EventRow {
                    event_id: row[0].int(),
                    at_ms: row[1].int(),
                    device_id: row[2].text(),
                    station_id: row[3].text(),
                    run_id: row[4].text(),
                    step_index: optional_int(&row[5]),
                    kind: row[6].text(),
                    detail: row[7].text(),
                })
                .collect();
            Ok(())
        })?;
        Ok(events)
    }

    /// Devices whose id, chip, firmware version or claiming station contains `text` (any case),
    /// most recently seen first, at most `limit`, with their keys.
    pub fn search_devices(&self, text: &str, limit: usize) -> Result<Vec<DeviceSummary>> {
        // The text is matched literally: LIKE's wildcards in it are escaped.
        let pattern = format!(
            "%{}%",
            text.trim()
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let mut devices: Vec<DeviceSummary> = Vec::new();
        self.transaction(&mut |sql| {
            let like = |column: &str| format!("lower({column}) LIKE $1 ESCAPE '\\'");
            devices = sql
                .query(
                    &format!(
                        "SELECT {DEVICE_COLUMNS} WHERE {} OR {} OR {} OR {}
                         ORDER BY d.last_seen_ms DESC, d.device_id LIMIT $2",
                        like("d.device_id"),
                        like("d.chip"),
                        like("d.firmware_version"),
                        like("coalesce(c.station_id, '')"),
                    ),
                    &[pattern.as_str().into(), (limit as i64).into()],
                )?
                .iter()
                .map(|row| device_of(row))
                .collect();
            for device in &mut devices {
                device.keys = sql
                    .query(
                        "SELECT device_id, slot, public_key_der, spki_sha256, csr_pem FROM keys
                         WHERE device_id = $1 ORDER BY slot",
                        &[device.device_id.as_str().into()],
                    )?
                    .iter()
                    .map(|row| key_of(row))
                    .collect();
            }
            Ok(())
        })?;
        Ok(devices)
    }
}

fn optional_int(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}
