//! The key slots a device reports in `Hello`, as the host shows them (`ucrypto key list`,
//! `info`, `--json`): slot N is the eFuse key block `KEY<N>` (`BLOCK<N + 4>`).
use serde::Serialize;
use ucrypto_protocol::{KeyOrigin, SlotState, KEY_SLOTS};

/// The first eFuse block of a key slot: slot N is `KEY<N>`, which is `BLOCK<N + 4>`.
const FIRST_KEY_BLOCK: u8 = 4;

/// One slot as `ucrypto key list` and `--json` show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SlotSummary {
    pub slot: u8,
    /// The eFuse block, e.g. `BLOCK4`.
    pub efuse_block: String,
    /// `free`, `ds-key`, `other-purpose`, `burn-incomplete` or `record-missing`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<u16>,
    /// SHA-256 of the public key's DER SubjectPublicKeyInfo, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spki_sha256: Option<String>,
    /// The eFuse key purpose of a block used for something else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<u8>,
    /// Where a device key came from: `generated` (on this chip), `imported`, or `unknown` (a
    /// record without our origin entry, e.g. written by Espressif's tools).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<&'static str>,
    /// A device key whose eFuse block is not read-protected (a development burn): software on
    /// the chip can read the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readable: Option<bool>,
}

/// The name of a key origin in lists and JSON.
pub fn origin_name(origin: KeyOrigin) -> &'static str {
    match origin {
        KeyOrigin::Generated => "generated",
        KeyOrigin::Imported => "imported",
        KeyOrigin::Unknown => "unknown",
    }
}

impl SlotSummary {
    pub fn new(slot: u8, state: &SlotState) -> Self {
        let mut summary = Self {
            slot,
            efuse_block: efuse_block(slot),
            state: state_name(state),
            bits: None,
            spki_sha256: None,
            purpose: None,
            origin: None,
            readable: None,
        };
        match state {
            SlotState::DsKey {
                bits,
                spki_sha256,
                origin,
                readable,
            } => {
                summary.bits = Some(*bits);
                summary.spki_sha256 = Some(hex::encode(spki_sha256));
                summary.origin = Some(origin_name(*origin));
                summary.readable = Some(*readable);
            }
            SlotState::OtherPurpose { purpose } => summary.purpose = Some(*purpose),
            SlotState::Free | SlotState::BurnIncomplete | SlotState::RecordMissing => {}
        }
        summary
    }

    pub fn all(slots: &[SlotState; KEY_SLOTS]) -> Vec<Self> {
        (0u8..)
            .zip(slots)
            .map(|(slot, state)| Self::new(slot, state))
            .collect()
    }

    /// One line for `ucrypto key list`.
    pub fn line(&self) -> String {
        let detail = match (self.bits, &self.spki_sha256, self.purpose) {
            (Some(bits), Some(hash), _) => format!(
                "RSA-{bits}  {:<9} SPKI SHA-256 {hash}{}",
                self.origin.unwrap_or("unknown"),
                if self.readable == Some(true) {
                    "  DEVELOPMENT BURN: KEY READABLE (the eFuse block is not read-protected)"
                } else {
                    ""
                }
            ),
            (_, _, Some(purpose)) => format!("eFuse purpose {purpose}: never touched"),
            _ => match self.state {
                "burn-incomplete" => "a burn did not finish: the slot is lost".into(),
                "record-missing" => "the key's flash record is gone: it cannot sign".into(),
                _ => String::new(),
            },
        };
        format!(
            "slot {}  {:<7} {:<16}{}",
            self.slot, self.efuse_block, self.state, detail
        )
        .trim_end()
        .to_string()
    }
}

pub fn efuse_block(slot: u8) -> String {
    format!("BLOCK{}", slot + FIRST_KEY_BLOCK)
}

pub(crate) fn state_name(state: &SlotState) -> &'static str {
    match state {
        SlotState::Free => "free",
        SlotState::DsKey { .. } => "ds-key",
        SlotState::OtherPurpose { .. } => "other-purpose",
        SlotState::BurnIncomplete => "burn-incomplete",
        SlotState::RecordMissing => "record-missing",
    }
}
