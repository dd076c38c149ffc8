//! `ucrypto ca init|csr|import-cert|revoke|crl`: the line's certificate authority. Its key is in
//! an encrypted PKCS#8 file or on a PKCS#11 token; it never appears in output, logs or records.
use std::path::Path;
use std::str::FromStr;
use std::time::SystemTime;

use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use x509_cert::der::EncodePem;
use x509_cert::name::Name;

use crate::args::ca::{CaCommand, CaCrlArgs, CaCsrArgs, CaImportArgs, CaInitArgs, CaRevokeArgs};
use crate::args::GlobalArgs;
use crate::error::{Error, Result};
use crate::output::print_json;
use crate::output::print_line;
use ucrypto_station::ca::config::{
    write_config, CaConfig, KeyLocation, LoadedConfig, Policy, CONFIG_FILE,
};
use ucrypto_station::ca::key::{generate_on_token, passphrase, CaKey};
use ucrypto_station::ca::{self, crl, issue, Ca, Revocation};

pub fn run(global: &GlobalArgs, command: &CaCommand) -> Result<()> {
    match command {
        CaCommand::Init(args) => init(global, args),
        CaCommand::Csr(args) => csr(args),
        CaCommand::ImportCert(args) => import_cert(global, args),
        CaCommand::Revoke(args) => revoke(global, args),
        CaCommand::Crl(args) => crl_command(args),
    }
}

fn input(e: impl std::fmt::Display) -> Error {
    Error::input(e.to_string())
}

/// Writes the result to `output` (whole or not at all) or stdout.
fn emit(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        Some(path) => Ok(ca::write_file(path, text.as_bytes())?),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn init(global: &GlobalArgs, args: &CaInitArgs) -> Result<()> {
    let config_path = args.dir.join(CONFIG_FILE);
    if config_path.exists() {
        return Err(Error::input(format!(
            "{} exists: pick a new --dir (a CA is never overwritten)",
            config_path.display()
        )));
    }
    let subject = Name::from_str(&args.subject)
        .map_err(|e| Error::input(format!("--subject {:?}: {e}", args.subject)))?;
    ucrypto_station::steps::csr::subject_for(&args.device_subject, "02:00:00:00:00:00")
        .map_err(Error::input)?;
    let policy = Policy {
        validity_days: args.device_days,
        subject: args.device_subject.clone(),
        permitted_dns: args.permitted_dns.clone(),
        ..Policy::default()
    };
    // Everything that can be refused is checked before the folder is made.
    let (location, key) = match &args.pkcs11_module {
        Some(module) => {
            let token = args.token.clone().expect("clap requires --token");
            let pin = args.pin.clone().expect("clap requires --pin");
            generate_on_token(module, &token, &args.key_label, &pin, args.bits)?;
            let location = KeyLocation::Pkcs11 {
                module: module.clone(),
                token,
                key_label: args.key_label.clone(),
                pin,
            };
            let key = CaKey::open(&location, &args.dir, None)?;
            (location, key)
        }
        None => {
            let key_path = args.dir.join("ca-key.pem");
            let secret = passphrase(args.pass.as_deref(), &key_path, true)?;
            if secret.is_empty() {
                return Err(Error::input(
                    "an empty passphrase would leave the CA key unprotected",
                ));
            }
            let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, args.bits as usize)
                .map_err(input)?;
            let pem = private
                .to_pkcs8_encrypted_pem(
                    &mut rsa::rand_core::OsRng,
                    secret.as_bytes(),
                    LineEnding::LF,
                )
                .map_err(input)?;
            std::fs::create_dir_all(&args.dir).map_err(|e| Error::Output {
                path: args.dir.display().to_string(),
                reason: e.to_string(),
            })?;
            ca::write_file(&key_path, pem.as_bytes())?;
            restrict(&key_path)?;
            let location = KeyLocation::File {
                path: "ca-key.pem".into(),
                passphrase: args.pass.clone(),
            };
            let key = CaKey::File(Box::new(rsa::pkcs1v15::SigningKey::new(private)));
            (location, key)
        }
    };
    std::fs::create_dir_all(&args.dir).map_err(|e| Error::Output {
        path: args.dir.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut config = CaConfig {
        certificate: None,
        chain: None,
        revocations: "revocations.json".into(),
        key: location,
        policy,
    };
    let (kind, written) = if args.intermediate {
        let request = issue::ca_request(&key, subject)?;
        let pem = request
            .to_pem(x509_cert::der::pem::LineEnding::LF)
            .map_err(input)?;
        ca::write_file(&args.dir.join("ca.csr"), pem.as_bytes())?;
        ("intermediate", "ca.csr")
    } else {
        let cert = issue::root_certificate(&key, subject, args.days, &config.policy)?;
        ca::write_file(&args.dir.join("ca.pem"), ca::pem_of(&cert)?.as_bytes())?;
        config.certificate = Some("ca.pem".into());
        ("root", "ca.pem")
    };
    write_config(&config_path, &config)?;
    if global.json {
        return print_json(&serde_json::json!({
            "command": "ca init",
            "kind": kind,
            "config": config_path.display().to_string(),
            "written": args.dir.join(written).display().to_string(),
            "key": match &config.key { KeyLocation::File { .. } => "file", KeyLocation::Pkcs11 { .. } => "pkcs11" },
        }));
    }
    let next = if args.intermediate {
        "; have the root sign ca.csr, then `ucrypto ca import-cert`"
    } else {
        ""
    };
    print_line(&format!(
        "{kind} CA made in {}: {CONFIG_FILE}, {written}{next}",
        args.dir.display()
    ))
}

/// The key file is readable by its owner alone.
fn restrict(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        Error::Output {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    })
}

fn open_key(config: &LoadedConfig, pass: Option<&str>) -> Result<CaKey> {
    let dir = config.path.parent().unwrap_or(Path::new("."));
    Ok(CaKey::open(&config.config.key, dir, pass)?)
}

fn csr(args: &CaCsrArgs) -> Result<()> {
    let config = LoadedConfig::read(&args.ca.config)?;
    let key = open_key(&config, args.pass.as_deref())?;
    let existing = std::fs::read(config.resolve(Path::new("ca.csr"))).ok();
    let subject =
        match existing.as_deref().map(issue::read_request) {
            Some(Ok(request)) => request.info.subject,
            _ => return Err(Error::input(
                "no ca.csr next to the config: make the intermediate with `ca init --intermediate`",
            )),
        };
    let request = issue::ca_request(&key, subject)?;
    let pem = request
        .to_pem(x509_cert::der::pem::LineEnding::LF)
        .map_err(input)?;
    emit(args.output.as_deref(), &pem)
}

fn import_cert(global: &GlobalArgs, args: &CaImportArgs) -> Result<()> {
    let mut config = LoadedConfig::read(&args.ca.config)?;
    let cert = ca::read_certificates(&args.certificate)?.remove(0);
    let chain = ca::read_certificates(&args.chain)?;
    let key = open_key(&config, args.pass.as_deref())?;
    let cert_key = ucrypto::verify::attestation::public_key_of(&cert).map_err(Error::input)?;
    if cert_key != key.public() {
        return Err(Error::input(format!(
            "{} is not a certificate for this CA's key",
            args.certificate.display()
        )));
    }
    let path = ucrypto::verify::attestation::chain_to(&cert, &[], &chain, SystemTime::now())
        .map_err(|e| Error::input(format!("{}: {e}", args.certificate.display())))?;
    let dir = config.path.parent().unwrap_or(Path::new(".")).to_path_buf();
    ca::write_file(&dir.join("ca.pem"), ca::pem_of(&cert)?.as_bytes())?;
    let mut chain_pem = String::new();
    for c in &chain {
        chain_pem.push_str(&ca::pem_of(c)?);
    }
    ca::write_file(&dir.join("chain.pem"), chain_pem.as_bytes())?;
    config.config.certificate = Some("ca.pem".into());
    config.config.chain = Some("chain.pem".into());
    config.write()?;
    if global.json {
        return print_json(&serde_json::json!({ "command": "ca import-cert", "chain": path }));
    }
    print_line(&format!("CA certificate taken: {}", path.join(" → ")))
}

fn revoke(global: &GlobalArgs, args: &CaRevokeArgs) -> Result<()> {
    let config = LoadedConfig::read(&args.ca.config)?;
    let serial = ca::normalise_serial(&args.serial)?;
    crl::reason_code(&args.reason)?;
    let mut all = ca::read_revocations(&config)?;
    if all.iter().any(|r| r.serial == serial) {
        return Err(Error::input(format!("serial {serial} is already revoked")));
    }
    let in_records = match &args.records {
        Some(url) => {
            let records = ucrypto_station::records::open(url)?;
            records.revoke_certificate(&serial, &args.reason)?
        }
        None => false,
    };
    all.push(Revocation {
        serial: serial.clone(),
        reason: args.reason.clone(),
        revoked_at: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs(),
    });
    ca::write_revocations(&config, &all)?;
    if global.json {
        return print_json(&serde_json::json!({
            "command": "ca revoke",
            "serial": serial,
            "reason": args.reason,
            "in_records": in_records,
        }));
    }
    print_line(&format!(
        "revoked {serial} ({}){}; publish a new CRL with `ucrypto ca crl`",
        args.reason,
        if in_records {
            ", marked in the records"
        } else {
            ""
        }
    ))
}

fn crl_command(args: &CaCrlArgs) -> Result<()> {
    let ca = Ca::open(&args.ca.config, args.pass.as_deref())?;
    let revocations = ca::read_revocations(&ca.config)?;
    let pem = crl::crl_pem(&ca, &revocations, args.days)?;
    emit(args.output.as_deref(), &pem)
}
