//! The station's records: every station, run, device, step, key and event, in SQLite (one file)
//! or PostgreSQL (one database for a whole line), with the same schema in both. The operations
//! are written once in [`Records`] over the small [`RecordStore`] trait that each database
//! implements; every operation is one transaction.
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

pub mod certificates;
pub mod credentials;
pub mod event_chain;
pub mod migrations;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "postgres")]
mod postgres_tls;
#[cfg(feature = "postgres")]
pub mod postgres_url;
pub mod report;
pub mod sql;
pub mod sqlite;
pub mod trust;
pub mod untrusted;

pub use sql::{Dialect, RecordStore, Row, Sql, Value};

/// The default `--records`: a SQLite file in the current directory.
pub const DEFAULT_RECORDS: &str = "station.db";

/// Opens the store `--records` names (`postgres://…`/`postgresql://…`, otherwise a SQLite file)
/// and brings its schema up to date.
pub fn open(url: &str) -> Result<Records> {
    if credentials::is_key_value(url) {
        return Err(Error::input(format!(
            "--records {} looks like a key=value connection string: give a URL, \
             postgres://USER@HOST/DATABASE?sslmode=…",
            credentials::redact(url)
        )));
    }
    let store: Box<dyn RecordStore> = if credentials::is_postgres(url) {
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
    /// JSON object of the eFuse security state (`ucrypto info`), when the device reports one.
    pub security: Option<String>,
}

/// A device certificate as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Lower-case hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    pub slot: i64,
    pub spki_sha256: String,
    pub certificate_pem: String,
    /// The CA certificates above it (PEM), as written to the device and exported.
    pub chain_pem: String,
    pub not_after_ms: i64,
}

/// A public key the device holds in a slot.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub slot: i64,
    pub public_key_der: Vec<u8>,
    pub spki_sha256: String,
    pub csr_pem: Option<String>,
    /// Where the device says the key came from (`generated`, `imported`, `unknown`), when the
    /// step that recorded it asked.
    pub origin: Option<String>,
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
    /// Walks the whole event log's hash chain; the first event whose hash or link does not hold
    /// is an [`Error::Verification`] naming it.
    pub fn verify_events(&self) -> Result<event_chain::ChainReport> {
        let store = self.describe();
        let mut report = None;
        self.transaction(&mut |sql| {
            report = Some(event_chain::verify(sql, &store)?);
            Ok(())
        })?;
        Ok(report.expect("the transaction ran"))
    }

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
            // A station's role may read the schema but not create it: nothing is created when
            // every migration is there.
            let exists = sql.query(
                match dialect {
                    Dialect::Sqlite => {
                        "SELECT count(*) FROM sqlite_master
                         WHERE type = 'table' AND name = 'schema_migrations'"
                    }
                    Dialect::Postgres => {
                        "SELECT count(*) FROM information_schema.tables
                         WHERE table_name = 'schema_migrations' AND table_schema = current_schema()"
                    }
                },
                &[],
            )?;
            // A role that may not change the schema (a station's) is told who can.
            let needs_admin = |e: Error, version: i64| match e {
                Error::Records { store, reason } if reason.contains("permission denied") => {
                    Error::Records {
                        store,
                        reason: format!(
                            "{reason}: the schema needs migration {version}, which the line's \
                             admin role applies (any `ucrypto records verify` as that role; \
                             docs/station.md)"
                        ),
                    }
                }
                other => other,
            };
            if exists.first().is_none_or(|row| row[0].int() == 0) {
                sql.batch(
                    "CREATE TABLE schema_migrations (
                        version BIGINT PRIMARY KEY,
                        name TEXT NOT NULL,
                        applied_ms BIGINT NOT NULL
                    )",
                )
                .map_err(|e| needs_admin(e, 1))?;
            }
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
                migration
                    .apply(sql, dialect)
                    .map_err(|e| needs_admin(e, migration.version))?;
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
    /// The station uses [`Records::claim_device`], which writes the row only for the claim's
    /// holder.
    pub fn record_device(&self, ctx: &RunContext, device: &DeviceRecord) -> Result<()> {
        self.transaction(&mut |sql| {
            upsert_device(sql, device)?;
            seen_event(sql, ctx, device)
        })
    }

    /// Claims `device_id` for this station, unless another station holds it. The claims
    /// table's primary key decides between stations racing for one device.
    pub fn claim(&self, ctx: &RunContext, device_id: &str) -> Result<Claim> {
        let mut claim = Claim::Ours;
        self.transaction(&mut |sql| {
            claim = claim_in(sql, ctx, device_id)?;
            Ok(())
        })?;
        Ok(claim)
    }

    /// Claims the device, then, only if this station holds the claim, records what it said
    /// about itself: a station that loses the claim (or a board cloning another's MAC) leaves
    /// the device's row as its holder wrote it. One transaction.
    pub fn claim_device(&self, ctx: &RunContext, device: &DeviceRecord) -> Result<Claim> {
        let mut claim = Claim::Ours;
        self.transaction(&mut |sql| {
            // A claim refers to a device row: a device seen for the first time gets one, which
            // changes nothing an earlier station wrote.
            insert_device(sql, device, "DO NOTHING")?;
            claim = claim_in(sql, ctx, &device.device_id)?;
            if claim == Claim::Ours {
                upsert_device(sql, device)?;
                seen_event(sql, ctx, device)?;
            }
            Ok(())
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
            for cert in &outcome.certificates {
                record_certificate(sql, ctx, device_id, index, cert)?;
            }
            append_event(sql, ctx, device_id, Some(index), event, &detail)
        })
    }

    /// Appends one event to a device's history.
    pub fn event(&self, ctx: &RunContext, device_id: &str, kind: &str, detail: &str) -> Result<()> {
        self.transaction(&mut |sql| append_event(sql, ctx, device_id, None, kind, detail))
    }
}

/// Writes the device's row: a new one, or (`on_conflict`) what to do with an existing one.
fn insert_device(sql: &mut dyn Sql, device: &DeviceRecord, on_conflict: &str) -> Result<()> {
    sql.execute(
        &format!(
            "INSERT INTO devices (device_id, mac, chip, firmware_version, image_sha256,
                 is_virtual, port, entropy, self_test, first_seen_ms, last_seen_ms, line_baud,
                 security)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12)
             ON CONFLICT (device_id) {on_conflict}"
        ),
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
            now_ms().into(),
            device.line_baud.map(i64::from).into(),
            device.security.clone().into(),
        ],
    )?;
    Ok(())
}

/// Writes the device's row, keeping it current.
fn upsert_device(sql: &mut dyn Sql, device: &DeviceRecord) -> Result<()> {
    insert_device(
        sql,
        device,
        "DO UPDATE SET mac = $2, chip = $3,
             firmware_version = $4, image_sha256 = COALESCE($5, devices.image_sha256),
             is_virtual = $6, port = $7, entropy = $8, self_test = $9, last_seen_ms = $10,
             line_baud = $11, security = $12",
    )
}

/// The `seen` event: where and how the device was connected.
fn seen_event(sql: &mut dyn Sql, ctx: &RunContext, device: &DeviceRecord) -> Result<()> {
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
}

/// Inserts this station's claim unless one exists, and says who holds it, with an event.
fn claim_in(sql: &mut dyn Sql, ctx: &RunContext, device_id: &str) -> Result<Claim> {
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
    let claim = if holder == ctx.station_id {
        Claim::Ours
    } else {
        Claim::Taken {
            station_id: holder.clone(),
        }
    };
    let (kind, detail) = match (&claim, inserted) {
        (Claim::Ours, 1) => ("claimed", serde_json::json!({})),
        (Claim::Ours, _) => ("claim-held", serde_json::json!({})),
        (Claim::Taken { .. }, _) => ("claim-refused", serde_json::json!({ "held_by": holder })),
    };
    append_event(sql, ctx, device_id, None, kind, &detail.to_string())?;
    Ok(claim)
}

/// How a step ended, as recorded.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    pub state: StepState,
    /// What the step found (JSON), or `{"error": …}`.
    pub detail: serde_json::Value,
    /// Keys the device holds that the step found or made.
    pub keys: Vec<KeyRecord>,
    /// Certificates the step issued or found on the device.
    pub certificates: Vec<CertificateRecord>,
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
        "INSERT INTO keys (device_id, slot, public_key_der, spki_sha256, csr_pem, run_id,
             recorded_ms, origin)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (device_id, slot) DO UPDATE SET public_key_der = $3, spki_sha256 = $4,
             csr_pem = COALESCE($5, keys.csr_pem), run_id = $6, recorded_ms = $7,
             origin = COALESCE($8, keys.origin)",
        &[
            device_id.into(),
            key.slot.into(),
            key.public_key_der.clone().into(),
            key.spki_sha256.as_str().into(),
            key.csr_pem.clone().into(),
            ctx.run_id.as_str().into(),
            now_ms().into(),
            key.origin.clone().into(),
        ],
    )?;
    let detail = serde_json::json!({
        "slot": key.slot,
        "spki_sha256": key.spki_sha256,
        "origin": key.origin,
    });
    append_event(
        sql,
        ctx,
        device_id,
        Some(index),
        "key-recorded",
        &detail.to_string(),
    )
}

/// Records `cert` (migration 5's table) for `device_id` (a certificate found again on a re-run is kept once).
fn record_certificate(
    sql: &mut dyn Sql,
    ctx: &RunContext,
    device_id: &str,
    index: usize,
    cert: &CertificateRecord,
) -> Result<()> {
    sql.execute(
        "INSERT INTO certificates (serial, device_id, slot, spki_sha256, certificate_pem,
             chain_pem, not_after_ms, run_id, recorded_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (serial) DO NOTHING",
        &[
            cert.serial.as_str().into(),
            device_id.into(),
            cert.slot.into(),
            cert.spki_sha256.as_str().into(),
            cert.certificate_pem.as_str().into(),
            cert.chain_pem.as_str().into(),
            cert.not_after_ms.into(),
            ctx.run_id.as_str().into(),
            now_ms().into(),
        ],
    )?;
    let detail = serde_json::json!({ "slot": cert.slot, "serial": cert.serial });
    append_event(
        sql,
        ctx,
        device_id,
        Some(index),
        "certificate-recorded",
        &detail.to_string(),
    )
}

pub(crate) fn append_event(
    sql: &mut dyn Sql,
    ctx: &RunContext,
    device_id: &str,
    step_index: Option<usize>,
    kind: &str,
    detail: &str,
) -> Result<()> {
    event_chain::append(
        sql,
        &event_chain::EventContent {
            device_id,
            station_id: &ctx.station_id,
            run_id: &ctx.run_id,
            step_index: step_index.map(|i| i as i64),
            kind,
            detail,
            at_ms: now_ms(),
        },
    )
}
