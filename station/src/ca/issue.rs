//! Certificates the CA makes: its own (a root, or a request for an offline root to sign) and
//! the device certificates, each built with x509-cert's builder and checked after signing.
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use rsa::pkcs8::EncodePublicKey;
use sha2::{Digest, Sha256};
use x509_cert::builder::{Builder, CertificateBuilder, Profile, RequestBuilder};
use x509_cert::der::asn1::Ia5String;
use x509_cert::der::referenced::OwnedToRef;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::ext::pkix::constraints::name::{GeneralSubtree, NameConstraints};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::request::CertReq;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::{Time, Validity};
use x509_cert::Certificate;

use super::config::Policy;
use super::key::CaKey;
use crate::error::{Error, Result};
use ucrypto::verify::attestation::{device_urn, signed_by, spki_sha256_of};

const ID_KP_CLIENT_AUTH: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
const ID_KP_SERVER_AUTH: x509_cert::der::oid::ObjectIdentifier =
    x509_cert::der::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");

const DAY: u64 = 86_400;

fn build_error(e: impl std::fmt::Display) -> Error {
    Error::Verification(format!("cannot build the certificate: {e}"))
}

/// A fresh serial number: 16 random bytes, positive (RFC 5280 asks for at most 20 octets and
/// CA/Browser rules for at least 64 random bits; this has 127).
pub fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the host OS has no random number generator");
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(build_error)
}

fn time(t: SystemTime) -> Result<Time> {
    Time::try_from(t).map_err(build_error)
}

fn spki_of(key: &CaKey) -> Result<SubjectPublicKeyInfoOwned> {
    let der = key.public().to_public_key_der().map_err(build_error)?;
    SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(build_error)
}

/// A self-signed root: basicConstraints CA:true, keyUsage keyCertSign and cRLSign, a subject
/// key identifier, and DNS name constraints when the policy gives any.
pub fn root_certificate(
    key: &CaKey,
    subject: Name,
    days: u32,
    policy: &Policy,
) -> Result<Certificate> {
    let now = SystemTime::now();
    let validity = Validity {
        not_before: time(now)?,
        not_after: time(now + Duration::from_secs(u64::from(days) * DAY))?,
    };
    let mut builder = CertificateBuilder::new(
        Profile::Root,
        random_serial()?,
        validity,
        subject,
        spki_of(key)?,
        key,
    )
    .map_err(build_error)?;
    if let Some(constraints) = name_constraints(&policy.permitted_dns)? {
        builder.add_extension(&constraints).map_err(build_error)?;
    }
    let cert = builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(build_error)?;
    if !signed_by(&cert, &cert) {
        return Err(Error::Verification(
            "the new CA certificate does not verify with the CA key".into(),
        ));
    }
    Ok(cert)
}

fn name_constraints(permitted_dns: &[String]) -> Result<Option<NameConstraints>> {
    if permitted_dns.is_empty() {
        return Ok(None);
    }
    let permitted = permitted_dns
        .iter()
        .map(|d| {
            Ok(GeneralSubtree {
                base: GeneralName::DnsName(Ia5String::new(d).map_err(build_error)?),
                minimum: 0,
                maximum: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(NameConstraints {
        permitted_subtrees: Some(permitted),
        excluded_subtrees: None,
    }))
}

/// A PKCS#10 request for an intermediate CA, for an offline root to sign (`ca csr`).
pub fn ca_request(key: &CaKey, subject: Name) -> Result<CertReq> {
    let builder = RequestBuilder::new(subject, key).map_err(build_error)?;
    builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(build_error)
}

/// Parses a CSR (PEM or DER) and checks its own signature.
pub fn read_request(bytes: &[u8]) -> Result<CertReq> {
    let request = CertReq::from_pem(bytes)
        .or_else(|_| CertReq::from_der(bytes))
        .map_err(|e| Error::Verification(format!("the CSR does not parse: {e}")))?;
    let info = request
        .info
        .to_der()
        .map_err(|e| Error::Verification(format!("the CSR does not encode: {e}")))?;
    let key_der = request
        .info
        .public_key
        .to_der()
        .map_err(|e| Error::Verification(format!("the CSR's key does not encode: {e}")))?;
    let key = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&key_der)
        .map_err(|e| Error::Verification(format!("the CSR's key is not RSA: {e}")))?;
    let signature = rsa::pkcs1v15::Signature::try_from(request.signature.raw_bytes())
        .map_err(|e| Error::Verification(format!("the CSR's signature: {e}")))?;
    signature::Verifier::verify(
        &rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key),
        &info,
        &signature,
    )
    .map_err(|_| Error::Verification("the CSR's signature does not verify with its key".into()))?;
    Ok(request)
}

/// What a device certificate is issued for.
pub struct DeviceRequest<'a> {
    pub csr: &'a CertReq,
    /// The DER SubjectPublicKeyInfo the device reported for the slot.
    pub slot_spki_der: &'a [u8],
    pub device_id: [u8; 6],
    /// RFC 4514 subject with `{device_id}` replaced already.
    pub subject: &'a str,
}

fn key_usages(policy: &Policy) -> Result<KeyUsage> {
    let mut usages = KeyUsages::DigitalSignature.into();
    for name in &policy.key_usage {
        usages |= match name.as_str() {
            "digital-signature" => KeyUsages::DigitalSignature,
            "key-encipherment" => KeyUsages::KeyEncipherment,
            "key-agreement" => KeyUsages::KeyAgreement,
            other => {
                return Err(Error::input(format!(
                    "policy key-usage {other:?}: use digital-signature, key-encipherment or key-agreement"
                )))
            }
        };
    }
    Ok(KeyUsage(usages))
}

fn extended_key_usage(policy: &Policy) -> Result<ExtendedKeyUsage> {
    policy
        .extended_key_usage
        .iter()
        .map(|name| match name.as_str() {
            "client-auth" => Ok(ID_KP_CLIENT_AUTH),
            "server-auth" => Ok(ID_KP_SERVER_AUTH),
            other => Err(Error::input(format!(
                "policy extended-key-usage {other:?}: use client-auth or server-auth"
            ))),
        })
        .collect::<Result<Vec<_>>>()
        .map(ExtendedKeyUsage)
}

/// Issues the device certificate for `request` under `ca_cert`: the CSR's key must be the
/// slot's key; the certificate is checked against the CA's key before it is returned. Its
/// validity ends at the policy's days or the CA's own end, whichever comes first.
pub fn device_certificate(
    key: &CaKey,
    ca_cert: &Certificate,
    policy: &Policy,
    request: &DeviceRequest<'_>,
) -> Result<Certificate> {
    let csr_key = request
        .csr
        .info
        .public_key
        .to_der()
        .map_err(|e| Error::Verification(format!("the CSR's key does not encode: {e}")))?;
    if csr_key != request.slot_spki_der {
        return Err(Error::Verification(
            "the CSR's key is not the key the device reported for the slot: nothing was issued"
                .into(),
        ));
    }
    let now = SystemTime::now();
    let ca_end = ca_cert.tbs_certificate.validity.not_after.to_system_time();
    if ca_end <= now {
        return Err(Error::input(
            "the CA certificate has expired: renew the CA before issuing (nothing was issued)",
        ));
    }
    let end = (now + Duration::from_secs(u64::from(policy.validity_days) * DAY)).min(ca_end);
    let validity = Validity {
        not_before: time(now)?,
        not_after: time(end)?,
    };
    let subject = Name::from_str(request.subject)
        .map_err(|e| Error::input(format!("subject {:?}: {e}", request.subject)))?;
    let issuer = ca_cert.tbs_certificate.subject.clone();
    let spki = request.csr.info.public_key.clone();
    let mut builder = CertificateBuilder::new(
        Profile::Manual {
            issuer: Some(issuer),
        },
        random_serial()?,
        validity,
        subject,
        spki.clone(),
        key,
    )
    .map_err(build_error)?;
    builder
        .add_extension(&BasicConstraints {
            ca: false,
            path_len_constraint: None,
        })
        .map_err(build_error)?;
    builder
        .add_extension(&key_usages(policy)?)
        .map_err(build_error)?;
    builder
        .add_extension(&extended_key_usage(policy)?)
        .map_err(build_error)?;
    builder
        .add_extension(&SubjectKeyIdentifier::try_from(spki.owned_to_ref()).map_err(build_error)?)
        .map_err(build_error)?;
    let ca_spki = ca_cert.tbs_certificate.subject_public_key_info.clone();
    builder
        .add_extension(
            &AuthorityKeyIdentifier::try_from(ca_spki.owned_to_ref()).map_err(build_error)?,
        )
        .map_err(build_error)?;
    let urn = Ia5String::new(&device_urn(&request.device_id)).map_err(build_error)?;
    builder
        .add_extension(&SubjectAltName(vec![
            GeneralName::UniformResourceIdentifier(urn),
        ]))
        .map_err(build_error)?;
    let cert = builder
        .build::<rsa::pkcs1v15::Signature>()
        .map_err(build_error)?;
    if !signed_by(&cert, ca_cert) {
        return Err(Error::Verification(
            "the issued certificate does not verify with the CA certificate's key (the CA key and certificate do not match)".into(),
        ));
    }
    let slot_hash: [u8; 32] = Sha256::digest(request.slot_spki_der).into();
    if spki_sha256_of(&cert).ok() != Some(slot_hash) {
        return Err(Error::Verification(
            "the issued certificate does not carry the slot's key".into(),
        ));
    }
    Ok(cert)
}

/// The certificate's DER.
pub fn der_of(cert: &Certificate) -> Result<Vec<u8>> {
    cert.to_der().map_err(build_error)
}
