//! `ucrypto verify`: checks an RS256 signature on the host, with no device. Accepts the raw bytes
//! `openssl dgst -sha256 -sign` writes, or the signature as base64url, base64 or hex text.
use std::io::Read;

use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use crate::args::{GlobalArgs, VerifyArgs};
use crate::error::{Error, Result};
use crate::output::print_json;
use crate::output::print_line;
use ucrypto::key_file;
use ucrypto::verify::signature::check_rs256;
use ucrypto::verify::signature_text::read_signature;

pub fn run(global: &GlobalArgs, args: &VerifyArgs) -> Result<()> {
    let path = args
        .key
        .as_deref()
        .or(args.pubkey.as_deref())
        .expect("clap requires --key or --pubkey");
    let key = key_file::read(path, args.pass.as_ref())?.public();
    let signature = read_signature(&args.signature, key.size())?;
    let digest = match (&args.message, &args.input) {
        (Some(text), _) => Sha256::digest(text.as_bytes()).into(),
        (None, Some(path)) if path.as_os_str() == "-" => hash(&mut std::io::stdin().lock())?,
        (None, Some(path)) => hash(
            &mut std::fs::File::open(path)
                .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?,
        )?,
        (None, None) => unreachable!("clap requires one source"),
    };
    check_rs256(&key, &digest, &signature).map_err(Error::Verification)?;
    if global.json {
        return print_json(&serde_json::json!({
            "command": "verify",
            "algorithm": "RS256",
            "key_bits": key.n().bits(),
            "digest": hex::encode(digest),
            "valid": true,
        }));
    }
    print_line("signature ok")
}

fn hash(input: &mut dyn Read) -> Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    std::io::copy(input, &mut hasher)
        .map_err(|e| Error::input(format!("cannot read the message: {e}")))?;
    Ok(hasher.finalize().into())
}
