//! `ucrypto encrypt` (on the host, to a public key file or a device key) and `ucrypto decrypt`
//! (on the device: a device key through the Digital Signature peripheral, or a key file sent to
//! it and checked by the host's own decryption). The ciphertexts are what `openssl pkeyutl`
//! writes and reads (OAEP with SHA-256, or PKCS#1 v1.5).
use std::io::Read;
use std::path::Path;

use rsa::traits::PublicKeyParts;
use ucrypto_protocol::RsaPadding;
use zeroize::Zeroizing;

use ucrypto::key_file as keys;
use ucrypto::operations::decrypt::{self as decryption, padding_name};
use ucrypto::operations::SigningKey;

use crate::args::decrypt::{DecryptArgs, EncryptArgs};
use crate::args::GlobalArgs;
use crate::error::{Error, Result};
use crate::output::{add_device_fields, commit_with_json, Format, Output};

/// At most this much input is read: more than any RSA block.
const MAX_INPUT: u64 = 4096;

fn read_input(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>> {
    let mut bytes = Zeroizing::new(Vec::new());
    let read = if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(MAX_INPUT + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| {
        Error::input(format!(
            "cannot read the {what} from {}: {e}",
            path.display()
        ))
    })?;
    if bytes.len() as u64 > MAX_INPUT {
        return Err(Error::input(format!(
            "the {what} in {} is longer than any RSA block: RSA seals a key or a short secret, \
             not a file",
            path.display()
        )));
    }
    Ok(bytes)
}

fn refuse_raw_json(global: &GlobalArgs, format: Format, output: Option<&Path>) -> Result<()> {
    if global.json && format == Format::Raw && output.is_none_or(|p| p.as_os_str() == "-") {
        return Err(Error::input(
            "raw bytes cannot go in JSON: use --format hex or base64, or -o FILE",
        ));
    }
    Ok(())
}

pub fn encrypt(global: &GlobalArgs, args: &EncryptArgs) -> Result<()> {
    refuse_raw_json(global, args.format, args.output.as_deref())?;
    let padding = RsaPadding::from(args.padding);
    let message = match (&args.message, &args.input) {
        (Some(text), _) => Zeroizing::new(text.as_bytes().to_vec()),
        (None, Some(path)) => read_input(path, "message")?,
        (None, None) => unreachable!("clap requires one source"),
    };
    let (public, fields) = match (&args.pubkey, args.slot) {
        (Some(path), _) => (keys::read(path, None)?.public(), None),
        (None, Some(slot)) => {
            let mut client = crate::device::connect(global)?;
            let public = ucrypto::device_keys::read_public(&mut client, slot)?;
            let mut fields =
                serde_json::json!({ "slot": slot, "fingerprint": public.fingerprint() });
            add_device_fields(&mut fields, client.info());
            (public.key, Some(fields))
        }
        (None, None) => unreachable!("clap requires one key"),
    };
    let ciphertext = decryption::encrypt(&public, padding, &message)?;
    let mut output = Output::create(args.output.as_deref(), args.format)?;
    output.write(&ciphertext)?;
    if !global.json {
        return output.commit();
    }
    let mut json = serde_json::json!({
        "command": "encrypt",
        "padding": padding_name(padding),
        "key_bits": public.n().bits(),
        "bytes": message.len(),
        "format": args.format,
    });
    if let Some(serde_json::Value::Object(fields)) = fields {
        for (k, v) in fields {
            json[k] = v;
        }
    }
    commit_with_json(output, json, "ciphertext")
}

pub fn decrypt(global: &GlobalArgs, args: &DecryptArgs) -> Result<()> {
    refuse_raw_json(global, args.format, args.output.as_deref())?;
    let padding = RsaPadding::from(args.padding);
    let ciphertext = read_input(&args.input, "ciphertext")?;
    // The key file (and its passphrase) is read before the device is touched.
    let private = match &args.key {
        Some(path) => Some(Box::new(keys::read_private(path, args.pass.as_ref())?)),
        None => None,
    };
    let mut client = crate::device::connect(global)?;
    let (key, plaintext) = match (&private, args.slot) {
        (Some(private), _) => {
            let key = SigningKey::new(private)?;
            let plaintext = client.decrypt_checked(&key, private, padding, &ciphertext)?;
            (key, plaintext)
        }
        (None, Some(slot)) => {
            let key = SigningKey::slot(&mut client, slot)?;
            let plaintext = client.decrypt(&key, padding, &ciphertext)?;
            (key, plaintext)
        }
        (None, None) => unreachable!("clap requires one key"),
    };
    let mut output = Output::create(args.output.as_deref(), args.format)?;
    output.write(&plaintext)?;
    if !global.json {
        return output.commit();
    }
    let mut json = serde_json::json!({
        "command": "decrypt",
        "padding": padding_name(padding),
        "key_bits": key.bits(),
        "key_source": key.source.name(),
        "bytes": plaintext.len(),
        "checked_by_host": private.is_some(),
        "format": args.format,
    });
    add_device_fields(&mut json, client.info());
    commit_with_json(output, json, "plaintext")
}
