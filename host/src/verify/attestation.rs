//! Checks an attestation (docs/protocol.md section 6, "Attestation"): the statement's encoding,
//! the challenge, the signature by the slot's key, the certificate chain to a trusted CA, and
//! that the certificate is this device's and this key's. Each check has a name, which a failure
//! carries, so that a verdict says which one failed.
use std::time::{Duration, SystemTime};

use rsa::pkcs1v15::{Signature, VerifyingKey};
use serde::Serialize;
use sha2::{Digest, Sha256};
use signature::Verifier;
use x509_cert::crl::CertificateList;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

use super::checks::fail;
pub use super::checks::{issuer_signed, public_key_of, serial_hex, Failure};

use crate::operations::certificate::Evidence;

/// The statement's first bytes and the version this host reads.
pub const STATEMENT_TAG: &[u8; 20] = b"UCRYPTO-ATTESTATION\0";
pub const STATEMENT_VERSION: u8 = 1;
const FIXED_LEN: usize = 139;

/// The URN prefix of a device id in a certificate's subject alternative name (RFC 9039,
/// `urn:dev:mac:` followed by the MAC address in lower-case hex).
pub const DEVICE_URN_PREFIX: &str = "urn:dev:mac:";

/// The SAN URI naming `device_id`.
pub fn device_urn(device_id: &[u8; 6]) -> String {
    format!("{DEVICE_URN_PREFIX}{}", hex::encode(device_id))
}

fn as_hex<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(bytes))
}

/// A decoded statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub version: u8,
    #[serde(serialize_with = "as_hex")]
    pub challenge: [u8; 32],
    #[serde(serialize_with = "as_hex")]
    pub device_id: [u8; 6],
    pub chip: &'static str,
    #[serde(rename = "virtual")]
    pub virtual_device: bool,
    pub slot: u8,
    pub key_bits: u16,
    #[serde(serialize_with = "as_hex")]
    pub spki_sha256: [u8; 32],
    pub key_origin: &'static str,
    pub key_readable: bool,
    /// `None` when the device does not report its security state.
    pub security: Option<Security>,
    pub app_sha256: Option<String>,
    pub firmware_version: String,
}

/// The security state as the statement gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Security {
    pub provisioning_locked: bool,
    pub secure_boot: bool,
    pub flash_encryption: &'static str,
    pub usb_jtag_disabled: bool,
    pub pad_jtag_disabled: bool,
    pub download_mode: &'static str,
    pub read_protection_locked: bool,
}

fn flag(byte: u8) -> Result<bool, String> {
    match byte {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(format!("a flag byte is {other}, not 0 or 1")),
    }
}

fn pick(byte: u8, names: &[&'static str]) -> Result<&'static str, String> {
    names
        .get(usize::from(byte))
        .copied()
        .ok_or_else(|| format!("value {byte} is not one of {names:?}"))
}

impl Statement {
    /// The device id as the records and `ucrypto info` write it (`aa:bb:…`).
    pub fn device_id_string(&self) -> String {
        crate::device_info::mac_string(&self.device_id)
    }

    /// Decodes `bytes` by the fixed layout; any deviation is an error.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < FIXED_LEN + 1 || &bytes[..20] != STATEMENT_TAG {
            return Err("not an attestation statement".into());
        }
        if bytes[20] != STATEMENT_VERSION {
            return Err(format!(
                "statement version {} (this host reads {STATEMENT_VERSION})",
                bytes[20]
            ));
        }
        let version_len = usize::from(bytes[FIXED_LEN]);
        if bytes.len() != FIXED_LEN + 1 + version_len {
            return Err("the statement's length does not match its firmware version".into());
        }
        let security = match bytes[98] {
            0xff if bytes[98..106].iter().all(|&b| b == 0xff) => None,
            1 => Some(Security {
                provisioning_locked: flag(bytes[99])?,
                secure_boot: flag(bytes[100])?,
                flash_encryption: pick(bytes[101], &["off", "development", "release"])?,
                usb_jtag_disabled: flag(bytes[102])?,
                pad_jtag_disabled: flag(bytes[103])?,
                download_mode: pick(bytes[104], &["enabled", "secure", "disabled"])?,
                read_protection_locked: flag(bytes[105])?,
            }),
            other => return Err(format!("security state marker {other}")),
        };
        let app_sha256 = match bytes[106] {
            0 => None,
            1 => Some(hex::encode(&bytes[107..139])),
            other => return Err(format!("image hash marker {other}")),
        };
        Ok(Statement {
            version: bytes[20],
            challenge: bytes[21..53].try_into().expect("32 bytes"),
            device_id: bytes[53..59].try_into().expect("6 bytes"),
            chip: pick(bytes[59], &["esp32", "esp32s3", "esp32c3", "esp32c6"])?,
            virtual_device: flag(bytes[60])?,
            slot: bytes[61],
            key_bits: u16::from_be_bytes([bytes[62], bytes[63]]),
            spki_sha256: bytes[64..96].try_into().expect("32 bytes"),
            key_origin: pick(bytes[96], &["generated", "imported", "unknown"])?,
            key_readable: flag(bytes[97])?,
            security,
            app_sha256,
            firmware_version: String::from_utf8(bytes[FIXED_LEN + 1..].to_vec())
                .map_err(|_| "the firmware version is not UTF-8".to_string())?,
        })
    }
}

/// What a passed attestation establishes.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub statement: Statement,
    /// The device certificate's serial number (hex).
    pub serial: String,
    pub subject: String,
    /// The subjects from the device certificate up to the trusted CA.
    pub chain: Vec<String>,
    /// Names of the checks that passed, in order.
    pub checks: Vec<&'static str>,
    /// The device certificate, PEM.
    pub certificate_pem: String,
}

/// What to check an attestation against.
pub struct Trust<'a> {
    /// The certificates trusted as CAs (`--ca`).
    pub anchors: &'a [Certificate],
    /// The challenge the host sent.
    pub challenge: [u8; 32],
    pub now: SystemTime,
    /// CRLs to check the path against (`--crl`; none: no CRL check). Every one must be
    /// issued and signed by a CA of the verified path (module `revocation`).
    pub crls: &'a [CertificateList],
}

/// SHA-256 of the certificate's DER SubjectPublicKeyInfo.
pub fn spki_sha256_of(cert: &Certificate) -> Result<[u8; 32], String> {
    let der = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| e.to_string())?;
    Ok(Sha256::digest(der).into())
}

/// Whether `issuer`'s key signed `cert` (RS256 only: what the line's CA and the device make).
pub fn signed_by(cert: &Certificate, issuer: &Certificate) -> bool {
    cert.tbs_certificate.issuer == issuer.tbs_certificate.subject
        && cert.tbs_certificate.to_der().is_ok_and(|tbs| {
            issuer_signed(issuer, &cert.signature_algorithm, &tbs, &cert.signature)
        })
}

fn unix(t: &x509_cert::time::Time) -> Duration {
    t.to_unix_duration()
}

/// Whether `now` is inside the certificate's validity.
pub fn valid_at(cert: &Certificate, now: SystemTime) -> bool {
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let v = &cert.tbs_certificate.validity;
    unix(&v.not_before) <= now && now <= unix(&v.not_after)
}

/// Builds the path from `leaf` through `intermediates` to one of `anchors`, checking every
/// signature and validity; returns the subjects on the way.
pub fn chain_to(
    leaf: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    now: SystemTime,
) -> Result<Vec<String>, String> {
    Ok(chain_path(leaf, intermediates, anchors, now)?
        .iter()
        .map(|c| c.tbs_certificate.subject.to_string())
        .collect())
}

/// As [`chain_to`], the certificates themselves: `leaf` first, the trusted CA last.
pub fn chain_path(
    leaf: &Certificate,
    intermediates: &[Certificate],
    anchors: &[Certificate],
    now: SystemTime,
) -> Result<Vec<Certificate>, String> {
    let mut path = vec![leaf.clone()];
    let mut current = leaf.clone();
    // A line's chain is short: device, an intermediate or two, the root.
    for _ in 0..4 {
        if !valid_at(&current, now) {
            return Err(format!(
                "{} is outside its validity",
                current.tbs_certificate.subject
            ));
        }
        if let Some(anchor) = anchors.iter().find(|a| signed_by(&current, a)) {
            if !valid_at(anchor, now) {
                return Err(format!(
                    "the CA {} is outside its validity",
                    anchor.tbs_certificate.subject
                ));
            }
            path.push(anchor.clone());
            return Ok(path);
        }
        let Some(next) = intermediates
            .iter()
            .find(|c| c != &&current && signed_by(&current, c))
        else {
            return Err(format!(
                "{} was not signed by the given CA (issuer {})",
                current.tbs_certificate.subject, current.tbs_certificate.issuer
            ));
        };
        path.push(next.clone());
        current = next.clone();
    }
    Err("the chain is longer than 4 certificates".into())
}

/// The device ids a certificate names in its subject alternative name (`urn:dev:mac:…`).
pub fn device_ids_of(cert: &Certificate) -> Vec<[u8; 6]> {
    let Ok(Some((_, san))) = cert.tbs_certificate.get::<SubjectAltName>() else {
        return Vec::new();
    };
    san.0
        .iter()
        .filter_map(|name| match name {
            GeneralName::UniformResourceIdentifier(uri) => uri
                .as_str()
                .strip_prefix(DEVICE_URN_PREFIX)
                .and_then(|h| hex::decode(h).ok())
                .and_then(|b| <[u8; 6]>::try_from(b).ok()),
            _ => None,
        })
        .collect()
}

/// Parses every certificate of a PEM file (or one DER certificate).
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, String> {
    if bytes.starts_with(b"-----BEGIN") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let certs = Certificate::load_pem_chain(bytes).map_err(|e| e.to_string())?;
        if certs.is_empty() {
            return Err("no certificate in it".into());
        }
        Ok(certs)
    } else {
        Ok(vec![
            Certificate::from_der(bytes).map_err(|e| e.to_string())?
        ])
    }
}

/// Checks `evidence` with the device's certificate `device_cert` and the CA entry it holds
/// (`ca_entry`, may be `None`) against `trust`. The checks, in order: `statement` (its
/// encoding), `challenge` (the host's, not a replayed answer), `signature` (by the key in the
/// certificate), `certificate key` (the statement's key is the certificate's), `device id` (the
/// certificate names the device), `chain` (to a trusted CA, every certificate in its validity),
/// and with CRLs in `trust` the CRL checks and `revocation` (module `revocation`).
pub fn check(
    evidence: &Evidence,
    device_cert: &Certificate,
    ca_entry: Option<&Certificate>,
    trust: &Trust<'_>,
) -> Result<Verdict, Failure> {
    let mut checks = Vec::new();
    let statement = Statement::parse(&evidence.statement).map_err(|e| fail("statement", e))?;
    checks.push("statement");
    if statement.challenge != trust.challenge {
        return Err(fail(
            "challenge",
            "the statement is not over this host's challenge (a replayed answer)",
        ));
    }
    checks.push("challenge");
    let key = public_key_of(device_cert).map_err(|e| fail("signature", e))?;
    let signature = Signature::try_from(evidence.signature.as_slice())
        .map_err(|e| fail("signature", e.to_string()))?;
    VerifyingKey::<Sha256>::new(key)
        .verify(&evidence.statement, &signature)
        .map_err(|_| {
            fail(
                "signature",
                "the statement's signature does not verify with the device certificate's key (a certificate that is not this key's)",
            )
        })?;
    checks.push("signature");
    let spki = spki_sha256_of(device_cert).map_err(|e| fail("certificate key", e))?;
    if spki != statement.spki_sha256 {
        return Err(fail(
            "certificate key",
            "the device certificate's key is not the slot's key",
        ));
    }
    checks.push("certificate key");
    if !device_ids_of(device_cert).contains(&statement.device_id) {
        return Err(fail(
            "device id",
            format!(
                "the device certificate does not name device {}",
                hex::encode(statement.device_id)
            ),
        ));
    }
    checks.push("device id");
    let intermediates: Vec<Certificate> = ca_entry.into_iter().cloned().collect();
    let path = chain_path(device_cert, &intermediates, trust.anchors, trust.now)
        .map_err(|e| fail("chain", e))?;
    checks.push("chain");
    if !trust.crls.is_empty() {
        checks.extend(super::revocation::check_crls(&path, trust.crls, trust.now)?);
    }
    let chain = path
        .iter()
        .map(|c| c.tbs_certificate.subject.to_string())
        .collect();
    let certificate_pem =
        x509_cert::der::EncodePem::to_pem(device_cert, x509_cert::der::pem::LineEnding::LF)
            .map_err(|e| fail("certificate", e.to_string()))?;
    Ok(Verdict {
        certificate_pem,
        serial: serial_hex(device_cert.tbs_certificate.serial_number.as_bytes()),
        subject: device_cert.tbs_certificate.subject.to_string(),
        statement,
        chain,
        checks,
    })
}

/// Asks the device in `slot` for an attestation over a fresh random challenge, reads its
/// certificates and checks everything against `anchors` (and `crls`, if any). The outer error
/// is the device's or the line's; the inner one a check that failed.
pub fn attest_device(
    client: &mut crate::Client,
    slot: u8,
    anchors: &[Certificate],
    crls: &[CertificateList],
) -> crate::Result<(Evidence, Result<Verdict, Failure>)> {
    use ucrypto_protocol::CertKind;
    let mut challenge = [0u8; 32];
    getrandom::fill(&mut challenge).expect("the host OS has no random number generator");
    let evidence = client.attest(slot, challenge)?;
    let Some(device_der) = client.cert_read(CertKind::Device)? else {
        return Ok((
            evidence,
            Err(fail(
                "certificate",
                "the device holds no device certificate (run certify first)",
            )),
        ));
    };
    let device_cert = match Certificate::from_der(&device_der) {
        Ok(cert) => cert,
        Err(e) => {
            let failure = fail(
                "certificate",
                format!("the device certificate does not parse: {e}"),
            );
            return Ok((evidence, Err(failure)));
        }
    };
    let ca_entry = match client.cert_read(CertKind::Ca)? {
        Some(der) => Certificate::from_der(&der).ok(),
        None => None,
    };
    let trust = Trust {
        anchors,
        challenge,
        now: SystemTime::now(),
        crls,
    };
    let outcome = check(&evidence, &device_cert, ca_entry.as_ref(), &trust);
    Ok((evidence, outcome))
}
