//! `ucrypto bench aes|sign` (and `bench hash`, in `hash`): the speed of the connected device and its link, for
//! docs/performance.md. Every result is checked on the host, as the commands themselves do.
use std::io::Read;
use std::time::Instant;

use ucrypto_protocol::{AesDirection, AesMode};
use zeroize::Zeroizing;

use crate::args::{BenchAesArgs, BenchSignArgs, GlobalArgs};
use crate::error::{Error, Result};
use crate::key_choice::ChosenKey;
use crate::output::print_json;
use crate::output::print_line;
use ucrypto::operations::aes_stream::{self, mode_name, AesJob};
use ucrypto::progress::NoProgress;

/// Streams generated data through an AES session and reports the goodput, against the line's
/// capacity when `--baud` names one.
pub fn aes(global: &GlobalArgs, args: &BenchAesArgs) -> Result<()> {
    let mode = AesMode::from(args.mode);
    let mut key = Zeroizing::new(vec![0u8; usize::from(args.bits / 8)]);
    let mut iv = [0u8; 16];
    getrandom::fill(&mut key)
        .and_then(|()| getrandom::fill(&mut iv))
        .map_err(|e| Error::input(format!("the host has no random numbers for a key: {e}")))?;
    let job = AesJob {
        direction: AesDirection::Encrypt,
        mode,
        key: &key,
        iv: mode.needs_iv().then_some(iv),
        pkcs7: false,
        verify: !args.no_verify,
    };
    // ECB and CBC take whole blocks.
    let bytes = if mode.needs_whole_blocks() {
        args.bytes / 16 * 16
    } else {
        args.bytes
    };

    let mut client = crate::device::connect(global)?;
    let in_process = client.transport().line_rate().is_none();
    // The line's capacity in bytes per second: 8N1 puts ten bits on the wire per byte.
    let capacity = global.baud.filter(|_| !in_process).map(|baud| baud / 10);
    let mut input = Filler::new(bytes);
    let mut output_bytes = 0u64;
    let started = Instant::now();
    let summary = aes_stream::run(
        &mut client,
        &job,
        &mut input,
        &mut |data| {
            output_bytes += data.len() as u64;
            Ok(())
        },
        &mut NoProgress,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let goodput = summary.input_bytes as f64 / seconds;
    let share = capacity.map(|c| goodput / f64::from(c));
    let peak = peak_memory_bytes();
    let name = format!("aes-{}-{}", args.bits, mode_name(mode));

    if global.json {
        return print_json(&serde_json::json!({
            "command": "bench aes",
            "cipher": name,
            "bytes": summary.input_bytes,
            "chunks": summary.chunks,
            "seconds": seconds,
            "goodput_bytes_per_second": goodput,
            "line_bytes_per_second": capacity,
            "share_of_line": share,
            "verified": job.verify,
            "port": client.info().port,
            "virtual": client.info().virtual_device,
            "peak_memory_bytes": peak,
        }));
    }
    let mut lines = vec![
        format!(
            "{name} encrypt: {} bytes in {seconds:.2} s, {} chunks{}",
            summary.input_bytes,
            summary.chunks,
            if job.verify { ", each verified" } else { "" }
        ),
        format!(
            "goodput: {goodput:.0} B/s ({:.3} MiB/s)",
            goodput / 1048576.0
        ),
    ];
    match (capacity, share) {
        (Some(c), Some(share)) => lines.push(format!(
            "line: {} baud 8N1 = {c} B/s; goodput is {:.1}% of it",
            c * 10,
            share * 100.0
        )),
        _ if in_process => lines.push("line: none (the virtual device in this process)".into()),
        _ => lines.push("line: unknown (pass --baud N to compare with a UART's capacity)".into()),
    }
    if let Some(peak) = peak {
        lines.push(format!(
            "host peak memory: {:.1} MiB",
            peak as f64 / 1048576.0
        ));
    }
    debug_assert_eq!(output_bytes, summary.output_bytes);
    print_line(&lines.join("\n"))
}

/// `len` bytes of SplitMix64 output: cheap, reproducible data that is not all zeros.
pub(crate) struct Filler {
    left: u64,
    state: u64,
}

impl Filler {
    pub(crate) fn new(len: u64) -> Self {
        Self {
            left: len,
            state: 0x243f_6a88_85a3_08d3,
        }
    }
}

impl Read for Filler {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for piece in buf[..n].chunks_mut(8) {
            self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            let word = (z ^ (z >> 31)).to_le_bytes();
            piece.copy_from_slice(&word[..piece.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// The process's peak resident memory (`VmHWM` on Linux).
pub(crate) fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Signatures per second: SHA-256 digests signed one after the other.
pub fn sign(global: &GlobalArgs, args: &BenchSignArgs) -> Result<()> {
    if args.count == 0 {
        return Err(Error::input("--count must be at least 1"));
    }
    let chosen = ChosenKey::load(&args.key)?;
    let mut client = crate::device::connect(global)?;
    let mut key = chosen.resolve(&mut client)?;
    key.check_device(&client)?;
    // The key crosses the line once; each signature then carries only its digest.
    key.load_on_device(&mut client)?;
    // One signature first, so connection set-up is not measured.
    key.sign_digest(&mut client, [0; 32])?;
    let start = Instant::now();
    for i in 1..=args.count {
        let mut digest = [0u8; 32];
        digest[..4].copy_from_slice(&i.to_be_bytes());
        key.sign_digest(&mut client, digest)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let rate = f64::from(args.count) / seconds;
    let key_loaded = key.is_loaded();
    if let Err(e) = key.unload(&mut client) {
        log::warn!("the device did not confirm wiping the loaded key ({e}); it is wiped at the next connection or after the idle time");
    }
    let info = client.info();
    if global.json {
        return print_json(&serde_json::json!({
            "command": "bench sign",
            "key_bits": key.bits(),
            "signatures": args.count,
            "seconds": seconds,
            "signatures_per_second": rate,
            "key_loaded": key_loaded,
            "chip": info.chip.name(),
            "virtual": info.virtual_device,
            "port": info.port,
        }));
    }
    print_line(&format!(
        "{} signatures with a {}-bit key on {}{} via {}: {seconds:.2} s, {rate:.1} signatures/s",
        args.count,
        key.bits(),
        info.chip.name(),
        if info.virtual_device {
            " (virtual)"
        } else {
            ""
        },
        info.port
    ))
}
