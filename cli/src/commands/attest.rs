//! `ucrypto attest --slot N --ca CA.pem|ca.toml [--records URL] [--crl FILE]...`: the device
//! signs a statement over a fresh challenge with a slot's key; the host checks it, the
//! certificate chain to the CA, that the certificate is the device's and the key's, with --crl
//! that the CRLs (of the chain's CAs, current) do not list it, with a `ca.toml` that the CA
//! itself did not revoke it, and with --records that the records know the device and key and
//! have not revoked the certificate. One line (or --json); a failed check is exit 3 naming it.
use crate::args::cert::AttestArgs;
use crate::args::GlobalArgs;
use crate::error::{Error, Result};
use crate::output::print_line;
use crate::output::{add_device_fields, print_json};
use ucrypto::verify::attestation::{attest_device, Failure};
use ucrypto::verify::revocation::parse_crls;
use ucrypto_station::attestation::{check_ca_revocations, check_records, AttestCa};

fn failed(global: &GlobalArgs, failure: &Failure) -> Result<()> {
    if global.json {
        print_json(&serde_json::json!({
            "command": "attest",
            "verdict": "failed",
            "check": failure.check,
            "reason": failure.reason,
        }))?;
    }
    Err(Error::Verification(format!("attestation: {failure}")))
}

pub fn run(global: &GlobalArgs, args: &AttestArgs) -> Result<()> {
    // A CA config (`ca.toml`) brings the CA's own revocations; a PEM file is certificates only.
    let line_ca = if args.ca.extension().is_some_and(|e| e == "toml") {
        Some(AttestCa::open(&args.ca)?)
    } else {
        None
    };
    let anchors = match &line_ca {
        Some(ca) => ca.anchors().to_vec(),
        None => ucrypto_station::ca::read_certificates(&args.ca)?,
    };
    let mut crls = Vec::new();
    for path in &args.crl {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
        crls.extend(
            parse_crls(&bytes)
                .map_err(|e| Error::input(format!("--crl {}: {e}", path.display())))?,
        );
    }
    // The records are opened first: an unreachable store is known before the device is asked.
    let records = match &args.records {
        Some(url) => Some(ucrypto_station::records::open(url)?),
        None => None,
    };
    let mut client = crate::device::connect(global)?;
    let (evidence, outcome) = attest_device(&mut client, args.slot, &anchors, &crls)?;
    let mut verdict = match outcome {
        Ok(verdict) => verdict,
        Err(failure) => return failed(global, &failure),
    };
    let ca_revoked = match &line_ca {
        Some(ca) => ca.revocations()?,
        None => Vec::new(),
    };
    let outcome = match &records {
        Some(records) => check_records(records, &mut verdict, &ca_revoked)?,
        None if line_ca.is_some() => check_ca_revocations(&mut verdict, &ca_revoked),
        None => Ok(()),
    };
    if let Err(failure) = outcome {
        return failed(global, &failure);
    }
    if global.json {
        let mut json = serde_json::json!({
            "command": "attest",
            "verdict": "genuine",
            "slot": args.slot,
            "serial": verdict.serial,
            "subject": verdict.subject,
            "chain": verdict.chain,
            "checks": verdict.checks,
            "statement": verdict.statement,
            // What a third party checks on its own (docs/examples/verify_attestation.py).
            "evidence": {
                "statement": hex::encode(&evidence.statement),
                "signature": hex::encode(&evidence.signature),
                "certificate": verdict.certificate_pem,
            },
        });
        add_device_fields(&mut json, client.info());
        return print_json(&json);
    }
    print_line(&format!(
        "genuine: device {} slot {} certificate {} ({}) chains to {}; checks: {}",
        client.info().device_id_string(),
        args.slot,
        verdict.serial,
        verdict.subject,
        verdict.chain.last().map(String::as_str).unwrap_or("?"),
        verdict.checks.join(", ")
    ))
}
