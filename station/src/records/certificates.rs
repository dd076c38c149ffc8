//! Device certificates in the records (migration 5): each one the line's CA issued, with its
//! serial, expiry and chain, and its revocation when `ca revoke` names it. Never the CA key.
use super::{now_ms, Records};
use crate::error::Result;

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
    ucrypto::verify::attestation::serial_hex(bytes)
}
