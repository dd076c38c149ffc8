//! `ucrypto rand BITS`: Pycom's `crypto.getrandbits`, any size, health-tested before output.
use std::collections::VecDeque;
use std::time::Duration;

use zeroize::Zeroize;

use crate::progress::progress_bar;
use ucrypto_protocol::{Command, RequestBody, ResponseBody, MAX_RANDOM_WORDS};

use crate::args::{GlobalArgs, RandArgs};
use crate::client::MAX_RETRIES;
use crate::commands::{add_device_fields, commit_with_json, MAX_JSON_INLINE};
use crate::entropy_mix::mix_host_entropy;
use crate::error::{Error, Result};
use crate::output::{Format, Output};

/// Requests in flight at once, so the line never idles while the host waits.
const WINDOW: usize = 4;

pub fn run(global: &GlobalArgs, args: &RandArgs) -> Result<()> {
    if args.bits == 0 {
        return Err(Error::input(
            "BITS must be at least 1 (it is rounded up to a multiple of 32)",
        ));
    }
    let words = args.bits.div_ceil(32);
    let bytes = words * 4;
    let to_stdout = args.output.as_deref().is_none_or(|p| p.as_os_str() == "-");
    if global.json && to_stdout {
        if args.format == Format::Raw {
            return Err(Error::input(
                "raw bytes cannot go in JSON: use --format hex or base64, or -o FILE",
            ));
        }
        if bytes > MAX_JSON_INLINE {
            return Err(Error::input(format!(
                "{bytes} bytes is too much to inline in JSON: write it with -o FILE"
            )));
        }
    }

    let mut client = crate::connect(global)?;
    if !client.info().raw_capabilities.supports(Command::Random) {
        return Err(Error::Unsupported(
            "this device does not offer random numbers".into(),
        ));
    }
    let mut output = Output::create(args.output.as_deref(), args.format)?;
    let progress = progress_bar(bytes);

    // Pipelined: up to WINDOW requests in flight; answers are checked in request order. Random
    // requests are safe to repeat: when answers are lost on the line, everything in flight is
    // asked for again (a late answer to a lost request is skipped, never used twice).
    let mut in_flight: VecDeque<(u32, usize, Duration)> = VecDeque::new();
    let mut unrequested = words;
    let mut retries = 0;
    let mut written = 0u64;
    let mut chunk = Vec::new();
    while unrequested > 0 || !in_flight.is_empty() {
        while in_flight.len() < WINDOW && unrequested > 0 {
            let n = unrequested.min(u64::from(MAX_RANDOM_WORDS)) as u16;
            let body = RequestBody::Random { words: n };
            let wait = client.wait_for(&body);
            let seq = client.send(&body)?;
            in_flight.push_back((seq, usize::from(n) * 4, wait));
            unrequested -= u64::from(n);
        }
        let (seq, expected, wait) = *in_flight.front().expect("a request is in flight");
        let received = client.receive(seq, wait, |body| match body {
            ResponseBody::Random { data } if data.len() == expected => {
                chunk.clear();
                chunk.extend_from_slice(data);
                Ok(())
            }
            ResponseBody::Random { data } => Err(Error::Verification(format!(
                "the device returned {} random bytes where {expected} were asked for",
                data.len()
            ))),
            other => Err(Error::Verification(format!(
                "the device answered a random request with {other:?}"
            ))),
        });
        match received {
            Ok(()) => {
                // Tested over the whole connection (the client's state), then mixed, if asked.
                client
                    .random_health()
                    .feed(&chunk)
                    .map_err(|failure| Error::Verification(failure.to_string()))?;
                if args.mix_host_entropy {
                    mix_host_entropy(&mut chunk, written)?;
                }
                output.write(&chunk)?;
                written += chunk.len() as u64;
                chunk.zeroize();
                in_flight.pop_front();
                progress.inc(expected as u64);
                retries = 0;
            }
            Err(e) if e.is_retryable() && retries < MAX_RETRIES => {
                retries += 1;
                client.note_retry(&e);
                unrequested += in_flight
                    .drain(..)
                    .map(|(_, n, _)| n as u64 / 4)
                    .sum::<u64>();
            }
            Err(e) => return Err(e),
        }
    }
    progress.finish_and_clear();

    let tested = client.random_health().tested();
    let info = client.info();
    if !global.json {
        return output.commit();
    }
    let mut json = serde_json::json!({
        "command": "rand",
        "bits_requested": args.bits,
        "bits": words * 32,
        "bytes": bytes,
        "format": args.format,
        "deterministic": info.deterministic(),
        "health_tests": "passed",
        "health_tested_bytes": tested,
        "host_entropy_mixed": args.mix_host_entropy,
    });
    add_device_fields(&mut json, info);
    commit_with_json(output, json, "data")
}
