//! What a step found, shared by the steps and the module that runs them.
use crate::records::{CertificateRecord, KeyRecord};

/// What a step found: its detail for the records, and any keys the device holds that it found
/// or made.
pub struct Found {
    pub detail: serde_json::Value,
    pub keys: Vec<KeyRecord>,
    pub certificates: Vec<CertificateRecord>,
}

impl From<serde_json::Value> for Found {
    fn from(detail: serde_json::Value) -> Self {
        Found {
            detail,
            keys: Vec::new(),
            certificates: Vec::new(),
        }
    }
}
