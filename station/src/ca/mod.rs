//! The line's certificate authority: its config (`ca.toml`), its key (an encrypted PKCS#8 file
//! or a PKCS#11 token), the device certificates it issues, its revocations and its CRL.
//! docs/ca.md is the guide. The CA key is never logged, recorded or printed.
use std::path::Path;
use std::time::SystemTime;

use rsa::pkcs8::EncodePublicKey;
use serde::{Deserialize, Serialize};
use x509_cert::der::{Decode, Encode, EncodePem};
use x509_cert::Certificate;

use crate::error::{Error, Result};
use ucrypto::verify::attestation::{parse_certificates, public_key_of, valid_at};

pub mod config;
pub mod crl;
pub mod issue;
pub mod key;

use config::LoadedConfig;
use key::CaKey;

/// An open CA: its config, key and certificate.
pub struct Ca {
    pub config: LoadedConfig,
    pub key: CaKey,
    pub certificate: Certificate,
    /// The certificates above it (an intermediate's root), from the config's `chain`.
    pub chain: Vec<Certificate>,
}

/// Reads the certificates of a PEM (or DER) file.
pub fn read_certificates(path: &Path) -> Result<Vec<Certificate>> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
    parse_certificates(&bytes)
        .map_err(|e| Error::input(format!("{} holds no certificate: {e}", path.display())))
}

impl Ca {
    /// Opens the CA of `config_path`: reads its certificate, opens its key (`pass` overrides the
    /// passphrase source of a key file) and checks that they belong together and that the
    /// certificate is valid now.
    pub fn open(config_path: &Path, pass: Option<&str>) -> Result<Self> {
        let config = LoadedConfig::read(config_path)?;
        let Some(cert_path) = &config.config.certificate else {
            return Err(Error::input(format!(
                "{} has no certificate yet: have the root sign ca.csr, then `ucrypto ca import-cert`",
                config_path.display()
            )));
        };
        let certificate = read_certificates(&config.resolve(cert_path))?.remove(0);
        let chain = match &config.config.chain {
            Some(p) => read_certificates(&config.resolve(p))?,
            None => Vec::new(),
        };
        let dir = config_path.parent().unwrap_or(Path::new("."));
        let key = CaKey::open(&config.config.key, dir, pass)?;
        let cert_key = public_key_of(&certificate).map_err(Error::input)?;
        if cert_key != key.public() {
            return Err(Error::input(format!(
                "the CA key does not match the CA certificate {}",
                config.resolve(cert_path).display()
            )));
        }
        if !valid_at(&certificate, SystemTime::now()) {
            return Err(Error::input(format!(
                "the CA certificate {} is not valid now (expired, or not yet valid): renew the CA; nothing was issued",
                config.resolve(cert_path).display()
            )));
        }
        Ok(Ca {
            config,
            key,
            certificate,
            chain,
        })
    }

    /// This CA's certificate followed by those above it, PEM.
    pub fn chain_pem(&self) -> Result<String> {
        let mut out = String::new();
        for cert in std::iter::once(&self.certificate).chain(&self.chain) {
            out.push_str(&pem_of(cert)?);
        }
        Ok(out)
    }

    /// The SHA-256 of the CA key's SubjectPublicKeyInfo (hex): names the key in records and
    /// output without anything secret.
    pub fn key_id(&self) -> Result<String> {
        let der = self
            .key
            .public()
            .to_public_key_der()
            .map_err(|e| Error::input(e.to_string()))?;
        Ok(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            der.as_bytes(),
        )))
    }
}

/// The certificates an attestation may chain to for the CA of `config`: its own and those
/// above it (no key is opened).
pub fn anchors_of(config: &LoadedConfig) -> Result<Vec<Certificate>> {
    let mut anchors = Vec::new();
    for path in [&config.config.certificate, &config.config.chain]
        .into_iter()
        .flatten()
    {
        anchors.extend(read_certificates(&config.resolve(path))?);
    }
    if anchors.is_empty() {
        return Err(Error::input(format!(
            "{} names no certificate yet",
            config.path.display()
        )));
    }
    Ok(anchors)
}

/// A certificate as PEM.
pub fn pem_of(cert: &Certificate) -> Result<String> {
    cert.to_pem(x509_cert::der::pem::LineEnding::LF)
        .map_err(|e| Error::input(format!("cannot encode a certificate: {e}")))
}

/// A certificate from DER.
pub fn from_der(der: &[u8]) -> Result<Certificate> {
    Certificate::from_der(der)
        .map_err(|e| Error::Verification(format!("not a DER certificate: {e}")))
}

/// DER of a certificate.
pub fn der_of(cert: &Certificate) -> Result<Vec<u8>> {
    cert.to_der()
        .map_err(|e| Error::input(format!("cannot encode a certificate: {e}")))
}

/// Writes `bytes` to `path` in full or not at all (a temporary file renamed over it).
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let failed = |e: std::io::Error| {
        Error::Host(ucrypto::Error::Output {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(failed)?;
    tmp.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

/// One revocation this CA made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// The serial number, lower-case hex.
    pub serial: String,
    pub reason: String,
    /// Seconds since the Unix epoch.
    pub revoked_at: u64,
}

/// The revocations file (`revocations` in the config).
pub fn read_revocations(config: &LoadedConfig) -> Result<Vec<Revocation>> {
    let path = config.resolve(&config.config.revocations);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::input(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::input(format!("cannot read {}: {e}", path.display()))),
    }
}

pub fn write_revocations(config: &LoadedConfig, all: &[Revocation]) -> Result<()> {
    let path = config.resolve(&config.config.revocations);
    let text = serde_json::to_vec_pretty(all).expect("revocations encode");
    write_file(&path, &text)
}

/// Normalises a serial given on the command line (hex, with or without colons or `0x`).
pub fn normalise_serial(serial: &str) -> Result<String> {
    let cleaned: String = serial
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if cleaned.is_empty() || hex::decode(&cleaned).is_err() {
        return Err(Error::input(format!(
            "serial {serial:?} is not hex (as `openssl x509 -serial` and `ucrypto cert show` print it)"
        )));
    }
    Ok(cleaned.trim_start_matches("00").to_string())
}
