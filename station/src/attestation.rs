//! The station's checks of an attestation, after the device's own
//! (`ucrypto::verify::attestation`): what the records say of the device, its key and its
//! certificate, and what the CA itself revoked. `ucrypto attest` and the recipe's `attest` step
//! both run them from here, so both name the same checks.
use std::path::Path;

use ucrypto::verify::attestation::{Failure, Verdict};
use x509_cert::Certificate;

use crate::ca::{self, config::LoadedConfig, Revocation};
use crate::error::Result;
use crate::records::Records;

/// A line CA as an attestation's verifier uses it (its `ca.toml`): the certificates an answer
/// must chain to, and the config whose revocations file is read afresh for each check (so that
/// a `ca revoke` during a station run counts from the next device on).
pub struct AttestCa {
    anchors: Vec<Certificate>,
    config: LoadedConfig,
}

impl AttestCa {
    pub fn open(config_path: &Path) -> Result<Self> {
        let config = LoadedConfig::read(config_path)?;
        Ok(Self {
            anchors: ca::anchors_of(&config)?,
            config,
        })
    }

    /// The CA certificate and its chain.
    pub fn anchors(&self) -> &[Certificate] {
        &self.anchors
    }

    /// What the CA revoked (`ca revoke`), as its revocations file says now.
    pub fn revocations(&self) -> Result<Vec<Revocation>> {
        ca::read_revocations(&self.config)
    }
}

/// `revocation` without records: the CA itself did not revoke the certificate's serial (its
/// revocations file, `ca revoke`). Adds the check to `verdict.checks` when it passes.
pub fn check_ca_revocations(
    verdict: &mut Verdict,
    ca_revoked: &[Revocation],
) -> std::result::Result<(), Failure> {
    let serial = &verdict.serial;
    if let Some(by_ca) = ca_revoked.iter().find(|r| &r.serial == serial) {
        let reason = format!(
            "certificate {serial} was revoked by the CA ({})",
            by_ca.reason
        );
        return Err(failure("revocation", reason));
    }
    passed(verdict, "revocation");
    Ok(())
}

fn passed(verdict: &mut Verdict, check: &'static str) {
    if !verdict.checks.contains(&check) {
        verdict.checks.push(check);
    }
}

fn failure(check: &'static str, reason: String) -> Failure {
    Failure { check, reason }
}

/// Checks `verdict` (an attestation whose device checks passed) against `records` and the
/// CA's own revocations `ca_revoked` (its revocations file: `ca revoke` with or without
/// `--records`), in this order: `records: device` (the records know the device),
/// `records: key` (and the statement's key for it), `revocation` (neither the records nor the
/// CA revoked the certificate's serial). The names of those that pass are added to
/// `verdict.checks`. The outer error is the records'; the inner one the check that failed.
pub fn check_records(
    records: &Records,
    verdict: &mut Verdict,
    ca_revoked: &[Revocation],
) -> Result<std::result::Result<(), Failure>> {
    let device = verdict.statement.device_id_string();
    let spki = hex::encode(verdict.statement.spki_sha256);
    let standing = records.standing(&device, &spki, &verdict.serial)?;
    if !standing.device_known {
        let reason = format!("the records do not know device {device}");
        return Ok(Err(failure("records: device", reason)));
    }
    passed(verdict, "records: device");
    if !standing.key_known {
        let reason = format!("the records hold no key {spki} for device {device}");
        return Ok(Err(failure("records: key", reason)));
    }
    passed(verdict, "records: key");
    let serial = &verdict.serial;
    let revoked = match (
        standing.revoked,
        ca_revoked.iter().find(|r| &r.serial == serial),
    ) {
        (Some(reason), _) => Some(format!("certificate {serial} was revoked ({reason})")),
        (None, Some(by_ca)) => Some(format!(
            "certificate {serial} was revoked by the CA ({}); the records were not told",
            by_ca.reason
        )),
        (None, None) => None,
    };
    if let Some(reason) = revoked {
        return Ok(Err(failure("revocation", reason)));
    }
    passed(verdict, "revocation");
    Ok(Ok(()))
}
