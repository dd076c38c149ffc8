//! The event log as a hash chain: each event stores the previous event's hash (`prev_hash`)
//! and its own (`hash`), a SHA-256 over its content and `prev_hash`. A changed, removed or
//! inserted event breaks the chain at that point, whoever could write the database; `ucrypto
//! records verify` walks it. The recipe is in docs/station.md, for checking without ucrypto.
use sha2::{Digest, Sha256};

use super::sql::{Dialect, Sql, Value};
use crate::error::{Error, Result};
use ucrypto::untrusted::for_terminal;

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// PostgreSQL advisory lock taken by every append, so that stations append one at a time and
/// the chain never forks (SQLite's `BEGIN IMMEDIATE` already serialises writers).
const APPEND_LOCK: i64 = 0x7563_7279_7074_6f02;

/// How many events `verify` reads at once.
const PAGE: i64 = 5000;

/// One event's content, as hashed.
#[derive(Debug, Clone)]
pub struct EventContent<'a> {
    pub device_id: &'a str,
    pub station_id: &'a str,
    pub run_id: &'a str,
    pub step_index: Option<i64>,
    pub kind: &'a str,
    pub detail: &'a str,
    pub at_ms: i64,
}

/// SHA-256 (lower-case hex) of the compact JSON array
/// `[prev_hash, device_id, station_id, run_id, step_index, kind, detail, at_ms]` (`step_index`
/// a number or null): JSON's string escaping makes the encoding unambiguous.
pub fn event_hash(prev_hash: &str, event: &EventContent<'_>) -> String {
    let encoded = serde_json::json!([
        prev_hash,
        event.device_id,
        event.station_id,
        event.run_id,
        event.step_index,
        event.kind,
        event.detail,
        event.at_ms,
    ])
    .to_string();
    hex::encode(Sha256::digest(encoded.as_bytes()))
}

/// The hash of the newest event, or [`GENESIS`].
fn head(sql: &mut dyn Sql) -> Result<String> {
    let rows = sql.query(
        "SELECT hash FROM events ORDER BY event_id DESC LIMIT 1",
        &[],
    )?;
    Ok(rows
        .first()
        .map_or_else(|| GENESIS.to_string(), |row| row[0].text()))
}

/// Appends an event after the newest one, chained to it.
pub fn append(sql: &mut dyn Sql, event: &EventContent<'_>) -> Result<()> {
    if sql.dialect() == Dialect::Postgres {
        sql.execute("SELECT pg_advisory_xact_lock($1)", &[APPEND_LOCK.into()])?;
    }
    let prev = head(sql)?;
    let hash = event_hash(&prev, event);
    sql.execute(
        "INSERT INTO events (device_id, station_id, run_id, step_index, kind, detail, at_ms,
             prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            event.device_id.into(),
            event.station_id.into(),
            event.run_id.into(),
            event.step_index.into(),
            event.kind.into(),
            event.detail.into(),
            event.at_ms.into(),
            prev.into(),
            hash.into(),
        ],
    )?;
    Ok(())
}

const EVENT_COLUMNS: &str =
    "event_id, device_id, station_id, run_id, step_index, kind, detail, at_ms, prev_hash, hash";

/// A stored event and the chain values it carries.
struct Stored {
    event_id: i64,
    device_id: String,
    station_id: String,
    run_id: String,
    step_index: Option<i64>,
    kind: String,
    detail: String,
    at_ms: i64,
    prev_hash: Option<String>,
    hash: Option<String>,
}

impl Stored {
    fn of(row: &[Value]) -> Self {
        Stored {
            event_id: row[0].int(),
            device_id: row[1].text(),
            station_id: row[2].text(),
            run_id: row[3].text(),
            step_index: match row[4] {
                Value::Null => None,
                ref v => Some(v.int()),
            },
            kind: row[5].text(),
            detail: row[6].text(),
            at_ms: row[7].int(),
            prev_hash: row[8].opt_text(),
            hash: row[9].opt_text(),
        }
    }

    fn content(&self) -> EventContent<'_> {
        EventContent {
            device_id: &self.device_id,
            station_id: &self.station_id,
            run_id: &self.run_id,
            step_index: self.step_index,
            kind: &self.kind,
            detail: &self.detail,
            at_ms: self.at_ms,
        }
    }

    /// How a message names it (device-reported text escaped).
    fn name(&self) -> String {
        format!(
            "event {} ({} of device {})",
            self.event_id,
            for_terminal(&self.kind),
            for_terminal(&self.device_id)
        )
    }
}

/// Reads the events after `after`, oldest first, one page.
fn page(sql: &mut dyn Sql, after: i64) -> Result<Vec<Stored>> {
    Ok(sql
        .query(
            &format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE event_id > $1 ORDER BY event_id LIMIT $2"
            ),
            &[after.into(), PAGE.into()],
        )?
        .iter()
        .map(|row| Stored::of(row))
        .collect())
}

/// Migration 3's step for a database with events from before the chain: hashes them in
/// order. The caller lifts the no-UPDATE trigger around it.
pub fn backfill(sql: &mut dyn Sql) -> Result<()> {
    let mut prev = GENESIS.to_string();
    let mut after = 0;
    loop {
        let events = page(sql, after)?;
        let Some(last) = events.last() else {
            return Ok(());
        };
        after = last.event_id;
        for event in &events {
            let hash = event_hash(&prev, &event.content());
            sql.execute(
                "UPDATE events SET prev_hash = $2, hash = $3 WHERE event_id = $1",
                &[
                    event.event_id.into(),
                    prev.as_str().into(),
                    hash.as_str().into(),
                ],
            )?;
            prev = hash;
        }
    }
}

/// An intact chain: how many events, and the newest hash (keep it elsewhere to detect the
/// loss of the newest events, which a chain alone cannot show).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChainReport {
    pub events: u64,
    pub head: String,
}

/// Walks the whole event log inside the caller's transaction (`Records::verify_events`); the
/// first event whose hash or link does not hold is an [`Error::Verification`] naming it.
pub fn verify(sql: &mut dyn Sql, store: &str) -> Result<ChainReport> {
    let mut report = ChainReport {
        events: 0,
        head: GENESIS.to_string(),
    };
    let mut after = 0;
    loop {
        let events = page(sql, after)?;
        let Some(last) = events.last() else {
            return Ok(report);
        };
        after = last.event_id;
        for event in &events {
            check(&report.head, event, store)?;
            report.head = event.hash.clone().unwrap_or_default();
            report.events += 1;
        }
    }
}

/// One link: `event` follows the event whose hash is `prev`, and its hash is its content's.
fn check(prev: &str, event: &Stored, store: &str) -> Result<()> {
    let broken = |why: String| {
        Err(Error::Verification(format!(
            "records {store}: the event log is broken at {}: {why}",
            event.name()
        )))
    };
    let (Some(prev_hash), Some(hash)) = (&event.prev_hash, &event.hash) else {
        return broken("it has no hash (written outside ucrypto)".into());
    };
    if *prev_hash != prev {
        return broken(
            "it does not follow the event before it (an event before it was removed, inserted \
             or changed)"
                .into(),
        );
    }
    if *hash != event_hash(prev_hash, &event.content()) {
        return broken("its content does not match its hash (it was changed)".into());
    }
    Ok(())
}
