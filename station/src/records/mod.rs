//! The station's records: every station, run, device, step, key and event, in SQLite (one file)
//! or PostgreSQL (one database for a whole line), with the same schema in both. The operations
//! are written once in [`Records`] over the small [`RecordStore`] trait that each database
//! implements; every operation is one transaction.
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

pub mod migrations;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod report;
pub mod sql;
pub mod sqlite;

pub use sql::{Dialect, RecordStore, Row, Sql, Value};

/// The default `--records`: a SQLite file in the current directory.
pub const DEFAULT_RECORDS: &str = "station.db";

/// Opens the store `--records` names (`postgres://…`/`postgresql://…`, otherwise a SQLite file)
/// and brings its schema up to date.
pub fn open(url: &str) -> Result<Records> {
    let store: Box<dyn RecordStore> =
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            open_postgres(url)?
        } else {
            Box::new(sqlite::SqliteStore::open(Path::new(url))?)
        };
    let records = Records { store };
    records.migrate()?;
    Ok(records)
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> Result<Box<dyn RecordStore>> {
    Ok(Box::new(postgres::PostgresStore::open(url)?))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(_url: &str) -> Result<Box<dyn RecordStore>> {
    Err(Error::input(
        "this build keeps records in SQLite only (the station's `postgres` feature is off)",
    ))
}

/// Milliseconds since the Unix epoch, the records' time stamps.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Who is writing: the station, its run, and the recipe (steps are kept per recipe).
#[derive(Debug, Clone)]
pub struct RunContext {
    pub station_id: String,
    pub run_id: String,
    pub recipe_sha256: String,
}

/// What a device said about itself, as recorded.
#[derive(Debug, Clone)]
pub struct DeviceRecord {
    pub device_id: String,
    pub mac: String,
    pub chip: String,
    pub firmware_version: String,
    /// SHA-256 of the firmware image, once a flash step knows it.
    pub image_sha256: Option<String>,
    /// The UART rate this connection used (after `SetBaud`, or the start-up rate); none for a
    /// device without a line rate (a virtual device in the station's process).
    pub line_baud: Option<u32>,
    /// The rate `SetBaud` proposed, when one was (it differs from `line_baud` after a fallback).
    pub asked_baud: Option<u32>,
    pub is_virtual: bool,
    pub port: String,
    /// `source (state)`, e.g. `sar-adc (ready)`.
    pub entropy: String,
    /// JSON object of each self-test's outcome.
    pub self_test: String,
}

/// A public key the device holds in a slot.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub slot: i64,
    pub public_key_der: Vec<u8>,
    pub spki_sha256: String,
    pub csr_pem: Option<String>,
}

/// Who provisions a device: the first station to claim it, for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This station holds the claim (now, or from an earlier run).
    Ours,
    /// Another station claimed the device first.
    Taken { station_id: String },
}

/// A step's recorded state for one device and recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// Started and not finished: the station stopped while it was in flight.
    Started,
    Done,
    Failed,
}

impl StepState {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "started" => Some(StepState::Started),
            "done" => Some(StepState::Done),
            "failed" => Some(StepState::Failed),
            _ => None,
        }
    }
}

/// The record operations, over any store.
pub struct Records {
    store: Box<dyn RecordStore>,
}

/// A key for PostgreSQL's advisory lock that serialises migrations between stations.
const MIGRATION_LOCK: i64 = 0x7563_7279_7074_6f01;

impl Records {
    pub fn describe(&self) -> String {
        self.store.describe()
    }

    /// Runs `work` in one transaction of the store.
    pub fn transaction(&self, work: &mut dyn FnMut(&mut dyn Sql) -> Result<()>) -> Result<()> {
        self.store.transaction(work)
    }

    /// Applies the migrations this database has not seen, in order, in one transaction that
    /// other stations wait for.
    fn migrate(&self) -> Result<()> {
        let dialect = self.store.dialect();
        let store = self.store.describe();
        self.transaction(&mut |sql| {
            if dialect == Dialect::Postgres {
                sql.execute("SELECT pg_advisory_xact_lock($1)", &[MIGRATION_LOCK.into()])?;
            }
            sql.batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_ms BIGINT NOT NULL
                )",
            )?;
            let applied: Vec<i64> = sql
                .query("SELECT version FROM schema_migrations ORDER BY version", &[])?
                .iter()
                .map(|row| row[0].int())
                .collect();
            let latest = migrations::latest();
            if let Some(newer) = applied.iter().find(|v| **v > latest) {
                return Err(Error::Records {
                    store: store.clone(),
                    reason: format!(
                        "its schema is version {newer}, newer than this ucrypto's {latest}: update ucrypto"
                    ),
                });
            }
            for migration in migrations::ALL {
                if applied.contains(&migration.version) {
                    continue;
                }
                sql.batch(&migration.sql(dialect))?;
                sql.execute(
                    "INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)",
                    &[migration.version.into(), migration.name.into(), now_ms().into()],
                )?;
            }
            Ok(())
        })
    }

    /// The schema versions applied, oldest first.
    pub fn schema_versions(&self) -> Result<Vec<i64>> {
        let mut versions = Vec::new();
        self.transaction(&mut |sql| {
            versions = sql
                .query(
                    "SELECT version FROM schema_migrations ORDER BY version",
                    &[],
                )?
                .iter()
                .map(|row| row[0].int())
                .collect();
            Ok(())
        })?;
        Ok(versions)
    }

    /// Records the station (first time) and the start of a run.
    pub fn start_run(
        &self,
        ctx: &RunContext,
        hostname: &str,
        recipe_name: &str,
        devices: usize,
    ) -> Result<()> {
        let now = now_ms();
        self.transaction(&mut |sql| {
            sql.execute(
                "INSERT INTO stations (station_id, hostname, first_seen_ms, last_seen_ms)
                 VALUES ($1, $2, $3, $3)
                 ON CONFLICT (station_id) DO UPDATE SET hostname = $2, last_seen_ms = $3",
                &[ctx.station_id.as_str().into(), hostname.into(), now.into()],
            )?;
            sql.execute(
                "INSERT INTO runs (run_id, station_id, recipe_name, recipe_sha256, devices, started_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    ctx.run_id.as_str().into(),
                    ctx.station_id.as_str().into(),
                    recipe_name.into(),
                    ctx.recipe_sha256.as_str().into(),
                    (devices as i64).into(),
                    now.into(),
                ],
            )?;
            Ok(())
        })
    }

    /// Records how a run ended (`done`, `devices-failed`).
    pub fn finish_run(&self, ctx: &RunContext, outcome: &str) -> Result<()> {
        self.transaction(&mut |sql| {
            sql.execute(
                "UPDATE runs SET finished_ms = $2, outcome = $3 WHERE run_id = $1",
                &[ctx.run_id.as_str().into(), now_ms().into(), outcome.into()],
            )?;
            Ok(())
        })
    }

    /// Records what a device said about itself (its row is kept current) with an event.
    pub fn record_device(&self, ctx: &RunContext, device: &DeviceRecord) -> Result<()> {
        let now = now_ms();
        self.transaction(&mut |sql| {
            sql.execute(
                "INSERT INTO devices (device_id, mac, chip, firmware_version, image_sha256,
                     is_virtual, port, entropy, self_test, first_seen_ms, last_seen_ms, line_baud)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11)
                 ON CONFLICT (device_id) DO UPDATE SET mac = $2, chip = $3,
                     firmware_version = $4, image_sha256 = COALESCE($5, devices.image_sha256),
                     is_virtual = $6, port = $7, entropy = $8, self_test = $9, last_seen_ms = $10,
                     line_baud = $11",
                &[
                    device.device_id.as_str().into(),
                    device.mac.as_str().into(),
                    device.chip.as_str().into(),
                    device.firmware_version.as_str().into(),
                    device.image_sha256.clone().into(),
                    i64::from(device.is_virtual).into(),
                    device.port.as_str().into(),
                    device.entropy.as_str().into(),
                    device.self_test.as_str().into(),
                    now.into(),
                    device.line_baud.map(i64::from).into(),
                ],
            )?;
            let mut detail = serde_json::json!({
                "port": device.port,
                "chip": device.chip,
                "firmware_version": device.firmware_version,
                "baud": device.line_baud,
            });
            if device.asked_baud.is_some() && device.asked_baud != device.line_baud {
                detail["baud_asked"] = device.asked_baud.into();
            }
            append_event(
                sql,
                ctx,
                &device.device_id,
                None,
                "seen",
                &detail.to_string(),
            )
        })
    }

    /// Claims `device_id` for this station, unless another station holds it. The claims
    /// table's primary key decides between stations racing for one device.
    pub fn claim(&self, ctx: &RunContext, device_id: &str) -> Result<Claim> {
        let mut claim = Claim::Ours;
        self.transaction(&mut |sql| {
            let inserted = sql.execute(
                "INSERT INTO claims (device_id, station_id, run_id, claimed_ms)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (device_id) DO NOTHING",
                &[
                    device_id.into(),
                    ctx.station_id.as_str().into(),
                    ctx.run_id.as_str().into(),
                    now_ms().into(),
                ],
            )?;
            let holder = sql.query(
                "SELECT station_id FROM claims WHERE device_id = $1",
                &[device_id.into()],
            )?;
            let holder = holder.first().map(|row| row[0].text()).unwrap_or_default();
            claim = if holder == ctx.station_id {
                Claim::Ours
            } else {
                Claim::Taken {
                    station_id: holder.clone(),
                }
            };
            let (kind, detail) = match (&claim, inserted) {
                (Claim::Ours, 1) => ("claimed", serde_json::json!({})),
                (Claim::Ours, _) => ("claim-held", serde_json::json!({})),
                (Claim::Taken { .. }, _) => {
                    ("claim-refused", serde_json::json!({ "held_by": holder }))
                }
            };
            append_event(sql, ctx, device_id, None, kind, &detail.to_string())
        })?;
        Ok(claim)
    }

    /// The recorded state of a step for a device under this recipe, if it was ever started.
    pub fn step_state(
        &self,
        ctx: &RunContext,
        device_id: &str,
        index: usize,
    ) -> Result<Option<StepState>> {
        let mut state = None;
        self.transaction(&mut |sql| {
            let rows = sql.query(
                "SELECT state FROM steps
                 WHERE device_id = $1 AND recipe_sha256 = $2 AND step_index = $3",
                &[
                    device_id.into(),
                    ctx.recipe_sha256.as_str().into(),
                    (index as i64).into(),
                ],
            )?;
            state = rows
                .first()
                .and_then(|row| StepState::parse(&row[0].text()));
            Ok(())
        })?;
        Ok(state)
    }

    /// Records that a step is about to run (so a crash leaves it marked in flight).
    pub fn step_started(
        &self,
        ctx: &RunContext,
        device_id: &str,
        index: usize,
        kind: &str,
    ) -> Result<()> {
        let now = now_ms();
        self.transaction(&mut |sql| {
            sql.execute(
                "INSERT INTO steps (device_id, recipe_sha256, step_index, kind, state, run_id,
                     attempts, detail, started_ms)
                 VALUES ($1, $2, $3, $4, 'started', $5, 1, '{}', $6)
                 ON CONFLICT (device_id, recipe_sha256, step_index) DO UPDATE SET
                     state = 'started', run_id = $5, attempts = steps.attempts + 1,
                     started_ms = $6, finished_ms = NULL",
                &[
                    device_id.into(),
                    ctx.recipe_sha256.as_str().into(),
                    (index as i64).into(),
                    kind.into(),
                    ctx.run_id.as_str().into(),
                    now.into(),
                ],
            )?;
            append_event(sql, ctx, device_id, Some(index), "step-started", kind)
        })
    }

    /// Records a step's end (`done` with its result, or `failed` with the reason), and any
    /// keys it found or made, in one transaction.
    pub fn step_finished(
        &self,
        ctx: &RunContext,
        device_id: &str,
        index: usize,
        outcome: &StepOutcome,
    ) -> Result<()> {
        let (state, event) = match outcome.state {
            StepState::Done => ("done", "step-done"),
            StepState::Failed => ("failed", "step-failed"),
            StepState::Started => unreachable!("a finished step is done or failed"),
        };
        let detail = outcome.detail.to_string();
        self.transaction(&mut |sql| {
            sql.execute(
                "UPDATE steps SET state = $4, detail = $5, finished_ms = $6
                 WHERE device_id = $1 AND recipe_sha256 = $2 AND step_index = $3",
                &[
                    device_id.into(),
                    ctx.recipe_sha256.as_str().into(),
                    (index as i64).into(),
                    state.into(),
                    detail.as_str().into(),
                    now_ms().into(),
                ],
            )?;
            for key in &outcome.keys {
                record_key(sql, ctx, device_id, index, key)?;
            }
            append_event(sql, ctx, device_id, Some(index), event, &detail)
        })
    }

    /// Appends one event to a device's history.
    pub fn event(&self, ctx: &RunContext, device_id: &str, kind: &str, detail: &str) -> Result<()> {
        self.transaction(&mut |sql| append_event(sql, ctx, device_id, None, kind, detail))
    }
}

/// How a step ended, as recorded.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub state: StepState,
    /// What the step found (JSON), or `{"error": …}`.
    pub detail: serde_json::Value,
    /// Keys the device holds that the step found or made.
    pub keys: Vec<KeyRecord>,
}

fn record_key(
    sql: &mut dyn Sql,
    ctx: &RunContext,
    device_id: &str,
    index: usize,
    key: &KeyRecord,
) -> Result<()> {
    // A slot's key never changes on a device (its eFuses cannot be burned twice): another key
    // under the same device and slot means another device answers to this id.
    let recorded = sql.query(
        "SELECT spki_sha256 FROM keys WHERE device_id = $1 AND slot = $2",
        &[device_id.into(), key.slot.into()],
    )?;
    if let Some(row) = recorded.first() {
        let before = row[0].text();
        if before != key.spki_sha256 {
            return Err(Error::Verification(format!(
                "slot {} of {device_id} holds the key with SPKI SHA-256 {}, but the records hold {before} for it: another device answers to this id",
                key.slot, key.spki_sha256
            )));
        }
    }
    sql.execute(
        "INSERT INTO keys (device_id, slot, public_key_der, spki_sha256, csr_pem, run_id, recorded_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (device_id, slot) DO UPDATE SET public_key_der = $3, spki_sha256 = $4,
             csr_pem = COALESCE($5, keys.csr_pem), run_id = $6, recorded_ms = $7",
        &[
            device_id.into(),
            key.slot.into(),
            key.public_key_der.clone().into(),
            key.spki_sha256.as_str().into(),
            key.csr_pem.clone().into(),
            ctx.run_id.as_str().into(),
            now_ms().into(),
        ],
    )?;
    let detail = serde_json::json!({ "slot": key.slot, "spki_sha256": key.spki_sha256 });
    append_event(
        sql,
        ctx,
        device_id,
        Some(index),
        "key-recorded",
        &detail.to_string(),
    )
}

fn append_event(
    sql: &mut dyn Sql,
    ctx: &RunContext,
    device_id: &str,
    step_index: Option<usize>,
    kind: &str,
    detail: &str,
) -> Result<()> {
    sql.execute(
        "INSERT INTO events (device_id, station_id, run_id, step_index, kind, detail, at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            device_id.into(),
            ctx.station_id.as_str().into(),
            ctx.run_id.as_str().into(),
            step_index.map(|i| i as i64).into(),
            kind.into(),
            detail.into(),
            now_ms().into(),
        ],
    )?;
    Ok(())
}
