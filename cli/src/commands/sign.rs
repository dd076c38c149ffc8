//! `ucrypto sign`: Pycom's `crypto.generate_rsa_signature`, binary-safe and any size. The message
//! is streamed through the device's SHA-256 in chunks, signed there, and checked on the host with
//! the public key before it is output.
use std::path::Path;

use ucrypto::operations::sign::parse_digest;

use crate::args::{GlobalArgs, SignArgs};
use crate::error::{Error, Result};
use crate::key_choice::ChosenKey;
use crate::output::{add_device_fields, commit_with_json, Format, Output};
use crate::progress_bar::ProgressDisplay;

pub fn run(global: &GlobalArgs, args: &SignArgs) -> Result<()> {
    let digest = args.digest.as_deref().map(parse_digest).transpose()?;
    if global.json && args.format == Format::Raw && is_stdout(args.output.as_deref()) {
        return Err(Error::input(
            "raw bytes cannot go in JSON: use --format base64url, base64 or hex, or -o FILE",
        ));
    }
    let chosen = ChosenKey::load(&args.key)?;
    let mut client = crate::device::connect(global)?;
    let key = chosen.resolve(&mut client)?;
    key.check_device(&client)?;
    let signed = match (digest, &args.message, &args.input) {
        (Some(digest), _, _) => key.sign_digest(&mut client, digest)?,
        (None, Some(text), _) => key.sign_stream(
            &mut client,
            &mut text.as_bytes(),
            None,
            &mut ProgressDisplay::default(),
        )?,
        (None, None, Some(path)) if path.as_os_str() == "-" => key.sign_stream(
            &mut client,
            &mut std::io::stdin().lock(),
            None,
            &mut ProgressDisplay::default(),
        )?,
        (None, None, Some(path)) => {
            let file = std::fs::File::open(path)
                .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
            let size = file.metadata().map(|m| m.len()).ok();
            key.sign_stream(
                &mut client,
                &mut std::io::BufReader::new(file),
                size,
                &mut ProgressDisplay::default(),
            )?
        }
        (None, None, None) => unreachable!("clap requires one source"),
    };

    let mut output = Output::create(args.output.as_deref(), args.format)?;
    output.write(&signed.signature)?;
    if !global.json {
        return output.commit();
    }
    let info = client.info();
    let mut json = serde_json::json!({
        "command": "sign",
        "algorithm": "RS256",
        "key_bits": key.bits(),
        "key_source": key.source.name(),
        "digest": hex::encode(signed.digest),
        "hashed_on": if signed.hashed_on_device { "device" } else { "host" },
        "format": args.format,
        "verified": true,
    });
    add_device_fields(&mut json, info);
    commit_with_json(output, json, "signature")
}

fn is_stdout(path: Option<&Path>) -> bool {
    path.is_none_or(|p| p.as_os_str() == "-")
}
