//! Shared helpers of the end-to-end tests: run the built `ucrypto`, and serve a virtual device on
//! a pseudo-terminal with `ucrypto sim`.
#![allow(dead_code)]

pub mod firmware_image;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ucrypto")
}

/// A `ucrypto` command with a clean environment (no `UCRYPTO_PORT` from the caller).
pub fn ucrypto() -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_remove("UCRYPTO_PORT").stdin(Stdio::null());
    cmd
}

/// Runs `ucrypto ARGS...` and returns its output.
pub fn run(args: &[&str]) -> Output {
    ucrypto().args(args).output().expect("ucrypto runs")
}

/// `ucrypto [--json] station run RECIPE --sim N --records RECORDS EXTRA…`.
pub fn station_on_sims(
    json: bool,
    recipe: &str,
    sims: usize,
    records: &str,
    extra: &[&str],
) -> Output {
    let sims = sims.to_string();
    let mut args = if json { vec!["--json"] } else { Vec::new() };
    args.extend([
        "station",
        "run",
        recipe,
        "--sim",
        &sims,
        "--records",
        records,
    ]);
    args.extend(extra);
    run(&args)
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, showing stderr when it differs.
#[track_caller]
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code; stdout: {}; stderr: {}",
        stdout(out),
        stderr(out)
    );
}

/// `ucrypto sim` running on a pseudo-terminal; killed when dropped.
pub struct Sim {
    child: Child,
    pub port: String,
}

impl Sim {
    /// Starts `ucrypto sim EXTRA...` and waits for the path it prints on its first line.
    pub fn start(extra: &[&str]) -> Sim {
        Self::start_with_log(extra, Stdio::null())
    }

    /// As [`Sim::start`], with the sim's own log (`-v`) going to `log`.
    pub fn start_logging(extra: &[&str], log: &std::path::Path) -> Sim {
        let file = std::fs::File::create(log).expect("the sim's log file");
        Self::start_with_log(&[&["-v"][..], extra].concat(), Stdio::from(file))
    }

    fn start_with_log(extra: &[&str], stderr: Stdio) -> Sim {
        let mut child = ucrypto()
            .arg("sim")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("ucrypto sim starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("ucrypto sim prints its port");
        let port = line.trim().to_string();
        assert!(port.starts_with("/dev/"), "sim printed {port:?}");
        Sim { child, port }
    }

    /// Runs `ucrypto --port <this sim> ARGS...`.
    pub fn run(&self, args: &[&str]) -> Output {
        ucrypto()
            .args(["--port", &self.port])
            .args(args)
            .output()
            .expect("ucrypto runs")
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A pseudo-terminal in raw mode for a fake device: (our side, its terminal side, the path a
/// client opens). Keep the terminal side open while the device serves.
pub fn raw_pty() -> (std::fs::File, std::os::fd::OwnedFd, String) {
    let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
    let path = nix::unistd::ttyname(&pty.slave)
        .expect("the terminal's name")
        .display()
        .to_string();
    let mut termios = nix::sys::termios::tcgetattr(&pty.slave).expect("terminal settings");
    nix::sys::termios::cfmakeraw(&mut termios);
    nix::sys::termios::tcsetattr(&pty.slave, nix::sys::termios::SetArg::TCSANOW, &termios)
        .expect("raw mode");
    (std::fs::File::from(pty.master), pty.slave, path)
}

/// A fresh temporary directory, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

/// Files in `dir` (to check that nothing partial was left behind).
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable dir")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

/// Runs `cmd` with `stdin` fed to it, killing it after `limit`: `None` means it hung. Output is
/// read on threads so a chatty command cannot block on a full pipe.
pub fn run_bounded(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    limit: std::time::Duration,
) -> Option<Output> {
    use std::io::{Read, Write};
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ucrypto starts");
    let input = stdin.map(<[u8]>::to_vec);
    let mut pipe_in = child.stdin.take();
    let feeder = std::thread::spawn(move || {
        if let (Some(pipe), Some(bytes)) = (pipe_in.as_mut(), input) {
            // A command that fails early closes its stdin: that is not our error.
            let _ = pipe.write_all(&bytes);
        }
    });
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for ucrypto") {
            break Some(status);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let _ = feeder.join();
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    status.map(|status| Output {
        status,
        stdout,
        stderr,
    })
}

/// A fake device on a pseudo-terminal that answers every frame with `answer(request_seq)`.
pub struct FakeDevice {
    pub path: String,
    _thread: std::thread::JoinHandle<()>,
}

impl FakeDevice {
    pub fn start(answer: fn(u32) -> Vec<u8>) -> FakeDevice {
        let (mut master, slave, path) = raw_pty();
        let thread = std::thread::spawn(move || {
            let _keep_open = slave;
            let mut decoder: ucrypto_protocol::FrameDecoder = ucrypto_protocol::FrameDecoder::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut master, &mut buf) {
                let mut rest = &buf[..n];
                while !rest.is_empty() {
                    let (used, frame) = decoder.push(rest);
                    rest = &rest[used..];
                    if let Some(Ok(body)) = frame {
                        let seq = postcard::from_bytes::<ucrypto_protocol::RequestPrefix>(body)
                            .map(|p| p.seq)
                            .unwrap_or(0);
                        if std::io::Write::write_all(&mut master, &answer(seq)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        FakeDevice {
            path,
            _thread: thread,
        }
    }
}

/// Runs `openssl ARGS` with `stdin` and returns its stdout; fails the test if it fails.
pub fn openssl_run(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let out = run_bounded(
        Command::new("openssl").args(args),
        Some(stdin),
        std::time::Duration::from_secs(120),
    )
    .expect("openssl finishes");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A new 2048-bit RSA key from `openssl genpkey` (PKCS#8 PEM) at `path`, mode 0600.
pub fn rsa_key(path: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let key = path.display().to_string();
    let args = [
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &key,
    ];
    openssl_run(&args, b"");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    key
}

/// Writes `key` (a PEM file) to `out` as encrypted PKCS#8 (AES-256-CBC, PBKDF2) under `pass`.
pub fn encrypted_pkcs8(key: &str, out: &str, pass: &str) {
    let pass = format!("pass:{pass}");
    let args = [
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-in",
        key,
        "-out",
        out,
        "-passout",
        &pass,
    ];
    openssl_run(&args, b"");
}
