//! The command line's error: the libraries' errors, each mapped to one documented exit code, with
//! a hint that names the flag to change where the library could only say what went wrong.
use ucrypto::{ErrorKind, TransportError};

pub mod exit {
    pub const OK: i32 = 0;
    /// The device reported an error.
    pub const DEVICE: i32 = 1;
    /// Usage or bad input.
    pub const USAGE: i32 = 2;
    /// A result failed verification: nothing was output.
    pub const VERIFY: i32 = 3;
    /// Transport: no device, port busy, timeout, disconnected, protocol mismatch; or the record
    /// store cannot be reached.
    pub const TRANSPORT: i32 = 4;
    /// Not supported by this device.
    pub const UNSUPPORTED: i32 = 5;
    /// `station run`: some devices failed (each one's line names the device and the step); the
    /// others are done.
    pub const DEVICES_FAILED: i32 = 6;
    /// `flash`: written and verified, but the board could not be restarted from here (a port
    /// without reset lines): restart it.
    pub const RESTART_NEEDED: i32 = 7;
    /// Interrupted (SIGINT, SIGTERM): 128 + SIGINT, as shells expect.
    pub const INTERRUPTED: i32 = 130;

    /// Every code with what it means: `--help` and the man page are written from this, and a
    /// test holds README's table to it.
    pub const TABLE: &[(i32, &str)] = &[
        (OK, "ok"),
        (DEVICE, "the device reported an error"),
        (USAGE, "usage or bad input"),
        (VERIFY, "a result failed verification (nothing was output)"),
        (
            TRANSPORT,
            "transport: no device, port busy, timeout, disconnected, protocol mismatch; or the records (`--records`) cannot be reached",
        ),
        (UNSUPPORTED, "not supported by this device"),
        (
            DEVICES_FAILED,
            "`station run`: some devices failed (each one's line names the device and the step); the others are done",
        ),
        (
            RESTART_NEEDED,
            "`flash`: written and verified, but the port cannot restart the board (no reset line) and it did not start by itself: restart it",
        ),
        (
            INTERRUPTED,
            "interrupted (Ctrl-C, SIGTERM): nothing was output",
        ),
    ];
}

/// What a command can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From the host library: the device, the link, a key file, a result that did not verify.
    #[error("{}", with_hint(.0))]
    Host(#[from] ucrypto::Error),
    /// From the station: a recipe, the records, the ROM loader, a run with failed devices.
    #[error("{}", station_message(.0))]
    Station(#[from] ucrypto_station::Error),
    /// From the virtual hardware (`ucrypto sim`).
    #[error(transparent)]
    Sim(#[from] ucrypto_sim::Error),
    /// Bad arguments or input: the user can fix it.
    #[error("{0}")]
    Input(String),
    /// Writing the output failed.
    #[error("cannot write {path}: {reason}")]
    Output { path: String, reason: String },
    /// The user interrupted the command; nothing was output.
    #[error("interrupted; nothing was output")]
    Interrupted,
    /// A result did not verify: it was not output.
    #[error("verification failed: {0}; nothing was output")]
    Verification(String),
    /// `station run` finished, and some devices failed.
    #[error("{failed} of {total} devices failed; the others are done")]
    DevicesFailed { failed: usize, total: usize },
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Self {
        Error::Host(e.into())
    }
}

impl Error {
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input(message.into())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Host(e) => host_exit_code(e),
            Error::Station(e) => match e {
                ucrypto_station::Error::Host(e) => host_exit_code(e),
                ucrypto_station::Error::Input(_) => exit::USAGE,
                ucrypto_station::Error::Verification(_) => exit::VERIFY,
                ucrypto_station::Error::Records { .. } => exit::TRANSPORT,
                ucrypto_station::Error::Rom(_) => exit::DEVICE,
                ucrypto_station::Error::RestartNeeded(_) => exit::RESTART_NEEDED,
                ucrypto_station::Error::DevicesFailed { .. } => exit::DEVICES_FAILED,
                _ => exit::DEVICE,
            },
            Error::Sim(_) | Error::Input(_) | Error::Output { .. } => exit::USAGE,
            Error::Interrupted => exit::INTERRUPTED,
            Error::Verification(_) => exit::VERIFY,
            Error::DevicesFailed { .. } => exit::DEVICES_FAILED,
        }
    }

    /// A stable machine-readable name for `--json` output.
    pub fn slug(&self) -> &'static str {
        match self {
            Error::Host(e) => e.slug(),
            Error::Station(e) => e.slug(),
            Error::Sim(_) | Error::Input(_) => "bad-input",
            Error::Output { .. } => "output-failed",
            Error::Interrupted => "interrupted",
            Error::Verification(_) => "verification-failed",
            Error::DevicesFailed { .. } => "devices-failed",
        }
    }

    /// Whether `station run` printed its summary as the result (a run whose devices failed).
    pub fn is_devices_failed(&self) -> bool {
        matches!(
            self,
            Error::DevicesFailed { .. }
                | Error::Station(ucrypto_station::Error::DevicesFailed { .. })
        )
    }
}

fn host_exit_code(e: &ucrypto::Error) -> i32 {
    match e.kind() {
        ErrorKind::Device => exit::DEVICE,
        ErrorKind::Input => exit::USAGE,
        ErrorKind::Verification => exit::VERIFY,
        ErrorKind::Transport => exit::TRANSPORT,
        ErrorKind::Unsupported => exit::UNSUPPORTED,
        ErrorKind::Interrupted => exit::INTERRUPTED,
        _ => exit::DEVICE,
    }
}

/// The library's message, with the flag to change where the library says what to change in its
/// own terms.
fn with_hint(e: &ucrypto::Error) -> String {
    use ucrypto::PassphraseError as P;
    let t = match e {
        ucrypto::Error::Transport(t) => t,
        ucrypto::Error::Passphrase(P::Missing { path }) => {
            return format!(
                "{} is encrypted: give its passphrase with --pass env:VAR or --pass file:PATH",
                path.display()
            )
        }
        ucrypto::Error::Passphrase(P::EnvUnset { var }) => {
            return format!("--pass env:{var}: the environment variable {var} is not set")
        }
        ucrypto::Error::Passphrase(P::FileUnreadable { path, reason }) => {
            return format!("--pass file:{}: cannot read it: {reason}", path.display())
        }
        other => return other.to_string(),
    };
    match t {
        TransportError::NoDevice(found) => format!(
            "no device found{found}: attach a board, or pass --port PATH (or --port sim for the virtual device)"
        ),
        TransportError::SeveralDevices(found) => {
            format!("several devices found ({found}): pick one with --port PATH")
        }
        TransportError::PortBusy(port) => {
            format!("port busy: another program has {port} open; close it or pick another --port")
        }
        TransportError::NotSerial { port } => {
            format!("{port} is not a serial port: pass the device's serial port with --port")
        }
        TransportError::Timeout(wait) => format!(
            "no answer from the device within {wait:.1?}: check the cable and --port, or raise --timeout"
        ),
        TransportError::AnswerLost => {
            "answers from the device were lost on the line: check the cable, or lower --baud".into()
        }
        other => other.to_string(),
    }
}

fn station_message(e: &ucrypto_station::Error) -> String {
    match e {
        ucrypto_station::Error::Host(e) => with_hint(e),
        other => other.to_string(),
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
