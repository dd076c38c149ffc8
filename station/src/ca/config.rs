//! The line CA's config file (`ca.toml`): where its certificate and key are, and the policy of
//! the device certificates it issues. Paths are relative to the file's folder.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The config file's name that `ca init` writes.
pub const CONFIG_FILE: &str = "ca.toml";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CaConfig {
    /// This CA's certificate (PEM); absent for an intermediate until `ca import-cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<PathBuf>,
    /// The certificates above this CA up to the root (PEM, may hold several), for an
    /// intermediate: sent nowhere, kept to check the CA's own chain and to export chains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<PathBuf>,
    /// The revocations this CA made (`ca revoke`), read by `ca crl`.
    #[serde(default = "CaConfig::default_revocations")]
    pub revocations: PathBuf,
    pub key: KeyLocation,
    pub policy: Policy,
}

impl CaConfig {
    fn default_revocations() -> PathBuf {
        "revocations.json".into()
    }
}

/// Where the CA's private key is: an encrypted PKCS#8 file or a PKCS#11 token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case"
)]
pub enum KeyLocation {
    /// An encrypted PKCS#8 PEM file; its passphrase from `passphrase` (`env:VAR` or
    /// `file:PATH`), else `--pass`, else a prompt.
    File {
        path: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passphrase: Option<String>,
    },
    /// A private key on a PKCS#11 token (an HSM; SoftHSM2 in tests).
    Pkcs11 {
        /// The token's PKCS#11 module (`/usr/lib/softhsm/libsofthsm2.so`).
        module: PathBuf,
        /// The token's label.
        token: String,
        /// The key's label (`CKA_LABEL`) on the token.
        key_label: String,
        /// The user PIN: `env:VAR` or `file:PATH`, never the PIN itself.
        pin: String,
    },
}

/// What the device certificates look like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Policy {
    /// Days a device certificate is valid from its issue.
    #[serde(default = "Policy::default_validity_days")]
    pub validity_days: u32,
    /// The subject, RFC 4514, `{device_id}` replaced by the device's id; a recipe's `certify`
    /// step may give its own.
    #[serde(default = "Policy::default_subject")]
    pub subject: String,
    /// keyUsage bits of device certificates (`digital-signature`, `key-encipherment`).
    #[serde(default = "Policy::default_key_usage")]
    pub key_usage: Vec<String>,
    /// extKeyUsage of device certificates (`client-auth`, `server-auth`).
    #[serde(default = "Policy::default_extended_key_usage")]
    pub extended_key_usage: Vec<String>,
    /// DNS name constraints put in the CA certificate by `ca init` (permitted subtrees).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permitted_dns: Vec<String>,
}

impl Policy {
    fn default_validity_days() -> u32 {
        3650
    }
    fn default_subject() -> String {
        "CN={device_id}".into()
    }
    fn default_key_usage() -> Vec<String> {
        vec!["digital-signature".into()]
    }
    fn default_extended_key_usage() -> Vec<String> {
        vec!["client-auth".into()]
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            validity_days: Self::default_validity_days(),
            subject: Self::default_subject(),
            key_usage: Self::default_key_usage(),
            extended_key_usage: Self::default_extended_key_usage(),
            permitted_dns: Vec::new(),
        }
    }
}

/// A config file read, with its folder for the relative paths.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: CaConfig,
    pub path: PathBuf,
}

impl LoadedConfig {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::input(format!(
                "cannot read the CA config {}: {e} (make one with `ucrypto ca init`)",
                path.display()
            ))
        })?;
        // toml's message spans several lines with an excerpt: one line, with the line number.
        let config: CaConfig = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|s| format!(" (line {})", text[..s.start].lines().count().max(1)))
                .unwrap_or_default();
            Error::input(format!(
                "{}{line}: {}",
                path.display(),
                e.message().trim().replace('\n', " ")
            ))
        })?;
        Ok(LoadedConfig {
            config,
            path: path.to_path_buf(),
        })
    }

    /// `relative` taken from the config file's folder.
    pub fn resolve(&self, relative: &Path) -> PathBuf {
        match self.path.parent() {
            Some(dir) => dir.join(relative),
            None => relative.to_path_buf(),
        }
    }

    /// Writes the config back (after `ca import-cert`).
    pub fn write(&self) -> Result<()> {
        write_config(&self.path, &self.config)
    }
}

pub fn write_config(path: &Path, config: &CaConfig) -> Result<()> {
    let text = toml::to_string_pretty(config)
        .map_err(|e| Error::input(format!("cannot encode the CA config: {e}")))?;
    crate::ca::write_file(path, text.as_bytes())
}
