//! The devices a station run is given: serial ports (listed, or every recognised board), or
//! virtual devices in this process. Each is opened by its own worker thread.
use std::path::{Path, PathBuf};
use std::time::Duration;

use ucrypto_firmware::backend::software::Seed;
use ucrypto_protocol::Chip;

use crate::error::{Error, Result};
use ucrypto::client::Client;
use ucrypto::line_speed::LineSpeed;
use ucrypto::transport::{Transport, VirtualTransport};
use ucrypto::TransportError;
use ucrypto::{ConnectOptions, Port};

/// One device to provision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A serial port (a board, or `ucrypto sim` on a pseudo-terminal).
    Port(String),
    /// Virtual device number `n` in this process: the same device as `ucrypto sim --seed n`
    /// (same id, same output), so a station restarted with `--sim` meets the same devices. With
    /// `state`, its eFuses and flash are kept in `sim-<n>.efuse` and `sim-<n>.flash` there (its
    /// keys survive a station's restart).
    Sim {
        number: u64,
        chip: Chip,
        state: Option<PathBuf>,
    },
}

impl Target {
    /// Where the device is, for status lines and records.
    pub fn label(&self) -> String {
        match self {
            Target::Port(path) => path.clone(),
            Target::Sim { number, .. } => format!("sim#{number}"),
        }
    }

    /// Opens the device, runs the handshake, and moves a UART's line to `speed` (falling back
    /// to `baud`, the start-up rate, when the line fails at the new rate). A virtual device in
    /// this process has no line.
    pub fn connect(&self, baud: u32, speed: LineSpeed, timeout: Duration) -> Result<Client> {
        match self {
            Target::Port(path) => ucrypto::connect(&ConnectOptions {
                port: Port::Path(path.clone()),
                baud,
                speed,
                timeout,
            })
            .map_err(Error::from),
            Target::Sim {
                number,
                chip,
                state,
            } => {
                let mut device = VirtualTransport::new(*chip, Seed::Fixed(*number));
                if let Some(dir) = state {
                    device = device.with_key_files(
                        dir.join(format!("sim-{number}.efuse")),
                        dir.join(format!("sim-{number}.flash")),
                    )?;
                }
                let transport: Box<dyn Transport + Send> = Box::new(device);
                Ok(Client::connect(transport, timeout)?)
            }
        }
    }
}

/// The devices `--ports auto|P1,P2,…` names. `auto` is every attached board recognised by its
/// USB id; none is an error that says what was found.
pub fn from_ports(spec: &str) -> Result<Vec<Target>> {
    if spec == "auto" {
        let all = ucrypto::ports::list();
        let known: Vec<Target> = all
            .iter()
            .filter(|p| p.known)
            .map(|p| Target::Port(p.path.clone()))
            .collect();
        if known.is_empty() {
            let others: Vec<String> = all.iter().map(|p| p.path.clone()).collect();
            return Err(TransportError::NoDevice(if others.is_empty() {
                String::new()
            } else {
                format!(" among {}", others.join(", "))
            })
            .into());
        }
        return Ok(known);
    }
    let mut targets = Vec::new();
    for path in spec.split(',').map(str::trim) {
        if path.is_empty() {
            return Err(Error::input(
                "--ports has an empty entry: list ports separated by commas, or pass auto",
            ));
        }
        let target = Target::Port(path.to_string());
        if targets.contains(&target) {
            return Err(Error::input(format!(
                "--ports names {path} twice: each device once"
            )));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// `--sim N` virtual devices numbered from `first`, their state kept in `state` if given.
pub fn sims(count: u64, first: u64, chip: Chip, state: Option<&Path>) -> Result<Vec<Target>> {
    if count == 0 {
        return Err(Error::input("--sim takes at least 1 device"));
    }
    if let Some(dir) = state {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::input(format!(
                "--sim-state {}: cannot create it: {e}",
                dir.display()
            ))
        })?;
    }
    Ok((first..first + count)
        .map(|number| Target::Sim {
            number,
            chip,
            state: state.map(Path::to_path_buf),
        })
        .collect())
}
