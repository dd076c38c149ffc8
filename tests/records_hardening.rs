//! The records' hardening (docs/security.md): the event log's hash chain and `records verify`,
//! no `INSERT OR REPLACE` of an event, the claim before the device's row, device-reported
//! strings escaped for terminals and spreadsheets. PostgreSQL over TLS, its roles and the
//! password's redaction are in `records_postgres.rs`.
mod common;

use std::path::Path;

use common::firmware_image::merged_image;
use common::{assert_exit, run, station_on_sims, stderr, stdout, temp_dir, Sim};

fn write_recipe(dir: &Path, text: &str) -> String {
    let path = dir.join("recipe.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A SQLite records file after a one-device, two-step run.
fn provisioned(dir: &Path) -> String {
    let recipe = write_recipe(
        dir,
        "[[step]]\nkind = \"self-test\"\n[[step]]\nkind = \"rand-health\"\nbits = 8192\n",
    );
    let db = dir.join("station.db").display().to_string();
    assert_exit(
        &run(&["station", "run", &recipe, "--sim", "2", "--records", &db]),
        0,
    );
    db
}

fn event_ids(db: &str) -> Vec<i64> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT event_id FROM events ORDER BY event_id")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn records_verify_names_a_hand_edited_event() {
    let dir = temp_dir();
    let db = provisioned(dir.path());
    let ok = run(&["records", "verify", "--records", &db]);
    assert_exit(&ok, 0);
    let ids = event_ids(&db);
    assert!(ids.len() >= 8, "{ids:?}");
    assert!(
        stdout(&ok).contains(&format!("{} events", ids.len())),
        "{}",
        stdout(&ok)
    );
    // What someone with the file can do: lift the trigger and rewrite an event's detail.
    let edited = ids[ids.len() / 2];
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(&format!(
        "DROP TRIGGER events_no_update;
         UPDATE events SET detail = '{{\"forged\":true}}' WHERE event_id = {edited};"
    ))
    .unwrap();
    let out = run(&["records", "verify", "--records", &db]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!("event {edited} ")) && err.contains("changed"),
        "{err}"
    );
    // And in --json, the error names it too.
    let out = run(&["--json", "records", "verify", "--records", &db]);
    assert_exit(&out, 3);
    assert!(
        stderr(&out).contains(&format!("event {edited} "))
            || stdout(&out).contains(&format!("event {edited} "))
    );
}

#[test]
fn records_verify_names_the_event_after_a_removed_one() {
    let dir = temp_dir();
    let db = provisioned(dir.path());
    let ids = event_ids(&db);
    let (removed, next) = (ids[3], ids[4]);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(&format!(
            "DROP TRIGGER events_no_delete; DELETE FROM events WHERE event_id = {removed};"
        ))
        .unwrap();
    let out = run(&["records", "verify", "--records", &db]);
    assert_exit(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("event {next} ")) && err.contains("does not follow"),
        "{err}"
    );
}

/// The chain as docs/station.md describes it, recomputed by Python's `hashlib` and `json`
/// from the SQLite file: an implementation that shares no code with ucrypto's.
#[test]
fn the_chain_is_what_docs_station_md_says() {
    let dir = temp_dir();
    let db = provisioned(dir.path());
    let script = r#"
import hashlib, json, sqlite3, sys
prev = "0" * 64
n = 0
for row in sqlite3.connect(sys.argv[1]).execute(
        "SELECT device_id, station_id, run_id, step_index, kind, detail, at_ms, prev_hash, hash"
        " FROM events ORDER BY event_id"):
    *content, prev_hash, h = row
    assert prev_hash == prev, (n, prev_hash, prev)
    text = json.dumps([prev] + list(content), separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(text.encode()).hexdigest() == h, (n, text)
    prev = h
    n += 1
print(n, prev)
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, &db])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    let verify = run(&["--json", "records", "verify", "--records", &db]);
    assert_exit(&verify, 0);
    let report: serde_json::Value = serde_json::from_str(stdout(&verify).trim()).unwrap();
    assert_eq!(
        printed.trim(),
        format!("{} {}", report["events"], report["head"].as_str().unwrap())
    );
}

#[test]
fn insert_or_replace_cannot_rewrite_an_event() {
    let dir = temp_dir();
    let db = provisioned(dir.path());
    let conn = rusqlite::Connection::open(&db).unwrap();
    let first = event_ids(&db)[0];
    let replace = conn
        .execute(
            "INSERT OR REPLACE INTO events (event_id, device_id, station_id, run_id, kind,
                 detail, at_ms, prev_hash, hash)
             SELECT event_id, device_id, station_id, run_id, 'forged', detail, at_ms,
                 prev_hash, hash FROM events WHERE event_id = ?1",
            [first],
        )
        .unwrap_err();
    assert!(replace.to_string().contains("append-only"), "{replace}");
    let kind: String = conn
        .query_row(
            "SELECT kind FROM events WHERE event_id = ?1",
            [first],
            |r| r.get(0),
        )
        .unwrap();
    assert_ne!(kind, "forged");
}

#[test]
fn a_records_file_from_before_the_chain_is_hashed_in_place() {
    let dir = temp_dir();
    let db = provisioned(dir.path());
    let before = event_ids(&db).len();
    // The version-2 file an older ucrypto left: no chain columns, no replace trigger.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "DROP TRIGGER events_no_replace;
             ALTER TABLE events DROP COLUMN prev_hash;
             ALTER TABLE events DROP COLUMN hash;
             DELETE FROM schema_migrations WHERE version = 3;",
        )
        .unwrap();
    let out = run(&["--json", "records", "verify", "--records", &db]);
    assert_exit(&out, 0);
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(report["events"], before, "every old event hashed");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    // The no-UPDATE trigger is back after the backfill.
    let update = conn
        .execute("UPDATE events SET kind = 'forged'", [])
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
}

/// Station `west` finds the devices `east` claimed: it must not write their rows.
#[test]
fn a_station_that_loses_the_claim_leaves_the_device_row_alone() {
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), "[[step]]\nkind = \"self-test\"\n");
    let db = dir.path().join("shared.db").display().to_string();
    let station = |id: &str| station_on_sims(true, &recipe, 2, &db, &["--station-id", id]);
    assert_exit(&station("east"), 0);
    let rows = || -> Vec<(String, String, i64, i64)> {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut stmt = conn
            .prepare("SELECT device_id, port, first_seen_ms, last_seen_ms FROM devices ORDER BY device_id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let before = rows();
    assert_eq!(before.len(), 2);
    let west = station("west");
    assert_exit(&west, 6);
    for line in stdout(&west)
        .lines()
        .filter(|l| l.contains("\"device_id\""))
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v.get("summary").is_none() {
            assert_eq!(v["error_kind"], "claimed-elsewhere", "{v}");
        }
    }
    assert_eq!(rows(), before, "west changed no device row");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (seen_by_west, refused): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM events WHERE station_id = 'west' AND kind = 'seen'),
                    (SELECT count(*) FROM events WHERE station_id = 'west' AND kind = 'claim-refused')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((seen_by_west, refused), (0, 2));
}

/// A device that reports a firmware version built to attack a terminal and a spreadsheet.
#[test]
fn hostile_device_strings_are_escaped_for_terminals_and_csv() {
    const HOSTILE: &str = "=1+2\u{1b}[2J\r\tX";
    let dir = temp_dir();
    std::fs::write(dir.path().join("evil.bin"), merged_image(5, HOSTILE)).unwrap();
    let efuse = dir.path().join("board.efuse");
    let flash = dir.path().join("board.flash");
    let sim = Sim::start(&[
        "--download-mode",
        "--efuse",
        efuse.to_str().unwrap(),
        "--flash",
        flash.to_str().unwrap(),
        "--seed",
        "77",
    ]);
    let recipe = write_recipe(
        dir.path(),
        "[[step]]\nkind = \"flash\"\nimage = \"evil.bin\"\nchip = \"esp32c3\"\n\
         [[step]]\nkind = \"self-test\"\n",
    );
    let db = dir.path().join("station.db").display().to_string();
    let out = run(&[
        "station",
        "run",
        &recipe,
        "--ports",
        &sim.port,
        "--records",
        &db,
    ]);
    assert_exit(&out, 0);
    let recorded: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT firmware_version FROM devices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(recorded, HOSTILE, "the records keep what the device said");
    let no_controls = |text: &str| {
        assert!(
            !text.contains(['\u{1b}', '\r', '\t']),
            "a control character reached the output: {text:?}"
        );
    };
    let list = run(&["records", "list", "--records", &db]);
    assert_exit(&list, 0);
    no_controls(&stdout(&list));
    assert!(
        stdout(&list).contains("=1+2\\u{1b}[2J"),
        "{}",
        stdout(&list)
    );
    let device_id = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT device_id FROM devices", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap();
    let show = run(&["records", "show", &device_id, "--records", &db]);
    assert_exit(&show, 0);
    no_controls(&stdout(&show));
    let csv_path = dir.path().join("export.csv");
    let export = run(&[
        "records",
        "export",
        "--format",
        "csv",
        "--records",
        &db,
        "-o",
        csv_path.to_str().unwrap(),
    ]);
    assert_exit(&export, 0);
    // Read back by the csv crate: the cell starts with a quote, never a formula.
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = headers
        .iter()
        .position(|h| h == "firmware_version")
        .unwrap();
    let row = reader.records().next().unwrap().unwrap();
    let cell = &row[column];
    assert!(cell.starts_with("'=1+2"), "{cell:?}");
    no_controls(cell);
    // JSON keeps the exact string (JSON escapes the controls itself).
    let json = run(&["--json", "records", "list", "--records", &db]);
    no_controls(&stdout(&json));
    let v: serde_json::Value = serde_json::from_str(stdout(&json).lines().next().unwrap()).unwrap();
    assert_eq!(v["firmware_version"], HOSTILE);
    // `ucrypto info` on the booted board, too.
    let info = run(&["info", "--port", &sim.port]);
    assert_exit(&info, 0);
    no_controls(&stdout(&info));
}
