//! The line's page in a real browser: headless Chromium, driven through chromedriver's WebDriver
//! API, against `station serve` (records) and `station run --serve` (a running station), checks
//! that the page shows the devices, that it follows a run without being reloaded, that a
//! device's strings are shown as text, and that the rendered page is not blank.
//!
//! Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them); without them each
//! test prints SKIPPED and passes.
mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use common::{temp_dir, ucrypto, Sim};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long the page may take to show a state before the test gives up (a guard against a hang,
/// not a speed check: every wait ends as soon as the state is there).
const PATIENCE: Duration = Duration::from_secs(120);

const RECIPE: &str = "[[step]]
kind = \"self-test\"
[[step]]
kind = \"rand-health\"
bits = 1048576
";

fn browser_missing() -> bool {
    let missing = !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists();
    if missing {
        println!(
            "SKIPPED: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium \
             chromium-driver): the page was not tested in a browser"
        );
    }
    missing
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A headless Chromium session through chromedriver.
struct Browser {
    base: String,
    session: String,
    _driver: Running,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Running(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver never answered");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = temp_dir();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
        }}});
        let answer = post(&format!("{base}/session"), &capabilities);
        let session = answer["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_string();
        Browser {
            base,
            session,
            _driver: driver,
            _profile: profile,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/session/{}{path}", self.base, self.session)
    }

    fn open(&self, url: &str) {
        post(&self.url("/url"), &json!({ "url": url }));
    }

    /// Runs `script` (a function body) in the page and returns its value.
    fn run(&self, script: &str) -> Value {
        post(
            &self.url("/execute/sync"),
            &json!({ "script": script, "args": [] }),
        )
    }

    /// The page's state: devices (port, state, device id, step, text), stations, the
    /// connection, updates received, and the marker a reload would lose.
    fn floor(&self) -> Value {
        self.run(
            "const rows = [...document.querySelectorAll('#devices tbody tr')].map(r => ({
                 port: r.dataset.port, state: r.dataset.state, device: r.dataset.device || null,
                 kind: r.dataset.kind || null, text: r.textContent }));
             return {
                 rows,
                 stations: [...document.querySelectorAll('#stations tbody tr')]
                     .map(r => r.dataset.station),
                 connection: document.getElementById('connection').dataset.state,
                 updates: Number(document.body.dataset.updates || 0),
                 marker: window.ucryptoTestMarker || null,
                 elements_in_cells: document.querySelectorAll('#devices td *:not(progress):not(span)').length,
             };",
        )
    }

    /// Waits until `ready` holds for the page's state, and returns that state.
    fn wait_for(&self, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let floor = self.floor();
            if ready(&floor) {
                return floor;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the page never showed {what}; it shows {floor:#}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The page as PNG.
    fn screenshot(&self) -> Vec<u8> {
        let answer: Value = ureq::get(&self.url("/screenshot"))
            .call()
            .expect("a screenshot")
            .body_mut()
            .read_json()
            .expect("JSON");
        base64::engine::general_purpose::STANDARD
            .decode(answer["value"].as_str().expect("base64 PNG"))
            .expect("base64")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&self.url("")).call();
    }
}

fn post(url: &str, body: &Value) -> Value {
    let mut answer = ureq::post(url)
        .send_json(body)
        .unwrap_or_else(|e| panic!("WebDriver {url}: {e}"));
    let value: Value = answer
        .body_mut()
        .read_json()
        .expect("WebDriver answers JSON");
    value["value"].clone()
}

/// Reads the page's address from `ucrypto station …`'s stderr, then keeps draining it.
fn page_address(child: &mut Child) -> String {
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut line = String::new();
    loop {
        line.clear();
        let read = stderr.read_line(&mut line).expect("stderr");
        assert!(read > 0, "the station ended without serving its page");
        if let Some(url) = line
            .trim()
            .strip_prefix("ucrypto: station: the line's page is at ")
        {
            let url = url.to_string();
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            return url;
        }
    }
}

fn rows(floor: &Value) -> &Vec<Value> {
    floor["rows"].as_array().expect("rows")
}

/// The screenshot is a rendered page, not an empty or unstyled one: many pixels differ from the
/// background, and the header's dark band (page.css) is there.
fn assert_rendered(png_bytes: &[u8], keep: &Path) {
    std::fs::write(keep, png_bytes).expect("the screenshot is kept");
    let decoder = png::Decoder::new(png_bytes);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    let channels = info.color_type.samples();
    let pixels = &pixels[..info.buffer_size()];
    let rgb: Vec<[u8; 3]> = pixels
        .chunks(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut counts = std::collections::HashMap::new();
    for p in &rgb {
        *counts.entry(*p).or_insert(0usize) += 1;
    }
    let background = counts.values().max().copied().unwrap_or(0);
    let other = rgb.len() - background;
    assert!(
        other * 20 > rgb.len(),
        "the screenshot ({}) is nearly blank: {other} of {} pixels differ from the background",
        keep.display(),
        rgb.len()
    );
    let header = rgb.iter().filter(|p| **p == [0x20, 0x24, 0x2a]).count();
    assert!(
        header * 100 > rgb.len(),
        "the screenshot ({}) has no header band: the page's stylesheet did not apply",
        keep.display()
    );
}

/// `station serve` follows the records: a station that runs after the page was opened appears
/// with its devices, each step's end shows, and the page is never reloaded.
#[test]
fn the_records_page_follows_a_run_without_reloading() {
    if browser_missing() {
        return;
    }
    let dir = temp_dir();
    let recipe = dir.path().join("recipe.toml");
    std::fs::write(&recipe, RECIPE).unwrap();
    let db = dir.path().join("line.db");
    let db = db.to_str().unwrap();
    let first = ucrypto()
        .args(["station", "run"])
        .arg(&recipe)
        .args(["--sim", "2", "--records", db, "--station-id", "bench-a"])
        .output()
        .unwrap();
    assert!(first.status.success(), "the first run failed");

    let mut server = ucrypto()
        .args([
            "station",
            "serve",
            "--records",
            db,
            "--listen",
            "127.0.0.1:0",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let url = page_address(&mut server);
    let _server = Running(server);

    let browser = Browser::start();
    browser.open(&url);
    let before = browser.wait_for("the first station's two devices done", |f| {
        rows(f).len() == 2 && rows(f).iter().all(|r| r["state"] == "done")
    });
    assert_eq!(before["stations"], json!(["bench-a"]));
    browser.run("window.ucryptoTestMarker = 'not reloaded'; return null;");

    let second = ucrypto()
        .args(["station", "run"])
        .arg(&recipe)
        .args(["--sim", "3", "--sim-first", "10", "--records", db])
        .args(["--station-id", "bench-b"])
        .output()
        .unwrap();
    assert!(second.status.success(), "the second run failed");
    let after = browser.wait_for("the second station's three devices done", |f| {
        rows(f)
            .iter()
            .filter(|r| r["text"].as_str().unwrap_or("").starts_with("bench-b"))
            .filter(|r| r["state"] == "done")
            .count()
            == 3
    });
    assert_eq!(after["marker"], "not reloaded", "the page was reloaded");
    assert_eq!(after["stations"], json!(["bench-a", "bench-b"]));
    assert!(after["updates"].as_u64().unwrap() >= 2);
    // The device ids are the virtual devices' own (the same as `ucrypto sim --seed 10..12`).
    let ids: Vec<&str> = rows(&after)
        .iter()
        .filter_map(|r| r["device"].as_str())
        .collect();
    assert_eq!(ids.len(), 5);

    // The search finds past devices, and the export is `records export`'s.
    let found = browser.run(&format!(
        "document.getElementById('search-text').value = '{}';
         document.getElementById('search-form').requestSubmit(); return null;",
        ids[0]
    ));
    assert!(found.is_null());
    let results = browser.wait_for_search(1);
    assert!(results.contains(ids[0]), "search results: {results}");
    let exported = browser.run(
        "const r = new XMLHttpRequest(); r.open('GET', '/export.csv', false); r.send();
         return r.responseText;",
    );
    let cli = ucrypto()
        .args(["records", "export", "--format", "csv", "--records", db])
        .output()
        .unwrap();
    assert_eq!(exported.as_str().unwrap().as_bytes(), &cli.stdout[..]);

    let shot = browser.screenshot();
    assert_rendered(
        &shot,
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("station-page-records.png"),
    );
}

impl Browser {
    /// Waits for the search to list `count` devices; returns the results' text.
    fn wait_for_search(&self, count: usize) -> String {
        let started = Instant::now();
        loop {
            let text = self.run(
                "const rows = document.querySelectorAll('#search-results tbody tr');
                 return [rows.length, document.getElementById('search-results').textContent];",
            );
            if text[0].as_u64() == Some(count as u64) {
                return text[1].as_str().unwrap_or("").to_string();
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the search never listed {count}: {text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// `station run --serve`: the page shows the running station's devices from its workers; a
/// board paused before its handshake shows as connecting, and once it goes on the page follows
/// it to done without a reload. A port name with markup in it is shown as text.
#[test]
fn the_running_station_page_updates_live() {
    if browser_missing() {
        return;
    }
    let dir = temp_dir();
    let recipe = dir.path().join("recipe.toml");
    std::fs::write(&recipe, RECIPE).unwrap();
    let db = dir.path().join("station.db");
    let sim = Sim::start(&[]);
    let pid = sim.pid() as libc::pid_t;
    let signal = |signal| assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill({pid})");
    // The board is paused until the page has seen it waiting: its handshake cannot finish
    // before then, whatever the machine's load.
    signal(libc::SIGSTOP);
    let marked_up = "/nonexistent/<b>bold</b>";
    let mut station = ucrypto()
        .args(["--timeout", "600", "station", "run"])
        .arg(&recipe)
        .args(["--ports", &format!("{},{marked_up}", sim.port)])
        .arg("--records")
        .arg(&db)
        .args(["--serve", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = page_address(&mut station);
    let mut station = Running(station);

    let browser = Browser::start();
    browser.open(&url);
    let waiting = browser.wait_for("the paused board connecting and the bad port failed", |f| {
        let row = |port: &str| rows(f).iter().find(|r| r["port"] == port).cloned();
        row(&sim.port).is_some_and(|r| r["state"] == "connecting")
            && row(marked_up).is_some_and(|r| r["state"] == "failed")
    });
    assert_eq!(rows(&waiting).len(), 2);
    let failed = rows(&waiting)
        .iter()
        .find(|r| r["port"] == marked_up)
        .unwrap();
    assert!(
        failed["text"]
            .as_str()
            .unwrap()
            .contains("cannot open /nonexistent/<b>bold</b>"),
        "the failure's reason is shown as text: {failed}"
    );
    assert_eq!(
        waiting["elements_in_cells"], 0,
        "markup from a device became HTML"
    );
    browser.run("window.ucryptoTestMarker = 'not reloaded'; return null;");
    let shot = browser.screenshot();

    signal(libc::SIGCONT);
    let done = browser.wait_for("the board done and the run finished", |f| {
        rows(f)
            .iter()
            .any(|r| r["port"] == sim.port.as_str() && r["state"] == "done")
            && f["connection"] == "finished"
    });
    assert_eq!(done["marker"], "not reloaded", "the page was reloaded");
    let board = rows(&done)
        .iter()
        .find(|r| r["port"] == sim.port.as_str())
        .unwrap();
    assert!(
        board["device"].is_string(),
        "the board's id is shown: {board}"
    );
    assert!(
        board["text"].as_str().unwrap().contains("all 2 done"),
        "{board}"
    );
    let status = station.0.wait().unwrap();
    // One of the two devices failed (the port that does not exist): exit code 6.
    assert_eq!(status.code(), Some(6));
    assert_rendered(
        &shot,
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("station-page-live.png"),
    );
}

/// The page's access rules, without a browser: a listener reachable from other machines needs a
/// token from the environment or a file, and then every request must carry it.
#[test]
fn the_page_needs_a_token_beyond_loopback() {
    let dir = temp_dir();
    let recipe = dir.path().join("recipe.toml");
    std::fs::write(&recipe, RECIPE).unwrap();
    let db = dir.path().join("line.db");
    let db = db.to_str().unwrap();
    let made = ucrypto()
        .args(["station", "run"])
        .arg(&recipe)
        .args(["--sim", "1", "--records", db])
        .output()
        .unwrap();
    assert!(made.status.success());

    let refused = ucrypto()
        .args(["station", "serve", "--records", db, "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    common::assert_exit(&refused, 2);
    assert!(
        common::stderr(&refused).contains("--token env:VAR"),
        "{}",
        common::stderr(&refused)
    );
    let literal = ucrypto()
        .args(["station", "serve", "--records", db, "--listen", "0.0.0.0:0"])
        .args(["--token", "0123456789abcdef0123"])
        .output()
        .unwrap();
    common::assert_exit(&literal, 2);
    assert!(common::stderr(&literal).contains("never goes on the command line"));
    let missing = ucrypto()
        .args(["station", "serve", "--records", "no-such.db"])
        .output()
        .unwrap();
    common::assert_exit(&missing, 2);

    let token = "5f0c1d7e9a2b4c6d8e0f1a3b5c7d9e1f";
    let mut server = ucrypto()
        .args(["station", "serve", "--records", db, "--listen", "0.0.0.0:0"])
        .args(["--token", "env:PAGE_TOKEN"])
        .env("PAGE_TOKEN", token)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = page_address(&mut server);
    let _server = Running(server);
    let port = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let api = format!("http://127.0.0.1:{port}/api/floor");
    let status = |request: ureq::RequestBuilder<ureq::typestate::WithoutBody>| match request.call()
    {
        Ok(response) => response.status().as_u16(),
        Err(ureq::Error::StatusCode(code)) => code,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status(ureq::get(&api)), 401);
    assert_eq!(
        status(ureq::get(&api).header("Authorization", "Bearer wrong-token-0123456789")),
        401
    );
    assert_eq!(
        status(ureq::get(&api).header("Authorization", &format!("Bearer {token}"))),
        200
    );
    assert_eq!(
        status(ureq::get(&api).header("Cookie", &format!("ucrypto_station_token={token}"))),
        200
    );
    // Read-only: nothing but GET.
    let post = ureq::post(&api)
        .header("Authorization", &format!("Bearer {token}"))
        .send_empty();
    assert!(
        matches!(post, Err(ureq::Error::StatusCode(405))),
        "{post:?}"
    );
}
