//! `ucrypto cert show [--slot N]`: the certificate the device holds in its esp_secure_cert
//! partition, read back from the device, as PEM with a one-line summary on stderr (or all of it
//! in --json). The device certificate is matched to the key slot whose key it certifies; with
//! `--slot` a certificate for another key is a failed check (exit 3).
use ucrypto_protocol::CertKind;

use crate::args::cert::{CertCommand, KindArg};
use crate::args::GlobalArgs;
use crate::error::{Error, Result};
use crate::output::print_line;
use crate::output::{add_device_fields, print_json};
use ucrypto::verify::attestation::spki_sha256_of;
use ucrypto_station::ca;

pub fn run(global: &GlobalArgs, command: &CertCommand) -> Result<()> {
    let CertCommand::Show(args) = command;
    let kind = match args.kind {
        KindArg::Device => CertKind::Device,
        KindArg::Ca => CertKind::Ca,
    };
    let mut client = crate::device::connect(global)?;
    let Some(der) = client.cert_read(kind)? else {
        return Err(Error::input(
            "the device holds no certificate of that kind: run a station recipe with a certify step",
        ));
    };
    let cert = ca::from_der(&der)?;
    let pem = ca::pem_of(&cert)?;
    let tbs = &cert.tbs_certificate;
    let serial = ucrypto_station::records::certificates::serial_text(tbs.serial_number.as_bytes());
    let not_after = tbs.validity.not_after.to_string();
    let slot = match args.kind {
        KindArg::Device => certified_slot(&client, &cert, args.slot)?,
        KindArg::Ca => None,
    };
    if global.json {
        let mut json = serde_json::json!({
            "command": "cert show",
            "kind": match args.kind { KindArg::Device => "device", KindArg::Ca => "ca" },
            "serial": serial,
            "subject": tbs.subject.to_string(),
            "issuer": tbs.issuer.to_string(),
            "not_after": not_after,
            "slot": slot,
            "pem": pem,
        });
        add_device_fields(&mut json, client.info());
        return print_json(&json);
    }
    let of_slot = match (args.kind, slot) {
        (KindArg::Ca, _) => String::new(),
        (KindArg::Device, Some(slot)) => format!(", for slot {slot}'s key"),
        (KindArg::Device, None) => ", for no key slot of this device".to_string(),
    };
    eprintln!(
        "serial {serial}, subject {}, issuer {}, valid until {not_after}{of_slot}",
        tbs.subject, tbs.issuer
    );
    print_line(pem.trim_end())
}

/// The key slot whose key `cert` certifies (by the SHA-256 of its SubjectPublicKeyInfo, as the
/// device reports its slots); with `wanted`, that slot or a failed check.
fn certified_slot(
    client: &ucrypto::Client,
    cert: &x509_cert::Certificate,
    wanted: Option<u8>,
) -> Result<Option<u8>> {
    let spki = hex::encode(
        spki_sha256_of(cert)
            .map_err(|e| Error::Verification(format!("the device certificate's key: {e}")))?,
    );
    let slots = client.info().key_slots.clone().unwrap_or_default();
    let found = slots
        .iter()
        .find(|s| s.spki_sha256.as_deref() == Some(spki.as_str()))
        .map(|s| s.slot);
    match wanted {
        Some(slot) if found != Some(slot) => Err(Error::Verification(format!(
            "the device certificate is not for slot {slot}'s key ({})",
            match found {
                Some(other) => format!("it certifies slot {other}'s"),
                None => "it certifies no key slot of this device".to_string(),
            }
        ))),
        _ => Ok(found),
    }
}
