//! The command line, defined once: help, man page and shell completions come from here.
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ucrypto_protocol::Chip;

use crate::output::Format;

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  ok
  1  the device reported an error
  2  usage or bad input
  3  a result failed verification (nothing was output)
  4  transport: no device, port busy, timeout, disconnected, protocol mismatch
  5  not supported by this device
  130  interrupted (Ctrl-C, SIGTERM): nothing was output

With --json, every result is one JSON object on stdout, and so is an error:
  {\"error\":{\"kind\":\"timeout\",\"exit_code\":4,\"message\":\"...\"}}";

/// Hardware crypto of an ESP32 (true RNG, AES, RS256) behind a scriptable command line.
/// Every result is verified on the host before it is output.
#[derive(Debug, Parser)]
#[command(name = "ucrypto", version, after_help = EXIT_CODES_HELP, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Serial port of the device, or `sim` (also `sim:esp32c6`, `sim:esp32`) for the virtual
    /// device in this process. Without it, the one attached ESP32 is found by its USB id.
    #[arg(
        short,
        long,
        env = "UCRYPTO_PORT",
        global = true,
        value_name = "PORT|sim"
    )]
    pub port: Option<String>,

    /// Baud rate of a UART port (USB-Serial-JTAG and pseudo-terminals ignore it).
    #[arg(long, default_value_t = 115_200, global = true)]
    pub baud: u32,

    /// Seconds allowed for the link on top of each request's own time.
    #[arg(long, default_value = "2", value_parser = parse_seconds, global = true, value_name = "SECONDS")]
    pub timeout: Duration,

    /// One JSON object per result (and per error) on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// More detail on stderr (-vv: every frame). Keys never appear.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Random bits from the device's true RNG, like Pycom's crypto.getrandbits().
    Rand(RandArgs),
    /// Everything the device says about itself: chip, id, firmware, capabilities, entropy.
    Info,
    /// Serial ports that may be a device, with their USB ids.
    Ports,
    /// Serve a virtual device on a pseudo-terminal; prints its path on the first line.
    Sim(SimArgs),
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, Args)]
pub struct RandArgs {
    /// Number of bits, rounded up to a multiple of 32 (100 gives 128).
    #[arg(value_name = "BITS")]
    pub bits: u64,

    /// Output encoding.
    #[arg(short, long, value_enum, default_value_t = Format::Hex)]
    pub format: Format,

    /// Write to FILE (written in full or not at all) instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Chip whose capabilities the virtual device has.
    #[arg(long, value_enum, default_value_t = ChipArg::Esp32c3)]
    pub chip: ChipArg,

    /// Deterministic output from this seed (reported as not random), for tests.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Damage the link, for reliability tests: `drop=P,flip=P` (per byte, both directions),
    /// `delay=MS` (before each answer), `reset-after=N` (restart every N answers), `seed=S`.
    #[arg(long, value_name = "SPEC")]
    pub faults: Option<crate::faults::FaultSpec>,
}

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

fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 3600.0) {
        return Err("the timeout must be more than 0 and at most 3600 seconds".into());
    }
    Ok(Duration::from_secs_f64(secs))
}
