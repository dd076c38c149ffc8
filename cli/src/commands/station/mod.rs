//! `ucrypto station run RECIPE.toml`: the factory station over the ports or virtual devices
//! given, with the records in SQLite or PostgreSQL.
use ucrypto::line_speed::LineSpeed;
use ucrypto_protocol::{MAX_BAUD, MIN_BAUD};
use ucrypto_station::records;
use ucrypto_station::{self as station, targets, Recipe, StationOptions, Target};

use crate::args::station::StationCommand;
use crate::args::GlobalArgs;
use crate::error::{Error, Result};

mod display;

use display::Display;

pub fn run(global: &GlobalArgs, command: &StationCommand) -> Result<()> {
    let StationCommand::Run(args) = command;
    crate::commands::records::warn_password_on_command_line(&args.records);
    // Everything that can be refused is checked before a device or the records are touched.
    let recipe = Recipe::load(&args.recipe)?;
    let station_id = match &args.station_id {
        Some(id) if id.trim().is_empty() => {
            return Err(Error::input("--station-id must not be empty"))
        }
        Some(id) => id.clone(),
        None => station::default_station_id(),
    };
    let targets = match (&args.ports, args.sim) {
        (Some(ports), None) => targets::from_ports(ports)?,
        (None, Some(count)) => targets::sims(
            count,
            args.sim_first,
            args.sim_chip.into(),
            args.sim_state.as_deref(),
        )?,
        _ => unreachable!("clap requires exactly one of --ports and --sim"),
    };
    let speed = match global.baud {
        Some(baud) if !(MIN_BAUD..=MAX_BAUD).contains(&baud) => {
            return Err(Error::input(format!(
                "--baud {baud}: a device's UART takes {MIN_BAUD} to {MAX_BAUD}"
            )))
        }
        Some(baud) => LineSpeed::Baud(baud),
        None => LineSpeed::Fastest,
    };
    let records = records::open(&args.records)?;
    let options = StationOptions {
        recipe,
        targets,
        station_id,
        // Each device's port opens at the firmware's start-up rate, then moves to `speed`.
        baud: ucrypto::connect::DEFAULT_BAUD,
        speed,
        timeout: global.timeout,
    };
    let labels: Vec<String> = options.targets.iter().map(Target::label).collect();
    let mut display = Display::new(&labels, options.recipe.steps.len(), global.json);
    let summary = station::run(&options, &records, &mut display)?;
    display.summary(&summary)?;
    if summary.reports.iter().any(|r| r.interrupted) {
        return Err(Error::Interrupted);
    }
    match summary.failed() {
        0 => Ok(()),
        failed => Err(Error::DevicesFailed {
            failed,
            total: summary.reports.len(),
        }),
    }
}
