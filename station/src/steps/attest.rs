//! The `attest` step: the device proves it holds the certified key (a fresh challenge, its
//! signed statement and its certificates, checked by `ucrypto::verify::attestation`), then the
//! station checks the answer against the records and the CA's revocations
//! (`crate::attestation`): the records must know the device and the key, and neither the
//! records nor the CA may have revoked the certificate.
//!
//! The keys and certificates an earlier step of the same run found (`key-generate`, `csr`,
//! `certify`) are in the records by then: the worker records each step's findings in the
//! transaction that marks the step done, before the next step starts.
use super::found::Found;
use crate::attestation::{check_records, AttestCa};
use crate::error::{Error, Result};
use crate::records::Records;
use ucrypto::client::Client;
use ucrypto::verify::attestation::{attest_device, Failure};

fn failed(failure: &Failure) -> Error {
    Error::Verification(format!("attestation: {failure}"))
}

/// Runs `attest` for the key in `slot`: every check of the device's answer, then the records'
/// and the CA's.
pub fn attest(client: &mut Client, ca: &AttestCa, slot: u8, records: &Records) -> Result<Found> {
    let mut verdict = attest_device(client, slot, ca.anchors(), &[])?
        .1
        .map_err(|f| failed(&f))?;
    let revoked = ca.revocations()?;
    check_records(records, &mut verdict, &revoked)?.map_err(|f| failed(&f))?;
    Ok(Found::from(serde_json::json!({
        "slot": slot,
        "verdict": "genuine",
        "serial": verdict.serial,
        "checks": verdict.checks,
        "statement": verdict.statement,
    })))
}
