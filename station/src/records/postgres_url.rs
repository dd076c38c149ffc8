//! A `--records postgres://…` URL read into a connection: host (or Unix socket), port, user,
//! database, password (from the URL, `PGPASSWORD` or the password file) and TLS (`sslmode`,
//! `sslrootcert`). The URL is parsed with the `url` crate; the driver never sees the text, so
//! no error of its parser can quote a password.
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;
use url::Url;

use super::credentials;

/// libpq's `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, without checking its certificate; plain otherwise.
    Prefer,
    /// TLS without checking the certificate (unless `sslrootcert` names a CA: then as
    /// `verify-ca`, as libpq does).
    Require,
    /// TLS; the certificate must chain to the CA.
    VerifyCa,
    /// TLS; the certificate must chain to the CA and name the host.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// Where and how to connect, and the URL as it may be shown.
pub struct Target {
    pub config: postgres::Config,
    pub ssl_mode: SslMode,
    /// The CA certificates (PEM) that the server's certificate must chain to; without one,
    /// the public web roots (`webpki-roots`).
    pub root_cert: Option<PathBuf>,
    /// The host name TLS checks the certificate against.
    pub host: String,
    /// The URL with every password redacted.
    pub shown: String,
}

/// The default port, as libpq's.
const DEFAULT_PORT: u16 = 5432;

/// Reads `text` (a `postgres://` or `postgresql://` URL). Errors name the part that is wrong,
/// never its value where it may be secret.
pub fn parse(text: &str) -> Result<Target, String> {
    let shown = credentials::redact(text);
    let url = Url::parse(text).map_err(|e| format!("not a PostgreSQL URL ({e})"))?;
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let mut host = match url.host() {
        // Without its brackets, as the driver resolves it.
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(other) => decode(&other.to_string()),
        None => String::new(),
    };
    let mut port = url.port();
    let mut user = (!url.username().is_empty()).then(|| decode(url.username()));
    let mut password = url.password().map(decode);
    let mut dbname = Some(decode(url.path().trim_start_matches('/'))).filter(|d| !d.is_empty());
    let mut ssl_mode = None;
    let mut root_cert = None;
    let mut config = postgres::Config::new();
    for (key, value) in url.query_pairs() {
        let value = value.into_owned();
        match &*key {
            "host" => host = value,
            "port" => port = Some(value.parse().map_err(|_| "port= is not a port number")?),
            "user" => user = Some(value),
            "password" => password = Some(value),
            "dbname" => dbname = Some(value),
            "sslmode" => {
                ssl_mode = Some(SslMode::parse(&value).ok_or(
                    "sslmode= is not one of disable, prefer, require, verify-ca, verify-full",
                )?)
            }
            "sslrootcert" => root_cert = Some(PathBuf::from(value)),
            "application_name" => {
                config.application_name(&value);
            }
            "connect_timeout" => {
                let seconds: u64 = value
                    .parse()
                    .map_err(|_| "connect_timeout= is not a number of seconds")?;
                config.connect_timeout(Duration::from_secs(seconds));
            }
            other => {
                return Err(format!(
                    "unknown URL parameter {other}= (known: host, port, user, password, dbname, \
                     sslmode, sslrootcert, application_name, connect_timeout)"
                ))
            }
        }
    }
    let unix_socket = host.is_empty() || host.starts_with('/');
    if unix_socket {
        let dir = if host.is_empty() {
            "/var/run/postgresql".to_string()
        } else {
            host.clone()
        };
        config.host_path(dir);
    } else {
        config.host(&host);
    }
    let port = port.unwrap_or(DEFAULT_PORT);
    config.port(port);
    let user = user
        .or_else(|| std::env::var("PGUSER").ok())
        .or_else(|| std::env::var("USER").ok())
        .ok_or("the URL names no user: postgres://USER@HOST/DATABASE")?;
    config.user(&user);
    let dbname = dbname
        .or_else(|| std::env::var("PGDATABASE").ok())
        .unwrap_or_else(|| user.clone());
    config.dbname(&dbname);
    let password_host = if unix_socket { "localhost" } else { &host };
    if let Some(password) =
        password.or_else(|| credentials::password_for(password_host, port, &dbname, &user))
    {
        config.password(password);
    }
    let root_cert = root_cert.or_else(|| std::env::var_os("PGSSLROOTCERT").map(PathBuf::from));
    let ssl_mode = match ssl_mode {
        Some(mode) => mode,
        None => match std::env::var("PGSSLMODE") {
            Ok(mode) => SslMode::parse(&mode)
                .ok_or_else(|| format!("PGSSLMODE={mode} is not a known sslmode"))?,
            Err(_) => default_ssl_mode(&host, unix_socket),
        },
    };
    if unix_socket && ssl_mode != SslMode::Disable && ssl_mode != SslMode::Prefer {
        return Err(format!(
            "sslmode={} over a Unix socket: TLS is for TCP; name a host, or use sslmode=disable",
            ssl_mode.name()
        ));
    }
    Ok(Target {
        config,
        ssl_mode: if unix_socket {
            SslMode::Disable
        } else {
            ssl_mode
        },
        root_cert,
        host,
        shown,
    })
}

/// A local server (this machine's loopback or a Unix socket) needs no TLS unless asked; any
/// other host is `verify-full`: the records carry public keys and CSRs for the CA, which a
/// machine in the middle could swap.
fn default_ssl_mode(host: &str, unix_socket: bool) -> SslMode {
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if unix_socket || loopback {
        SslMode::Prefer
    } else {
        SslMode::VerifyFull
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_local_hosts_default_to_verify_full() {
        let mode = |url: &str| parse(url).map(|t| t.ssl_mode).unwrap();
        assert_eq!(mode("postgres://s@db.line/f"), SslMode::VerifyFull);
        assert_eq!(mode("postgres://s@10.0.0.7/f"), SslMode::VerifyFull);
        assert_eq!(mode("postgres://s@127.0.0.1/f"), SslMode::Prefer);
        assert_eq!(mode("postgres://s@localhost/f"), SslMode::Prefer);
        assert_eq!(mode("postgres://s@[::1]/f"), SslMode::Prefer);
        assert_eq!(
            mode("postgres://s@%2Fvar%2Frun%2Fpostgresql/f"),
            SslMode::Disable
        );
        assert_eq!(
            mode("postgres://s@db.line/f?sslmode=require"),
            SslMode::Require
        );
        assert_eq!(
            mode("postgres://s@127.0.0.1/f?sslmode=verify-full"),
            SslMode::VerifyFull
        );
    }

    #[test]
    fn errors_never_quote_a_password() {
        for url in [
            "postgres://s:hunter2@db.line/f?sslmode=hunter2",
            "postgres://s:hunter2@db.line/f?passwd=1",
            "postgres://s@db.line/f?password=hunter2&port=hunter2",
        ] {
            let e = parse(url).err().expect("refused");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn the_url_fills_the_connection() {
        let t =
            parse("postgresql://station:p%40ss@db.line:6543/factory?sslrootcert=/ca.pem").unwrap();
        assert_eq!(t.config.get_user(), Some("station"));
        assert_eq!(t.config.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(t.config.get_dbname(), Some("factory"));
        assert_eq!(t.config.get_ports(), [6543]);
        assert_eq!(
            t.root_cert.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        assert_eq!(
            t.shown,
            "postgresql://station:***@db.line:6543/factory?sslrootcert=/ca.pem"
        );
    }
}
