//! Shared helpers of the end-to-end tests: run the built `ucrypto`, and serve a virtual device on
//! a pseudo-terminal with `ucrypto sim`.
#![allow(dead_code)]

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
        let mut child = ucrypto()
            .arg("sim")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
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
