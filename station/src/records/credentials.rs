//! Passwords of a `--records` PostgreSQL URL: found in every form libpq accepts (`user:secret@`,
//! `?password=`), kept out of every message, and read from `PGPASSWORD` or a password file
//! (`PGPASSFILE`, `~/.pgpass`) when the URL has none, by libpq's rules.
use std::path::{Path, PathBuf};

use url::Url;

/// What stands in for a password in anything shown.
pub const REDACTED: &str = "***";

/// Printed (like `--key HEX`'s warning) when the password came on the command line.
pub const PASSWORD_ON_COMMAND_LINE: &str = "the --records URL holds a password, which other \
users of this machine can read in the process list and your shell keeps in its history: put it \
in PGPASSWORD, a password file (PGPASSFILE or ~/.pgpass), or UCRYPTO_RECORDS";

/// Whether `text` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// Whether `text` looks like libpq's `key=value` connection string (`host=db password=…`).
/// They are not accepted (a URL is), and such a string must not become a SQLite file's name
/// that every message then shows.
pub fn is_key_value(text: &str) -> bool {
    !is_postgres(text)
        && text.split_whitespace().any(|word| {
            word.split_once('=').is_some_and(|(key, _)| {
                matches!(
                    key,
                    "host" | "hostaddr" | "port" | "dbname" | "user" | "password" | "sslmode"
                )
            })
        })
}

/// Whether the records URL carries a password (in its user part or as `?password=`).
pub fn has_password(text: &str) -> bool {
    if !is_postgres(text) {
        return is_key_value(text) && text.contains("password=");
    }
    match Url::parse(text) {
        Ok(url) => url.password().is_some() || url.query_pairs().any(|(k, _)| k == "password"),
        // Unparsed: assume the worst.
        Err(_) => text.contains('@') || text.contains("password"),
    }
}

/// `text` fit to show: a PostgreSQL URL with every password replaced by [`REDACTED`] (the user
/// part and `?password=`), a `key=value` string with its `password=` value replaced, anything
/// else (a SQLite path) as it is.
pub fn redact(text: &str) -> String {
    if is_key_value(text) {
        return text
            .split(' ')
            .map(|word| match word.split_once('=') {
                Some(("password", _)) => format!("password={REDACTED}"),
                _ => word.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    if !is_postgres(text) {
        return text.to_string();
    }
    let Ok(mut url) = Url::parse(text) else {
        // Nothing of a URL the parser cannot read is shown: it may be all secret.
        let scheme = text.split("://").next().unwrap_or("postgres");
        return format!("{scheme}://(a URL that does not parse)");
    };
    if url.password().is_some() && url.set_password(Some(REDACTED)).is_err() {
        return format!("{}://(a URL with a password)", url.scheme());
    }
    if url.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    REDACTED.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    // The url crate percent-encodes '*' nowhere, so the stand-in reads as it is.
    url.to_string()
}

/// Where libpq looks for the password file: `PGPASSFILE`, else `~/.pgpass`.
fn password_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PGPASSFILE") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|home| Path::new(&home).join(".pgpass"))
}

/// The password for a connection that names none: `PGPASSWORD`, else the first matching line
/// of the password file. `host` is `localhost` for a Unix socket, as libpq matches it.
pub fn password_for(host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    if let Ok(password) = std::env::var("PGPASSWORD") {
        if !password.is_empty() {
            return Some(password);
        }
    }
    let path = password_file()?;
    let text = std::fs::read_to_string(&path).ok()?;
    if !private_enough(&path) {
        log::warn!(
            "password file {} is readable by group or others: ignored (chmod 0600 it)",
            path.display()
        );
        return None;
    }
    password_file_lookup(&text, host, port, database, user)
}

/// libpq ignores a password file that its group or others may read.
fn private_enough(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 == 0)
}

/// The password of the first line `hostname:port:database:username:password` that matches; `*`
/// matches anything, `\:` and `\\` stand for `:` and `\`, `#` starts a comment line. Written
/// out here: libpq's rules are a few lines and no maintained crate reads this file alone.
pub fn password_file_lookup(
    text: &str,
    host: &str,
    port: u16,
    database: &str,
    user: &str,
) -> Option<String> {
    let port = port.to_string();
    let wanted = [host, port.as_str(), database, user];
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .find_map(|line| {
            let fields = split_fields(line);
            if fields.len() < 5 {
                return None;
            }
            let matches = fields[..4]
                .iter()
                .zip(wanted)
                .all(|(field, want)| field == "*" || field == want);
            // A password holding ':' keeps them: everything after the fourth separator.
            matches.then(|| fields[4..].join(":"))
        })
}

/// Splits at unescaped `:` and undoes `\:` and `\\`.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("one field").push(next);
                }
            }
            ':' => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_password_form_is_redacted() {
        let cases = [
            (
                "postgres://station:hunter2@db.line:5432/factory",
                "postgres://station:***@db.line:5432/factory",
            ),
            (
                "postgresql://station@db.line/factory?password=hunter2&sslmode=verify-full",
                "postgresql://station@db.line/factory?password=***&sslmode=verify-full",
            ),
            // A password holding '@' and ':' (percent-encoded, as a URL must have it).
            (
                "postgres://station:hun%40ter2%3A@db.line/factory",
                "postgres://station:***@db.line/factory",
            ),
            (
                "postgres://station@db.line/factory",
                "postgres://station@db.line/factory",
            ),
            (
                "host=db.line user=station password=hunter2 dbname=factory",
                "host=db.line user=station password=*** dbname=factory",
            ),
            ("station.db", "station.db"),
        ];
        for (given, shown) in cases {
            assert_eq!(redact(given), shown);
            assert!(!redact(given).contains("hunter2") && !redact(given).contains("hun%40"));
        }
        // A URL the parser refuses shows nothing of itself.
        let odd = "postgres://station:hunter2@[bad/factory";
        assert!(!redact(odd).contains("hunter2"), "{}", redact(odd));
    }

    #[test]
    fn passwords_are_found_in_every_form() {
        assert!(has_password("postgres://s:p@h/d"));
        assert!(has_password("postgres://s@h/d?password=p"));
        assert!(!has_password("postgres://s@h/d?sslmode=require"));
        assert!(!has_password("station.db"));
        assert!(has_password("host=h password=p"));
    }

    #[test]
    fn password_file_lines_match_by_libpq_rules() {
        let file = "# comment\n\
                    db.line:5432:factory:admin:adminpass\n\
                    db.line:*:factory:station:sta\\:tion\\\\pass\n\
                    *:*:*:*:fallback:with:colons\n";
        let find = |host, port, db, user| password_file_lookup(file, host, port, db, user);
        assert_eq!(
            find("db.line", 5432, "factory", "admin").as_deref(),
            Some("adminpass")
        );
        assert_eq!(
            find("db.line", 6000, "factory", "station").as_deref(),
            Some("sta:tion\\pass")
        );
        assert_eq!(
            find("other", 5432, "x", "y").as_deref(),
            Some("fallback:with:colons")
        );
        assert_eq!(password_file_lookup("h:1:d:u\n", "h", 1, "d", "u"), None);
    }
}
