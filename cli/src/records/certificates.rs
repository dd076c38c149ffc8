//! Device certificates in the records (migration 5): each one the line's CA issued, with its
//! serial, expiry and chain, and its revocation when `ca revoke` names it. Never the CA key.
use super::sql::Sql;
use super::{append_event, now_ms, Records, RunContext};
use crate::error::Result;

/// Migration 5's tables, the same text in both databases.
pub const TABLES_V5: &str = "
CREATE TABLE certificates (
    serial TEXT PRIMARY KEY,
    device_id TEXT NOT NULL REFERENCES devices (device_id),
    slot BIGINT NOT NULL,
    spki_sha256 TEXT NOT NULL,
    certificate_pem TEXT NOT NULL,
    chain_pem TEXT NOT NULL,
    not_after_ms BIGINT NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    recorded_ms BIGINT NOT NULL,
    revoked_ms BIGINT,
    revocation_reason TEXT
);
CREATE INDEX certificates_device ON certificates (device_id, slot);
";

/// A device certificate as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Lower-case hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    pub slot: i64,
    pub spki_sha256: String,
    pub certificate_pem: String,
    /// The CA certificates above it (PEM), as written to the device and exported.
    pub chain_pem: String,
    pub not_after_ms: i64,
}

/// Records `cert` for `device_id` (a certificate found again on a re-run is kept once).
pub(super) fn record(
    sql: &mut dyn Sql,
    ctx: &RunContext,
    device_id: &str,
    index: usize,
    cert: &CertificateRecord,
) -> Result<()> {
    sql.execute(
        "INSERT INTO certificates (serial, device_id, slot, spki_sha256, certificate_pem,
             chain_pem, not_after_ms, run_id, recorded_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (serial) DO NOTHING",
        &[
            cert.serial.as_str().into(),
            device_id.into(),
            cert.slot.into(),
            cert.spki_sha256.as_str().into(),
            cert.certificate_pem.as_str().into(),
            cert.chain_pem.as_str().into(),
            cert.not_after_ms.into(),
            ctx.run_id.as_str().into(),
            now_ms().into(),
        ],
    )?;
    let detail = serde_json::json!({ "slot": cert.slot, "serial": cert.serial });
    append_event(
        sql,
        ctx,
        device_id,
        Some(index),
        "certificate-recorded",
        &detail.to_string(),
    )
}

/// What the records say about a device, its key and a certificate serial (for `attest`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Standing {
    pub device_known: bool,
    pub key_known: bool,
    /// The revocation reason, when the serial is revoked.
    pub revoked: Option<String>,
}

impl Records {
    /// Marks `serial` revoked (`ca revoke --records`); `false` when the records do not hold it.
    pub fn revoke_certificate(&self, serial: &str, reason: &str) -> Result<bool> {
        let mut found = false;
        self.transaction(&mut |sql| {
            found = sql.execute(
                "UPDATE certificates SET revoked_ms = $2, revocation_reason = $3
                 WHERE serial = $1 AND revoked_ms IS NULL",
                &[serial.into(), now_ms().into(), reason.into()],
            )? > 0;
            Ok(())
        })?;
        Ok(found)
    }

    /// What the records say about `device_id`, its key `spki_sha256` and certificate `serial`.
    pub fn standing(&self, device_id: &str, spki_sha256: &str, serial: &str) -> Result<Standing> {
        let mut standing = Standing::default();
        self.transaction(&mut |sql| {
            standing.device_known = !sql
                .query(
                    "SELECT device_id FROM devices WHERE device_id = $1",
                    &[device_id.into()],
                )?
                .is_empty();
            standing.key_known = !sql
                .query(
                    "SELECT slot FROM keys WHERE device_id = $1 AND spki_sha256 = $2",
                    &[device_id.into(), spki_sha256.into()],
                )?
                .is_empty();
            standing.revoked = sql
                .query(
                    "SELECT revocation_reason FROM certificates
                     WHERE serial = $1 AND revoked_ms IS NOT NULL",
                    &[serial.into()],
                )?
                .first()
                .map(|row| row[0].text());
            Ok(())
        })?;
        Ok(standing)
    }

    /// Every device's newest unrevoked certificate and its chain, PEM: (device id, chain).
    pub fn certificate_chains(&self) -> Result<Vec<(String, String)>> {
        let mut chains = Vec::new();
        self.transaction(&mut |sql| {
            chains = sql
                .query(
                    "SELECT device_id, certificate_pem, chain_pem FROM certificates
                     WHERE revoked_ms IS NULL ORDER BY device_id, recorded_ms",
                    &[],
                )?
                .iter()
                .map(|row| (row[0].text(), format!("{}{}", row[1].text(), row[2].text())))
                .collect();
            Ok(())
        })?;
        // The newest of each device wins.
        let mut newest: std::collections::BTreeMap<String, String> = Default::default();
        for (device, chain) in chains {
            newest.insert(device, chain);
        }
        Ok(newest.into_iter().collect())
    }
}

/// A serial as the records keep it.
pub fn serial_text(bytes: &[u8]) -> String {
    crate::verify::attestation::serial_hex(bytes)
}
