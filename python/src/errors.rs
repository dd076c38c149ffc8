//! The library's errors as Python exceptions: `UcryptoError` and one subclass per exit code of
//! the command line, each carrying `exit_code` and `code` (the `--json` error name).
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use ucrypto::ErrorKind;

create_exception!(
    ucrypto,
    UcryptoError,
    PyException,
    "Any ucrypto failure; `exit_code` is the command line's exit code for it, `code` its name."
);
create_exception!(
    ucrypto,
    DeviceError,
    UcryptoError,
    "The device reported an error (exit code 1)."
);
create_exception!(
    ucrypto,
    UsageError,
    UcryptoError,
    "Bad arguments or input (exit code 2)."
);
create_exception!(
    ucrypto,
    VerificationError,
    UcryptoError,
    "A result failed verification on the host; nothing is returned (exit code 3)."
);
create_exception!(
    ucrypto,
    TransportError,
    UcryptoError,
    "No device, port busy, timeout, disconnected, protocol mismatch (exit code 4)."
);
create_exception!(
    ucrypto,
    Unsupported,
    UcryptoError,
    "Not supported by this device (exit code 5)."
);

/// The command line's exit code for each kind of failure (its README table), so a script moving
/// between the two sees the same numbers.
fn exit_code(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::Device => 1,
        ErrorKind::Input => 2,
        ErrorKind::Verification => 3,
        ErrorKind::Transport => 4,
        ErrorKind::Unsupported => 5,
        ErrorKind::Interrupted => 130,
        _ => 1,
    }
}

/// The exception for a library error: its class from the kind of failure, its message the
/// library's.
pub fn to_py(error: &ucrypto::Error) -> PyErr {
    let message = error.to_string();
    let err = match error.kind() {
        ErrorKind::Device => DeviceError::new_err(message),
        ErrorKind::Input => UsageError::new_err(message),
        ErrorKind::Verification => VerificationError::new_err(message),
        ErrorKind::Transport => TransportError::new_err(message),
        ErrorKind::Unsupported => Unsupported::new_err(message),
        _ => UcryptoError::new_err(message),
    };
    Python::attach(|py| {
        let value = err.value(py);
        // Attributes are informative only: a failure to set them must not hide the error.
        let _ = value.setattr("exit_code", exit_code(error.kind()));
        let _ = value.setattr("code", error.slug());
    });
    err
}

/// A usage error raised by the bindings themselves (exit code 2, code `bad-input`).
pub fn usage(message: impl Into<String>) -> PyErr {
    to_py(&ucrypto::Error::input(message))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("UcryptoError", py.get_type::<UcryptoError>())?;
    m.add("DeviceError", py.get_type::<DeviceError>())?;
    m.add("UsageError", py.get_type::<UsageError>())?;
    m.add("VerificationError", py.get_type::<VerificationError>())?;
    m.add("TransportError", py.get_type::<TransportError>())?;
    m.add("Unsupported", py.get_type::<Unsupported>())?;
    Ok(())
}
