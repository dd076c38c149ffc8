//! Revocation by certificate revocation lists (RFC 5280 section 5), for an attestation whose
//! chain was verified: each CRL must be issued and signed by a CA of that chain and be current,
//! and no certificate of the chain may be on its issuer's list. A CRL that cannot be checked
//! fails its check; it is never skipped. docs/ca.md, "Revocation", names the checks.
use std::time::{Duration, SystemTime};

use x509_cert::crl::CertificateList;
use x509_cert::der::oid::AssociatedOid;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::crl::CrlReason;
use x509_cert::name::Name;
use x509_cert::time::Time;
use x509_cert::Certificate;

use super::checks::{fail, issuer_signed, serial_hex, Failure};

/// The revocation reasons by the names ucrypto uses (`ca revoke --reason`), with RFC 5280's
/// codes.
pub const REASONS: &[(&str, CrlReason)] = &[
    ("unspecified", CrlReason::Unspecified),
    ("key-compromise", CrlReason::KeyCompromise),
    ("ca-compromise", CrlReason::CaCompromise),
    ("affiliation-changed", CrlReason::AffiliationChanged),
    ("superseded", CrlReason::Superseded),
    ("cessation-of-operation", CrlReason::CessationOfOperation),
    ("certificate-hold", CrlReason::CertificateHold),
    ("privilege-withdrawn", CrlReason::PrivilegeWithdrawn),
];

/// The name of `reason` (as `ca revoke --reason` takes it where it has one).
pub fn reason_name(reason: CrlReason) -> String {
    REASONS
        .iter()
        .find(|(_, r)| *r == reason)
        .map(|(name, _)| name.to_string())
        .unwrap_or_else(|| format!("{reason:?}"))
}

const PEM_LABEL: &str = "X509 CRL";

/// One DER CRL. x509-cert reads version 2 only (the version a CRL with extensions has).
fn decode(der: &[u8]) -> Result<CertificateList, String> {
    CertificateList::from_der(der)
        .map_err(|e| format!("not a version-2 X.509 CRL, PEM or DER ({e})"))
}

/// Parses the CRLs of a file: PEM with one or more `X509 CRL` blocks, or one DER CRL.
pub fn parse_crls(bytes: &[u8]) -> Result<Vec<CertificateList>, String> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) if text.contains("-----BEGIN ") => text,
        _ => return decode(bytes).map(|crl| vec![crl]),
    };
    let mut crls = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let end = block
            .find("-----END ")
            .and_then(|at| block[at + 9..].find("-----").map(|tail| at + 9 + tail + 5))
            .ok_or("a PEM block has no END line")?;
        let (label, der) = x509_cert::der::pem::decode_vec(&block.as_bytes()[..end])
            .map_err(|e| format!("a PEM block does not decode: {e}"))?;
        if label != PEM_LABEL {
            return Err(format!("a {label} block, not an {PEM_LABEL}"));
        }
        crls.push(decode(&der)?);
        rest = &block[end..];
    }
    if crls.is_empty() {
        return Err("no CRL in it".into());
    }
    Ok(crls)
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default()
}

fn date(t: &Time) -> String {
    t.to_date_time().to_string()
}

/// Why an entry was revoked: its reason code's name, or "no reason given".
fn entry_reason(entry: &x509_cert::crl::RevokedCert) -> String {
    entry
        .crl_entry_extensions
        .iter()
        .flatten()
        .find(|ext| ext.extn_id == CrlReason::OID)
        .and_then(|ext| CrlReason::from_der(ext.extn_value.as_bytes()).ok())
        .map(reason_name)
        .unwrap_or_else(|| "no reason given".into())
}

fn crl_of(issuer: &Name) -> String {
    format!("the CRL of {issuer}")
}

/// Checks the verified `path` (the device certificate first, the trusted CA last) against
/// `crls`, in this order: `crl: issuer` (each CRL's issuer is a CA of the path, and one is the
/// device certificate's issuer), `crl: signature` (each verifies with its issuer's key from the
/// path: a CRL signed by another CA fails), `crl: current` (issued no later than `now`, its
/// nextUpdate not passed: a stale CRL fails), `revocation` (no certificate of the path below
/// the trusted CA is on its issuer's CRLs; the failure gives the reason). Returns the names of
/// the checks that passed.
pub fn check_crls(
    path: &[Certificate],
    crls: &[CertificateList],
    now: SystemTime,
) -> Result<Vec<&'static str>, Failure> {
    let now = since_epoch(now);
    // The index in `path` of each CRL's issuer (never 0: the device certificate issues none).
    let mut issuers = Vec::with_capacity(crls.len());
    for crl in crls {
        let issuer = &crl.tbs_cert_list.issuer;
        let at = path
            .iter()
            .skip(1)
            .position(|ca| &ca.tbs_certificate.subject == issuer)
            .ok_or_else(|| {
                fail(
                    "crl: issuer",
                    format!(
                        "{} is not from a CA of the device certificate's chain",
                        crl_of(issuer)
                    ),
                )
            })?;
        issuers.push(at + 1);
    }
    if let (false, Some(issuer)) = (issuers.contains(&1), path.get(1)) {
        return Err(fail(
            "crl: issuer",
            format!(
                "no CRL of {}, the device certificate's issuer, was given",
                issuer.tbs_certificate.subject
            ),
        ));
    }
    for (crl, &at) in crls.iter().zip(&issuers) {
        let signed = crl.tbs_cert_list.to_der().is_ok_and(|tbs| {
            issuer_signed(&path[at], &crl.signature_algorithm, &tbs, &crl.signature)
        });
        if !signed {
            return Err(fail(
                "crl: signature",
                format!(
                    "{} does not verify with that CA's key (signed by another CA)",
                    crl_of(&crl.tbs_cert_list.issuer)
                ),
            ));
        }
    }
    for crl in crls {
        let tbs = &crl.tbs_cert_list;
        if tbs.this_update.to_unix_duration() > now {
            return Err(fail(
                "crl: current",
                format!(
                    "{} is dated in the future (thisUpdate {})",
                    crl_of(&tbs.issuer),
                    date(&tbs.this_update)
                ),
            ));
        }
        if let Some(next) = tbs.next_update.filter(|t| t.to_unix_duration() < now) {
            return Err(fail(
                "crl: current",
                format!(
                    "{} is stale: its nextUpdate {} has passed (fetch a new one)",
                    crl_of(&tbs.issuer),
                    date(&next)
                ),
            ));
        }
    }
    for (index, cert) in path[..path.len().saturating_sub(1)].iter().enumerate() {
        let serial = serial_hex(cert.tbs_certificate.serial_number.as_bytes());
        let listed = crls
            .iter()
            .zip(&issuers)
            .filter(|(_, &at)| at == index + 1)
            .flat_map(|(crl, _)| crl.tbs_cert_list.revoked_certificates.iter().flatten())
            .find(|entry| serial_hex(entry.serial_number.as_bytes()) == serial);
        if let Some(entry) = listed {
            return Err(fail(
                "revocation",
                format!(
                    "certificate {serial} ({}) was revoked on {} ({})",
                    cert.tbs_certificate.subject,
                    date(&entry.revocation_date),
                    entry_reason(entry)
                ),
            ));
        }
    }
    Ok(vec![
        "crl: issuer",
        "crl: signature",
        "crl: current",
        "revocation",
    ])
}
