//! The records schema, versioned. Each migration exists in both dialects and creates the same
//! tables and columns; only the spelling of an auto-increment key and of a trigger differs.
//! Migrations are applied in order on first use and listed in `schema_migrations`.

use super::sql::Dialect;

/// A schema change, spelled for each database.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    sql: fn(Dialect) -> String,
}

impl Migration {
    /// The statements of this migration for `dialect`.
    pub fn sql(&self, dialect: Dialect) -> String {
        (self.sql)(dialect)
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
        sql: v1,
    },
    Migration {
        version: 2,
        name: "devices.line_baud: the UART rate of the last connection",
        sql: v2,
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

fn v2(_: Dialect) -> String {
    "ALTER TABLE devices ADD COLUMN line_baud BIGINT;".to_string()
}

/// The newest schema version this build knows.
pub fn latest() -> i64 {
    ALL.last().map_or(0, |m| m.version)
}
