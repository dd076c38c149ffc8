//! The station's errors: a device's or the link's (the host library's), a recipe or argument the
//! user can fix, the records, the ROM loader, and the run's own outcome.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From the host library: the device, the link, a key file, a result that did not verify.
    #[error(transparent)]
    Host(#[from] ucrypto::Error),
    /// A recipe, option or file the user can fix.
    #[error("{0}")]
    Input(String),
    /// A device's result failed the station's own check (a CSR, a key, a signature).
    #[error("verification failed: {0}; nothing was output")]
    Verification(String),
    /// The record store cannot be reached or refused a write.
    #[error("records ({store}): {reason}")]
    Records { store: String, reason: String },
    /// A chip's ROM serial loader answered with an error (`ucrypto flash`).
    #[error("{0}")]
    Rom(String),
    /// `ucrypto flash` wrote and verified the image, and the board must be restarted by hand.
    #[error("{0}")]
    RestartNeeded(String),
    /// `station run` finished, and some devices failed.
    #[error("{failed} of {total} devices failed; the others are done")]
    DevicesFailed { failed: usize, total: usize },
}

impl Error {
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input(message.into())
    }

    /// Whether the user interrupted the run (a worker stops, the run is not a failure of the
    /// device).
    pub fn is_interrupted(&self) -> bool {
        matches!(self, Error::Host(ucrypto::Error::Interrupted))
    }

    /// A stable machine-readable name for `--json` output.
    pub fn slug(&self) -> &'static str {
        match self {
            Error::Host(e) => e.slug(),
            Error::Input(_) => "bad-input",
            Error::Verification(_) => "verification-failed",
            Error::Records { .. } => "records",
            Error::Rom(_) => "rom-error",
            Error::RestartNeeded(_) => "restart-needed",
            Error::DevicesFailed { .. } => "devices-failed",
        }
    }
}

impl From<ucrypto::TransportError> for Error {
    fn from(e: ucrypto::TransportError) -> Self {
        Error::Host(e.into())
    }
}

impl From<ucrypto_sim::Error> for Error {
    fn from(e: ucrypto_sim::Error) -> Self {
        Error::Input(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
