//! The `security-check` and `lock` steps: the device's eFuse security state against what the
//! recipe requires, and the provisioning lock as the recipe's last step.
use ucrypto_protocol::{RequestBody, ResponseBody, SecurityState};

use crate::error::{Error, Result};
use ucrypto::client::Client;
use ucrypto::security_state::{SecurityRequirements, SecuritySummary};
use ucrypto::Error as HostError;

/// The security state from a fresh `Hello` (a step before may have changed it).
fn fresh_state(client: &mut Client) -> Result<SecurityState> {
    client
        .call(RequestBody::Hello, |body| match body {
            ResponseBody::Hello(hello) => Ok(hello.security),
            other => Err(HostError::Verification(format!(
                "the device answered Hello with {other:?}"
            ))),
        })?
        .ok_or_else(|| {
            HostError::Unsupported("this device reports no security state (no eFuse access)".into())
                .into()
        })
}

/// Passes only if every requirement holds; the failure names each one that does not.
pub fn security_check(
    client: &mut Client,
    requirements: &SecurityRequirements,
) -> Result<serde_json::Value> {
    let state = SecuritySummary::new(&fresh_state(client)?);
    let unmet = requirements.unmet(&state);
    if !unmet.is_empty() {
        return Err(Error::Verification(format!(
            "the device's eFuses do not meet the recipe: {}",
            unmet.join("; ")
        )));
    }
    Ok(serde_json::json!({ "security": state, "met": true }))
}

/// Sets the provisioning lock (once: a re-run finds the device locked and records it so).
pub fn lock(client: &mut Client) -> Result<serde_json::Value> {
    let was_locked = fresh_state(client)?.provisioning_locked;
    if !was_locked {
        client.lock()?;
    }
    let state = SecuritySummary::new(&fresh_state(client)?);
    Ok(serde_json::json!({ "locked": true, "was_locked": was_locked, "security": state }))
}
