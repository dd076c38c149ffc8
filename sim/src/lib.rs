//! Virtual ucrypto hardware, for trying and testing everything without a board:
//!
//! - [`pty::PtyDevice`]: the firmware's engine on its software backend, served on a
//!   pseudo-terminal (`ucrypto sim`), paced like a UART ([`pacer`]) and with a damaged line on
//!   request ([`faults`]);
//! - [`key_files::KeyFiles`]: its eFuses and flash kept in files across runs;
//! - [`download_mode`]: the chip in its ROM's serial loader ([`rom_loader`], on a
//!   [`virtual_flash::VirtualFlash`]), booting the image written to it the way the bootloader
//!   checks it ([`esp_image`]).
pub mod chip_revision;
pub mod download_mode;
pub mod error;
pub mod esp_image;
pub mod faults;
pub mod key_files;
mod pacer;
pub mod pty;
pub mod rom_loader;
mod stub_download;
pub mod stub_loader;
pub mod virtual_flash;

pub use error::{Error, Result};
pub use key_files::KeyFiles;
pub use pty::PtyDevice;
