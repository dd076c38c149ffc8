//! The command line's Ctrl-C and SIGTERM: they ask the library to end its wait
//! ([`ucrypto::interrupt::request`]), so a command unwinds normally (staged output discarded,
//! the port released) instead of dying mid-write.
use std::sync::Once;

/// Installs the handler once per process; later calls do nothing. Without it the default action
/// (terminate at once) stays.
pub fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(ucrypto::interrupt::request);
    });
}
