//! `ucrypto station serve` and `station run --serve ADDR`: the line's live page.
use std::net::SocketAddr;
use std::time::Duration;

use ucrypto_station::records::Records;
use ucrypto_station::serve::{Board, ServeOptions, Server, TokenSource};
use ucrypto_station::{self as station, Observer, RunSummary, StationOptions, Target};

use crate::args::station::StationServeArgs;
use crate::error::Result;

/// How long a finished run's page server waits for open pages to receive the last state.
const LAST_STATE_GRACE: Duration = Duration::from_secs(2);

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
    crate::interrupt::install();
    let server = Server::start(&options, &args.records, Board::default())?;
    announce(&server);
    while !ucrypto::interrupt::requested() {
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
    Ok(summary?)
}
