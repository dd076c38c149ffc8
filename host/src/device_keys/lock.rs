//! The provisioning lock from the host's side: `Lock` sent and its answer checked, and what a
//! lock would leave on the board, for the confirmation.
use ucrypto_protocol::{Command, RequestBody, ResponseBody, SlotState};

use crate::client::Client;
use crate::device_info::DeviceInfo;
use crate::error::{Error, Result};
use crate::transport::Transport;

/// The eFuse bit of the lock (docs/keys.md, "The provisioning lock").
pub const LOCK_BIT: &str = "BLOCK0 bit 183 (RD_REPEAT_DATA4 bit 23, espefuse's RESERVED_0_162)";

/// Whether the device was locked already when connected.
pub fn locked(info: &DeviceInfo) -> bool {
    info.raw_security.is_some_and(|s| s.provisioning_locked)
}

/// Refuses a device that cannot be locked, in one line.
pub fn check_lockable(info: &DeviceInfo) -> Result<()> {
    if !info.raw_capabilities.supports(Command::Lock) {
        return Err(Error::Unsupported(format!(
            "this {} (firmware {}) has no provisioning lock: update the firmware",
            info.chip.name(),
            info.firmware_version
        )));
    }
    Ok(())
}

/// What a lock leaves for good: one line per slot that is not a working device key, so a
/// half-provisioned board is not locked without a look at it.
pub fn warnings(info: &DeviceInfo) -> Vec<String> {
    let Some(slots) = info.raw_key_slots else {
        return Vec::new();
    };
    let keys = slots
        .iter()
        .filter(|s| matches!(s, SlotState::DsKey { .. }))
        .count();
    let mut lines = Vec::new();
    if keys == 0 {
        lines.push("the device holds no device key: once locked it can never get one".into());
    }
    for (slot, state) in slots.iter().enumerate() {
        match state {
            SlotState::BurnIncomplete | SlotState::RecordMissing => lines.push(format!(
                "slot {slot} is lost ({}) and stays so",
                crate::slots::SlotSummary::new(slot as u8, state).state
            )),
            SlotState::DsKey { readable: true, .. } => lines.push(format!(
                "slot {slot}'s key is readable (development burn) and stays so"
            )),
            _ => {}
        }
    }
    lines
}

impl<T: Transport> Client<T> {
    /// Sets the provisioning lock (irreversible): the device then refuses every burn and
    /// provisioning write, and keeps signing. Asks no confirmation: the caller does.
    pub fn lock(&mut self) -> Result<()> {
        check_lockable(self.info())?;
        self.call(RequestBody::Lock, |body| match body {
            ResponseBody::Locked => Ok(()),
            other => Err(Error::Verification(format!(
                "the device answered Lock with {other:?}"
            ))),
        })?;
        // The device's own account, from a fresh Hello.
        let state = self.call(RequestBody::Hello, |body| match body {
            ResponseBody::Hello(hello) => Ok(hello.security),
            other => Err(Error::Verification(format!(
                "the device answered Hello with {other:?}"
            ))),
        })?;
        match state {
            Some(s) if s.provisioning_locked => Ok(()),
            _ => Err(Error::Verification(
                "the device answered Locked but its Hello does not report the lock".into(),
            )),
        }
    }
}
