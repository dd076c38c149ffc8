//! One file per command; each takes its parsed arguments and the global options.
use clap::CommandFactory;

use crate::args::{BenchCommand, Cli, Command};
use crate::error::{Error, Result};

pub mod aes;
pub mod bench;
pub mod info;
pub mod jwt;
pub mod ports;
pub mod rand;
pub mod sign;
pub mod sim;
pub mod verify;

pub fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    match cli.command {
        Command::Rand(args) => rand::run(global, &args),
        Command::Info => info::run(global),
        Command::Ports => ports::run(global),
        Command::Aes(args) => aes::run(global, &args),
        Command::Sim(args) => sim::run(global, &args),
        Command::Sign(args) => sign::run(global, &args),
        Command::Jwt(args) => jwt::run(global, &args),
        Command::Verify(args) => verify::run(global, &args),
        Command::Bench(BenchCommand::Sign(args)) => bench::sign(global, &args),
        Command::Bench(BenchCommand::Aes(args)) => bench::aes(global, &args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "ucrypto",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut std::io::stdout())
            .map_err(|e| Error::Output {
                path: "stdout".into(),
                reason: e.to_string(),
            }),
    }
}

/// Prints a JSON value as one line on stdout.
pub(crate) fn print_json(value: &serde_json::Value) -> Result<()> {
    crate::output::print_line(&value.to_string())
}
