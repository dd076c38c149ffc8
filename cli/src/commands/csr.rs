//! `ucrypto csr`: a PKCS#10 certificate request for a device key, signed on the device, so a CA
//! can certify a key it never sees the private half of.
use crate::args::{CsrArgs, CsrFormat, GlobalArgs};
use crate::error::{Error, Result};
use crate::key_choice::ChosenKey;
use crate::output::{add_device_fields, commit_with_json};
use crate::output::{Format, Output};
use ucrypto::operations::csr;

pub fn run(global: &GlobalArgs, args: &CsrArgs) -> Result<()> {
    let subject = csr::parse_subject(&args.subject)?;
    if global.json && args.format == CsrFormat::Der && args.output.is_none() {
        return Err(Error::input(
            "DER bytes cannot go in JSON: use --format pem, or -o FILE",
        ));
    }
    let mut client = crate::device::connect(global)?;
    let key = ChosenKey::Slot(args.slot).resolve(&mut client)?;
    key.check_device(&client)?;
    let request = csr::build(&mut client, &key, subject)?;
    let mut output = Output::create(args.output.as_deref(), Format::Raw)?;
    output.write(&csr::encode(&request, args.format == CsrFormat::Pem)?)?;
    if !global.json {
        return output.commit();
    }
    let mut json = serde_json::json!({
        "command": "csr",
        "slot": args.slot,
        "subject": request.info.subject.to_string(),
        "format": args.format,
        "verified": true,
    });
    add_device_fields(&mut json, client.info());
    commit_with_json(output, json, "csr")
}
