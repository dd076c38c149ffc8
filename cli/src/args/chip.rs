//! `--chip` and `--sim-chip`: the chips a virtual device can be.
use clap::ValueEnum;
use ucrypto_protocol::Chip;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ChipArg {
    Esp32c3,
    Esp32c6,
    Esp32,
}

impl From<ChipArg> for Chip {
    fn from(c: ChipArg) -> Chip {
        match c {
            ChipArg::Esp32c3 => Chip::Esp32C3,
            ChipArg::Esp32c6 => Chip::Esp32C6,
            ChipArg::Esp32 => Chip::Esp32,
        }
    }
}
