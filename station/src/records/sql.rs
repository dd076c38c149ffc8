//! The little SQL the record store needs, the same for SQLite and PostgreSQL: values, and a
//! transaction that runs statements with `$1`-style parameters.
use crate::error::Result;

/// A column value. Integers are 64-bit everywhere (BIGINT), so both databases agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Int(n) => n.to_string(),
            Value::Text(s) => s.clone(),
            Value::Bytes(b) => hex::encode(b),
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            Value::Int(n) => *n,
            _ => 0,
        }
    }

    pub fn opt_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            other => Some(other.text()),
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Value::Bytes(b) => b.clone(),
            _ => Vec::new(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Self {
        Value::Bytes(b)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One row of a query's result, columns in the order the query names them.
pub type Row = Vec<Value>;

/// Statements inside one open transaction. Parameters are written `$1`, `$2`, … (PostgreSQL's
/// style; the SQLite store rewrites them).
pub trait Sql {
    /// Which database this is (for the few statements spelled differently).
    fn dialect(&self) -> Dialect;

    /// Runs several statements without parameters (a migration).
    fn batch(&mut self, sql: &str) -> Result<()>;

    /// Runs a statement; returns the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64>;

    /// Runs a query; returns all its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;
}

/// Which SQL a store speaks, where the two differ (migrations only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A database that keeps the records: it runs a unit of work in one transaction.
pub trait RecordStore: Send + Sync {
    /// Where the records are, for messages (never a password).
    fn describe(&self) -> String;

    fn dialect(&self) -> Dialect;

    /// Runs `work` in one transaction: all of its writes are kept, or (on an error) none.
    fn transaction(&self, work: &mut dyn FnMut(&mut dyn Sql) -> Result<()>) -> Result<()>;
}
