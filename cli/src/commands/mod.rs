//! One file per command; each takes its parsed arguments and the global options.
use clap::CommandFactory;

use crate::args::{BenchCommand, Cli, Command, KeyCommand};
use crate::error::{Error, Result};

pub mod aes;
pub mod attest;
pub mod bench;
pub mod ca;
pub mod cert;
pub mod csr;
pub mod decrypt;
pub mod flash;
pub mod hash;
pub mod info;
pub mod jwt;
pub mod key;
pub mod lock;
pub mod ports;
pub mod rand;
pub mod records;
pub mod sign;
pub mod sim;
pub mod station;
pub mod verify;

pub fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    match cli.command {
        Command::Rand(args) => rand::run(global, &args),
        Command::Info => info::run(global),
        Command::Ports => ports::run(global),
        Command::Aes(args) => aes::run(global, &args),
        Command::Sim(args) => sim::run(global, &args),
        Command::Flash(args) => flash::run(global, &args),
        Command::Sign(args) => sign::run(global, &args),
        Command::Jwt(args) => jwt::run(global, &args),
        Command::Verify(args) => verify::run(global, &args),
        Command::Hash(args) => hash::run(global, &args),
        Command::Encrypt(args) => decrypt::encrypt(global, &args),
        Command::Decrypt(args) => decrypt::decrypt(global, &args),
        Command::Lock(args) => lock::run(global, &args),
        Command::Key(KeyCommand::Generate(args)) => key::generate(global, &args),
        Command::Key(KeyCommand::Import(args)) => key::import(global, &args),
        Command::Key(KeyCommand::List) => key::list(global),
        Command::Key(KeyCommand::Public(args)) => key::public(global, &args),
        Command::Csr(args) => csr::run(global, &args),
        Command::Bench(BenchCommand::Sign(args)) => bench::sign(global, &args),
        Command::Bench(BenchCommand::Aes(args)) => bench::aes(global, &args),
        Command::Bench(BenchCommand::Hash(args)) => hash::bench(global, &args),
        Command::Station(command) => station::run(global, &command),
        Command::Records(command) => records::run(global, &command),
        Command::Ca(command) => ca::run(global, &command),
        Command::Cert(command) => cert::run(global, &command),
        Command::Attest(args) => attest::run(global, &args),
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
