//! The shared record store: one PostgreSQL database that every station of a line writes to
//! (`--records postgres://user@host/db`), through the synchronous `postgres` client.
use std::sync::Mutex;

use bytes::BytesMut;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::Client;

use super::postgres_url::{self, SslMode};
use super::sql::{Dialect, RecordStore, Row, Sql, Value};
use super::{credentials, postgres_tls};
use crate::error::{Error, Result};

pub struct PostgresStore {
    client: Mutex<Client>,
    /// The URL without its password, for messages.
    shown: String,
}

impl PostgresStore {
    /// Connects to the database `url` names, over TLS as its `sslmode` asks (see
    /// [`postgres_url`]). Every failure is one line, without the password.
    pub fn open(url: &str) -> Result<Self> {
        let shown = credentials::redact(url);
        let fail = |reason: String| Error::Records {
            store: shown.clone(),
            reason,
        };
        let target = postgres_url::parse(url)
            .map_err(|reason| Error::input(format!("--records {shown}: {reason}")))?;
        let tls =
            postgres_tls::connector(target.ssl_mode, target.root_cert.as_deref()).map_err(&fail)?;
        let mut config = target.config.clone();
        config.ssl_mode(match target.ssl_mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                postgres::config::SslMode::Require
            }
        });
        let client = config.connect(tls).map_err(|e| {
            fail(format!(
                "cannot connect (sslmode={}, host {}): {}; check that the database server runs, \
                 that --records names it, and for TLS its certificate and sslrootcert=",
                target.ssl_mode.name(),
                target.host,
                one_line(&error_text(&e))
            ))
        })?;
        Ok(Self {
            client: Mutex::new(client),
            shown,
        })
    }
}

/// A driver's message on one line: TLS errors may span several.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The server's own message where there is one (the `Display` of `postgres::Error` is terse).
fn error_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }
    }
}

impl PostgresStore {
    fn fail(&self, e: &postgres::Error) -> Error {
        Error::Records {
            store: self.shown.clone(),
            reason: error_text(e),
        }
    }
}

impl RecordStore for PostgresStore {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn transaction(&self, work: &mut dyn FnMut(&mut dyn Sql) -> Result<()>) -> Result<()> {
        let mut client = self.client.lock().unwrap_or_else(|p| p.into_inner());
        let tx = client.transaction().map_err(|e| self.fail(&e))?;
        let mut sql = PostgresTx { tx, store: self };
        work(&mut sql)?;
        sql.tx.commit().map_err(|e| self.fail(&e))
    }
}

struct PostgresTx<'a> {
    tx: postgres::Transaction<'a>,
    store: &'a PostgresStore,
}

/// SQL NULL for a column of any type (`None::<T>` would only fit columns of `T`'s type).
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Our values as the driver's parameters; every integer column is BIGINT, so `i64` fits all.
fn to_postgres(params: &[Value]) -> Vec<Box<dyn ToSql + Sync>> {
    params
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync> {
            match v {
                Value::Null => Box::new(Null),
                Value::Int(n) => Box::new(*n),
                Value::Text(s) => Box::new(s.clone()),
                Value::Bytes(b) => Box::new(b.clone()),
            }
        })
        .collect()
}

impl Sql for PostgresTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.tx.batch_execute(sql).map_err(|e| self.store.fail(&e))
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let owned = to_postgres(params);
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        self.tx.execute(sql, &refs).map_err(|e| self.store.fail(&e))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let owned = to_postgres(params);
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        let rows = self.tx.query(sql, &refs).map_err(|e| self.store.fail(&e))?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        let ty = row.columns()[i].type_().clone();
                        let value = if ty == Type::INT8 {
                            row.try_get::<_, Option<i64>>(i).map(Value::from)
                        } else if ty == Type::INT4 {
                            row.try_get::<_, Option<i32>>(i)
                                .map(|v| Value::from(v.map(i64::from)))
                        } else if ty == Type::BYTEA {
                            row.try_get::<_, Option<Vec<u8>>>(i).map(Value::from)
                        } else {
                            row.try_get::<_, Option<String>>(i).map(Value::from)
                        };
                        value.map_err(|e| self.store.fail(&e))
                    })
                    .collect()
            })
            .collect()
    }
}
