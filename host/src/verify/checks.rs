//! What the attestation and revocation checks share: a named check that failed, the RS256
//! signature check of a certificate's or a CRL's signed part by its issuer, and serial numbers
//! as ucrypto prints them.
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::RsaPublicKey;
use sha2::Sha256;
use signature::Verifier;
use x509_cert::der::Encode;
use x509_cert::Certificate;

/// sha256WithRSAEncryption.
const SHA256_WITH_RSA: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// A failed check: its name (`signature`, `challenge`, `chain`, ...) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub check: &'static str,
    pub reason: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "check {} failed: {}", self.check, self.reason)
    }
}

pub fn fail(check: &'static str, reason: impl Into<String>) -> Failure {
    Failure {
        check,
        reason: reason.into(),
    }
}

/// A serial number as ucrypto prints and records it: lower-case hex without the sign byte
/// (as `openssl x509 -serial` prints it, in lower case).
pub fn serial_hex(bytes: &[u8]) -> String {
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    hex::encode(&bytes[start..])
}

/// The certificate's public key.
pub fn public_key_of(cert: &Certificate) -> Result<RsaPublicKey, String> {
    let der = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())?;
    RsaPublicKey::from_public_key_der(&der).map_err(|e| format!("not an RSA key: {e}"))
}

/// Whether `signature` over the DER `tbs` (a certificate's or a CRL's signed part) was made by
/// `issuer`'s key with `algorithm` (RS256 only).
pub fn issuer_signed(
    issuer: &Certificate,
    algorithm: &x509_cert::spki::AlgorithmIdentifierOwned,
    tbs: &[u8],
    signature: &x509_cert::der::asn1::BitString,
) -> bool {
    if algorithm.oid != SHA256_WITH_RSA {
        return false;
    }
    let Ok(key) = public_key_of(issuer) else {
        return false;
    };
    let Some(sig) = signature.as_bytes() else {
        return false;
    };
    let Ok(sig) = Signature::try_from(sig) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(key).verify(tbs, &sig).is_ok()
}
