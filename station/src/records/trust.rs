//! What the records say about a device's keys for the `key-generate` step's decision: which
//! key this line recorded in a slot, and whether this line started a burn there (written before
//! the burn, so a station killed after it still knows the key is its own).
use super::{append_event, Records, RunContext};
use crate::error::Result;

/// The event written just before a station asks a device to generate a key in a slot.
pub const KEY_BURN_EVENT: &str = "key-burn";

impl Records {
    /// The SPKI SHA-256 this line recorded for `device_id`'s key in `slot`, if any.
    pub fn recorded_key(&self, device_id: &str, slot: u8) -> Result<Option<String>> {
        let mut found = None;
        self.transaction(&mut |sql| {
            let rows = sql.query(
                "SELECT spki_sha256 FROM keys WHERE device_id = $1 AND slot = $2",
                &[device_id.into(), i64::from(slot).into()],
            )?;
            found = rows.first().map(|row| row[0].text());
            Ok(())
        })?;
        Ok(found)
    }

    /// Records that this station is about to burn a key into `device_id`'s `slot`.
    pub fn key_burn_started(
        &self,
        ctx: &RunContext,
        device_id: &str,
        slot: u8,
        bits: u16,
    ) -> Result<()> {
        let detail = serde_json::json!({ "slot": slot, "bits": bits });
        self.transaction(&mut |sql| {
            append_event(
                sql,
                ctx,
                device_id,
                None,
                KEY_BURN_EVENT,
                &detail.to_string(),
            )
        })
    }

    /// Whether any station of this line ever started a burn into `device_id`'s `slot`.
    pub fn key_burn_was_started(&self, device_id: &str, slot: u8) -> Result<bool> {
        let mut started = false;
        self.transaction(&mut |sql| {
            let rows = sql.query(
                "SELECT detail FROM events WHERE device_id = $1 AND kind = $2",
                &[device_id.into(), KEY_BURN_EVENT.into()],
            )?;
            started = rows.iter().any(|row| {
                serde_json::from_str::<serde_json::Value>(&row[0].text())
                    .is_ok_and(|d| d["slot"] == i64::from(slot))
            });
            Ok(())
        })?;
        Ok(started)
    }
}
