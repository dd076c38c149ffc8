//! The virtual hardware's one error: something the user gave (a file, a terminal) cannot be used,
//! or the virtual chip stopped. The message says what to do.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{0}")]
    Input(String),
}

impl Error {
    pub fn input(message: impl Into<String>) -> Self {
        Error::Input(message.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
