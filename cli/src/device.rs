//! Connecting to the device the global options name, with Ctrl-C and SIGTERM set to end the
//! command cleanly.
use ucrypto::{Client, ConnectOptions};

use crate::args::GlobalArgs;
use crate::error::Result;

/// Connects to the device the global options name. Ctrl-C and SIGTERM then end the command
/// cleanly (nothing output, the port released) instead of killing it mid-write.
pub fn connect(global: &GlobalArgs) -> Result<Client> {
    let options = ConnectOptions::try_from(global)?;
    crate::interrupt::install();
    Ok(ucrypto::connect(&options)?)
}
