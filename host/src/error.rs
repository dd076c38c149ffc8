//! The library's errors: what went wrong, in the library's terms. A program maps them to its
//! own outcomes (the command line to exit codes, with hints naming its flags).
use std::time::Duration;

use ucrypto_protocol::ErrorCode;

/// Everything that can go wrong talking to a device over a byte stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("no device found{0}: attach a board, or name its port (or the virtual device)")]
    NoDevice(String),
    #[error("several devices found ({0}): name the port of one")]
    SeveralDevices(String),
    #[error("port busy: another program has {0} open; close it or pick another port")]
    PortBusy(String),
    #[error("cannot open {port}: {reason}")]
    Open { port: String, reason: String },
    #[error("{port} is not a serial port: name the device's serial port")]
    NotSerial { port: String },
    #[error("no answer from the device within {0:.1?}: check the cable and the port, or allow a longer timeout")]
    Timeout(Duration),
    #[error("device disconnected ({0}): reconnect it and run the command again")]
    Disconnected(String),
    #[error("{0}")]
    ProtocolMismatch(String),
    #[error("the device answers, but not in the ucrypto protocol: is the ucrypto firmware flashed on it?")]
    NotOurProtocol,
    #[error(
        "answers from the device were lost on the line: check the cable, or use a lower line rate"
    )]
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

/// An encrypted key file's passphrase is missing or unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PassphraseError {
    #[error("{} is encrypted: give its passphrase from env:VAR or file:PATH", .path.display())]
    Missing { path: std::path::PathBuf },
    #[error("passphrase from env:{var}: the environment variable {var} is not set")]
    EnvUnset { var: String },
    #[error("passphrase from file:{}: cannot read it: {reason}", .path.display())]
    FileUnreadable {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("cannot read the passphrase: {0}")]
    Prompt(String),
}

/// The library's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad arguments or input: the user can fix it.
    #[error("{0}")]
    Input(String),
    /// An encrypted key file's passphrase is missing or unusable.
    #[error(transparent)]
    Passphrase(#[from] PassphraseError),
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
    /// The user interrupted the command; nothing was output.
    #[error("interrupted; nothing was output")]
    Interrupted,
}

/// What kind of failure an [`Error`] is, for a program that sorts them (the command line into
/// exit codes, the Python module into exception classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The device answered with an error.
    Device,
    /// Bad arguments or input; also an output that could not be written.
    Input,
    /// A result did not verify.
    Verification,
    /// No device, port busy, timeout, disconnected, protocol mismatch.
    Transport,
    /// The device (or this build) cannot do it.
    Unsupported,
    /// Stopped by [`crate::interrupt::request`].
    Interrupted,
}

impl Error {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Input(_) | Error::Passphrase(_) | Error::Output { .. } => ErrorKind::Input,
            Error::Device {
                code: ErrorCode::Unsupported,
                ..
            }
            | Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Device { .. } => ErrorKind::Device,
            Error::Verification(_) => ErrorKind::Verification,
            Error::Transport(_) => ErrorKind::Transport,
            Error::Interrupted => ErrorKind::Interrupted,
        }
    }

    pub fn input(message: impl Into<String>) -> Self {
        Error::Input(message.into())
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
            Error::Input(_) | Error::Passphrase(_) => "bad-input",
            Error::Device { code, .. } => code.name(),
            Error::Verification(_) => "verification-failed",
            Error::Transport(t) => t.slug(),
            Error::Unsupported(_) => "unsupported",
            Error::Output { .. } => "output-failed",
            Error::Interrupted => "interrupted",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
