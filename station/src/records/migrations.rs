//! The records schema, versioned. Each migration exists in both dialects and creates the same
//! tables and columns; only the spelling of an auto-increment key and of a trigger differs.
//! Migrations are applied in order on first use and listed in `schema_migrations`.

use super::event_chain;
use super::sql::{Dialect, Sql};
use crate::error::Result;

/// A schema change, spelled for each database.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    apply: fn(&mut dyn Sql, Dialect) -> Result<()>,
}

impl Migration {
    /// Applies this migration in the open transaction.
    pub fn apply(&self, sql: &mut dyn Sql, dialect: Dialect) -> Result<()> {
        (self.apply)(sql, dialect)
    }
}

/// Tables whose definition is the same text in both databases.
const TABLES_V1: &str = "
CREATE TABLE stations (
    station_id TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations (station_id),
    recipe_name TEXT NOT NULL,
    recipe_sha256 TEXT NOT NULL,
    devices BIGINT NOT NULL,
    started_ms BIGINT NOT NULL,
    finished_ms BIGINT,
    outcome TEXT
);
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    mac TEXT NOT NULL,
    chip TEXT NOT NULL,
    firmware_version TEXT NOT NULL,
    image_sha256 TEXT,
    is_virtual BIGINT NOT NULL,
    port TEXT NOT NULL,
    entropy TEXT NOT NULL,
    self_test TEXT NOT NULL,
    first_seen_ms BIGINT NOT NULL,
    last_seen_ms BIGINT NOT NULL
);
CREATE TABLE claims (
    device_id TEXT PRIMARY KEY REFERENCES devices (device_id),
    station_id TEXT NOT NULL REFERENCES stations (station_id),
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    claimed_ms BIGINT NOT NULL
);
CREATE TABLE steps (
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    recipe_sha256 TEXT NOT NULL,
    step_index BIGINT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('started', 'done', 'failed')),
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    attempts BIGINT NOT NULL,
    detail TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    finished_ms BIGINT,
    PRIMARY KEY (device_id, recipe_sha256, step_index)
);
CREATE TABLE keys (
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    slot BIGINT NOT NULL,
    public_key_der BYTEA NOT NULL,
    spki_sha256 TEXT NOT NULL,
    csr_pem TEXT,
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    recorded_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, slot)
);
";

/// The append-only event log: the auto-increment key is spelled per database.
const EVENTS_COLUMNS: &str = "
    device_id TEXT NOT NULL,
    station_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    step_index BIGINT,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX events_device ON events (device_id, event_id);
";

/// Every migration, oldest first.
pub const ALL: &[Migration] = &[
    Migration {
        version: 1,
        name: "stations, runs, devices, claims, steps, keys, append-only events",
        apply: |sql, dialect| sql.batch(&v1(dialect)),
    },
    Migration {
        version: 2,
        name: "devices.line_baud: the UART rate of the last connection",
        apply: |sql, _| sql.batch("ALTER TABLE devices ADD COLUMN line_baud BIGINT;"),
    },
    Migration {
        version: 3,
        name: "events as a hash chain (prev_hash, hash); no INSERT OR REPLACE of an event",
        apply: v3,
    },
    Migration {
        version: 4,
        name:
            "device trust: keys.origin, devices.security (the eFuse state at the last connection)",
        apply: |sql, _| sql.batch(V4),
    },
    Migration {
        version: 5,
        name: "certificates: device certificates the line CA issued, their expiry and revocation",
        apply: |sql, _| sql.batch(TABLES_V5),
    },
];

fn v1(dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => format!(
            "{TABLES_V1}
CREATE TABLE events (event_id INTEGER PRIMARY KEY AUTOINCREMENT,{EVENTS_COLUMNS}
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: no UPDATE'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: no DELETE'); END;
"
        ),
        Dialect::Postgres => format!(
            "{TABLES_V1}
CREATE TABLE events (event_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,{EVENTS_COLUMNS}
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'events are append-only: no %', TG_OP; END $$;
CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
"
        ),
    }
}

/// Adds the chain's columns, hashes the events already there in order (the no-UPDATE trigger
/// is lifted for that, inside this transaction only), and stops SQLite's `INSERT OR REPLACE`
/// from replacing an event: REPLACE deletes the old row without firing the DELETE trigger.
fn v3(sql: &mut dyn Sql, dialect: Dialect) -> Result<()> {
    sql.batch(
        "ALTER TABLE events ADD COLUMN prev_hash TEXT; ALTER TABLE events ADD COLUMN hash TEXT;",
    )?;
    match dialect {
        Dialect::Sqlite => {
            sql.batch("DROP TRIGGER events_no_update;")?;
            event_chain::backfill(sql)?;
            sql.batch(
                "CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only: no UPDATE'); END;
CREATE TRIGGER events_no_replace BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM events WHERE event_id = NEW.event_id)
BEGIN SELECT RAISE(ABORT, 'events are append-only: no INSERT OR REPLACE'); END;",
            )
        }
        Dialect::Postgres => {
            sql.batch("ALTER TABLE events DISABLE TRIGGER events_no_update_delete;")?;
            event_chain::backfill(sql)?;
            sql.batch("ALTER TABLE events ENABLE TRIGGER events_no_update_delete;")
        }
    }
}

/// Device trust: where each key came from, and the device's eFuse security state.
const V4: &str = "ALTER TABLE keys ADD COLUMN origin TEXT;
ALTER TABLE devices ADD COLUMN security TEXT;";

/// The newest schema version this build knows.
pub fn latest() -> i64 {
    ALL.last().map_or(0, |m| m.version)
}

/// Migration 5's tables (device certificates), the same text in both databases.
pub const TABLES_V5: &str = "
CREATE TABLE certificates (
    serial TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    slot BIGINT NOT NULL,
    spki_sha256 TEXT NOT NULL,
    certificate_pem TEXT NOT NULL,
    chain_pem TEXT NOT NULL,
    not_after_ms BIGINT NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    recorded_ms BIGINT NOT NULL,
    revoked_ms BIGINT,
    revocation_reason TEXT
);
CREATE INDEX certificates_device ON certificates (device_id, slot);
";
