//! `ucrypto cert show`: the certificate the device holds in its esp_secure_cert partition, read
//! back from the device, as PEM with a one-line summary on stderr (or all of it in --json).
use ucrypto_protocol::CertKind;

use crate::args::cert::{CertCommand, KindArg};
use crate::args::GlobalArgs;
use crate::error::{Error, Result};
use crate::output::print_line;
use crate::output::{add_device_fields, print_json};
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
    if global.json {
        let mut json = serde_json::json!({
            "command": "cert show",
            "kind": match args.kind { KindArg::Device => "device", KindArg::Ca => "ca" },
            "serial": serial,
            "subject": tbs.subject.to_string(),
            "issuer": tbs.issuer.to_string(),
            "not_after": not_after,
            "pem": pem,
        });
        add_device_fields(&mut json, client.info());
        return print_json(&json);
    }
    eprintln!(
        "serial {serial}, subject {}, issuer {}, valid until {not_after}",
        tbs.subject, tbs.issuer
    );
    print_line(pem.trim_end())
}
