//! The embedded record store: one SQLite file (bundled SQLite, nothing to install). Several
//! stations on one machine may share the file: writes take the database lock up front
//! (`BEGIN IMMEDIATE`) and wait for each other.
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::{Value as SqliteValue, ValueRef};
use rusqlite::{Connection, TransactionBehavior};

use super::sql::{Dialect, RecordStore, Row, Sql, Value};
use crate::error::{Error, Result};

/// How long a write waits for another station's transaction on the same file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self> {
        let fail = |e: rusqlite::Error| records_error(path, &e);
        let conn = Connection::open(path).map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        // WAL lets `records list` read while a station writes; a full sync per commit keeps a
        // recorded step recorded through a power cut.
        for (pragma, value) in [
            ("journal_mode", "WAL"),
            ("synchronous", "FULL"),
            ("foreign_keys", "ON"),
        ] {
            when_not_busy(|| conn.pragma_update(None, pragma, value)).map_err(fail)?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }
}

/// Runs `f` again while another connection holds the lock it needs, up to [`BUSY_TIMEOUT`].
/// Two stations opening a new file at once race to make it a WAL database, and SQLite answers
/// the loser `SQLITE_BUSY` at once, without waiting in its busy handler.
fn when_not_busy<T>(mut f: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match f() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

fn records_error(path: &Path, e: &rusqlite::Error) -> Error {
    Error::Records {
        store: path.display().to_string(),
        reason: e.to_string(),
    }
}

impl RecordStore for SqliteStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn transaction(&self, work: &mut dyn FnMut(&mut dyn Sql) -> Result<()>) -> Result<()> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let fail = |e: rusqlite::Error| records_error(&self.path, &e);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let mut sql = SqliteTx {
            tx: &tx,
            path: &self.path,
        };
        work(&mut sql)?;
        tx.commit().map_err(fail)
    }
}

struct SqliteTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    path: &'a Path,
}

/// SQLite numbers parameters `?1`; the store's statements use PostgreSQL's `$1`.
fn sqlite_text(sql: &str) -> String {
    sql.replace('$', "?")
}

fn to_sqlite(params: &[Value]) -> Vec<SqliteValue> {
    params
        .iter()
        .map(|v| match v {
            Value::Null => SqliteValue::Null,
            Value::Int(n) => SqliteValue::Integer(*n),
            Value::Text(s) => SqliteValue::Text(s.clone()),
            Value::Bytes(b) => SqliteValue::Blob(b.clone()),
        })
        .collect()
}

impl Sql for SqliteTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.tx
            .execute_batch(sql)
            .map_err(|e| records_error(self.path, &e))
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        self.tx
            .execute(
                &sqlite_text(sql),
                rusqlite::params_from_iter(to_sqlite(params)),
            )
            .map(|n| n as u64)
            .map_err(|e| records_error(self.path, &e))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let fail = |e: rusqlite::Error| records_error(self.path, &e);
        let mut stmt = self.tx.prepare(&sqlite_text(sql)).map_err(fail)?;
        let columns = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(to_sqlite(params)), |row| {
                (0..columns)
                    .map(|i| {
                        Ok(match row.get_ref(i)? {
                            ValueRef::Null => Value::Null,
                            ValueRef::Integer(n) => Value::Int(n),
                            ValueRef::Real(f) => Value::Text(f.to_string()),
                            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into()),
                            ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
                        })
                    })
                    .collect::<rusqlite::Result<Row>>()
            })
            .map_err(fail)?;
        rows.collect::<rusqlite::Result<Vec<Row>>>().map_err(fail)
    }
}
