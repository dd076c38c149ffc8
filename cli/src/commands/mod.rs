//! One file per command; each takes its parsed arguments and the global options.
use clap::CommandFactory;

use crate::args::{BenchCommand, Cli, Command, GlobalArgs, KeyCommand};
use crate::client::Client;
use crate::connect::ConnectOptions;
use crate::device_info::DeviceInfo;
use crate::error::{Error, Result};
use crate::output::Output;

pub mod aes;
pub mod bench;
pub mod csr;
pub mod decrypt;
pub mod flash;
pub mod hash;
pub mod info;
pub mod jwt;
pub mod key;
pub mod ports;
mod progress_bar;
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

/// Connects to the device the global options name. Ctrl-C and SIGTERM then end the command
/// cleanly (nothing output, the port released) instead of killing it mid-write.
pub(crate) fn connect(global: &GlobalArgs) -> Result<Client> {
    let options = ConnectOptions::try_from(global)?;
    crate::client::handle_interrupts();
    crate::connect(&options)
}

/// JSON carries a result inline only up to this size; larger results need `-o FILE`.
pub(crate) const MAX_JSON_INLINE: u64 = 16 << 20;

/// Adds what every result's JSON says about the device that produced it.
pub(crate) fn add_device_fields(json: &mut serde_json::Value, info: &DeviceInfo) {
    json["virtual"] = info.virtual_device.into();
    json["chip"] = info.chip.name().into();
    json["device_id"] = info.device_id_string().into();
}

/// Releases `output` and prints `json` saying where the result went: the file, as `output`, or
/// the text itself under `inline_key`.
pub(crate) fn commit_with_json(
    output: Output,
    mut json: serde_json::Value,
    inline_key: &str,
) -> Result<()> {
    if let Some(path) = output.path() {
        json["output"] = path.display().to_string().into();
        output.commit()?;
    } else {
        if output.written() > MAX_JSON_INLINE {
            return Err(Error::input(format!(
                "{} bytes is too much to inline in JSON: write it with -o FILE",
                output.written()
            )));
        }
        json[inline_key] = output.into_text()?.into();
    }
    print_json(&json)
}

/// Prints a JSON value as one line on stdout.
pub(crate) fn print_json(value: &serde_json::Value) -> Result<()> {
    crate::output::print_line(&value.to_string())
}
