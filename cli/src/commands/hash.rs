//! `ucrypto hash` and `ucrypto bench hash`: digests on the device's SHA accelerator (MicroPython's
//! `hashlib`, PyCrypto's `Crypto.Hash`), streamed in constant memory and recomputed on the host
//! before output.
use std::time::Instant;

use ucrypto_protocol::HashAlg;

use ucrypto::progress::NoProgress;

use crate::args::hash::{BenchHashArgs, HashArgs};
use crate::args::GlobalArgs;
use crate::commands::bench::{peak_memory_bytes, Filler};
use crate::error::{Error, Result};
use crate::output::{add_device_fields, commit_with_json, print_json, print_line, Format, Output};
use crate::progress_bar::ProgressDisplay;

fn warn_if_legacy(alg: HashAlg) {
    if alg == HashAlg::Sha1 {
        log::warn!("SHA-1 is legacy (collisions are practical): use it only where an old protocol requires it");
    }
}

pub fn run(global: &GlobalArgs, args: &HashArgs) -> Result<()> {
    let alg = HashAlg::from(args.alg);
    warn_if_legacy(alg);
    if global.json
        && args.format == Format::Raw
        && args.output.as_deref().is_none_or(|p| p.as_os_str() == "-")
    {
        return Err(Error::input(
            "raw bytes cannot go in JSON: use --format hex or base64, or -o FILE",
        ));
    }
    let verify = !args.no_verify;
    // The input opens before the device is touched: a missing file is bad input, nothing else.
    let file = match &args.input {
        Some(path) if path.as_os_str() != "-" => Some(
            std::fs::File::open(path)
                .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?,
        ),
        _ => None,
    };
    let mut client = crate::device::connect(global)?;
    let mut progress = ProgressDisplay::default();
    let digested = match (&args.message, file) {
        (Some(text), _) => client.digest(alg, &mut text.as_bytes(), verify, None, &mut progress)?,
        (None, Some(file)) => {
            let size = file.metadata().map(|m| m.len()).ok();
            client.digest(
                alg,
                &mut std::io::BufReader::with_capacity(1 << 16, file),
                verify,
                size,
                &mut progress,
            )?
        }
        (None, None) => client.digest(
            alg,
            &mut std::io::stdin().lock(),
            verify,
            None,
            &mut progress,
        )?,
    };
    if !digested.hashed_on_device {
        log::warn!("the line lost answers mid-stream: the host finished this digest itself");
    }
    let mut output = Output::create(args.output.as_deref(), args.format)?;
    output.write(&digested.digest)?;
    if !global.json {
        return output.commit();
    }
    let mut json = serde_json::json!({
        "command": "hash",
        "algorithm": alg.name(),
        "legacy": alg == HashAlg::Sha1,
        "bytes": digested.length,
        "hashed_on": if digested.hashed_on_device { "device" } else { "host" },
        "format": args.format,
        "verified": digested.verified,
    });
    add_device_fields(&mut json, client.info());
    commit_with_json(output, json, "digest")
}

/// Hashes generated data on the device and reports the goodput.
pub fn bench(global: &GlobalArgs, args: &BenchHashArgs) -> Result<()> {
    let alg = HashAlg::from(args.alg);
    warn_if_legacy(alg);
    let mut client = crate::device::connect(global)?;
    let in_process = client.transport().line_rate().is_none();
    let capacity = global.baud.filter(|_| !in_process).map(|baud| baud / 10);
    let started = Instant::now();
    let digested = client.digest(
        alg,
        &mut Filler::new(args.bytes),
        !args.no_verify,
        Some(args.bytes),
        &mut NoProgress,
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let goodput = digested.length as f64 / seconds;
    let share = capacity.map(|c| goodput / f64::from(c));
    let peak = peak_memory_bytes();
    if global.json {
        return print_json(&serde_json::json!({
            "command": "bench hash",
            "algorithm": alg.name(),
            "bytes": digested.length,
            "seconds": seconds,
            "goodput_bytes_per_second": goodput,
            "line_bytes_per_second": capacity,
            "share_of_line": share,
            "hashed_on": if digested.hashed_on_device { "device" } else { "host" },
            "verified": digested.verified,
            "port": client.info().port,
            "virtual": client.info().virtual_device,
            "peak_memory_bytes": peak,
        }));
    }
    let mut lines = vec![
        format!(
            "{}: {} bytes in {seconds:.2} s{}",
            alg.name(),
            digested.length,
            if digested.verified { ", verified" } else { "" }
        ),
        format!(
            "goodput: {goodput:.0} B/s ({:.3} MiB/s)",
            goodput / 1048576.0
        ),
    ];
    if let (Some(c), Some(share)) = (capacity, share) {
        lines.push(format!(
            "line: {} baud 8N1 = {c} B/s; goodput is {:.1}% of it",
            c * 10,
            share * 100.0
        ));
    }
    if let Some(peak) = peak {
        lines.push(format!(
            "host peak memory: {:.1} MiB",
            peak as f64 / 1048576.0
        ));
    }
    print_line(&lines.join("\n"))
}
