//! One error type for the CLI library; each variant maps to one documented exit code and says
//! what to do about it.
use std::time::Duration;

use ucrypto_protocol::ErrorCode;

/// Exit codes, as documented in the README and `--help`.
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

/// Everything that can go wrong talking to a device over a byte stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("no device found{0}: attach a board, or pass --port PATH (or --port sim for the virtual device)")]
    NoDevice(String),
    #[error("several devices found ({0}): pick one with --port PATH")]
    SeveralDevices(String),
    #[error("port busy: another program has {0} open; close it or pick another --port")]
    PortBusy(String),
    #[error("cannot open {port}: {reason}")]
    Open { port: String, reason: String },
    #[error("{port} is not a serial port: pass the device's serial port with --port")]
    NotSerial { port: String },
    #[error(
        "no answer from the device within {0:.1?}: check the cable and --port, or raise --timeout"
    )]
    Timeout(Duration),
    #[error("device disconnected ({0}): reconnect it and run the command again")]
    Disconnected(String),
    #[error("{0}")]
    ProtocolMismatch(String),
    #[error("the device answers, but not in the ucrypto protocol: is the ucrypto firmware flashed on it?")]
    NotOurProtocol,
    #[error("answers from the device were lost on the line: check the cable, or lower --baud")]
    AnswerLost,
}

impl TransportError {
    pub fn slug(&self) -> &'static str {
        match self {
            TransportError::NoDevice(_) => "no-device",
            TransportError::SeveralDevices(_) => "several-devices",
            TransportError::PortBusy(_) => "port-busy",
            TransportError::Open { .. } => "open-failed",
            TransportError::NotSerial { .. } => "not-serial",
            TransportError::Timeout(_) => "timeout",
            TransportError::Disconnected(_) => "disconnected",
            TransportError::ProtocolMismatch(_) => "protocol-mismatch",
            TransportError::NotOurProtocol => "not-our-protocol",
            TransportError::AnswerLost => "answer-lost",
        }
    }
}

/// The CLI's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad arguments or input: the user can fix it.
    #[error("{0}")]
    Input(String),
    /// The device answered with an error.
    #[error("device error ({}): {message}", code.name())]
    Device { code: ErrorCode, message: String },
    /// A result did not verify: it was not output.
    #[error("verification failed: {0}; nothing was output")]
    Verification(String),
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The connected device cannot do this.
    #[error("{0}")]
    Unsupported(String),
    /// Writing the output failed.
    #[error("cannot write {path}: {reason}")]
    Output { path: String, reason: String },
    /// A chip's ROM serial loader answered with an error (`ucrypto flash`).
    #[error("{0}")]
    Rom(String),
    /// `flash` wrote and verified the image, and the board must be restarted by hand.
    #[error("{0}")]
    RestartNeeded(String),
    /// The user interrupted the command; nothing was output.
    #[error("interrupted; nothing was output")]
    Interrupted,
    /// The record store cannot be reached or refused a write.
    #[error("records ({store}): {reason}")]
    Records { store: String, reason: String },
    /// `station run` finished, and some devices failed.
    #[error("{failed} of {total} devices failed; the others are done")]
    DevicesFailed { failed: usize, total: usize },
}

impl Error {
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input(message.into())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Input(_) | Error::Output { .. } => exit::USAGE,
            Error::Device {
                code: ErrorCode::Unsupported,
                ..
            } => exit::UNSUPPORTED,
            Error::Device { .. } | Error::Rom(_) => exit::DEVICE,
            Error::Verification(_) => exit::VERIFY,
            Error::Transport(_) => exit::TRANSPORT,
            Error::Unsupported(_) => exit::UNSUPPORTED,
            Error::Interrupted => exit::INTERRUPTED,
            Error::RestartNeeded(_) => exit::RESTART_NEEDED,
            Error::Records { .. } => exit::TRANSPORT,
            Error::DevicesFailed { .. } => exit::DEVICES_FAILED,
        }
    }

    /// Whether the failure may be the line's (a lost or damaged frame) rather than the
    /// request's, so that repeating a request that is safe to repeat may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Transport(TransportError::Timeout(_) | TransportError::AnswerLost)
                | Error::Device {
                    code: ErrorCode::FrameTooLong | ErrorCode::Undecodable,
                    ..
                }
        )
    }

    /// Whether a stream should carry on another way (a new session, or the host's own hash)
    /// rather than fail: the answer was lost on the line, or the device restarted and forgot
    /// the session.
    pub fn is_resumable(&self) -> bool {
        self.is_retryable()
            || matches!(
                self,
                Error::Device {
                    code: ErrorCode::OutOfSequence | ErrorCode::NoSession,
                    ..
                }
            )
    }

    /// A stable machine-readable name for `--json` output.
    pub fn slug(&self) -> &'static str {
        match self {
            Error::Input(_) => "bad-input",
            Error::Device { code, .. } => code.name(),
            Error::Verification(_) => "verification-failed",
            Error::Transport(t) => t.slug(),
            Error::Unsupported(_) => "unsupported",
            Error::Rom(_) => "rom-error",
            Error::RestartNeeded(_) => "restart-needed",
            Error::Output { .. } => "output-failed",
            Error::Interrupted => "interrupted",
            Error::Records { .. } => "records",
            Error::DevicesFailed { .. } => "devices-failed",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
