//! Station benchmark (`cargo bench -p ucrypto --bench station`): how much longer 16 devices
//! take than one (the station's goal is at most 1.3x), and how many step records per second the
//! record stores take. Results go to docs/performance.md; this is a measurement, not a test.
//!
//! Devices are `ucrypto sim` on pseudo-terminals paced like a UART (`--baud`), so the device
//! and its line, not the host's two cores, set the pace, as with boards. PostgreSQL is measured
//! when `UCRYPTO_TEST_POSTGRES` names a server (a database is made and dropped).
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use ucrypto_station::records::{self, RunContext, StepOutcome, StepState};

const BIN: &str = env!("CARGO_BIN_EXE_ucrypto");

/// Line rate of the paced virtual devices.
const BAUD: &str = "115200";

const RECIPE: &str = "[[step]]
kind = \"self-test\"
[[step]]
kind = \"rand-health\"
bits = 262144
[[step]]
kind = \"sign-check\"
key-bits = 2048
";

struct Sim(Child, String);

impl Sim {
    fn start(seed: usize) -> Sim {
        let mut child = Command::new(BIN)
            .args(["sim", "--seed", &seed.to_string(), "--baud", BAUD])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ucrypto sim starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Sim(child, line.trim().to_string())
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Seconds for one `station run` over `n` paced devices (median of `runs`).
fn station_seconds(n: usize, runs: usize, dir: &std::path::Path) -> f64 {
    let recipe = dir.join("bench.toml");
    std::fs::write(&recipe, RECIPE).unwrap();
    let mut times = Vec::new();
    for run in 0..runs {
        let sims: Vec<Sim> = (0..n).map(Sim::start).collect();
        let ports = sims
            .iter()
            .map(|s| s.1.clone())
            .collect::<Vec<_>>()
            .join(",");
        let db = dir.join(format!("bench-{n}-{run}.db"));
        let start = Instant::now();
        let out = Command::new(BIN)
            .args(["--json", "station", "run"])
            .arg(&recipe)
            .args(["--ports", &ports, "--records"])
            .arg(&db)
            .output()
            .unwrap();
        let elapsed = start.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "station run failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        times.push(elapsed);
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Step records (started + finished: two transactions, two events) per second into `url`,
/// written by `writers` threads at once, as a station's workers do.
fn records_per_second(url: &str, writers: usize, per_writer: usize) -> f64 {
    let store = records::open(url).expect("the record store opens");
    let ctx = RunContext {
        station_id: "bench".into(),
        run_id: format!("bench-{writers}-{}", std::process::id()),
        recipe_sha256: "0".repeat(64),
    };
    store
        .start_run(&ctx, "bench-host", "bench", writers)
        .unwrap();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for w in 0..writers {
            let (store, ctx) = (&store, &ctx);
            scope.spawn(move || {
                let device = records::DeviceRecord {
                    device_id: format!("02:be:{:02x}:00:00:{:02x}", writers, w),
                    mac: String::new(),
                    chip: "esp32c3".into(),
                    firmware_version: "bench".into(),
                    image_sha256: None,
                    line_baud: None,
                    asked_baud: None,
                    is_virtual: true,
                    port: "bench".into(),
                    entropy: "bench".into(),
                    self_test: "{}".into(),
                    security: None,
                };
                store.record_device(ctx, &device).unwrap();
                let outcome = StepOutcome {
                    state: StepState::Done,
                    detail: serde_json::json!({ "bench": true }),
                    keys: Vec::new(),
                    certificates: Vec::new(),
                };
                for i in 0..per_writer {
                    store
                        .step_started(ctx, &device.device_id, i, "bench")
                        .unwrap();
                    store
                        .step_finished(ctx, &device.device_id, i, &outcome)
                        .unwrap();
                }
            });
        }
    });
    (writers * per_writer) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this too: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let dir = tempfile::tempdir().unwrap();
    if quick {
        let db = dir.path().join("quick.db");
        let rate = records_per_second(db.to_str().unwrap(), 2, 5);
        assert!(rate > 0.0);
        return;
    }

    let runs = 3;
    let one = station_seconds(1, runs, dir.path());
    let sixteen = station_seconds(16, runs, dir.path());
    println!(
        "station, sim at {BAUD} baud, recipe self-test + rand-health 262144 bits + sign-check 2048 (median of {runs}):"
    );
    println!("  1 device:   {one:.2} s");
    println!(
        "  16 devices: {sixteen:.2} s  ({:.2}x one device)",
        sixteen / one
    );

    let sqlite = dir.path().join("records.db");
    let sqlite = sqlite.to_str().unwrap();
    println!("step records per second (2 transactions each):");
    println!(
        "  SQLite, 1 writer:   {:.0}/s",
        records_per_second(sqlite, 1, 500)
    );
    println!(
        "  SQLite, 16 writers: {:.0}/s",
        records_per_second(sqlite, 16, 100)
    );
    match std::env::var("UCRYPTO_TEST_POSTGRES") {
        Ok(admin) => {
            let name = format!("ucrypto_bench_{}", std::process::id());
            let mut client = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            client
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .unwrap();
            let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
            println!(
                "  PostgreSQL, 1 writer:   {:.0}/s",
                records_per_second(&url, 1, 500)
            );
            println!(
                "  PostgreSQL, 16 writers: {:.0}/s",
                records_per_second(&url, 16, 100)
            );
            client
                .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .unwrap();
        }
        Err(_) => println!("  PostgreSQL: SKIPPED: UCRYPTO_TEST_POSTGRES not set"),
    }
}
