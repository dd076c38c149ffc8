//! The CA's certificate revocation list (RFC 5280 section 5): every revocation of the
//! revocations file with its reason, signed by the CA key and checked before it is written.
//! x509-cert has no CRL builder, so the `TbsCertList` is filled here and signed like a
//! certificate.
use std::time::{Duration, SystemTime};

use signature::{Keypair, Signer};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::der::asn1::{BitString, Uint};
use x509_cert::der::referenced::OwnedToRef;
use x509_cert::der::Encode;
use x509_cert::ext::pkix::crl::{CrlNumber, CrlReason};
use x509_cert::ext::pkix::AuthorityKeyIdentifier;
use x509_cert::ext::AsExtension;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::DynSignatureAlgorithmIdentifier;
use x509_cert::time::Time;
use x509_cert::Version;

use super::{Ca, Revocation};
use crate::error::{Error, Result};

/// Reasons `ca revoke --reason` takes, with RFC 5280's codes (the host library reads them back
/// from a CRL by the same names).
pub use ucrypto::verify::revocation::REASONS;

pub fn reason_code(name: &str) -> Result<CrlReason> {
    REASONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r)
        .ok_or_else(|| {
            let names: Vec<&str> = REASONS.iter().map(|(n, _)| *n).collect();
            Error::input(format!(
                "reason {name:?} is not one of: {}",
                names.join(", ")
            ))
        })
}

fn failed(e: impl std::fmt::Display) -> Error {
    Error::Verification(format!("cannot build the CRL: {e}"))
}

/// The CRL over `revocations`, valid for `days`, as PEM.
pub fn crl_pem(ca: &Ca, revocations: &[Revocation], days: u32) -> Result<String> {
    let issuer = ca.certificate.tbs_certificate.subject.clone();
    let now = SystemTime::now();
    let time = |t: SystemTime| Time::try_from(t).map_err(failed);
    let mut revoked = Vec::new();
    for r in revocations {
        let serial = SerialNumber::new(&hex::decode(&r.serial).map_err(failed)?).map_err(failed)?;
        let reason = reason_code(&r.reason)?;
        revoked.push(RevokedCert {
            serial_number: serial,
            revocation_date: time(SystemTime::UNIX_EPOCH + Duration::from_secs(r.revoked_at))?,
            crl_entry_extensions: Some(vec![reason.to_extension(&issuer, &[]).map_err(failed)?]),
        });
    }
    // The CRL number grows with time, so a newer list always has a larger one.
    let number = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let ca_spki = ca
        .certificate
        .tbs_certificate
        .subject_public_key_info
        .clone();
    let aki = AuthorityKeyIdentifier::try_from(ca_spki.owned_to_ref()).map_err(failed)?;
    let extensions = vec![
        aki.to_extension(&issuer, &[]).map_err(failed)?,
        CrlNumber(Uint::new(&number.to_be_bytes()).map_err(failed)?)
            .to_extension(&issuer, &[])
            .map_err(failed)?,
    ];
    let tbs = TbsCertList {
        version: Version::V2,
        signature: ca.key.signature_algorithm_identifier().map_err(failed)?,
        issuer,
        this_update: time(now)?,
        next_update: Some(time(now + Duration::from_secs(u64::from(days) * 86_400))?),
        revoked_certificates: (!revoked.is_empty()).then_some(revoked),
        crl_extensions: Some(extensions),
    };
    let tbs_der = tbs.to_der().map_err(failed)?;
    let signature: rsa::pkcs1v15::Signature = ca.key.try_sign(&tbs_der).map_err(failed)?;
    signature::Verifier::verify(&ca.key.verifying_key(), &tbs_der, &signature)
        .map_err(|_| Error::Verification("the CRL's signature does not verify".into()))?;
    let list = CertificateList {
        signature_algorithm: tbs.signature.clone(),
        tbs_cert_list: tbs,
        signature: BitString::from_bytes(&signature::SignatureEncoding::to_vec(&signature))
            .map_err(failed)?,
    };
    let der = list.to_der().map_err(failed)?;
    x509_cert::der::pem::encode_string("X509 CRL", x509_cert::der::pem::LineEnding::LF, &der)
        .map_err(failed)
}
