//! `ucrypto station run` and `ucrypto records`: many virtual devices at once (in-process and on
//! pseudo-terminals), records in SQLite and PostgreSQL, re-runs, a SIGKILL mid-run, two
//! stations racing for the same devices, and bad input.
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use common::firmware_image::{merged_image, TEST_VERSION};
use common::{assert_exit, stderr, stdout, temp_dir, ucrypto, Sim};

const RECIPE: &str = "name = \"test line\"
[[step]]
kind = \"self-test\"
[[step]]
kind = \"rand-health\"
bits = 65536
[[step]]
kind = \"sign-check\"
key-bits = 1024
[[step]]
kind = \"key-generate\"
slot = 0
bits = 1024
[[step]]
kind = \"sign-manifest\"
slot = 0
[[step]]
kind = \"csr\"
slot = 0
subject = \"CN={device_id},O=ucrypto test line\"
";

/// Steps in [`RECIPE`].
const STEPS: i64 = 6;

fn write_recipe(dir: &Path, text: &str) -> String {
    let path = dir.join("recipe.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn station(args: &[&str]) -> Output {
    ucrypto()
        .args(["--json", "station", "run"])
        .args(args)
        .output()
        .expect("ucrypto runs")
}

/// The JSON lines of a `--json` station run: (device lines, summary).
fn json_lines(out: &Output) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut devices = Vec::new();
    let mut summary = None;
    for line in stdout(out).lines() {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}; stderr: {}", stderr(out)));
        if value.get("summary").is_some() {
            assert!(summary.is_none(), "one summary line");
            summary = Some(value["summary"].clone());
        } else {
            assert!(summary.is_none(), "the summary is the last line");
            devices.push(value);
        }
    }
    (devices, summary.expect("a summary line"))
}

/// Device ids of the lines, asserting each is done and that they are distinct.
fn all_done(devices: &[serde_json::Value], n: usize) -> BTreeSet<String> {
    assert_eq!(devices.len(), n, "{devices:?}");
    for d in devices {
        assert_eq!(d["status"], "done", "{d}");
    }
    let ids: BTreeSet<String> = devices
        .iter()
        .map(|d| d["device_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), n, "distinct device ids: {ids:?}");
    ids
}

/// Counts `step-done` events per (device, step) in a SQLite record file, read directly.
fn sqlite_step_done(db: &Path) -> BTreeMap<(String, i64), i64> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT device_id, step_index, count(*) FROM events WHERE kind = 'step-done'
             GROUP BY device_id, step_index",
        )
        .unwrap();
    stmt.query_map([], |row| Ok(((row.get(0)?, row.get(1)?), row.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// A client on a `ucrypto sim` port, through the library.
fn client_on(port: &str) -> ucrypto::Client {
    ucrypto::connect(&ucrypto::ConnectOptions::new(ucrypto::Port::Path(
        port.to_string(),
    )))
    .expect("the sim answers")
}

/// The device on `port` signs a message with its key in slot 0; openssl checks the signature
/// with `public_der` (the key from the records), and refuses it for another message.
fn assert_device_key_signs(port: &str, public_der: &[u8], dir: &Path) {
    use sha2::Digest;
    use ucrypto_protocol::{RequestBody, ResponseBody};

    let message = format!("manifest of the device on {port}");
    let digest: [u8; 32] = sha2::Sha256::digest(message.as_bytes()).into();
    let mut client = client_on(port);
    let signature = client
        .call(
            RequestBody::SignDigestSlot { digest, slot: 0 },
            |body| match body {
                ResponseBody::Signature { data } => Ok(data.to_vec()),
                other => panic!("a signature request answered with {other:?}"),
            },
        )
        .unwrap();
    let (key, sig, msg) = (
        dir.join("pub.der"),
        dir.join("sig.bin"),
        dir.join("msg.txt"),
    );
    std::fs::write(&key, public_der).unwrap();
    std::fs::write(&sig, &signature).unwrap();
    std::fs::write(&msg, &message).unwrap();
    let verify = |file: &Path| {
        std::process::Command::new("openssl")
            .args([
                "dgst",
                "-sha256",
                "-verify",
                key.to_str().unwrap(),
                "-keyform",
                "DER",
            ])
            .args(["-signature", sig.to_str().unwrap(), file.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let good = verify(&msg);
    assert!(
        good.status.success() && stdout(&good).contains("Verified OK"),
        "{}",
        stdout(&good)
    );
    let other = dir.join("other.txt");
    std::fs::write(&other, "another message").unwrap();
    assert!(!verify(&other).status.success(), "openssl can refuse");
}

/// A `sign-manifest` step's detail: the manifest names the device and its key, and openssl
/// verifies its signature with the recorded public key.
fn assert_manifest_verifies(detail: &str, device_id: &str, public_der: &[u8], dir: &Path) {
    use base64::Engine as _;
    use sha2::Digest;

    let detail: serde_json::Value = serde_json::from_str(detail).unwrap();
    let text = detail["manifest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(manifest["device_id"], device_id);
    assert_eq!(
        manifest["spki_sha256"],
        hex::encode(sha2::Sha256::digest(public_der))
    );
    let signature = base64::engine::general_purpose::STANDARD
        .decode(detail["signature"].as_str().unwrap())
        .unwrap();
    let (key, sig, msg) = (dir.join("m.der"), dir.join("m.sig"), dir.join("m.json"));
    std::fs::write(&key, public_der).unwrap();
    std::fs::write(&sig, &signature).unwrap();
    std::fs::write(&msg, text).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            key.to_str().unwrap(),
            "-keyform",
            "DER",
        ])
        .args(["-signature", sig.to_str().unwrap(), msg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "manifest of {device_id}: {}",
        stdout(&out)
    );
}

/// A recorded CSR: openssl checks its self-signature, its subject names the device, and its
/// public key is the recorded one.
fn assert_csr_verifies(pem: &str, device_id: &str, public_der: &[u8], dir: &Path) {
    let path = dir.join("device.csr");
    std::fs::write(&path, pem).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-in",
            path.to_str().unwrap(),
            "-verify",
            "-noout",
            "-subject",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("verify OK") || stdout(&out).contains("verify OK"));
    assert!(
        stdout(&out).contains(&format!("CN = {device_id}")),
        "{}",
        stdout(&out)
    );
    let pubkey = common::openssl_run(
        &["req", "-in", path.to_str().unwrap(), "-pubkey", "-noout"],
        b"",
    );
    let der = common::openssl_run(&["pkey", "-pubin", "-outform", "DER"], &pubkey);
    assert_eq!(der, public_der, "the CSR is for the recorded key");
}

/// Each device's slot-0 public key (DER) in a SQLite record file.
fn sqlite_keys(db: &Path) -> BTreeMap<String, Vec<u8>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT device_id, public_key_der FROM keys WHERE slot = 0")
        .unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn sixteen_virtual_devices_in_process_recorded_in_sqlite() {
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), RECIPE);
    let db = dir.path().join("station.db");
    let out = station(&[
        &recipe,
        "--sim",
        "16",
        "--records",
        db.to_str().unwrap(),
        "--station-id",
        "st-1",
    ]);
    assert_exit(&out, 0);
    let (devices, summary) = json_lines(&out);
    let ids = all_done(&devices, 16);
    assert_eq!(summary["done"], 16);
    assert_eq!(summary["failed"], 0);
    for d in &devices {
        assert_eq!(d["steps_run"], STEPS, "{d}");
    }

    // The records, read with SQLite itself rather than through ucrypto.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM devices"), 16);
    assert_eq!(
        count("SELECT count(*) FROM claims WHERE station_id = 'st-1'"),
        16
    );
    assert_eq!(
        count("SELECT count(*) FROM steps WHERE state = 'done'"),
        16 * STEPS
    );
    assert_eq!(count("SELECT count(*) FROM keys WHERE slot = 0"), 16);
    assert_eq!(count("SELECT count(DISTINCT spki_sha256) FROM keys"), 16);
    assert_eq!(count("SELECT count(*) FROM runs WHERE outcome = 'done'"), 1);
    assert_eq!(count("SELECT max(version) FROM schema_migrations"), 5);
    let recorded: BTreeSet<String> = conn
        .prepare("SELECT device_id FROM devices")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(recorded, ids);
    let done = sqlite_step_done(&db);
    assert_eq!(done.len(), 16 * STEPS as usize);
    assert!(done.values().all(|n| *n == 1), "{done:?}");

    // The export agrees with the station's lines.
    let out = ucrypto()
        .args([
            "records",
            "export",
            "--format",
            "json",
            "--records",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let exported: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let exported_ids: BTreeSet<String> = exported
        .iter()
        .map(|d| d["device_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(exported_ids, ids);
    assert!(exported.iter().all(|d| d["steps_done"] == STEPS
        && d["station_id"] == "st-1"
        && d["keys"].as_array().unwrap().len() == 1));
}

#[test]
fn sixteen_virtual_devices_on_ptys_are_the_same_devices_as_in_process() {
    let sims: Vec<Sim> = (0..16)
        .map(|i| Sim::start(&["--seed", &i.to_string()]))
        .collect();
    let ports = sims
        .iter()
        .map(|s| s.port.clone())
        .collect::<Vec<_>>()
        .join(",");
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), RECIPE);
    let db = dir.path().join("ptys.db");
    let out = station(&[
        &recipe,
        "--ports",
        &ports,
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    let (devices, summary) = json_lines(&out);
    let over_ptys = all_done(&devices, 16);
    assert_eq!(summary["done"], 16);
    // Each line names its port.
    let named: BTreeSet<String> = devices
        .iter()
        .map(|d| d["device"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(named, sims.iter().map(|s| s.port.clone()).collect());

    // The public key recorded for each device verifies a signature that device makes now, and
    // the manifest it signed during the run.
    let keys = sqlite_keys(&db);
    assert_eq!(keys.len(), 16);
    let conn = rusqlite::Connection::open(&db).unwrap();
    for d in &devices {
        let id = d["device_id"].as_str().unwrap();
        assert_device_key_signs(d["device"].as_str().unwrap(), &keys[id], dir.path());
        let detail: String = conn
            .query_row(
                "SELECT detail FROM steps WHERE device_id = ?1 AND kind = 'sign-manifest'",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_manifest_verifies(&detail, id, &keys[id], dir.path());
        let csr: String = conn
            .query_row(
                "SELECT csr_pem FROM keys WHERE device_id = ?1 AND slot = 0",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_csr_verifies(&csr, id, &keys[id], dir.path());
    }

    // `--sim n` is the device `ucrypto sim --seed n`: same ids.
    let db2 = dir.path().join("in-process.db");
    let out = station(&[&recipe, "--sim", "16", "--records", db2.to_str().unwrap()]);
    assert_exit(&out, 0);
    let (devices, _) = json_lines(&out);
    assert_eq!(all_done(&devices, 16), over_ptys);
    assert_eq!(sqlite_step_done(&db).len(), 16 * STEPS as usize);
}

#[test]
fn a_rerun_skips_what_is_done_and_nothing_is_done_twice() {
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), RECIPE);
    let db = dir.path().join("station.db");
    let db = db.to_str().unwrap();
    // The virtual devices keep their eFuses and flash here, as boards keep theirs.
    let state = dir.path().join("devices");
    let state = state.to_str().unwrap();
    let sims = ["--sim", "3", "--sim-state", state, "--records", db];
    assert_exit(&station(&[&[recipe.as_str()][..], &sims].concat()), 0);
    let keys_before = sqlite_keys(Path::new(db));
    assert_eq!(keys_before.len(), 3);
    let out = station(&[&[recipe.as_str()][..], &sims].concat());
    assert_exit(&out, 0);
    let (devices, summary) = json_lines(&out);
    all_done(&devices, 3);
    assert_eq!(summary["done"], 3);
    for d in &devices {
        assert_eq!(d["steps_run"], 0, "{d}");
        assert_eq!(d["steps_skipped"], STEPS, "{d}");
    }
    let done = sqlite_step_done(Path::new(db));
    assert_eq!(done.len(), 3 * STEPS as usize);
    assert!(done.values().all(|n| *n == 1), "{done:?}");

    // A changed recipe is a new recipe: its steps run on the same devices, and the key step
    // finds the keys the devices already hold (same keys, nothing burned).
    let changed = write_recipe(dir.path(), &RECIPE.replace("65536", "32768"));
    let out = station(&[&[changed.as_str()][..], &sims].concat());
    assert_exit(&out, 0);
    let (devices, _) = json_lines(&out);
    assert!(
        devices.iter().all(|d| d["steps_run"] == STEPS),
        "{devices:?}"
    );
    assert_eq!(sqlite_keys(Path::new(db)), keys_before);

    // Without their state the same virtual devices come up blank and make new keys: the
    // records refuse a second key for a slot and say why.
    let again = write_recipe(dir.path(), &RECIPE.replace("65536", "16384"));
    let out = station(&[&again, "--sim", "3", "--records", db]);
    let (devices, _) = json_lines(&out);
    for d in &devices {
        assert_eq!(d["step_kind"], "key-generate", "{d}");
        assert!(
            d["error"]
                .as_str()
                .unwrap()
                .contains("another device answers to this id"),
            "{d}"
        );
    }
    assert_exit(&out, 6);
    assert_eq!(sqlite_keys(Path::new(db)), keys_before);
}

#[test]
fn killed_with_sigkill_mid_run_then_rerun_finishes_every_device_once() {
    let dir = temp_dir();
    // Big enough that the kill lands while random bits are being tested.
    let recipe = write_recipe(
        dir.path(),
        "[[step]]\nkind = \"self-test\"\n[[step]]\nkind = \"rand-health\"\nbits = 67108864\n[[step]]\nkind = \"sign-check\"\nkey-bits = 1024\n[[step]]\nkind = \"key-generate\"\nbits = 1024\n[[step]]\nkind = \"sign-manifest\"\n",
    );
    let db = dir.path().join("station.db");
    let dbs = db.to_str().unwrap().to_string();
    let state = dir.path().join("devices");
    let state = state.to_str().unwrap().to_string();
    let mut child = ucrypto()
        .args([
            "--json",
            "station",
            "run",
            &recipe,
            "--sim",
            "4",
            "--records",
            &dbs,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until every device has passed its self-test and started drawing random bits.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "the station never reached rand-health"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the station ended before the kill"
        );
        if db.exists() {
            if let Ok(conn) = rusqlite::Connection::open(&db) {
                let started: rusqlite::Result<i64> = conn.query_row(
                    "SELECT count(*) FROM steps WHERE step_index = 1 AND state = 'started'",
                    [],
                    |r| r.get(0),
                );
                if started.unwrap_or(0) == 4 {
                    break;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let finished: i64 = conn
            .query_row(
                "SELECT count(*) FROM events WHERE kind = 'device-done'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(finished, 0, "killed before any device finished");
    }

    let out = station(&[
        &recipe,
        "--sim",
        "4",
        "--sim-state",
        &state,
        "--records",
        &dbs,
    ]);
    assert_exit(&out, 0);
    let (devices, _) = json_lines(&out);
    all_done(&devices, 4);
    for d in &devices {
        // The self-test was recorded as done before the kill; the rest ran now.
        assert_eq!(d["steps_skipped"], 1, "{d}");
        assert_eq!(d["steps_run"], 4, "{d}");
    }
    let done = sqlite_step_done(&db);
    assert_eq!(done.len(), 20, "{done:?}");
    assert!(
        done.values().all(|n| *n == 1),
        "every step done exactly once: {done:?}"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let attempts: i64 = conn
        .query_row(
            "SELECT min(attempts) FROM steps WHERE step_index = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        attempts, 2,
        "the step in flight at the kill was checked again"
    );
}

#[test]
fn events_are_append_only_in_sqlite() {
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), "[[step]]\nkind = \"self-test\"\n");
    let db = dir.path().join("station.db");
    assert_exit(
        &station(&[&recipe, "--sim", "1", "--records", db.to_str().unwrap()]),
        0,
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let before: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert!(before > 0);
    let update = conn
        .execute("UPDATE events SET kind = 'forged'", [])
        .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = conn.execute("DELETE FROM events", []).unwrap_err();
    assert!(delete.to_string().contains("append-only"), "{delete}");
    let after: i64 = conn
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(before, after);
}

#[test]
fn a_device_that_vanishes_fails_alone_with_its_step_named() {
    let sims: Vec<Sim> = (0..3)
        .map(|i| Sim::start(&["--seed", &(100 + i).to_string()]))
        .collect();
    let mut doomed = Sim::start(&["--seed", "200", "--baud", "115200"]);
    let ports = sims
        .iter()
        .map(|s| s.port.clone())
        .chain([doomed.port.clone()])
        .collect::<Vec<_>>()
        .join(",");
    let dir = temp_dir();
    // At 115200 baud, a megabit of random numbers takes the paced device about 10 s.
    let recipe = write_recipe(
        dir.path(),
        "[[step]]\nkind = \"self-test\"\n[[step]]\nkind = \"rand-health\"\nbits = 1048576\n",
    );
    let db = dir.path().join("station.db");
    let child = ucrypto()
        .args([
            "--json",
            "station",
            "run",
            &recipe,
            "--ports",
            &ports,
            "--records",
            db.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    doomed.kill();
    let out = child.wait_with_output().unwrap();
    assert_exit(&out, 6);
    let (devices, summary) = json_lines(&out);
    assert_eq!(summary["done"], 3);
    assert_eq!(summary["failed"], 1);
    let failed: Vec<&serde_json::Value> =
        devices.iter().filter(|d| d["status"] == "failed").collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["device"], doomed.port.as_str());
    assert_eq!(failed[0]["step"], 2);
    assert_eq!(failed[0]["step_kind"], "rand-health");
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(&doomed.port)).collect();
    assert_eq!(lines.len(), 1, "one line names the device: {err}");
    assert!(lines[0].contains("step 2 (rand-health)"), "{err}");
}

#[test]
fn bad_recipes_are_refused_before_any_device_or_record() {
    let dir = temp_dir();
    let db = dir.path().join("never.db");
    for (text, named) in [
        ("[[step]]\nkind = \"burn-everything\"\n", "burn-everything"),
        ("[[step]]\nkind = \"rand-health\"\nbitz = 100000\n", "bitz"),
        ("[[steps]]\nkind = \"self-test\"\n", "steps"),
        (
            "[[step]]\nkind = \"sign-check\"\nkey-bits = 4000\n",
            "key-bits",
        ),
        ("[[step]]\nkind = \"self-test\"\n[[step]\n", "line 3"),
        (
            "[[step]]\nkind = \"csr\"\nsubject = \"not a name\"\n",
            "subject",
        ),
        ("[[step]]\nkind = \"key-generate\"\nslot = 9\n", "slot = 9"),
    ] {
        let recipe = write_recipe(dir.path(), text);
        let out = ucrypto()
            .args([
                "station",
                "run",
                &recipe,
                "--sim",
                "2",
                "--records",
                db.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(named), "{err} names {named}");
        assert!(stdout(&out).is_empty());
        assert!(!db.exists(), "no records were opened");
    }
    let out = ucrypto()
        .args([
            "station",
            "run",
            "/nonexistent/recipe.toml",
            "--sim",
            "1",
            "--records",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_exit(&out, 2);
}

#[test]
fn two_stations_racing_on_one_sqlite_file_provision_each_device_once() {
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), RECIPE);
    let db = dir.path().join("shared.db");
    let spawn = |id: &str| {
        ucrypto()
            .args(["--json", "station", "run", &recipe, "--sim", "4"])
            .args(["--records", db.to_str().unwrap(), "--station-id", id])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("east"), spawn("west"));
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let mut done = BTreeSet::new();
    for out in &outs {
        let (devices, _) = json_lines(out);
        for d in devices.iter().filter(|d| d["status"] == "done") {
            assert!(done.insert(d["device_id"].as_str().unwrap().to_string()));
        }
        for d in devices.iter().filter(|d| d["status"] != "done") {
            assert_eq!(d["error_kind"], "claimed-elsewhere", "{d}");
        }
    }
    assert_eq!(done.len(), 4, "each device done by exactly one station");
    let counts = sqlite_step_done(&db);
    assert_eq!(counts.len(), 4 * STEPS as usize);
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

#[test]
fn sign_manifest_without_a_key_says_which_step_to_add() {
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), "[[step]]\nkind = \"sign-manifest\"\nslot = 2\n");
    let db = dir.path().join("station.db");
    let out = station(&[&recipe, "--sim", "1", "--records", db.to_str().unwrap()]);
    assert_exit(&out, 6);
    let (devices, _) = json_lines(&out);
    assert_eq!(devices[0]["step_kind"], "sign-manifest");
    let error = devices[0]["error"].as_str().unwrap();
    assert!(
        error.contains("slot 2 holds no key") && error.contains("key-generate"),
        "{error}"
    );
}

#[test]
fn bad_port_lists_are_refused() {
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), RECIPE);
    let db = dir.path().join("never.db");
    for (ports, named) in [
        ("/dev/a,,/dev/b", "empty entry"),
        ("/dev/a,/dev/a", "twice"),
    ] {
        let out = ucrypto()
            .args([
                "station",
                "run",
                &recipe,
                "--ports",
                ports,
                "--records",
                db.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(named), "{}", stderr(&out));
    }
    // Neither --ports nor --sim: a usage error.
    let out = ucrypto()
        .args(["station", "run", &recipe])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(!db.exists());
}

#[test]
fn an_unreachable_database_is_exit_4_without_touching_devices() {
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), RECIPE);
    let out = ucrypto()
        .args([
            "--json",
            "station",
            "run",
            &recipe,
            "--sim",
            "2",
            "--records",
            "postgres://station:hunter2@127.0.0.1:1/line",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 4);
    let line = stdout(&out);
    let error: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(error["error"]["kind"], "records");
    assert!(!line.contains("hunter2"), "no password in errors: {line}");
    assert!(!stderr(&out).contains("hunter2"));
    // The password on the command line is warned about; the failure is one line.
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("warning: the --records URL holds a password"),
        "{err}"
    );
}

#[test]
fn records_list_show_and_export_csv() {
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), RECIPE);
    let db = dir.path().join("station.db");
    let db = db.to_str().unwrap();
    let out = station(&[
        &recipe,
        "--sim",
        "2",
        "--records",
        db,
        "--station-id",
        "bench-3",
    ]);
    assert_exit(&out, 0);
    let (devices, _) = json_lines(&out);
    let ids = all_done(&devices, 2);

    let out = ucrypto()
        .args(["records", "list", "--records", db])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 3, "{text}");
    for id in &ids {
        assert!(
            text.contains(id.as_str()) && text.contains("bench-3"),
            "{text}"
        );
    }

    let first = ids.iter().next().unwrap();
    let out = ucrypto()
        .args([
            "--json",
            "records",
            "show",
            &first.to_uppercase(),
            "--records",
            db,
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["device"]["device_id"], first.as_str());
    let kinds: Vec<&str> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    // The claim comes first: only its holder writes the device's row (and its `seen`).
    assert_eq!(
        kinds,
        [
            "claimed",
            "seen",
            "step-started",
            "step-done",
            "step-started",
            "step-done",
            "step-started",
            "step-done",
            "step-started",
            "key-burn",
            "key-recorded",
            "step-done",
            "step-started",
            "step-done",
            "step-started",
            "key-recorded",
            "step-done",
            "device-done"
        ]
    );

    let csv_path = dir.path().join("out.csv");
    let out = ucrypto()
        .args([
            "records",
            "export",
            "--format",
            "csv",
            "-o",
            csv_path.to_str().unwrap(),
            "--records",
            db,
        ])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "device_id");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .all(|r| &r[6] == "bench-3" && r[7] == STEPS.to_string() && &r[10] == "0"));

    let out = ucrypto()
        .args(["records", "show", "02:00:00:00:00:00", "--records", db])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    let out = ucrypto()
        .args([
            "records",
            "list",
            "--records",
            dir.path().join("typo.db").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert!(!dir.path().join("typo.db").exists());
}

/// The recipe in docs/station.md runs as printed.
#[test]
fn the_guide_recipe_runs() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/station.md"))
        .unwrap();
    let start = guide
        .find("```toml\n")
        .expect("docs/station.md has a ```toml recipe")
        + 8;
    let end = start + guide[start..].find("```").unwrap();
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), &guide[start..end]);
    // The guide's certify step names a CA next to the recipe: made as docs/ca.md makes it.
    let ca_dir = dir.path().join("line-ca");
    let pass = [("UCRYPTO_TEST_GUIDE_PASS", "guide passphrase")];
    let out = ucrypto()
        .envs(pass)
        .args([
            "ca",
            "init",
            "--dir",
            ca_dir.to_str().unwrap(),
            "--subject",
            "CN=Guide CA",
        ])
        .args(["--bits", "2048", "--pass", "env:UCRYPTO_TEST_GUIDE_PASS"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let db = dir.path().join("station.db");
    let out = ucrypto()
        .envs(pass)
        .args([
            "--json",
            "station",
            "run",
            &recipe,
            "--sim",
            "2",
            "--records",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let (devices, _) = json_lines(&out);
    all_done(&devices, 2);
}

mod postgres_records {
    //! The same with PostgreSQL, when `UCRYPTO_TEST_POSTGRES` names a server: each test makes
    //! its own database and drops it.
    use super::*;
    use std::io::Write;

    /// A database of its own on the test server, dropped at the end.
    struct TestDb {
        admin: String,
        name: String,
        url: String,
    }

    impl TestDb {
        fn create(tag: &str) -> Option<TestDb> {
            let Ok(admin) = std::env::var("UCRYPTO_TEST_POSTGRES") else {
                // Straight to the stderr handle: the test harness captures `eprintln!`, and this
                // line must be seen.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: PostgreSQL records test `{tag}`: UCRYPTO_TEST_POSTGRES not set (e.g. postgres://postgres@127.0.0.1:5432/test)"
                );
                return None;
            };
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos();
            let name = format!("ucrypto_{tag}_{}_{nanos}", std::process::id());
            let mut client = postgres::Client::connect(&admin, postgres::NoTls)
                .expect("UCRYPTO_TEST_POSTGRES is reachable");
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
            let base = admin.rsplit_once('/').expect("a URL with a database").0;
            let url = format!("{base}/{name}");
            Some(TestDb { admin, name, url })
        }

        fn client(&self) -> postgres::Client {
            postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
        }
    }

    impl Drop for TestDb {
        fn drop(&mut self) {
            if let Ok(mut client) = postgres::Client::connect(&self.admin, postgres::NoTls) {
                let _ = client.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        }
    }

    #[test]
    fn sixteen_virtual_devices_recorded_in_postgres() {
        let Some(db) = TestDb::create("sixteen") else {
            return;
        };
        let dir = temp_dir();
        let recipe = write_recipe(dir.path(), RECIPE);
        // Over pseudo-terminals, so the devices outlive the run and sign for the test after it.
        let sims: Vec<Sim> = (0..16)
            .map(|i| Sim::start(&["--seed", &(300 + i).to_string()]))
            .collect();
        let ports = sims
            .iter()
            .map(|s| s.port.clone())
            .collect::<Vec<_>>()
            .join(",");
        let out = station(&[&recipe, "--ports", &ports, "--records", &db.url]);
        assert_exit(&out, 0);
        let (devices, summary) = json_lines(&out);
        let ids = all_done(&devices, 16);
        assert_eq!(summary["done"], 16);
        let mut client = db.client();
        for d in &devices {
            let der: Vec<u8> = client
                .query_one(
                    "SELECT public_key_der FROM keys WHERE device_id = $1 AND slot = 0",
                    &[&d["device_id"].as_str().unwrap()],
                )
                .unwrap()
                .get(0);
            assert_device_key_signs(d["device"].as_str().unwrap(), &der, dir.path());
        }
        let count =
            |c: &mut postgres::Client, sql: &str| -> i64 { c.query_one(sql, &[]).unwrap().get(0) };
        assert_eq!(count(&mut client, "SELECT count(*) FROM devices"), 16);
        assert_eq!(
            count(
                &mut client,
                "SELECT count(*) FROM steps WHERE state = 'done'"
            ),
            16 * STEPS
        );
        assert_eq!(
            count(
                &mut client,
                "SELECT count(*) FROM events WHERE kind = 'step-done'"
            ),
            16 * STEPS
        );
        assert_eq!(
            count(&mut client, "SELECT max(version) FROM schema_migrations"),
            5
        );
        let recorded: BTreeSet<String> = client
            .query("SELECT device_id FROM devices", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(recorded, ids);

        // Append-only, enforced by the database.
        let update = client
            .execute("UPDATE events SET kind = 'forged'", &[])
            .unwrap_err();
        assert!(format!("{update:?}").contains("append-only"), "{update:?}");
        let delete = client.execute("DELETE FROM events", &[]).unwrap_err();
        assert!(format!("{delete:?}").contains("append-only"), "{delete:?}");
        let truncate = client.batch_execute("TRUNCATE events").unwrap_err();
        assert!(
            format!("{truncate:?}").contains("append-only"),
            "{truncate:?}"
        );
        assert_eq!(
            count(
                &mut client,
                "SELECT count(*) FROM events WHERE kind = 'step-done'"
            ),
            16 * STEPS
        );

        // A re-run: nothing done twice.
        let out = station(&[&recipe, "--ports", &ports, "--records", &db.url]);
        assert_exit(&out, 0);
        let (devices, _) = json_lines(&out);
        assert!(devices.iter().all(|d| d["steps_skipped"] == STEPS));
        assert_eq!(
            count(
                &mut client,
                "SELECT count(*) FROM events WHERE kind = 'step-done'"
            ),
            16 * STEPS
        );
    }

    #[test]
    fn two_stations_write_one_database_at_once() {
        let Some(db) = TestDb::create("two") else {
            return;
        };
        let dir = temp_dir();
        let recipe = write_recipe(dir.path(), RECIPE);
        let spawn = |id: &str, first: &str| {
            ucrypto()
                .args([
                    "--json",
                    "station",
                    "run",
                    &recipe,
                    "--sim",
                    "8",
                    "--sim-first",
                    first,
                ])
                .args(["--records", &db.url, "--station-id", id])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        // A fresh database: both stations also race to apply the migrations.
        let a = spawn("line-a", "0");
        let b = spawn("line-b", "8");
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        assert_exit(&a, 0);
        assert_exit(&b, 0);
        let ids_a = all_done(&json_lines(&a).0, 8);
        let ids_b = all_done(&json_lines(&b).0, 8);
        assert!(ids_a.is_disjoint(&ids_b));
        let mut client = db.client();
        let claims: Vec<(String, String)> = client
            .query("SELECT device_id, station_id FROM claims", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(claims.len(), 16);
        for (device, station) in claims {
            let expected = if ids_a.contains(&device) {
                "line-a"
            } else {
                "line-b"
            };
            assert_eq!(station, expected);
        }
        let migrations: i64 = client
            .query_one("SELECT count(*) FROM schema_migrations", &[])
            .unwrap()
            .get(0);
        // Migrations 1 to 5.
        assert_eq!(migrations, 5);
        // Two stations appending at once left one chain, not a fork.
        assert_exit(
            &ucrypto()
                .args(["records", "verify", "--records", &db.url])
                .output()
                .unwrap(),
            0,
        );
    }

    #[test]
    fn two_stations_racing_for_the_same_devices_one_wins_each() {
        let Some(db) = TestDb::create("race") else {
            return;
        };
        let dir = temp_dir();
        let recipe = write_recipe(dir.path(), RECIPE);
        let spawn = |id: &str| {
            ucrypto()
                .args(["--json", "station", "run", &recipe, "--sim", "6"])
                .args(["--records", &db.url, "--station-id", id])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let a = spawn("line-a");
        let b = spawn("line-b");
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        let mut winners: BTreeMap<String, &str> = BTreeMap::new();
        for (out, (me, other)) in outs
            .iter()
            .zip([("line-a", "line-b"), ("line-b", "line-a")])
        {
            let (devices, summary) = json_lines(out);
            assert_eq!(devices.len(), 6);
            let failed = summary["failed"].as_u64().unwrap();
            assert_exit(out, if failed == 0 { 0 } else { 6 });
            for d in devices {
                let id = d["device_id"].as_str().unwrap().to_string();
                if d["status"] == "done" {
                    assert!(winners.insert(id, me).is_none(), "done by both stations");
                } else {
                    assert_eq!(d["error_kind"], "claimed-elsewhere", "{d}");
                    let error = d["error"].as_str().unwrap();
                    assert!(
                        error.contains(&format!("provisioned by station {other}")),
                        "{error}"
                    );
                }
            }
        }
        assert_eq!(winners.len(), 6, "every device done by exactly one station");
        let mut client = db.client();
        for (device, station) in &winners {
            let holder: String = client
                .query_one(
                    "SELECT station_id FROM claims WHERE device_id = $1",
                    &[device],
                )
                .unwrap()
                .get(0);
            assert_eq!(holder, *station);
            let done: i64 = client
                .query_one(
                    "SELECT count(*) FROM events WHERE device_id = $1 AND kind = 'step-done'",
                    &[device],
                )
                .unwrap()
                .get(0);
            assert_eq!(done, STEPS, "{device} provisioned once");
        }
    }
}

/// The station is a library call too: a program runs it without the command line.
#[test]
fn a_program_runs_the_station_through_the_library() {
    use ucrypto_station::{self as station, targets, NoObserver, Recipe, StationOptions};

    let dir = temp_dir();
    let records =
        ucrypto_station::records::open(dir.path().join("lib.db").to_str().unwrap()).unwrap();
    let options = StationOptions {
        recipe: Recipe::parse(RECIPE, "from rust").unwrap(),
        targets: targets::sims(3, 40, ucrypto_protocol::Chip::Esp32C6, None).unwrap(),
        station_id: "library".into(),
        baud: 115_200,
        speed: ucrypto::line_speed::LineSpeed::Fastest,
        timeout: Duration::from_secs(2),
    };
    let summary = station::run(&options, &records, &mut NoObserver).unwrap();
    assert_eq!(summary.reports.len(), 3);
    assert_eq!(summary.failed(), 0, "{:?}", summary.reports);
    let devices = records.devices().unwrap();
    assert_eq!(devices.len(), 3);
    assert!(devices.iter().all(|d| d.steps_done == STEPS
        && d.chip == "esp32c6"
        && d.station_id.as_deref() == Some("library")));
}

/// A station killed after the device burned its key but before the record was written left a
/// key the records do not know, but the records hold the burn it started (written before the
/// `KeyGenerate`). The next run finds the key on the device, sees the device generated it,
/// records it, and burns nothing.
#[test]
fn a_key_burned_but_not_recorded_is_found_and_not_burned_twice() {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    use ucrypto_protocol::{RequestBody, ResponseBody, SlotState};

    let sim = Sim::start(&["--seed", "500"]);
    let dir = temp_dir();
    let db = dir.path().join("station.db");
    // What the killed station did: the burn recorded as started, then KeyGenerate sent.
    let mut client = client_on(&sim.port);
    let device_id = client.info().device_id_string();
    let records = ucrypto_station::records::open(db.to_str().unwrap()).unwrap();
    let killed = ucrypto_station::records::RunContext {
        station_id: "killed".into(),
        run_id: "killed-run".into(),
        recipe_sha256: "x".into(),
    };
    records
        .key_burn_started(&killed, &device_id, 0, 1024)
        .unwrap();
    drop(records);
    let modulus = client
        .call(
            RequestBody::KeyGenerate {
                slot: 0,
                bits: 1024,
            },
            |body| match body {
                ResponseBody::PublicKey(info) => Ok(info.n.to_vec()),
                other => panic!("KeyGenerate answered with {other:?}"),
            },
        )
        .unwrap();
    drop(client);

    let recipe = write_recipe(dir.path(), RECIPE);
    let out = station(&[
        &recipe,
        "--ports",
        &sim.port,
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    let (devices, _) = json_lines(&out);
    let id = all_done(&devices, 1).into_iter().next().unwrap();

    let keys = sqlite_keys(&db);
    let recorded = rsa::RsaPublicKey::from_public_key_der(&keys[&id]).unwrap();
    assert_eq!(
        recorded.n().to_bytes_be(),
        modulus,
        "the device's own key was recorded"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (detail, origin): (String, String) = conn
        .query_row(
            "SELECT s.detail, k.origin FROM steps s JOIN keys k ON k.device_id = s.device_id
             WHERE s.kind = 'key-generate' AND s.state = 'done' AND k.slot = 0",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["found_on_device"], true, "{detail}");
    assert_eq!(detail["adopted"], false, "{detail}");
    assert_eq!(origin, "generated");

    // Only slot 0 holds a key: nothing else was burned.
    let slots = client_on(&sim.port)
        .call(RequestBody::Hello, |body| match body {
            ResponseBody::Hello(hello) => Ok(hello.key_slots.expect("a C3 has key slots")),
            other => panic!("Hello answered with {other:?}"),
        })
        .unwrap();
    assert!(
        matches!(slots[0], SlotState::DsKey { bits: 1024, .. }),
        "{slots:?}"
    );
    assert!(
        slots[1..].iter().all(|s| *s == SlotState::Free),
        "{slots:?}"
    );
}

/// A board that arrives with a key someone imported into slot 0 (or one generated there by
/// anyone but this line) fails `key-generate` on that slot with a line saying why; a recipe
/// with `adopt = true` takes the key and records it as imported.
#[test]
fn a_key_this_line_did_not_make_fails_key_generate_unless_adopted() {
    let dir = temp_dir();
    let p = |name: &str| dir.path().join(name).display().to_string();
    for (name, recipe_text, adopt) in [
        ("plain", RECIPE.to_string(), false),
        (
            "adopt",
            RECIPE.replace(
                "slot = 0\nbits = 1024",
                "slot = 0\nbits = 1024\nadopt = true",
            ),
            true,
        ),
    ] {
        let sim = Sim::start(&["--seed", "501"]);
        let status = std::process::Command::new("openssl")
            .args(["genrsa", "-out", &p("k.pem"), "1024"])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        let out = ucrypto()
            .args(["--port", &sim.port, "key", "import", "--slot", "0", "-k"])
            .arg(p("k.pem"))
            .arg("--burn")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_exit(&out, 0);
        let recipe_dir = dir.path().join(name);
        std::fs::create_dir_all(&recipe_dir).unwrap();
        let recipe = write_recipe(&recipe_dir, &recipe_text);
        let db = recipe_dir.join("station.db");
        let out = station(&[
            &recipe,
            "--ports",
            &sim.port,
            "--records",
            db.to_str().unwrap(),
        ]);
        let (devices, _) = json_lines(&out);
        if adopt {
            assert_exit(&out, 0);
            all_done(&devices, 1);
            let origin: String = rusqlite::Connection::open(&db)
                .unwrap()
                .query_row("SELECT origin FROM keys WHERE slot = 0", [], |r| r.get(0))
                .unwrap();
            assert_eq!(origin, "imported");
        } else {
            assert_exit(&out, 6);
            assert_eq!(devices[0]["step_kind"], "key-generate", "{}", devices[0]);
            let error = devices[0]["error"].as_str().unwrap();
            assert!(
                error.contains("slot 0 already holds a key (imported on the device")
                    && error.contains("adopt = true"),
                "{error}"
            );
            assert!(!stderr(&out).lines().any(|l| l.contains("panicked")));
        }
    }
}

/// A recipe's `security-check` fails a device whose eFuses do not meet it (JTAG still on a new
/// virtual chip) before its key-generate step burns anything; `lock` as the last step locks the
/// device, which then refuses a key import, keeps signing, and a re-run records it as already
/// locked.
#[test]
fn security_check_guards_key_generation_and_lock_ends_the_recipe() {
    let dir = temp_dir();
    let sim = Sim::start(&["--seed", "502"]);
    let guarded = write_recipe(
        dir.path(),
        "[[step]]\nkind = \"security-check\"\njtag-disabled = true\n[[step]]\nkind = \"key-generate\"\nbits = 1024\n",
    );
    let db = dir.path().join("a.db");
    let out = station(&[
        &guarded,
        "--ports",
        &sim.port,
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&out, 6);
    let (devices, _) = json_lines(&out);
    assert_eq!(devices[0]["step_kind"], "security-check", "{}", devices[0]);
    assert!(
        devices[0]["error"]
            .as_str()
            .unwrap()
            .contains("jtag-disabled: required true, device has false"),
        "{}",
        devices[0]
    );
    let info = ucrypto()
        .args(["--port", &sim.port, "--json", "info"])
        .output()
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert!(info["key_slots"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["state"] == "free"));
    assert_eq!(info["security"]["provisioning_locked"], false);

    let locking = dir.path().join("lock");
    std::fs::create_dir_all(&locking).unwrap();
    let recipe = write_recipe(
        &locking,
        "[[step]]\nkind = \"security-check\"\nprovisioning-locked = false\n[[step]]\nkind = \"key-generate\"\nbits = 1024\n[[step]]\nkind = \"lock\"\n",
    );
    let db = locking.join("b.db");
    for run in 0..2 {
        let out = station(&[
            &recipe,
            "--ports",
            &sim.port,
            "--records",
            db.to_str().unwrap(),
        ]);
        assert_exit(&out, 0);
        all_done(&json_lines(&out).0, 1);
        if run == 0 {
            // The device is locked now: every further burn is refused, signing goes on.
            let out = ucrypto()
                .args([
                    "--port", &sim.port, "key", "generate", "--slot", "2", "--bits", "1024",
                    "--burn",
                ])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_exit(&out, 1);
            assert!(
                stderr(&out).contains("device error (locked)"),
                "{}",
                stderr(&out)
            );
            let out = ucrypto()
                .args([
                    "--port",
                    &sim.port,
                    "sign",
                    "--slot",
                    "5",
                    "-m",
                    "still signs",
                ])
                .output()
                .unwrap();
            assert_exit(&out, 0);
        }
        // The second run finds every step done (recorded) and changes nothing.
    }
    // Run the lock step alone on the locked device: recorded as already locked.
    let again = locking.join("again");
    std::fs::create_dir_all(&again).unwrap();
    let recipe = write_recipe(&again, "[[step]]\nkind = \"lock\"\n");
    let db = again.join("c.db");
    let out = station(&[
        &recipe,
        "--ports",
        &sim.port,
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    let detail: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT detail FROM steps WHERE kind = 'lock'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["was_locked"], true, "{detail}");
    assert_eq!(detail["security"]["provisioning_locked"], true, "{detail}");
}

/// Blank virtual chips in download mode on ptys, each with its own eFuse and flash files: one
/// run flashes `image_name` (in `dir`), then self-tests, gives each a key and a CSR. The
/// records hold the image's hash, the version the booted firmware reports and each key, and
/// each CSR verifies with openssl.
fn flash_then_provision(dir: &Path, image_name: &str, version: &str) {
    use sha2::Digest;
    const BOARDS: usize = 3;
    let image_sha256 = hex::encode(sha2::Sha256::digest(
        std::fs::read(dir.join(image_name)).unwrap(),
    ));
    let sims: Vec<Sim> = (0..BOARDS)
        .map(|i| {
            let efuse = dir.join(format!("board-{i}.efuse"));
            let flash = dir.join(format!("board-{i}.flash"));
            Sim::start(&[
                "--download-mode",
                "--efuse",
                efuse.to_str().unwrap(),
                "--flash",
                flash.to_str().unwrap(),
                "--seed",
                &(40 + i).to_string(),
            ])
        })
        .collect();
    let ports: Vec<String> = sims.iter().map(|s| s.port.clone()).collect();
    let recipe = write_recipe(
        dir,
        &format!(
            "name = \"flash line\"
[[step]]
kind = \"flash\"
image = \"{image_name}\"
chip = \"esp32c3\"
sha256 = \"{image_sha256}\"
[[step]]
kind = \"self-test\"
[[step]]
kind = \"key-generate\"
slot = 0
bits = 1024
[[step]]
kind = \"csr\"
slot = 0
"
        ),
    );
    let db = dir.join("flash.db");
    let out = station(&[
        &recipe,
        "--ports",
        &ports.join(","),
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    let (devices, summary) = json_lines(&out);
    all_done(&devices, BOARDS);
    assert_eq!(summary["done"], BOARDS);

    let conn = rusqlite::Connection::open(&db).unwrap();
    let keys = sqlite_keys(&db);
    assert_eq!(keys.len(), BOARDS);
    for d in &devices {
        let id = d["device_id"].as_str().unwrap();
        let (recorded_sha256, recorded_version): (Option<String>, String) = conn
            .query_row(
                "SELECT image_sha256, firmware_version FROM devices WHERE device_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(recorded_sha256.as_deref(), Some(image_sha256.as_str()));
        assert_eq!(recorded_version, version);
        let flash_detail: String = conn
            .query_row(
                "SELECT detail FROM steps WHERE device_id = ?1 AND kind = 'flash' AND state = 'done'",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        let flash_detail: serde_json::Value = serde_json::from_str(&flash_detail).unwrap();
        assert_eq!(flash_detail["skipped"], false, "a blank chip is written");
        assert_eq!(flash_detail["md5_verified"], true);
        // The booted firmware answers on the same port with the image's version and the key.
        let client = client_on(d["device"].as_str().unwrap());
        assert_eq!(client.info().firmware_version, version);
        assert_eq!(client.info().device_id_string(), id);
        drop(client);
        assert_device_key_signs(d["device"].as_str().unwrap(), &keys[id], dir);
        let csr: String = conn
            .query_row(
                "SELECT csr_pem FROM keys WHERE device_id = ?1 AND slot = 0",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_csr_verifies(&csr, id, &keys[id], dir);
    }

    // A re-run: the boards run the pinned image now, and their ports (ptys) cannot reset them
    // into download mode. The flash step asks each one's Hello, finds the image's application
    // (app_sha256) and leaves it alone; everything else is done already.
    let again = station(&[
        &recipe,
        "--ports",
        &ports.join(","),
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&again, 0);
    let (devices, summary) = json_lines(&again);
    all_done(&devices, BOARDS);
    assert_eq!(summary["done"], BOARDS);
    drop(sims);
}

#[test]
fn a_flash_step_flashes_blank_chips_then_the_station_provisions_them() {
    let dir = temp_dir();
    std::fs::write(
        dir.path().join("test-c3.bin"),
        merged_image(5, TEST_VERSION),
    )
    .unwrap();
    flash_then_provision(dir.path(), "test-c3.bin", TEST_VERSION);
}

/// The real firmware, when `.ci/firmware.sh` (or build-images.sh) has built it.
#[test]
fn a_flash_step_with_the_real_c3_image_when_it_was_built() {
    let image = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../firmware/chip/dist/ucrypto-esp32c3-merged.bin");
    if !image.is_file() {
        // Straight to the process's stderr: the harness hides a passing test's println!.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED: station flash step with the real image: {} is missing; \
             `bash .ci/firmware.sh` builds it",
            image.display()
        );
        return;
    }
    let dir = temp_dir();
    std::fs::copy(&image, dir.path().join("ucrypto-esp32c3-merged.bin")).unwrap();
    // esp_app_desc! in the chip's main.rs takes the chip crate's version.
    flash_then_provision(dir.path(), "ucrypto-esp32c3-merged.bin", "0.1.0");
}

#[test]
fn a_flash_step_is_refused_for_in_process_sims_and_a_missing_image() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("c3.bin"), merged_image(5, TEST_VERSION)).unwrap();
    let recipe = write_recipe(
        dir.path(),
        "[[step]]\nkind = \"flash\"\nimage = \"c3.bin\"\n[[step]]\nkind = \"self-test\"\n",
    );
    let db = dir.path().join("r.db");
    let out = station(&[&recipe, "--sim", "2", "--records", db.to_str().unwrap()]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--ports"), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));

    std::fs::remove_file(dir.path().join("c3.bin")).unwrap();
    let sim = Sim::start(&["--download-mode"]);
    let out = station(&[
        &recipe,
        "--ports",
        &sim.port,
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("cannot read image"),
        "{}",
        stderr(&out)
    );

    // A C6 image for a recipe that names the C3.
    std::fs::write(dir.path().join("c3.bin"), merged_image(13, TEST_VERSION)).unwrap();
    let recipe = write_recipe(
        dir.path(),
        "[[step]]\nkind = \"flash\"\nimage = \"c3.bin\"\nchip = \"esp32c3\"\n",
    );
    let out = station(&[
        &recipe,
        "--ports",
        &sim.port,
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("is for esp32c6"), "{}", stderr(&out));

    // A recipe that pins another file's SHA-256 (this one is of the empty file, from
    // `sha256sum /dev/null`): refused before any board is touched.
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let pinned = write_recipe(
        dir.path(),
        &format!("[[step]]\nkind = \"flash\"\nimage = \"c3.bin\"\nsha256 = \"{empty}\"\n"),
    );
    let out = station(&[
        &pinned,
        "--ports",
        "/dev/ucrypto-no-such-port",
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains(&format!("the recipe pins {empty}")),
        "{}",
        stderr(&out)
    );
    let recipe = write_recipe(
        dir.path(),
        "[[step]]\nkind = \"flash\"\nimage = \"c3.bin\"\nchip = \"esp32c3\"\n",
    );

    // A board of another chip than the image's fails alone, with one line.
    std::fs::write(dir.path().join("c3.bin"), merged_image(5, TEST_VERSION)).unwrap();
    let c6 = Sim::start(&["--download-mode", "--chip", "esp32c6"]);
    let out = station(&[
        &recipe,
        "--ports",
        &c6.port,
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&out, 6);
    let (devices, _) = json_lines(&out);
    assert_eq!(devices[0]["status"], "failed", "{}", devices[0]);
    assert_eq!(devices[0]["step_kind"], "flash", "{}", devices[0]);
    let error = devices[0]["error"].as_str().unwrap();
    assert!(
        error.contains("esp32c6") && !error.contains('\n'),
        "{error}"
    );

    // flash only as the first step.
    let recipe = write_recipe(
        dir.path(),
        "[[step]]\nkind = \"self-test\"\n[[step]]\nkind = \"flash\"\nimage = \"c3.bin\"\n",
    );
    let out = station(&[
        &recipe,
        "--ports",
        &sim.port,
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("first step"), "{}", stderr(&out));
}

/// The rate each device's line ended at, and the `seen` event's detail, by port.
fn recorded_rates(db: &Path) -> BTreeMap<String, (Option<i64>, serde_json::Value)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut rows = conn
        .prepare(
            "SELECT d.port, d.line_baud, e.detail FROM devices d JOIN events e
             ON e.device_id = d.device_id AND e.kind = 'seen' ORDER BY e.event_id",
        )
        .unwrap();
    rows.query_map([], |r| {
        let detail: String = r.get(2)?;
        Ok((
            r.get::<_, String>(0)?,
            (r.get(1)?, serde_json::from_str(&detail).unwrap()),
        ))
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

#[test]
fn the_station_moves_each_line_to_its_rate_and_falls_back_per_device() {
    // Paced sims are UARTs: bytes cross only while both ends are at one rate. The second one's
    // line garbles anything above 460800, so 921600 fails there and only there.
    let good = Sim::start(&["--seed", "300", "--baud", "115200"]);
    let limited = Sim::start(&[
        "--seed",
        "301",
        "--baud",
        "115200",
        "--line-limit",
        "460800",
    ]);
    let ports = format!("{},{}", good.port, limited.port);
    let dir = temp_dir();
    let recipe = write_recipe(
        dir.path(),
        "[[step]]\nkind = \"self-test\"\n[[step]]\nkind = \"rand-health\"\nbits = 65536\n",
    );
    let db = dir.path().join("rates.db");
    let db = db.to_str().unwrap();
    let out = station(&[
        "--baud",
        "921600",
        "-vv",
        &recipe,
        "--ports",
        &ports,
        "--records",
        db,
    ]);
    assert_exit(&out, 0);
    let (devices, summary) = json_lines(&out);
    all_done(&devices, 2);
    assert_eq!(summary["done"], 2);
    let log = stderr(&out);
    assert_eq!(log.matches("SetBaud { 921600 }").count(), 2, "{log}");
    assert!(log.contains("line at 921600 baud"), "{log}");
    assert!(
        log.contains("921600 baud did not work on this line: back to 115200"),
        "{log}"
    );
    let rates = recorded_rates(Path::new(db));
    let (baud, seen) = &rates[&good.port];
    assert_eq!(*baud, Some(921_600));
    assert_eq!(seen["baud"], 921_600);
    assert!(seen.get("baud_asked").is_none(), "{seen}");
    let (baud, seen) = &rates[&limited.port];
    assert_eq!(*baud, Some(115_200));
    assert_eq!(seen["baud"], 115_200);
    assert_eq!(seen["baud_asked"], 921_600);
    // `records show` carries the rate too.
    let show = ucrypto()
        .args([
            "--json",
            "records",
            "show",
            devices[0]["device_id"].as_str().unwrap(),
        ])
        .args(["--records", db])
        .output()
        .unwrap();
    assert_exit(&show, 0);
    let shown: serde_json::Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert!(shown["device"]["line_baud"].is_i64(), "{shown}");

    // `--baud 115200` keeps the start-up rate: nothing negotiated, the rate still recorded.
    let db2 = dir.path().join("kept.db");
    let db2 = db2.to_str().unwrap();
    let out = station(&[
        "--baud",
        "115200",
        "-vv",
        &recipe,
        "--ports",
        &ports,
        "--records",
        db2,
    ]);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("SetBaud"), "{}", stderr(&out));
    let rates = recorded_rates(Path::new(db2));
    assert!(rates.values().all(|(baud, seen)| *baud == Some(115_200)
        && seen["baud"] == 115_200
        && seen.get("baud_asked").is_none()));

    // Without --baud a pseudo-terminal has no USB bridge to take a rate from: none is asked.
    let db3 = dir.path().join("default.db");
    let out = station(&[
        "-vv",
        &recipe,
        "--ports",
        &ports,
        "--records",
        db3.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    assert!(!stderr(&out).contains("SetBaud"), "{}", stderr(&out));
}

#[test]
fn a_rate_no_device_takes_is_refused_before_any_device() {
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), "[[step]]\nkind = \"self-test\"\n");
    let db = dir.path().join("never.db");
    let out = station(&[
        "--baud",
        "6000000",
        &recipe,
        "--sim",
        "1",
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("--baud 6000000"), "{}", stderr(&out));
    assert!(!db.exists());
}

/// The station's signing steps send no `LoadKey`: `sign-check` makes one signature per step,
/// which carries its throwaway key in the `SignDigest` (one round trip; loading would add one
/// and send the key all the same), and `sign-manifest` signs with the slot's key, which never
/// travels (`SignDigestSlot`). Counted from the frames `-vv` logs.
#[test]
fn station_signing_steps_send_a_key_once_per_signature_and_never_a_slot_key() {
    let sim = Sim::start(&["--seed", "310"]);
    let dir = temp_dir();
    let recipe = write_recipe(
        dir.path(),
        "[[step]]\nkind = \"sign-check\"\nkey-bits = 1024\n[[step]]\nkind = \"key-generate\"\n\
         slot = 0\nbits = 1024\n[[step]]\nkind = \"sign-manifest\"\nslot = 0\n",
    );
    let db = dir.path().join("sign.db");
    let out = station(&[
        "-vv",
        &recipe,
        "--ports",
        &sim.port,
        "--records",
        db.to_str().unwrap(),
    ]);
    assert_exit(&out, 0);
    let log = stderr(&out);
    let sent = |what: &str| {
        log.lines()
            .filter(|l| l.starts_with("ucrypto: -> ") && l.contains(what))
            .count()
    };
    assert_eq!(sent(" LoadKey "), 0, "{log}");
    assert_eq!(sent(" SignDigest { 1024-bit key }"), 1, "{log}");
    // key-generate checks the slot's key with one signature, sign-manifest makes one.
    assert_eq!(sent(" SignDigestSlot { slot: 0 }"), 2, "{log}");
}

#[test]
fn a_records_file_from_before_the_line_rate_column_is_upgraded_in_place() {
    let dir = temp_dir();
    let recipe = write_recipe(dir.path(), "[[step]]\nkind = \"self-test\"\n");
    let db = dir.path().join("old.db");
    let db_arg = db.to_str().unwrap();
    assert_exit(&station(&[&recipe, "--sim", "1", "--records", db_arg]), 0);
    // Turn it into the version-1 file an older ucrypto left: no line_baud, no migration 2.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "ALTER TABLE devices DROP COLUMN line_baud;
             DELETE FROM schema_migrations WHERE version = 2;",
        )
        .unwrap();
    assert_exit(&station(&[&recipe, "--sim", "1", "--records", db_arg]), 0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        versions,
        [1, 2, 3, 4, 5],
        "migrations 2 to 5 applied to the old file"
    );
    let (with_column, seen): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM devices WHERE line_baud IS NULL OR line_baud > 0),
                    (SELECT count(*) FROM events WHERE kind = 'seen')",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert!(with_column >= 1, "the devices table has line_baud again");
    assert_eq!(
        seen, 2,
        "the first run's events are kept, the second run's added"
    );
}

#[test]
fn decrypt_check_opens_a_secret_sealed_to_the_slot_key() {
    let dir = temp_dir();
    let recipe = write_recipe(
        dir.path(),
        "[[step]]\nkind = \"key-generate\"\nslot = 1\nbits = 1024\n[[step]]\nkind = \"decrypt-check\"\nslot = 1\n",
    );
    let db = dir.path().join("station.db");
    let out = station(&[&recipe, "--sim", "1", "--records", db.to_str().unwrap()]);
    assert_exit(&out, 0);
    let (devices, _) = json_lines(&out);
    all_done(&devices, 1);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let detail: String = conn
        .query_row(
            "SELECT detail FROM steps WHERE kind = 'decrypt-check'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["opened"], true);
    assert_eq!(detail["slot"], 1);
    assert_eq!(detail["spki_sha256"].as_str().unwrap().len(), 64);

    // Without a key in the slot it says which step to add.
    let recipe = write_recipe(dir.path(), "[[step]]\nkind = \"decrypt-check\"\nslot = 3\n");
    let out = station(&[&recipe, "--sim", "1", "--records", db.to_str().unwrap()]);
    assert_exit(&out, 6);
    let (devices, _) = json_lines(&out);
    let error = devices[0]["error"].as_str().unwrap();
    assert!(error.contains("slot 3 holds no key"), "{error}");
}
