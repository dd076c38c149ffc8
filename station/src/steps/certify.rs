//! The `certify` step: the device signs a CSR for a slot's key, the
//! line CA checks it (its signature, and that its key is the one the device reports for the
//! slot) and issues the device certificate, which the station writes with the CA certificate
//! into the device's esp_secure_cert partition and reads back. Everything is checked before
//! the first byte is written.
use std::sync::Mutex;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use ucrypto_protocol::{CertKind, ErrorCode};
use x509_cert::Certificate;

use super::found::Found;
use crate::ca::{self, issue, Ca};
use crate::error::{Error, Result};
use crate::recipe::Certify;
use crate::records::CertificateRecord;
use ucrypto::client::Client;
use ucrypto::verify::attestation::{signed_by, spki_sha256_of, valid_at};

fn serial_of(cert: &Certificate) -> String {
    crate::records::certificates::serial_text(cert.tbs_certificate.serial_number.as_bytes())
}

fn not_after_ms(cert: &Certificate) -> i64 {
    cert.tbs_certificate
        .validity
        .not_after
        .to_unix_duration()
        .as_millis() as i64
}

/// Runs `certify` with the CA `ca` (shared by the station's workers).
pub fn certify(client: &mut Client, ca: &Mutex<Ca>, step: &Certify) -> Result<Found> {
    let slot = step.slot;
    // The slots as the device reports them now (an earlier step may have made the key).
    client.refresh_info()?;
    let public = client.key_public(slot).map_err(|e| match e {
        ucrypto::Error::Device {
            code: ErrorCode::NoKey,
            ..
        } => Error::input(format!(
            "slot {slot} holds no key: put a key-generate step for slot {slot} before certify"
        )),
        other => Error::Host(other),
    })?;
    let spki_hash: [u8; 32] = Sha256::digest(&public.spki_der).into();
    let (ca_cert, chain_pem, policy) = {
        let ca = ca
            .lock()
            .expect("the CA lock is never poisoned by a panic in it");
        (
            ca.certificate.clone(),
            ca.chain_pem()?,
            ca.config.config.policy.clone(),
        )
    };
    let ca_der = ca::der_of(&ca_cert)?;
    // The CA entry first: a device holding another CA's certificate is refused before
    // anything is issued or written.
    let ca_entry = client.cert_read(CertKind::Ca)?;
    if let Some(held) = &ca_entry {
        if held != &ca_der {
            return Err(Error::input(
                "the device already holds another CA certificate: erase its esp_secure_cert partition to certify it under this CA (nothing was written)",
            ));
        }
    }
    let held = match client.cert_read(CertKind::Device)? {
        Some(der) => Some(ca::from_der(&der)?),
        None => None,
    };
    // The certificate the device keeps (none: one is issued), and the serial a renewal replaces.
    let (kept, replaced) = match held {
        None => (None, None),
        Some(held) if !step.renew => {
            let good = valid_at(&held, SystemTime::now())
                && signed_by(&held, &ca_cert)
                && spki_sha256_of(&held).ok() == Some(spki_hash);
            if !good {
                return Err(Error::input(format!(
                    "the device holds a certificate (serial {}) that is not a valid one of this CA for slot {slot}'s key: add `renew = true` to the certify step to replace it (nothing was written)",
                    serial_of(&held)
                )));
            }
            (Some(held), None)
        }
        // A renewal keeps the CA entry before the device's (the device refuses it otherwise):
        // a device certificate without one cannot be renewed in place.
        Some(held) if ca_entry.is_none() => {
            return Err(Error::input(format!(
                "the device holds a certificate (serial {}) but no CA certificate before it, so it cannot be renewed in place: erase its esp_secure_cert partition to certify it again (nothing was written)",
                serial_of(&held)
            )));
        }
        Some(held) => (None, Some(serial_of(&held))),
    };
    let (cert, issued) = match kept {
        Some(held) => (held, false),
        None => (
            issue_for(client, ca, step, &policy, &public.spki_der, &ca_cert)?,
            true,
        ),
    };
    let cert_der = ca::der_of(&cert)?;
    // The CA entry goes first: a device certificate after it can later be renewed in place.
    if ca_entry.is_none() {
        client.cert_write(CertKind::Ca, &ca_der)?;
    }
    if issued {
        client.cert_write(CertKind::Device, &cert_der)?;
    }
    // Read back: the device finds what was written, as ESP-IDF will.
    if client.cert_read(CertKind::Device)?.as_deref() != Some(&cert_der[..])
        || client.cert_read(CertKind::Ca)?.as_deref() != Some(&ca_der[..])
    {
        return Err(Error::Verification(
            "the certificates read back from the device differ from those written".into(),
        ));
    }
    let record = CertificateRecord {
        serial: serial_of(&cert),
        slot: i64::from(slot),
        spki_sha256: hex::encode(spki_hash),
        certificate_pem: ca::pem_of(&cert)?,
        chain_pem,
        not_after_ms: not_after_ms(&cert),
    };
    Ok(Found {
        detail: serde_json::json!({
            "slot": slot,
            "serial": record.serial,
            "subject": cert.tbs_certificate.subject.to_string(),
            "not_after_ms": record.not_after_ms,
            "issued": issued,
            "found_on_device": !issued,
            "replaced": replaced,
            "certificate": record.certificate_pem,
        }),
        keys: Vec::new(),
        certificates: vec![record],
    })
}

/// Has the device sign a CSR, checks it and issues the certificate (nothing written yet).
fn issue_for(
    client: &mut Client,
    ca: &Mutex<Ca>,
    step: &Certify,
    policy: &ca::config::Policy,
    slot_spki_der: &[u8],
    ca_cert: &Certificate,
) -> Result<Certificate> {
    let template = step.subject.as_deref().unwrap_or(&policy.subject);
    let made = super::csr::make_csr(client, step.slot, template)?;
    let pem = made.csr_pem.unwrap_or_default();
    let request = issue::read_request(pem.as_bytes())?;
    let device_id = client.info().device_id;
    let subject = template.replace(
        super::csr::DEVICE_ID_PLACEHOLDER,
        &client.info().device_id_string(),
    );
    let ca = ca
        .lock()
        .expect("the CA lock is never poisoned by a panic in it");
    issue::device_certificate(
        &ca.key,
        ca_cert,
        policy,
        &issue::DeviceRequest {
            csr: &request,
            slot_spki_der,
            device_id,
            subject: &subject,
        },
    )
}
