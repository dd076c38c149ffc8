//! `ucrypto ca init|csr|import-cert|revoke|crl`: the line's certificate authority. Its key is in
//! an encrypted PKCS#8 file or on a PKCS#11 token; it never appears in output, logs or records.
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::SystemTime;

use clap::{Args, Subcommand};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use x509_cert::der::EncodePem;
use x509_cert::name::Name;

use crate::args::GlobalArgs;
use crate::ca::config::{write_config, CaConfig, KeyLocation, LoadedConfig, Policy, CONFIG_FILE};
use crate::ca::key::{generate_on_token, passphrase, CaKey};
use crate::ca::{self, crl, issue, Ca, Revocation};
use crate::commands::print_json;
use crate::error::{Error, Result};
use crate::keys::PassSource;
use crate::output::print_line;

#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Make a CA in a new folder: its key (encrypted file or PKCS#11 token), its config
    /// (ca.toml) and a self-signed root certificate, or with --intermediate a request (ca.csr)
    /// for an offline root to sign.
    #[command(after_help = CA_HELP)]
    Init(CaInitArgs),
    /// Write the intermediate CA's certificate request again (PEM).
    Csr(CaCsrArgs),
    /// Take the certificate the offline root issued for this intermediate CA.
    ImportCert(CaImportArgs),
    /// Revoke a device certificate by its serial number (it goes into the next CRL).
    Revoke(CaRevokeArgs),
    /// The CA's certificate revocation list (PEM), signed by the CA key.
    Crl(CaCrlArgs),
}

const CA_HELP: &str = "\
Passphrases and PINs are read from env:VAR or file:PATH (or prompted for on a terminal), never
taken on the command line. Example:
  ucrypto ca init --dir line-ca --subject \"CN=Line CA,O=Example\" --pass env:CA_PASS
Then a recipe step: [[step]] kind = \"certify\" ca = \"line-ca/ca.toml\". See docs/ca.md.";

/// RSA sizes for a CA key.
fn ca_bits(s: &str) -> std::result::Result<u32, String> {
    match s {
        "2048" | "3072" | "4096" => Ok(s.parse().expect("digits")),
        _ => Err("use 2048, 3072 or 4096".into()),
    }
}

/// Checks that a secret is named by `env:VAR` or `file:PATH`, without echoing it.
fn secret_spec(s: &str) -> std::result::Result<String, String> {
    PassSource::from_str(s).map(|_| s.to_string())
}

#[derive(Debug, Args)]
pub struct CaConfigArg {
    /// The CA's config file.
    #[arg(long = "ca", value_name = "CA.toml", default_value = "ca.toml")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct CaInitArgs {
    /// The folder to make (it must not hold a ca.toml).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The CA's subject, RFC 4514.
    #[arg(long, value_name = "NAME")]
    pub subject: String,
    /// RSA key size of the CA key.
    #[arg(long, default_value_t = 3072, value_parser = ca_bits)]
    pub bits: u32,
    /// Days the root certificate is valid.
    #[arg(long, default_value_t = 3650)]
    pub days: u32,
    /// Days each device certificate is valid (the policy in ca.toml).
    #[arg(long, default_value_t = 3650)]
    pub device_days: u32,
    /// Subject template of device certificates ({device_id} is replaced).
    #[arg(long, default_value = "CN={device_id}")]
    pub device_subject: String,
    /// DNS name constraints for the root (permitted subtrees); may be repeated.
    #[arg(long, value_name = "DOMAIN")]
    pub permitted_dns: Vec<String>,
    /// Make an intermediate CA: write a request (ca.csr) for an offline root instead of a
    /// self-signed certificate.
    #[arg(long)]
    pub intermediate: bool,
    /// The key file's passphrase: env:VAR or file:PATH (kept in ca.toml as that reference);
    /// prompted for twice when absent.
    #[arg(long, value_name = "env:VAR|file:PATH", value_parser = secret_spec)]
    pub pass: Option<String>,
    /// Keep the key on a PKCS#11 token instead: the module (e.g. libsofthsm2.so).
    #[arg(long, value_name = "MODULE.so", requires_all = ["token", "pin"])]
    pub pkcs11_module: Option<PathBuf>,
    /// The token's label.
    #[arg(long, value_name = "LABEL")]
    pub token: Option<String>,
    /// The key's label on the token.
    #[arg(long, value_name = "LABEL", default_value = "ucrypto-line-ca")]
    pub key_label: String,
    /// The token's user PIN: env:VAR or file:PATH.
    #[arg(long, value_name = "env:VAR|file:PATH", value_parser = secret_spec)]
    pub pin: Option<String>,
}

#[derive(Debug, Args)]
pub struct CaCsrArgs {
    #[command(flatten)]
    pub ca: CaConfigArg,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The key file's passphrase: env:VAR or file:PATH [default: ca.toml's, else a prompt].
    #[arg(long, value_name = "env:VAR|file:PATH", value_parser = secret_spec)]
    pub pass: Option<String>,
}

#[derive(Debug, Args)]
pub struct CaImportArgs {
    #[command(flatten)]
    pub ca: CaConfigArg,
    /// The certificate the root issued for this CA (PEM).
    #[arg(value_name = "CERT.pem")]
    pub certificate: PathBuf,
    /// The certificates above it up to the root (PEM).
    #[arg(long, value_name = "ROOT.pem")]
    pub chain: PathBuf,
    #[arg(long, value_name = "env:VAR|file:PATH", value_parser = secret_spec)]
    pub pass: Option<String>,
}

#[derive(Debug, Args)]
pub struct CaRevokeArgs {
    #[command(flatten)]
    pub ca: CaConfigArg,
    /// The certificate's serial number, hex (as `ucrypto cert show` prints it).
    #[arg(value_name = "SERIAL")]
    pub serial: String,
    /// Why: unspecified, key-compromise, ca-compromise, affiliation-changed, superseded,
    /// cessation-of-operation, certificate-hold, privilege-withdrawn.
    #[arg(long)]
    pub reason: String,
    /// Also mark it revoked in the station's records (a SQLite file or postgres://…).
    #[arg(long, value_name = "FILE|URL")]
    pub records: Option<String>,
}

#[derive(Debug, Args)]
pub struct CaCrlArgs {
    #[command(flatten)]
    pub ca: CaConfigArg,
    /// Days until the CRL's nextUpdate.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[arg(long, value_name = "env:VAR|file:PATH", value_parser = secret_spec)]
    pub pass: Option<String>,
}

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
        Some(path) => ca::write_file(path, text.as_bytes()),
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
    crate::station::csr::subject_for(&args.device_subject, "02:00:00:00:00:00")
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
    CaKey::open(&config.config.key, dir, pass)
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
    let cert_key = crate::verify::attestation::public_key_of(&cert).map_err(Error::input)?;
    if cert_key != key.public() {
        return Err(Error::input(format!(
            "{} is not a certificate for this CA's key",
            args.certificate.display()
        )));
    }
    let path = crate::verify::attestation::chain_to(&cert, &[], &chain, SystemTime::now())
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
            let records = crate::records::open(url)?;
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
