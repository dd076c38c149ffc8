//! `ucrypto rand BITS`: Pycom's `crypto.getrandbits`, any size, health-tested before output.
use zeroize::Zeroizing;

use crate::args::{GlobalArgs, RandArgs};
use crate::error::{Error, Result};
use crate::output::{add_device_fields, commit_with_json, MAX_JSON_INLINE};
use crate::output::{Format, Output};
use crate::progress_bar::ProgressDisplay;
use ucrypto::entropy_mix::mix_host_entropy;

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

    let mut client = crate::device::connect(global)?;
    let mut output = Output::create(args.output.as_deref(), args.format)?;
    // The health tests run on the device's bytes inside `rand_into`, before any mixing.
    let mut written = 0u64;
    client.rand_into(
        args.bits,
        &mut |data| {
            if !args.mix_host_entropy {
                return output.write(data);
            }
            let mut mixed = Zeroizing::new(data.to_vec());
            mix_host_entropy(&mut mixed, written)?;
            written += mixed.len() as u64;
            output.write(&mixed)
        },
        &mut ProgressDisplay::default(),
    )?;

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
