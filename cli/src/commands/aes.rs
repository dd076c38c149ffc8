//! `ucrypto aes encrypt|decrypt`: Pycom's `crypto.AES` on the device, streamed from a file or
//! stdin, every chunk verified on the host, the output released only once all of it is good.
use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::Path;

use ucrypto_protocol::{AesDirection, AesMode};

use crate::args::{AesArgs, GlobalArgs};
use crate::error::{Error, Result};
use crate::output::{add_device_fields, commit_with_json};
use crate::output::{Format, Output};
use crate::progress_bar::ProgressDisplay;
use ucrypto::operations::aes_stream::{self, mode_name, AesJob};
use ucrypto::progress::Progress;

/// The IV or counter block from `--iv` / `--counter`, each refused where the help says it does
/// not belong: `--iv` is for CBC and CFB, `--counter` for CTR, neither for ECB.
fn block_arg(
    mode: AesMode,
    iv: Option<[u8; 16]>,
    counter: Option<[u8; 16]>,
) -> Result<Option<[u8; 16]>> {
    let name = mode_name(mode);
    match (mode, iv, counter) {
        (AesMode::Ecb, None, None) => Ok(None),
        (AesMode::Ecb, iv, _) => Err(Error::input(format!(
            "--mode ecb takes no IV or counter: drop {}",
            if iv.is_some() { "--iv" } else { "--counter" }
        ))),
        (AesMode::Ctr, Some(_), _) => Err(Error::input(
            "--mode ctr takes --counter HEX (the initial counter block), not --iv",
        )),
        (AesMode::Ctr, None, counter) => Ok(counter),
        (_, _, Some(_)) => Err(Error::input(format!(
            "--counter is the initial counter block of --mode ctr; --mode {name} takes --iv HEX"
        ))),
        (_, iv, None) => Ok(iv),
    }
}

pub fn run(global: &GlobalArgs, args: &AesArgs) -> Result<()> {
    let mode = AesMode::from(args.mode);
    let direction = AesDirection::from(args.direction);
    let iv = block_arg(mode, args.iv, args.counter)?;
    let key = args.key.read()?;
    let job = AesJob {
        direction,
        mode,
        key: &key,
        iv,
        pkcs7: args.pad.is_some(),
        verify: !args.no_verify,
    };
    job.check()?;

    let to_stdout = args.output.as_deref().is_none_or(|p| p == Path::new("-"));
    let format = args.format.unwrap_or(if global.json && to_stdout {
        Format::Hex
    } else {
        Format::Raw
    });
    if to_stdout && args.format.is_none() && !global.json && io::stdout().is_terminal() {
        return Err(Error::input(
            "refusing to write raw bytes to a terminal: pass -o FILE, pipe the output, or --format hex",
        ));
    }
    if global.json && to_stdout && format == Format::Raw {
        return Err(Error::input(
            "raw bytes cannot go in JSON: use --format hex or base64, or -o FILE",
        ));
    }
    let (mut input, input_len) = open_input(args.input.as_deref())?;
    if let Some(len) = input_len {
        job.check_input_len(len)?;
    }

    // After the input checks, so that bad input still gets its one line.
    let warnings: Vec<&str> = args.key.command_line_warning().into_iter().collect();
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let mut client = crate::device::connect(global)?;
    let mut output = Output::create(args.output.as_deref(), format)?;
    let mut progress = ProgressDisplay::default();
    progress.start(input_len);
    let summary = aes_stream::run(
        &mut client,
        &job,
        &mut input,
        &mut |data| output.write(data),
        &mut progress,
    );
    progress.finish();
    let summary = summary?;
    let bits = key.len() * 8;
    drop(key);

    if !global.json {
        return output.commit();
    }
    let info = client.info();
    let mut json = serde_json::json!({
        "command": "aes",
        "direction": match direction {
            AesDirection::Encrypt => "encrypt",
            AesDirection::Decrypt => "decrypt",
        },
        "mode": mode_name(mode),
        "bits": bits,
        "padding": args.pad.map(|_| "pkcs7"),
        "input_bytes": summary.input_bytes,
        "bytes": summary.output_bytes,
        "format": format,
        "verified": !args.no_verify,
        "warnings": warnings,
    });
    add_device_fields(&mut json, info);
    commit_with_json(output, json, "data")
}

/// The input file (its length, when known up front) or stdin.
fn open_input(path: Option<&Path>) -> Result<(Box<dyn Read>, Option<u64>)> {
    match path {
        Some(path) if path != Path::new("-") => {
            let cannot = |e: io::Error| {
                Error::input(format!("cannot read the input {}: {e}", path.display()))
            };
            let file = File::open(path).map_err(cannot)?;
            let meta = file.metadata().map_err(cannot)?;
            if meta.is_dir() {
                return Err(Error::input(format!(
                    "the input {} is a directory: name a file",
                    path.display()
                )));
            }
            let len = meta.is_file().then_some(meta.len());
            Ok((Box::new(file), len))
        }
        _ => {
            if io::stdin().is_terminal() {
                eprintln!("ucrypto: reading the input from the terminal; end it with Ctrl-D (or pass -i FILE)");
            }
            Ok((Box::new(io::stdin().lock()), None))
        }
    }
}
