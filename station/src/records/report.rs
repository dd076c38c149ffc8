//! Reading the records back: the device list, one device's whole history, and an export of
//! every device with its keys (`ucrypto records list|show|export`).
use serde::Serialize;

use super::sql::Value;
use super::untrusted::for_csv;
use super::Records;
use crate::error::Result;

/// One device, as `records list` and `records export` show it.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceSummary {
    pub device_id: String,
    pub mac: String,
    pub chip: String,
    pub firmware_version: String,
    pub image_sha256: Option<String>,
    #[serde(rename = "virtual")]
    pub is_virtual: bool,
    /// The UART rate of its last connection; none for a virtual device in the station.
    pub line_baud: Option<i64>,
    /// The station that claimed it, if one did.
    pub station_id: Option<String>,
    pub steps_done: i64,
    pub steps_failed: i64,
    pub self_test: serde_json::Value,
    pub entropy: String,
    pub last_seen_ms: i64,
    pub keys: Vec<KeySummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeySummary {
    pub slot: i64,
    /// DER SubjectPublicKeyInfo, hex.
    pub public_key_der: String,
    pub spki_sha256: String,
    pub csr_pem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepSummary {
    pub recipe_sha256: String,
    pub step_index: i64,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub run_id: String,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventSummary {
    pub event_id: i64,
    pub at_ms: i64,
    pub station_id: String,
    pub run_id: String,
    pub step_index: Option<i64>,
    pub kind: String,
    pub detail: String,
}

/// Everything recorded about one device.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceHistory {
    pub device: DeviceSummary,
    pub steps: Vec<StepSummary>,
    pub events: Vec<EventSummary>,
}

const DEVICE_COLUMNS: &str = "d.device_id, d.mac, d.chip, d.firmware_version, d.image_sha256,
    d.is_virtual, c.station_id,
    (SELECT count(*) FROM steps s WHERE s.device_id = d.device_id AND s.state = 'done'),
    (SELECT count(*) FROM steps s WHERE s.device_id = d.device_id AND s.state = 'failed'),
    d.self_test, d.entropy, d.last_seen_ms, d.line_baud
    FROM devices d LEFT JOIN claims c ON c.device_id = d.device_id";

fn json_of(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| text.into())
}

fn device_of(row: &[Value]) -> DeviceSummary {
    DeviceSummary {
        device_id: row[0].text(),
        mac: row[1].text(),
        chip: row[2].text(),
        firmware_version: row[3].text(),
        image_sha256: row[4].opt_text(),
        is_virtual: row[5].int() != 0,
        station_id: row[6].opt_text(),
        steps_done: row[7].int(),
        steps_failed: row[8].int(),
        self_test: json_of(&row[9].text()),
        entropy: row[10].text(),
        last_seen_ms: row[11].int(),
        line_baud: match row[12] {
            Value::Int(n) => Some(n),
            _ => None,
        },
        keys: Vec::new(),
    }
}

fn key_of(row: &[Value]) -> KeySummary {
    KeySummary {
        slot: row[1].int(),
        public_key_der: hex::encode(row[2].bytes()),
        spki_sha256: row[3].text(),
        csr_pem: row[4].opt_text(),
    }
}

impl Records {
    /// Every device, ordered by id, with its keys.
    pub fn devices(&self) -> Result<Vec<DeviceSummary>> {
        let mut devices: Vec<DeviceSummary> = Vec::new();
        self.transaction(&mut |sql| {
            devices = sql
                .query(
                    &format!("SELECT {DEVICE_COLUMNS} ORDER BY d.device_id"),
                    &[],
                )?
                .iter()
                .map(|row| device_of(row))
                .collect();
            let keys = sql.query(
                "SELECT device_id, slot, public_key_der, spki_sha256, csr_pem FROM keys
                 ORDER BY device_id, slot",
                &[],
            )?;
            for row in &keys {
                let id = row[0].text();
                if let Some(device) = devices.iter_mut().find(|d| d.device_id == id) {
                    device.keys.push(key_of(row));
                }
            }
            Ok(())
        })?;
        Ok(devices)
    }

    /// One device's record, steps and events, or `None` if it was never seen.
    pub fn device(&self, device_id: &str) -> Result<Option<DeviceHistory>> {
        let mut history = None;
        self.transaction(&mut |sql| {
            let id: Value = device_id.into();
            let rows = sql.query(
                &format!("SELECT {DEVICE_COLUMNS} WHERE d.device_id = $1"),
                std::slice::from_ref(&id),
            )?;
            let Some(row) = rows.first() else {
                return Ok(());
            };
            let mut device = device_of(row);
            device.keys = sql
                .query(
                    "SELECT device_id, slot, public_key_der, spki_sha256, csr_pem FROM keys
                     WHERE device_id = $1 ORDER BY slot",
                    std::slice::from_ref(&id),
                )?
                .iter()
                .map(|row| key_of(row))
                .collect();
            let steps = sql
                .query(
                    "SELECT recipe_sha256, step_index, kind, state, attempts, run_id, detail
                     FROM steps WHERE device_id = $1 ORDER BY started_ms, step_index",
                    std::slice::from_ref(&id),
                )?
                .iter()
                .map(|row| StepSummary {
                    recipe_sha256: row[0].text(),
                    step_index: row[1].int(),
                    kind: row[2].text(),
                    state: row[3].text(),
                    attempts: row[4].int(),
                    run_id: row[5].text(),
                    detail: json_of(&row[6].text()),
                })
                .collect();
            let events = sql
                .query(
                    "SELECT event_id, at_ms, station_id, run_id, step_index, kind, detail
                     FROM events WHERE device_id = $1 ORDER BY event_id",
                    std::slice::from_ref(&id),
                )?
                .iter()
                .map(|row| EventSummary {
                    event_id: row[0].int(),
                    at_ms: row[1].int(),
                    station_id: row[2].text(),
                    run_id: row[3].text(),
                    step_index: match row[4] {
                        Value::Null => None,
                        ref v => Some(v.int()),
                    },
                    kind: row[5].text(),
                    detail: row[6].text(),
                })
                .collect();
            history = Some(DeviceHistory {
                device,
                steps,
                events,
            });
            Ok(())
        })?;
        Ok(history)
    }
}

/// The CSV header of `records export --format csv`: one row per device and key slot (a device
/// without keys has one row with the key columns empty).
pub const CSV_HEADER: [&str; 14] = [
    "device_id",
    "mac",
    "chip",
    "firmware_version",
    "image_sha256",
    "virtual",
    "station_id",
    "steps_done",
    "steps_failed",
    "entropy",
    "slot",
    "spki_sha256",
    "public_key_der",
    "csr_pem",
];

/// Writes `devices` as CSV. The CSR cell is the station's own PEM (it starts `-----BEGIN`,
/// which a spreadsheet shows as an error, never runs) and is written as it is.
pub fn write_csv(devices: &[DeviceSummary], out: impl std::io::Write) -> std::io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_HEADER)?;
    for d in devices {
        // What the device reported (and the station's name) is not trusted in a spreadsheet.
        let base = [
            for_csv(&d.device_id),
            for_csv(&d.mac),
            for_csv(&d.chip),
            for_csv(&d.firmware_version),
            for_csv(d.image_sha256.as_deref().unwrap_or_default()),
            d.is_virtual.to_string(),
            for_csv(d.station_id.as_deref().unwrap_or_default()),
            d.steps_done.to_string(),
            d.steps_failed.to_string(),
            for_csv(&d.entropy),
        ];
        let keys: Vec<[String; 4]> = if d.keys.is_empty() {
            vec![Default::default()]
        } else {
            d.keys
                .iter()
                .map(|k| {
                    [
                        k.slot.to_string(),
                        for_csv(&k.spki_sha256),
                        k.public_key_der.clone(),
                        k.csr_pem.clone().unwrap_or_default(),
                    ]
                })
                .collect()
        };
        for key in keys {
            writer.write_record(base.iter().chain(key.iter()))?;
        }
    }
    writer.flush()
}
