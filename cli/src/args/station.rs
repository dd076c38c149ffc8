//! The arguments of `ucrypto station`.
use std::path::PathBuf;

use clap::{ArgGroup, Args, Subcommand};
use ucrypto_station::records::DEFAULT_RECORDS;

use super::chip::ChipArg;

#[derive(Debug, Subcommand)]
pub enum StationCommand {
    /// Run RECIPE.toml on every device given, all at once, one worker per device.
    #[command(after_help = STATION_HELP)]
    Run(StationRunArgs),
    /// Serve the line's live page from the records: stations, each device's step and progress,
    /// failures, totals per hour, a search over past devices and the exports.
    #[command(after_help = SERVE_HELP)]
    Serve(StationServeArgs),
}

const STATION_HELP: &str = "\
A recipe is a TOML file of [[step]] tables, run in order on each device:
  [[step]]
  kind = \"self-test\"          # Hello: self-tests passed, entropy ready
  [[step]]
  kind = \"rand-health\"        # bits = 1048576: random bits pass the SP 800-90B health tests
  [[step]]
  kind = \"sign-check\"         # key-bits = 2048: the device signs with a throwaway key
  [[step]]
  kind = \"key-generate\"       # slot = 0, bits = 2048: the device's own key (eFuse burn), or
                              # the key the slot already holds; its public key is recorded
  [[step]]
  kind = \"sign-manifest\"      # slot = 0: the device signs a manifest of itself with it
  [[step]]
  kind = \"decrypt-check\"      # slot = 0: a secret sealed to the slot's key opens on the device
  [[step]]
  kind = \"csr\"                # slot = 0, subject = \"CN={device_id}\": a PKCS#10 request
  [[step]]
  kind = \"certify\"            # slot = 0, ca = \"line-ca/ca.toml\": the line CA's certificate
                              # for the key, written with the CA's into esp_secure_cert
  [[step]]
  kind = \"attest\"             # slot = 0, ca = \"line-ca/ca.toml\": the device proves its key
An unknown kind or parameter is refused (exit 2) before any device is touched.

Steps recorded as done for a device under the same recipe are skipped, so re-running after a
crash finishes what was left. A device claimed by another station is left alone and fails
with \"provisioned by station X\".

Each UART's line moves to the fastest rate its USB bridge carries after the handshake (--baud N
for N, --baud 115200 to stay); a device whose line fails at that rate carries on at 115200 alone,
and the rate used is recorded (devices.line_baud).

With --serve ADDR the line's page (`ucrypto station serve --help`) shows this run live in a
browser while it goes on; an ADDR other than loopback needs --token env:VAR or file:PATH.

Exit codes: 0 every device done, 6 some devices failed (one line each names the device and
the step), 2 bad recipe or options, 4 no device or the records cannot be reached.
See docs/station.md.";

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("devices").required(true).args(["ports", "sim"])))]
pub struct StationRunArgs {
    /// The recipe (TOML).
    #[arg(value_name = "RECIPE.toml")]
    pub recipe: PathBuf,

    /// Serial ports of the devices, comma-separated, or `auto` for every attached board
    /// recognised by its USB id.
    #[arg(long, value_name = "auto|P1,P2,...")]
    pub ports: Option<String>,

    /// N virtual devices in this process, numbered from --sim-first (virtual device n is the
    /// same device as `ucrypto sim --seed n`).
    #[arg(long, value_name = "N")]
    pub sim: Option<u64>,

    /// Number of the first virtual device of --sim.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "sim")]
    pub sim_first: u64,

    /// Keep each virtual device's eFuses and flash (its keys) in DIR, so the devices of --sim
    /// survive a station's restart as boards would.
    #[arg(long, value_name = "DIR", requires = "sim")]
    pub sim_state: Option<PathBuf>,

    /// Chip of the virtual devices of --sim.
    #[arg(long, value_enum, default_value_t = ChipArg::Esp32c3, requires = "sim")]
    pub sim_chip: ChipArg,

    /// The record store: a SQLite file, or postgres://user@host/db for a database shared by
    /// the stations of a line.
    #[arg(long, value_name = "FILE|URL", default_value = DEFAULT_RECORDS, env = "UCRYPTO_RECORDS")]
    pub records: String,

    /// This station's name in the records [default: the host name].
    #[arg(long, value_name = "NAME")]
    pub station_id: Option<String>,

    /// Also serve the line's live page on ADDR (e.g. 127.0.0.1:8080) while the run goes on.
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<std::net::SocketAddr>,

    /// The page's token, from an environment variable or a file (needed when ADDR is not
    /// loopback).
    #[arg(long, value_name = "env:VAR|file:PATH", requires = "serve")]
    pub token: Option<String>,
}

const SERVE_HELP: &str = "\
The page shows each station of the line with its latest run, the devices of those runs (port,
device id, step, progress, failure and its reason), and the devices done and failed per hour over
the last 24 hours; it updates as the records change (server-sent events, no reloads). Below:
a search over every device recorded, each one's history, and the exports of `records export`.

It only reads. Bound to 127.0.0.1:8080 by default; an address reachable from other machines
needs --token env:VAR or --token file:PATH (open /?token=TOKEN once in the browser, or send
Authorization: Bearer TOKEN). Ctrl-C or SIGTERM stops it. See docs/station.md.";

#[derive(Debug, Args)]
pub struct StationServeArgs {
    /// The record store: a SQLite file, or postgres://user@host/db for a whole line.
    #[arg(long, value_name = "FILE|URL", default_value = DEFAULT_RECORDS, env = "UCRYPTO_RECORDS")]
    pub records: String,

    /// Address to serve the page on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,

    /// The page's token, from an environment variable or a file (needed when ADDR is not
    /// loopback).
    #[arg(long, value_name = "env:VAR|file:PATH")]
    pub token: Option<String>,
}
