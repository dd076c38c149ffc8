//! The `csr` step: a PKCS#10 certificate signing request for the device's key in a slot,
//! signed by the device itself (the private key never leaves it), for a line's CA to issue the
//! device certificate from. The CSR is checked on the host and recorded with the key.
use std::str::FromStr;

use sha2::{Digest, Sha256};
use x509_cert::der::asn1::{Any, BitString, SetOfVec};
use x509_cert::der::pem::LineEnding;
use x509_cert::der::{Decode, Encode, EncodePem};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, Version};
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use rsa::pkcs8::EncodePublicKey;

use super::key_generate::{public_key, sign_with_slot};
use crate::error::{Error, Result};
use crate::records::KeyRecord;
use ucrypto::client::Client;

/// In a `subject`, replaced by the device's id.
pub const DEVICE_ID_PLACEHOLDER: &str = "{device_id}";

/// sha256WithRSAEncryption (RFC 4055): RS256, what the device signs with.
const SHA256_WITH_RSA: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// The subject for `device_id` from the recipe's template (RFC 4514, e.g.
/// `CN={device_id},O=Example`).
pub fn subject_for(template: &str, device_id: &str) -> std::result::Result<Name, String> {
    Name::from_str(&template.replace(DEVICE_ID_PLACEHOLDER, device_id))
        .map_err(|e| format!("subject = {template:?} is not an RFC 4514 name ({e}): e.g. \"CN={{device_id}},O=Example\""))
}

/// Builds the CSR for `slot`'s key and has the device sign it; returns the key's record with the
/// CSR (PEM) in it.
pub fn make_csr(client: &mut Client, slot: u8, template: &str) -> Result<KeyRecord> {
    let public = public_key(client, slot).map_err(|e| match e {
        ucrypto::Error::Device {
            code: ucrypto_protocol::ErrorCode::NoKey,
            ..
        } => Error::input(format!(
            "slot {slot} holds no key: put a key-generate step for slot {slot} before csr"
        )),
        other => other.into(),
    })?;
    let encoding =
        |e: &dyn std::fmt::Display| Error::Verification(format!("cannot encode the CSR: {e}"));
    let der = public
        .to_public_key_der()
        .map_err(|e| encoding(&e))?
        .into_vec();
    let subject = subject_for(template, &client.info().device_id_string()).map_err(Error::input)?;
    let info = CertReqInfo {
        version: Version::V1,
        subject,
        public_key: SubjectPublicKeyInfoOwned::from_der(&der).map_err(|e| encoding(&e))?,
        attributes: SetOfVec::new(),
    };
    let to_be_signed = info.to_der().map_err(|e| encoding(&e))?;
    let digest: [u8; 32] = Sha256::digest(&to_be_signed).into();
    let signature = sign_with_slot(client, slot, &public, digest)?;
    let request = CertReq {
        info,
        algorithm: AlgorithmIdentifierOwned {
            oid: SHA256_WITH_RSA,
            parameters: Some(Any::null()),
        },
        signature: BitString::from_bytes(&signature).map_err(|e| encoding(&e))?,
    };
    let pem = request.to_pem(LineEnding::LF).map_err(|e| encoding(&e))?;
    Ok(KeyRecord {
        slot: i64::from(slot),
        spki_sha256: hex::encode(Sha256::digest(&der)),
        public_key_der: der,
        origin: None,
        csr_pem: Some(pem),
    })
}
