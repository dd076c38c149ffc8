//! The arguments of `ucrypto ca`.
use std::path::PathBuf;
use std::str::FromStr;

use clap::{Args, Subcommand};
use ucrypto::key_file::PassSource;

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
