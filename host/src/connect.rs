//! How to reach a device ([`ConnectOptions`], [`Port`]) and [`connect`], which opens the port
//! and runs the handshake. Nothing here depends on the command line.
use std::str::FromStr;
use std::time::Duration;

#[cfg(feature = "virtual-device")]
use ucrypto_firmware::backend::software::Seed;
use ucrypto_protocol::Chip;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::line_speed::{fastest_baud, LineSpeed};
use crate::ports;
#[cfg(feature = "virtual-device")]
use crate::transport::VirtualTransport;
use crate::transport::{SerialTransport, Transport};

/// Baud rate of a UART port when none is given.
pub const DEFAULT_BAUD: u32 = 115_200;

/// Seconds allowed for the link on top of each request's own time, when none is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Log target of the warning that a device is virtual; a program that reports this another way
/// (the CLI's `--json` carries `"virtual": true`) can filter it out.
pub const VIRTUAL_DEVICE_LOG_TARGET: &str = "ucrypto::virtual_device";

/// Where the device is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Port {
    /// The one attached ESP32, found by its USB id.
    #[default]
    Auto,
    /// A virtual device in this process (software crypto, a fresh random seed) with this chip's
    /// capabilities.
    Sim(Chip),
    /// A serial port, e.g. `/dev/ttyACM0`.
    Path(String),
}

impl FromStr for Port {
    type Err = Error;

    /// Reads what `--port` takes: `sim`, `sim:CHIP` (`esp32c3`, `esp32c6`, `esp32`), `auto`,
    /// or a serial port's path.
    fn from_str(spec: &str) -> Result<Port> {
        if spec == "auto" {
            return Ok(Port::Auto);
        }
        if spec == "sim" {
            return Ok(Port::Sim(Chip::Esp32C3));
        }
        match spec.strip_prefix("sim:") {
            None => Ok(Port::Path(spec.to_string())),
            Some(name) => Chip::ALL
                .into_iter()
                .find(|c| c.name() == name)
                .map(Port::Sim)
                .ok_or_else(|| {
                    Error::input(format!(
                        "unknown chip `{name}` in --port sim:CHIP: use esp32c3, esp32c6 or esp32"
                    ))
                }),
        }
    }
}

/// Everything [`connect`] needs: a plain value a program builds itself (the CLI builds it from
/// its global options).
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectOptions {
    /// Where the device is.
    pub port: Port,
    /// Baud rate to open a UART port at: the device's start-up rate, `DEFAULT_BAUD`
    /// (USB-Serial-JTAG and pseudo-terminals ignore it).
    pub baud: u32,
    /// The rate to move the line to after the handshake (`SetBaud`).
    pub speed: LineSpeed,
    /// Time allowed for the link on top of each request's own time.
    pub timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            port: Port::Auto,
            baud: DEFAULT_BAUD,
            speed: LineSpeed::Fastest,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl ConnectOptions {
    /// Options for `port`, the rest at their defaults.
    pub fn new(port: Port) -> Self {
        Self {
            port,
            ..Self::default()
        }
    }
}

/// Opens the device `options` name and runs the handshake (protocol version and schema).
///
/// A virtual device is reported with a `log::warn!` (target [`VIRTUAL_DEVICE_LOG_TARGET`]), and
/// the connection with a `log::info!`. The client is `Send`: one thread per device works.
pub fn connect(options: &ConnectOptions) -> Result<Client> {
    let (transport, path): (Box<dyn Transport + Send>, Option<String>) = match &options.port {
        #[cfg(feature = "virtual-device")]
        Port::Sim(chip) => (Box::new(VirtualTransport::new(*chip, host_seed())), None),
        #[cfg(not(feature = "virtual-device"))]
        Port::Sim(_) => return Err(Error::Unsupported(
            "this build of the ucrypto library has no virtual device (feature `virtual-device`)"
                .into(),
        )),
        Port::Path(path) => (
            Box::new(SerialTransport::open(path, options.baud)?),
            Some(path.clone()),
        ),
        Port::Auto => {
            let path = ports::auto_detect()?;
            (
                Box::new(SerialTransport::open(&path, options.baud)?),
                Some(path),
            )
        }
    };
    let mut client = Client::connect(transport, options.timeout)?;
    let target = match (options.speed, &path) {
        (LineSpeed::Keep, _) | (_, None) => None,
        (LineSpeed::Baud(baud), Some(_)) => Some(baud),
        (LineSpeed::Fastest, Some(path)) => fastest_baud(path),
    };
    if let Some(baud) = target.filter(|&b| b != options.baud) {
        let rate = client.set_line_baud(baud)?;
        log::info!("line at {rate} baud");
    }
    let info = client.info();
    if info.virtual_device {
        log::warn!(
            target: VIRTUAL_DEVICE_LOG_TARGET,
            "virtual device{}: software crypto, not for production",
            if info.deterministic() {
                " with a fixed seed (not random)"
            } else {
                ""
            }
        );
    }
    log::info!(
        "connected to {} on {} (firmware {}, id {})",
        info.chip.name(),
        info.port,
        info.firmware_version,
        info.device_id_string()
    );
    Ok(client)
}

/// A seed for a virtual device from the host OS's RNG.
#[cfg(feature = "virtual-device")]
pub fn host_seed() -> Seed {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the host OS has no random number generator");
    Seed::HostOs(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_reads_what_the_port_option_takes() {
        assert_eq!("sim".parse::<Port>().unwrap(), Port::Sim(Chip::Esp32C3));
        assert_eq!(
            "sim:esp32c6".parse::<Port>().unwrap(),
            Port::Sim(Chip::Esp32C6)
        );
        assert_eq!("auto".parse::<Port>().unwrap(), Port::Auto);
        assert_eq!(
            "/dev/ttyACM0".parse::<Port>().unwrap(),
            Port::Path("/dev/ttyACM0".into())
        );
        let err = "sim:esp99".parse::<Port>().unwrap_err();
        assert!(err.to_string().contains("unknown chip `esp99`"), "{err}");
    }
}
