//! The state of a write through the virtual flasher stub, held by the ROM loader
//! ([`crate::rom_loader`]) and driven by the stub's commands ([`crate::stub_loader`]).
use flate2::Decompress;

/// A stub write in progress.
pub struct StubDownload {
    pub(crate) offset: u32,
    /// Bytes to write (uncompressed).
    pub(crate) size: u32,
    pub(crate) written: u32,
    /// Everything below this address (from `offset`) is erased for this write.
    pub(crate) erased_to: u32,
    /// The zlib stream of a FLASH_DEFL_BEGIN; `None` for plain FLASH_BEGIN.
    pub(crate) inflate: Option<Box<Decompress>>,
}
