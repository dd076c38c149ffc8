//! `ucrypto station serve` and `station run --serve ADDR`: the line's live page.
use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

use crate::error::Result;
use crate::records::{Records, DEFAULT_RECORDS};
use crate::station::serve::{Board, ServeOptions, Server, TokenSource};
use crate::station::{self, Observer, RunSummary, StationOptions, Target};

pub const SERVE_HELP: &str = "\
The page shows each station of the line with its latest run, the devices of those runs (port,
device id, step, progress, failure and its reason), and the devices done and failed per hour over
the last 24 hours; it updates as the records change (server-sent events, no reloads). Below:
a search over every device recorded, each one's history, and the exports of `records export`.

It only reads. Bound to 127.0.0.1:8080 by default; an address reachable from other machines
needs --token env:VAR or --token file:PATH (open /?token=TOKEN once in the browser, or send
Authorization: Bearer TOKEN). Ctrl-C or SIGTERM stops it. See docs/station.md.";

/// How long a finished run's page server waits for open pages to receive the last state.
const LAST_STATE_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub struct StationServeArgs {
    /// The record store: a SQLite file, or postgres://user@host/db for a whole line.
    #[arg(long, value_name = "FILE|URL", default_value = DEFAULT_RECORDS, env = "UCRYPTO_RECORDS")]
    pub records: String,

    /// Address to serve the page on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The page's token, from an environment variable or a file (needed when ADDR is not
    /// loopback).
    #[arg(long, value_name = "env:VAR|file:PATH")]
    pub token: Option<String>,
}

fn options(listen: SocketAddr, token: Option<&str>) -> Result<ServeOptions> {
    Ok(ServeOptions {
        listen,
        token: token.map(TokenSource::parse).transpose()?,
    })
}

fn announce(server: &Server) {
    eprintln!(
        "ucrypto: station: the line's page is at http://{}/",
        server.address()
    );
}

/// Serves the page from the records until interrupted.
pub fn serve(args: &StationServeArgs) -> Result<()> {
    let options = options(args.listen, args.token.as_deref())?;
    // The page reads: a mistyped SQLite path is refused rather than made.
    drop(crate::commands::records::open_existing(&args.records)?);
    crate::client::handle_interrupts();
    let server = Server::start(&options, &args.records, Board::default())?;
    announce(&server);
    while !crate::client::interrupted() {
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(server);
    Ok(())
}

/// Runs the station while serving its page, fed by the workers as they go.
pub fn run_serving(
    station_options: &StationOptions,
    records: &Records,
    display: &mut dyn Observer,
    records_url: &str,
    listen: SocketAddr,
    token: Option<&str>,
) -> Result<RunSummary> {
    let options = options(listen, token)?;
    let labels: Vec<String> = station_options.targets.iter().map(Target::label).collect();
    let board = Board::live(
        &station_options.station_id,
        "",
        &labels,
        station_options.recipe.steps.len(),
    );
    let server = Server::start(&options, records_url, board)?;
    announce(&server);
    let summary = {
        let mut observer = server.observer(display);
        station::run(station_options, records, &mut observer)
    };
    server.finish(LAST_STATE_GRACE);
    summary
}
