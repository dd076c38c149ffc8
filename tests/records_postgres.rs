//! The records on PostgreSQL over TLS, with passwords: each test starts a private PostgreSQL
//! server (initdb and pg_ctl from /usr/lib/postgresql/*/bin, a free port, its own Unix socket
//! directory) that takes TCP connections only over TLS (`hostssl`, SCRAM passwords), with a
//! server certificate from a CA made here with `openssl`. The machine's shared server is left
//! alone. Without PostgreSQL's binaries the tests skip loudly.
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{assert_exit, run, station_on_sims, stderr, stdout, temp_dir, ucrypto};

const PASSWORD: &str = "Hunter2-s3cret";

/// A private PostgreSQL server, stopped when dropped.
struct Server {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// initdb refuses to run as root: the server then runs as the `postgres` user.
    as_postgres: bool,
}

fn skip(why: &str) -> Option<Server> {
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: PostgreSQL TLS records test: {why}"
    );
    None
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate it signs for the name `localhost` only, and an unrelated CA.
fn make_certificates(dir: &Path) {
    for ca in ["ca", "wrong-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=ucrypto test {ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ],
        );
    }
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(dir.join("server.ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

impl Server {
    fn start() -> Option<Server> {
        let Some(bin) = postgres_bin() else {
            return skip("no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql)");
        };
        let as_postgres = is_root();
        let dir = temp_dir();
        make_certificates(dir.path());
        let server = Server {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        if as_postgres {
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(server.dir.path())
                .status()
                .unwrap();
            assert!(chown.success());
        }
        let data = server.data();
        server.pg(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        // TCP only over TLS, with a password; the test's own admin connection by socket.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 scram-sha-256\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        let d = server.dir.path().display();
        let options = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={d} \
             -c ssl=on -c ssl_cert_file={d}/server.pem -c ssl_key_file={d}/server.key \
             -c fsync=off",
            server.port
        );
        let log = server.dir.path().join("server.log");
        server.pg(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        let mut admin = server.by_socket("postgres", "postgres");
        admin
            .batch_execute(&format!("ALTER ROLE postgres PASSWORD '{PASSWORD}'"))
            .unwrap();
        admin.batch_execute("CREATE DATABASE line").unwrap();
        Some(server)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// One of PostgreSQL's programs, run as the `postgres` user when this is root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        }
    }

    /// Runs one of PostgreSQL's programs; it must succeed.
    fn pg(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program)
            .args(args)
            .output()
            .expect("PostgreSQL's programs run");
        assert!(
            out.status.success(),
            "{program}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `role` connected to `db` by the Unix socket (trusted: no password).
    fn by_socket(&self, role: &str, db: &str) -> postgres::Client {
        postgres::Config::new()
            .host_path(self.dir.path())
            .port(self.port)
            .user(role)
            .dbname(db)
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("{role} connects to {db} by the socket: {e}"))
    }

    fn ca(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// `postgres://USER[:PASSWORD]@HOST:PORT/line?QUERY`.
    fn url(&self, user: &str, password: Option<&str>, host: &str, query: &str) -> String {
        let password = password.map(|p| format!(":{p}")).unwrap_or_default();
        format!(
            "postgres://{user}{password}@{host}:{}/line?{query}",
            self.port
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }
}

fn recipe(dir: &Path) -> String {
    let path = dir.join("recipe.toml");
    std::fs::write(&path, "[[step]]\nkind = \"self-test\"\n").unwrap();
    path.display().to_string()
}

#[test]
fn tls_verify_full_connects_and_a_wrong_certificate_is_refused_in_one_line() {
    let Some(server) = Server::start() else {
        return;
    };
    let ca = server.ca("ca.pem");
    let good = server.url(
        "postgres",
        Some(PASSWORD),
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let out = run(&["--json", "records", "verify", "--records", &good]);
    assert_exit(&out, 0);
    // The server takes TCP over TLS only (`hostnossl … reject`): the connection was TLS.
    let out = run(&[
        "records",
        "verify",
        "--records",
        &good.replace("verify-full", "disable"),
    ]);
    assert_exit(&out, 4);

    // A server whose certificate another CA signed: refused, one line, exit 4.
    let wrong = server.url(
        "postgres",
        Some(PASSWORD),
        "localhost",
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            server.ca("wrong-ca.pem")
        ),
    );
    for mode in ["verify-full", "verify-ca", "require"] {
        let out = run(&[
            "records",
            "verify",
            "--records",
            &wrong.replace("verify-full", mode),
        ]);
        assert_exit(&out, 4);
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().filter(|l| !l.starts_with("warning:")).collect();
        assert_eq!(lines.len(), 1, "one line for sslmode={mode}: {err}");
        assert!(
            lines[0].contains("certificate") && lines[0].contains("UnknownIssuer"),
            "{err}"
        );
    }

    // The right CA but another name (the certificate names localhost): verify-full refuses,
    // verify-ca (the chain only) connects.
    let by_ip = server.url(
        "postgres",
        Some(PASSWORD),
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let out = run(&["records", "verify", "--records", &by_ip]);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("certificate not valid for name \"127.0.0.1\""),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "records",
        "verify",
        "--records",
        &by_ip.replace("verify-full", "verify-ca"),
    ]);
    assert_exit(&out, 0);
}

/// Every records and station command, on its success and its error paths, with the password
/// in the URL's user part, in `?password=`, and through PGPASSWORD and a password file.
#[test]
fn a_password_never_appears_in_any_output() {
    let Some(server) = Server::start() else {
        return;
    };
    let dir = temp_dir();
    let recipe = recipe(dir.path());
    let tls = format!("sslmode=verify-full&sslrootcert={}", server.ca("ca.pem"));
    let in_user = server.url("postgres", Some(PASSWORD), "localhost", &tls);
    let in_query = server.url(
        "postgres",
        None,
        "localhost",
        &format!("{tls}&password={PASSWORD}"),
    );
    let check = |out: &Output, what: &str| {
        for text in [stdout(out), stderr(out)] {
            assert!(
                !text.contains(PASSWORD),
                "{what}: the password shows: {text}"
            );
            assert!(
                !text.contains("s3cret"),
                "{what}: part of the password: {text}"
            );
        }
    };
    for url in [&in_user, &in_query] {
        let wrong_ca = url.replace("ca.pem", "wrong-ca.pem");
        let wrong_password = url.replace(PASSWORD, "Hunter2-s3cretX");
        let unreachable = url.replace(&format!(":{}/", server.port), ":1/");
        let bad_mode = format!("{url}&sslmode=sometimes");
        let cases: Vec<(&str, Vec<&str>, i32)> = vec![
            (
                "station run",
                vec!["station", "run", &recipe, "--sim", "1", "--records", url],
                0,
            ),
            ("records list", vec!["records", "list", "--records", url], 0),
            (
                "records export",
                vec!["records", "export", "--format", "csv", "--records", url],
                0,
            ),
            (
                "records verify",
                vec!["records", "verify", "--records", url],
                0,
            ),
            (
                "records show (no such device)",
                vec!["records", "show", "00:00:00:00:00:00", "--records", url],
                2,
            ),
            (
                "wrong CA",
                vec!["records", "list", "--records", &wrong_ca],
                4,
            ),
            (
                "wrong password",
                vec!["records", "list", "--records", &wrong_password],
                4,
            ),
            (
                "unreachable",
                vec![
                    "station",
                    "run",
                    &recipe,
                    "--sim",
                    "1",
                    "--records",
                    &unreachable,
                ],
                4,
            ),
            (
                "bad sslmode",
                vec!["records", "verify", "--records", &bad_mode],
                2,
            ),
        ];
        for (what, args, code) in cases {
            for json in [false, true] {
                let mut all = if json { vec!["--json"] } else { vec![] };
                all.extend(&args);
                let out = run(&all);
                assert_exit(&out, code);
                check(&out, what);
                // On the command line: warned about, as `--key HEX` is.
                assert!(
                    stderr(&out).contains("warning: the --records URL holds a password"),
                    "{what}: {}",
                    stderr(&out)
                );
            }
        }
    }
    // From the environment: no warning, and the same secrecy.
    let out = ucrypto()
        .args(["records", "list"])
        .env("UCRYPTO_RECORDS", &in_user)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    check(&out, "UCRYPTO_RECORDS");
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));

    // No password in the URL: PGPASSWORD, then the password file (libpq's format and rules).
    let bare = server.url("postgres", None, "localhost", &tls);
    let out = ucrypto()
        .args(["records", "verify", "--records", &bare])
        .env("PGPASSWORD", PASSWORD)
        .env_remove("PGPASSFILE")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    check(&out, "PGPASSWORD");
    let passfile = dir.path().join("pgpass");
    std::fs::write(
        &passfile,
        format!(
            "# line's database\nlocalhost:{}:line:postgres:{PASSWORD}\n",
            server.port
        ),
    )
    .unwrap();
    let with_file = |mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(mode)).unwrap();
        ucrypto()
            .args(["records", "verify", "--records", &bare])
            .env_remove("PGPASSWORD")
            .env("PGPASSFILE", &passfile)
            .output()
            .unwrap()
    };
    let out = with_file(0o600);
    assert_exit(&out, 0);
    check(&out, "PGPASSFILE");
    // A password file others can read is ignored, as libpq ignores it.
    let out = with_file(0o644);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("readable by group or others"),
        "{}",
        stderr(&out)
    );
    check(&out, "PGPASSFILE 0644");
}

/// The SQL of docs/station.md's roles section, as a line's administrator runs it.
fn docs_roles_sql() -> (String, String) {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/station.md"))
        .unwrap();
    let block = |marker: &str| -> String {
        let start = doc
            .find(marker)
            .unwrap_or_else(|| panic!("docs/station.md has {marker}"));
        let body = &doc[start + marker.len()..];
        let body = &body[body.find('\n').unwrap() + 1..];
        body[..body.find("```").unwrap()].to_string()
    };
    (block("```sql roles-server"), block("```sql roles-grants"))
}

/// docs/station.md's roles: the admin migrates, a station provisions, and a station cannot
/// UPDATE, DELETE or TRUNCATE events, nor lift or drop their trigger.
#[test]
fn a_station_role_cannot_rewrite_events_or_drop_the_trigger() {
    let Some(server) = Server::start() else {
        return;
    };
    let (server_sql, grants_sql) = docs_roles_sql();
    let mut admin = server.by_socket("postgres", "postgres");
    // One statement at a time: CREATE DATABASE runs outside a transaction.
    for statement in server_sql.split(';').filter(|s| !s.trim().is_empty()) {
        admin
            .batch_execute(&statement.replace("'…'", &format!("'{PASSWORD}'")))
            .unwrap_or_else(|e| panic!("{statement}: {e:?}"));
    }
    let tls = format!("sslmode=verify-full&sslrootcert={}", server.ca("ca.pem"));
    let as_role = |role: &str| {
        format!(
            "postgres://{role}@localhost:{}/factory?{tls}&password={PASSWORD}",
            server.port
        )
    };
    let (admin_url, station_url) = (as_role("ucrypto_admin"), as_role("ucrypto_station"));
    // Before the administrator migrates, a station cannot create the schema.
    let dir = temp_dir();
    let recipe = recipe(dir.path());
    let out = station_on_sims(false, &recipe, 1, &station_url, &[]);
    assert_exit(&out, 4);
    assert!(
        stderr(&out).contains("permission denied"),
        "{}",
        stderr(&out)
    );
    assert_exit(&run(&["records", "verify", "--records", &admin_url]), 0);
    let mut owner = server.by_socket("ucrypto_admin", "factory");
    owner.batch_execute(&grants_sql).unwrap();
    let out = station_on_sims(true, &recipe, 2, &station_url, &[]);
    assert_exit(&out, 0);
    assert_exit(&run(&["records", "verify", "--records", &station_url]), 0);

    let mut station = server.by_socket("ucrypto_station", "factory");
    for forbidden in [
        "UPDATE events SET kind = 'forged'",
        "DELETE FROM events",
        "TRUNCATE events",
        "DROP TRIGGER events_no_update_delete ON events",
        "ALTER TABLE events DISABLE TRIGGER events_no_update_delete",
        "DROP TABLE events",
    ] {
        let e = station.batch_execute(forbidden).unwrap_err();
        let text = e
            .as_db_error()
            .map(|d| d.message().to_string())
            .unwrap_or(e.to_string());
        assert!(
            text.contains("permission denied") || text.contains("must be owner"),
            "{forbidden}: {text}"
        );
    }
    // The owner can lift the trigger (it must be able to migrate), but the chain still shows
    // a rewritten event.
    owner
        .batch_execute(
            "ALTER TABLE events DISABLE TRIGGER events_no_update_delete;
             UPDATE events SET detail = 'forged' WHERE event_id = (SELECT min(event_id) FROM events);
             ALTER TABLE events ENABLE TRIGGER events_no_update_delete;",
        )
        .unwrap();
    let out = run(&["records", "verify", "--records", &station_url]);
    assert_exit(&out, 3);
    assert!(stderr(&out).contains("changed"), "{}", stderr(&out));
}

/// A PostgreSQL database from before the chain (schema version 2) is hashed in place, under
/// its no-UPDATE trigger, which stays on.
#[test]
fn a_postgres_database_from_before_the_chain_is_hashed_in_place() {
    let Some(server) = Server::start() else {
        return;
    };
    let dir = temp_dir();
    let url = server.url(
        "postgres",
        None,
        "localhost",
        &format!(
            "sslmode=verify-full&sslrootcert={}&password={PASSWORD}",
            server.ca("ca.pem")
        ),
    );
    assert_exit(
        &station_on_sims(false, &recipe(dir.path()), 2, &url, &[]),
        0,
    );
    let mut db = server.by_socket("postgres", "line");
    db.batch_execute(
        "ALTER TABLE events DROP COLUMN prev_hash, DROP COLUMN hash;
         DELETE FROM schema_migrations WHERE version = 3;",
    )
    .unwrap();
    let events: i64 = db
        .query_one("SELECT count(*) FROM events", &[])
        .unwrap()
        .get(0);
    assert!(events >= 6, "{events}");
    let out = run(&["--json", "records", "verify", "--records", &url]);
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["events"], events);
    let e = db
        .batch_execute("UPDATE events SET kind = 'forged'")
        .unwrap_err();
    let text = e
        .as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_default();
    assert!(text.contains("append-only"), "{text}");
}
