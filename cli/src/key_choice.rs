//! The signing key a command names: `--key FILE` (sent to the device) or `--slot N` (a device
//! key).
use ucrypto::transport::Transport;
use ucrypto::{Client, SigningKey};

use crate::args::KeyArgs;
use crate::error::{Error, Result};

/// `--key` read before connecting (a passphrase prompt comes before the device is touched), or
/// `--slot`, whose public key only the device can tell.
pub enum ChosenKey {
    File(Box<SigningKey>),
    Slot(u8),
}

impl ChosenKey {
    /// Reads `--key`, asking for the passphrase on the terminal when needed and not given.
    pub fn load(args: &KeyArgs) -> Result<Self> {
        match (&args.key, args.slot) {
            (Some(path), None) => Ok(ChosenKey::File(Box::new(SigningKey::read(
                path,
                args.pass.as_ref(),
            )?))),
            (None, Some(slot)) => Ok(ChosenKey::Slot(slot)),
            _ => Err(Error::input(
                "name one key: --key FILE (sent to the device) or --slot N (a device key)",
            )),
        }
    }

    /// The signing key; for a slot, its public key read from the device and checked against
    /// the fingerprint in `Hello`.
    pub fn resolve<T: Transport>(self, client: &mut Client<T>) -> Result<SigningKey> {
        match self {
            ChosenKey::File(key) => Ok(*key),
            ChosenKey::Slot(slot) => Ok(SigningKey::slot(client, slot)?),
        }
    }
}
