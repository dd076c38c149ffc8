//! The confirmation before an eFuse burn. Burning cannot be undone, so `--burn` is always
//! required, and at a terminal the user also types the device's id back: a second look at which
//! board is on the port. Without a terminal on stdin (scripts, factory lines) `--burn` is the
//! whole confirmation.
use std::io::{BufRead, BufReader, IsTerminal, Write};

use crate::error::{Error, Result};

/// What the user decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No `--burn`: say what would happen and stop.
    DryRun,
    Burn,
}

/// Decides whether to burn: `--burn` given and, when stdin is a terminal, the device id typed
/// back on the controlling terminal. `plan` is shown before the question.
pub fn confirm_burn(burn: bool, device_id: &str, plan: &str) -> Result<Decision> {
    if !burn {
        return Ok(Decision::DryRun);
    }
    if !std::io::stdin().is_terminal() {
        return Ok(Decision::Burn);
    }
    // The question goes to the terminal itself, not stdout (which may be a file or a pipe).
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|e| {
            Error::input(format!(
                "not a terminal: stdin is a terminal but /dev/tty cannot be opened to confirm the \
                 burn ({e}); run from a terminal, or with stdin not a terminal (`</dev/null`) to \
                 let --burn alone confirm"
            ))
        })?;
    let mut writer = &tty;
    write!(
        writer,
        "{plan}\nThis cannot be undone. Type the device id ({device_id}) to burn: "
    )
    .and_then(|_| writer.flush())
    .map_err(|e| Error::input(format!("cannot ask on the terminal: {e}")))?;
    wait_for_line(&tty)?;
    let mut answer = String::new();
    BufReader::new(&tty)
        .read_line(&mut answer)
        .map_err(|e| Error::input(format!("cannot read the terminal: {e}")))?;
    // Ctrl-C may come with the line that ends the wait.
    if ucrypto::interrupt::requested() {
        return Err(Error::Interrupted);
    }
    if same_id(&answer, device_id) {
        Ok(Decision::Burn)
    } else {
        Err(Error::input(format!(
            "burn not confirmed: `{}` is not this device's id ({device_id}); nothing was burned",
            answer.trim()
        )))
    }
}

/// Waits until the terminal has a line to read, ending with [`Error::Interrupted`] on Ctrl-C:
/// the command's interrupt handler only sets a flag, which a blocking read would never see.
fn wait_for_line(tty: &std::fs::File) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    loop {
        if ucrypto::interrupt::requested() {
            return Err(Error::Interrupted);
        }
        let mut fds = [PollFd::new(tty.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => return Ok(()),
            Err(e) => return Err(Error::input(format!("cannot read the terminal: {e}"))),
        }
    }
}

/// Whether `typed` names the id `expected`, ignoring case, spaces and the separators `:`/`-`.
fn same_id(typed: &str, expected: &str) -> bool {
    let canonical = |s: &str| {
        s.chars()
            .filter(|c| c.is_ascii_hexdigit())
            .map(|c| c.to_ascii_lowercase())
            .collect::<String>()
    };
    let typed_ok = typed
        .trim()
        .chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | ' '));
    typed_ok && !typed.trim().is_empty() && canonical(typed) == canonical(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_may_be_typed_with_any_case_and_separator() {
        assert!(same_id("58:cf:79:01:02:03\n", "58:cf:79:01:02:03"));
        assert!(same_id("58CF79010203", "58:cf:79:01:02:03"));
        assert!(same_id(" 58-cf-79-01-02-03 ", "58:cf:79:01:02:03"));
        assert!(!same_id("58:cf:79:01:02:04", "58:cf:79:01:02:03"));
        assert!(!same_id("yes", "58:cf:79:01:02:03"));
        assert!(!same_id("", "58:cf:79:01:02:03"));
        assert!(!same_id("58:cf:79:01:02:03 please", "58:cf:79:01:02:03"));
    }

    #[test]
    fn without_burn_nothing_is_asked() {
        assert_eq!(
            confirm_burn(false, "00:00:00:00:00:00", "plan").unwrap(),
            Decision::DryRun
        );
    }
}
