//! Arguments of the device-key methods as Python hands them over: a slot number, `"any"` for
//! the highest free slot of 2 to 5, the required `burn=True`, and the public key's output format.
use pyo3::prelude::*;
use ucrypto::device_keys::public_format::PublicFormat;
use ucrypto::SlotChoice;
use ucrypto_protocol::KEY_SLOTS;

use crate::errors::usage;

/// A slot where a key already is (`key_public`, `csr`, `sign(slot=)`).
pub fn number(slot: i64) -> PyResult<u8> {
    u8::try_from(slot)
        .ok()
        .filter(|s| usize::from(*s) < KEY_SLOTS)
        .ok_or_else(|| usage(format!("a slot is 0 to {}, not {slot}", KEY_SLOTS - 1)))
}

/// Where a new key goes: a slot number or `"any"`.
pub struct Choice(pub SlotChoice);

impl<'a, 'py> FromPyObject<'a, 'py> for Choice {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(slot) = obj.extract::<i64>() {
            return number(slot).map(|s| Self(SlotChoice::Slot(s)));
        }
        let text = obj
            .extract::<String>()
            .map_err(|_| usage("a slot is a number or \"any\""))?;
        SlotChoice::parse(&text).map(Self).map_err(usage)
    }
}

/// The Python API has no terminal to ask on, so the burn is confirmed by the call itself.
pub fn require_burn(burn: bool, what: &str) -> PyResult<()> {
    if burn {
        return Ok(());
    }
    Err(usage(format!(
        "{what} burns an eFuse key block, which cannot be undone: pass burn=True to do it"
    )))
}

pub fn public_format(name: &str) -> PyResult<PublicFormat> {
    match name.to_ascii_lowercase().as_str() {
        "pem" => Ok(PublicFormat::Pem),
        "der" => Ok(PublicFormat::Der),
        _ => Err(usage(format!(
            "unknown public key format `{name}`: use pem or der"
        ))),
    }
}
