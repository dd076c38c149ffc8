//! The arguments of `ucrypto cert` and `ucrypto attest`.
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

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
    /// Check that the device certificate certifies this key slot's key (exit 3 if not). Without
    /// it, the summary names the slot whose key the certificate holds, if any.
    #[arg(long, conflicts_with = "kind")]
    pub slot: Option<u8>,
}

#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The key slot the device attests with.
    #[arg(long, default_value_t = 0)]
    pub slot: u8,
    /// The CA certificate(s) to trust (PEM; the root, or the line's CA).
    /// Or the line CA's `ca.toml` (its certificate and chain, and its own revocations: a serial
    /// it revoked fails the `revocation` check even without --records).
    #[arg(long, value_name = "CA.pem|ca.toml")]
    pub ca: PathBuf,
    /// Also check the station's records (a SQLite file or postgres://…).
    #[arg(long, value_name = "FILE|URL")]
    pub records: Option<String>,
    /// Also check the certificate chain against a CRL (PEM or DER; repeat for more): each must
    /// be issued and signed by a CA of the chain and be current, and must not list the device
    /// certificate.
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
}
