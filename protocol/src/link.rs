//! The line's speed, as both sides must agree on it: a UART starts at [`DEFAULT_BAUD`], the
//! host may move it with `SetBaud`, and the device goes back by itself when the host falls
//! silent, so that no disagreement lasts.

/// The UART's rate at start-up and after any fallback (8N1).
pub const DEFAULT_BAUD: u32 = 115_200;

/// The lowest and highest rates `SetBaud` accepts (the ESP32-C3 and -C6 UARTs reach 5 Mbaud).
pub const MIN_BAUD: u32 = 9_600;
pub const MAX_BAUD: u32 = 5_000_000;

/// After this long without a valid frame, counted from the device's last answer, a device on a
/// rate other than [`DEFAULT_BAUD`] goes back to it, in milliseconds. A host that lost track of
/// the rate waits this long and talks at [`DEFAULT_BAUD`].
pub const BAUD_FALLBACK_MS: u64 = 1_000;
