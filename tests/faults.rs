//! Over a thousand mixed commands (rand, aes, sign) against `ucrypto sim --faults ...`: every
//! result must be exactly right or a clean failure (documented exit code, nothing on stdout, no
//! file left behind), and no command may hang. Expected outputs come from `openssl`.
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::*;

/// Commands per fault kind; five kinds make 1050.
const COMMANDS_PER_KIND: usize = 210;

/// Sims (each with its own client thread) per fault kind: the commands mostly wait on the line,
/// so running several at once keeps the test short.
const SIMS_PER_KIND: usize = 3;

/// A command still running after this has hung (a healthy one takes well under a second, a
/// failing one a few retries of its `--timeout`).
const HANG_LIMIT: Duration = Duration::from_secs(30);

const AES_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const AES_KEY_256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
const IV: &str = "000102030405060708090a0b0c0d0e0f";

/// One way the link is damaged, served by its own `ucrypto sim`.
struct FaultKind {
    name: &'static str,
    spec: &'static str,
    /// `--timeout` of the commands: short, so failures are quick.
    timeout: &'static str,
}

const KINDS: [FaultKind; 5] = [
    FaultKind {
        name: "drop",
        spec: "drop=0.0002,seed=11",
        timeout: "0.3",
    },
    FaultKind {
        name: "flip",
        spec: "flip=0.0002,seed=12",
        timeout: "0.3",
    },
    FaultKind {
        name: "reset-after=7",
        spec: "reset-after=7,seed=13",
        timeout: "0.3",
    },
    // A slow device with a short --timeout: each request's own device time (at least 0.5 s)
    // absorbs the delay, so these must all succeed.
    FaultKind {
        name: "delay=2 (timeout 0.05)",
        spec: "delay=2,seed=14",
        timeout: "0.05",
    },
    FaultKind {
        name: "all at once",
        spec: "drop=0.0002,flip=0.0002,delay=2,reset-after=11,seed=15",
        timeout: "0.3",
    },
];

/// A command and the one output that counts as right.
#[derive(Clone)]
struct Case {
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    expect: Expect,
}

#[derive(Clone)]
enum Expect {
    /// Exactly these bytes.
    Bytes(Vec<u8>),
    /// Random: this many bytes as raw, or this many hex digits and a newline.
    RandomHex(usize),
    RandomRaw(usize),
}

fn data(len: usize, salt: u8) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8 ^ salt).collect()
}

/// The AES jobs: (mode, key, padded, length), each with its `openssl enc` output.
fn aes_cases(dir: &Path) -> Vec<Case> {
    let jobs: [(&str, &str, bool, usize); 8] = [
        ("ecb", AES_KEY, true, 45),
        ("cbc", AES_KEY, true, 100),
        ("cbc", AES_KEY_256, false, 64),
        ("cfb8", AES_KEY, false, 33),
        ("cfb128", AES_KEY_256, false, 50),
        ("ctr", AES_KEY, false, 1000),
        // Two chunks: a stream that may be resumed mid-way.
        ("ctr", AES_KEY_256, false, 5000),
        ("cbc", AES_KEY, true, 4000),
    ];
    let mut cases = Vec::new();
    for (i, (mode, key, padded, len)) in jobs.into_iter().enumerate() {
        let plain = data(len, i as u8);
        let bits = key.len() * 4;
        let cipher_name = match mode {
            "cfb128" => format!("-aes-{bits}-cfb"),
            m => format!("-aes-{bits}-{m}"),
        };
        let mut enc = vec!["enc", cipher_name.as_str(), "-K", key];
        if mode != "ecb" {
            enc.extend(["-iv", IV]);
        }
        if !padded {
            enc.push("-nopad");
        }
        let cipher = openssl_run(&enc, &plain);
        let mut base: Vec<String> = ["aes", "--mode", mode, "--key", key]
            .map(String::from)
            .to_vec();
        match mode {
            "ecb" => {}
            "ctr" => base.extend(["--counter".into(), IV.into()]),
            _ => base.extend(["--iv".into(), IV.into()]),
        }
        if padded {
            base.extend(["--pad".into(), "pkcs7".into()]);
        }
        // Encrypt from stdin, and decrypt from a file: both directions, both input paths.
        let cipher_file = dir.join(format!("aes{i}.bin"));
        std::fs::write(&cipher_file, &cipher).unwrap();
        let mut encrypt = base.clone();
        encrypt.insert(1, "encrypt".into());
        cases.push(Case {
            args: encrypt,
            stdin: Some(plain.clone()),
            expect: Expect::Bytes(cipher),
        });
        let mut decrypt = base;
        decrypt.insert(1, "decrypt".into());
        decrypt.extend(["-i".into(), cipher_file.display().to_string()]);
        cases.push(Case {
            args: decrypt,
            stdin: None,
            expect: Expect::Bytes(plain),
        });
    }
    cases
}

/// Signatures of a few messages with one 2048-bit key, from `openssl dgst -sha256 -sign`.
fn sign_cases(dir: &Path) -> Vec<Case> {
    let key = rsa_key(&dir.join("k2048.pem"));
    let key = key.as_str();
    (0..4)
        .map(|i| {
            let message = format!("provisioning record {i}: {}", "x".repeat(i * 40));
            let signature = openssl_run(&["dgst", "-sha256", "-sign", key], message.as_bytes());
            Case {
                args: ["sign", "-k", key, "-m", &message, "--format", "hex"]
                    .map(String::from)
                    .to_vec(),
                stdin: None,
                expect: Expect::Bytes(format!("{}\n", hex::encode(signature)).into_bytes()),
            }
        })
        .collect()
}

/// Random bits, as hex on stdout and raw into a file.
fn rand_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for bits in [32u64, 100, 2048, 40_000] {
        let bytes = bits.div_ceil(32) as usize * 4;
        cases.push(Case {
            args: vec!["rand".into(), bits.to_string()],
            stdin: None,
            expect: Expect::RandomHex(bytes * 2),
        });
        cases.push(Case {
            args: vec![
                "rand".into(),
                bits.to_string(),
                "--format".into(),
                "raw".into(),
            ],
            stdin: None,
            expect: Expect::RandomRaw(bytes),
        });
    }
    cases
}

#[derive(Default, Clone)]
struct Tally {
    commands: usize,
    ok: usize,
    /// Successes that needed a retry, a resumed stream or a skipped damaged frame.
    recovered: usize,
    clean_failures: BTreeMap<i32, usize>,
    /// The error lines of clean failures, by command and message.
    reasons: BTreeMap<String, usize>,
    wrong: Vec<String>,
    hangs: Vec<String>,
    partial_files: Vec<String>,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.commands += other.commands;
        self.ok += other.ok;
        self.recovered += other.recovered;
        for (code, n) in &other.clean_failures {
            *self.clean_failures.entry(*code).or_default() += n;
        }
        for (reason, n) in &other.reasons {
            *self.reasons.entry(reason.clone()).or_default() += n;
        }
        self.wrong.extend(other.wrong.iter().cloned());
        self.hangs.extend(other.hangs.iter().cloned());
        self.partial_files
            .extend(other.partial_files.iter().cloned());
    }

    fn failed(&self) -> usize {
        self.clean_failures.values().sum()
    }
}

/// The output of a command: what it wrote to `-o`, or its stdout.
fn produced(out: &Output, file: Option<&Path>) -> Option<Vec<u8>> {
    match file {
        Some(f) => std::fs::read(f).ok(),
        None => Some(out.stdout.clone()),
    }
}

fn is_right(expect: &Expect, got: &[u8]) -> bool {
    match expect {
        Expect::Bytes(want) => got == want.as_slice(),
        Expect::RandomRaw(len) => got.len() == *len,
        Expect::RandomHex(digits) => {
            got.len() == digits + 1
                && got.ends_with(b"\n")
                && got[..*digits]
                    .iter()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        }
    }
}

/// Runs `count` commands, cycling through `cases` from `first`, against one sim with `kind`'s
/// faults (its generator seeded by `worker`).
fn run_kind(kind: &FaultKind, worker: usize, cases: &[Case], count: usize) -> Tally {
    let spec = format!("{},seed={}", kind.spec, 100 + worker);
    let sim = Sim::start(&["--seed", "5", "--faults", &spec]);
    let out_dir = temp_dir();
    let mut tally = Tally::default();
    for i in 0..count {
        let case = &cases[(i + worker * 7) % cases.len()];
        // Every other command writes with -o, to check that a failure leaves no file.
        let file: Option<PathBuf> = (i % 2 == 1).then(|| out_dir.path().join(format!("out{i}")));
        let mut cmd = ucrypto();
        // -v: a success that needed a retry says so on stderr, and is counted as recovered.
        cmd.args(["-v", "--port", &sim.port, "--baud", "4000000"])
            .args(["--timeout", kind.timeout])
            .args(&case.args);
        if let Some(f) = &file {
            cmd.arg("-o").arg(f);
        }
        let what = format!("#{i} {}", case.args[..case.args.len().min(4)].join(" "));
        tally.commands += 1;
        let Some(out) = run_bounded(&mut cmd, case.stdin.as_deref(), HANG_LIMIT) else {
            tally.hangs.push(what);
            for f in files_in(out_dir.path()) {
                std::fs::remove_file(f).unwrap();
            }
            continue;
        };
        let left = files_in(out_dir.path());
        match out.status.code() {
            Some(0) => {
                let got = produced(&out, file.as_deref());
                if got.is_some_and(|got| is_right(&case.expect, &got))
                    && (file.is_none() || out.stdout.is_empty())
                {
                    tally.ok += 1;
                    let log = stderr(&out);
                    if log.contains("retrying")
                        || log.contains("damaged")
                        || log.contains("skipped")
                    {
                        tally.recovered += 1;
                    }
                } else {
                    tally.wrong.push(format!("{what}: {}", stderr(&out)));
                }
            }
            Some(code @ (1 | 3 | 4)) => {
                let err = stderr(&out);
                if !out.stdout.is_empty() {
                    tally.wrong.push(format!("{what}: exit {code} with output"));
                } else if !err.lines().last().unwrap_or("").contains("ucrypto: error:") {
                    tally
                        .wrong
                        .push(format!("{what}: exit {code}, no message: {err}"));
                } else {
                    *tally.clean_failures.entry(code).or_default() += 1;
                    let reason = err
                        .lines()
                        .last()
                        .unwrap_or("")
                        .replace("ucrypto: error: ", "");
                    *tally
                        .reasons
                        .entry(format!("{} {code}: {reason}", case.args[0]))
                        .or_default() += 1;
                }
                if !left.is_empty() {
                    tally.partial_files.push(format!("{what}: {left:?}"));
                }
            }
            other => tally.wrong.push(format!(
                "{what}: exit {other:?}, not a transport or device failure: {}",
                stderr(&out)
            )),
        }
        for f in left {
            std::fs::remove_file(f).unwrap();
        }
    }
    tally
}

#[test]
fn a_thousand_commands_under_faults_are_right_or_fail_cleanly() {
    let fixtures = temp_dir();
    let mut cases = Vec::new();
    let (rand, aes, sign) = (
        rand_cases(),
        aes_cases(fixtures.path()),
        sign_cases(fixtures.path()),
    );
    // Interleaved so every stretch of commands has each kind: 8 rand, 16 aes, 4 sign.
    for i in 0..16 {
        cases.push(&aes[i]);
        if i % 2 == 0 {
            cases.push(&rand[i / 2]);
        }
        if i % 4 == 0 {
            cases.push(&sign[i / 4]);
        }
    }
    let cases: Vec<Case> = cases.into_iter().cloned().collect();

    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let workers: Vec<Vec<_>> = KINDS
            .iter()
            .map(|kind| {
                (0..SIMS_PER_KIND)
                    .map(|worker| {
                        let cases = &cases;
                        s.spawn(move || {
                            run_kind(kind, worker, cases, COMMANDS_PER_KIND / SIMS_PER_KIND)
                        })
                    })
                    .collect()
            })
            .collect();
        workers
            .into_iter()
            .map(|kind| {
                let mut sum = Tally::default();
                for w in kind {
                    sum.add(&w.join().unwrap());
                }
                sum
            })
            .collect()
    });

    println!(
        "\n| fault | spec | --timeout | commands | ok | of which recovered | clean failures (exit: count) | wrong | hangs | partial files |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut total = Tally::default();
    for (kind, t) in KINDS.iter().zip(&tallies) {
        let codes: Vec<String> = t
            .clean_failures
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        println!(
            "| {} | `{}` | {} | {} | {} | {} | {} ({}) | {} | {} | {} |",
            kind.name,
            kind.spec,
            kind.timeout,
            t.commands,
            t.ok,
            t.recovered,
            t.failed(),
            codes.join(", "),
            t.wrong.len(),
            t.hangs.len(),
            t.partial_files.len()
        );
        total.add(t);
    }
    println!(
        "| total | | | {} | {} | {} | {} | {} | {} | {} |\n",
        total.commands,
        total.ok,
        total.recovered,
        total.failed(),
        total.wrong.len(),
        total.hangs.len(),
        total.partial_files.len()
    );

    println!("Clean failures by command, exit code and message:");
    for (reason, n) in &total.reasons {
        println!("  {n:4} × {reason}");
    }
    assert!(total.commands >= 1000);
    assert!(total.wrong.is_empty(), "wrong outputs: {:#?}", total.wrong);
    assert!(total.hangs.is_empty(), "hangs: {:#?}", total.hangs);
    assert!(
        total.partial_files.is_empty(),
        "partial files: {:#?}",
        total.partial_files
    );
    // The faults must be survivable, not just survived by failing: most commands succeed under
    // each kind, so the retries and stream resumption were exercised.
    for (kind, t) in KINDS.iter().zip(&tallies) {
        assert!(
            t.ok * 2 > t.commands,
            "{}: only {} of {} succeeded",
            kind.name,
            t.ok,
            t.commands
        );
        if kind.spec.contains("drop") || kind.spec.contains("reset") {
            assert!(t.recovered > 0, "{}: no command met a fault", kind.name);
        }
    }
}

/// Regression: a device that restarted between the message and `SignHashed` answered "no such
/// hashing session" and `ucrypto sign` ended with exit 1; now it signs the host's digest instead.
#[test]
fn a_signature_survives_a_device_restart_mid_message() {
    let dir = temp_dir();
    let key = rsa_key(&dir.path().join("k2048.pem"));
    // Hello, HashStart, HashData, restart: the SignHashed that follows finds no session. The
    // count runs on across commands, so later ones meet the restart at other steps.
    let sim = Sim::start(&["--faults", "reset-after=3,seed=1"]);
    for i in 0..6 {
        let message = format!("restart {i}");
        let out = sim.run(&[
            "--timeout",
            "0.3",
            "sign",
            "-k",
            &key,
            "-m",
            &message,
            "--format",
            "hex",
        ]);
        assert_exit(&out, 0);
        let want = openssl_run(&["dgst", "-sha256", "-sign", &key], message.as_bytes());
        assert_eq!(stdout(&out).trim_end(), hex::encode(want), "{message}");
    }
}
