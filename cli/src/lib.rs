//! The ucrypto host library: transports to a device, the protocol client, verification of every
//! result, and output. `main.rs` is a thin shell over [`commands`].
pub mod aes_key;
pub mod aes_stream;
pub mod args;
pub mod client;
pub mod commands;
pub mod device_info;
pub mod device_keys;
pub mod error;
pub mod faults;
pub mod key_files;
pub mod keys;
pub mod output;
pub mod ports;
pub mod progress;
pub mod sim;
pub mod transport;
pub mod verify;

pub use client::Client;
pub use error::{Error, Result, TransportError};

use ucrypto_firmware::backend::software::Seed;
use ucrypto_protocol::Chip;

use crate::args::GlobalArgs;
use crate::transport::{SerialTransport, Transport, VirtualTransport};

/// Opens the device the global options name and runs the handshake.
pub fn connect(global: &GlobalArgs) -> Result<Client<Box<dyn Transport>>> {
    client::handle_interrupts();
    let transport: Box<dyn Transport> = match global.port.as_deref() {
        Some(spec) if spec == "sim" || spec.starts_with("sim:") => {
            Box::new(VirtualTransport::new(sim_chip(spec)?, host_seed()))
        }
        Some(path) => Box::new(SerialTransport::open(path, global.line_baud())?),
        None => Box::new(SerialTransport::open(
            &ports::auto_detect()?,
            global.line_baud(),
        )?),
    };
    let client = Client::connect(transport, global.timeout, global.verbose)?;
    let info = client.info();
    if info.virtual_device && !global.json {
        eprintln!(
            "warning: virtual device{}: software crypto, not for production",
            if info.deterministic() {
                " with a fixed seed (not random)"
            } else {
                ""
            }
        );
    }
    if global.verbose >= 1 {
        eprintln!(
            "ucrypto: connected to {} on {} (firmware {}, id {})",
            info.chip.name(),
            info.port,
            info.firmware_version,
            info.device_id_string()
        );
    }
    Ok(client)
}

fn sim_chip(spec: &str) -> Result<Chip> {
    match spec.strip_prefix("sim:") {
        None => Ok(Chip::Esp32C3),
        Some(name) => Chip::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                Error::input(format!(
                    "unknown chip `{name}` in --port sim:CHIP: use esp32c3, esp32c6 or esp32"
                ))
            }),
    }
}

/// A seed for a virtual device from the host OS's RNG.
pub fn host_seed() -> Seed {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the host OS has no random number generator");
    Seed::HostOs(seed)
}
