//! The `ucrypto` binary: parse, run, print errors and exit with the documented code.
use std::process::ExitCode;

use clap::Parser;

use args::Cli;
use error::exit;

mod args;
mod commands;
mod confirm;
mod device;
mod error;
mod interrupt;
mod key_choice;
mod logger;
mod output;
mod progress_bar;

fn main() -> ExitCode {
    let json = std::env::args().any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            if json {
                let message = e.kind().to_string();
                print_json_error("usage", exit::USAGE, &message);
            }
            let _ = e.print();
            return ExitCode::from(exit::USAGE as u8);
        }
    };
    logger::install(cli.global.verbose, cli.global.json);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e.exit_code();
            // A station run whose devices failed has printed its summary as the result.
            if json && !e.is_devices_failed() {
                print_json_error(e.slug(), code, &e.to_string());
            }
            eprintln!("ucrypto: error: {e}");
            ExitCode::from(code as u8)
        }
    }
}

fn print_json_error(kind: &str, code: i32, message: &str) {
    let value = serde_json::json!({
        "error": { "kind": kind, "exit_code": code, "message": message }
    });
    let _ = output::print_line(&value.to_string());
}
