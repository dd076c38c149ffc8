//! `ucrypto cert show`: the certificate the device holds in its esp_secure_cert partition, read
//! back from the device, as PEM with a one-line summary on stderr (or all of it in --json).
use clap::{Args, Subcommand, ValueEnum};
use ucrypto_protocol::CertKind;

use crate::args::GlobalArgs;
use crate::ca;
use crate::commands::{add_device_fields, print_json};
use crate::error::{Error, Result};
use crate::output::print_line;

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Print the device's certificate (or its CA certificate) as the device holds it.
    Show(CertShowArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Device,
    Ca,
}

#[derive(Debug, Args)]
pub struct CertShowArgs {
    /// Which entry: the device certificate or the CA certificate.
    #[arg(long, value_enum, default_value_t = KindArg::Device)]
    pub kind: KindArg,
}

pub fn run(global: &GlobalArgs, command: &CertCommand) -> Result<()> {
    let CertCommand::Show(args) = command;
    let kind = match args.kind {
        KindArg::Device => CertKind::Device,
        KindArg::Ca => CertKind::Ca,
    };
    let mut client = super::connect(global)?;
    let Some(der) = client.cert_read(kind)? else {
        return Err(Error::input(
            "the device holds no certificate of that kind: run a station recipe with a certify step",
        ));
    };
    let cert = ca::from_der(&der)?;
    let pem = ca::pem_of(&cert)?;
    let tbs = &cert.tbs_certificate;
    let serial = crate::records::certificates::serial_text(tbs.serial_number.as_bytes());
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
