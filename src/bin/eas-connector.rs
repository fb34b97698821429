//! `eas-connector`: the service and admin command line. Parses arguments, runs, and turns the
//! result into an exit code: 0 done, 1 problems found or the command failed, 2 bad usage.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = eas_connector::cli::Cli::parse();
    match eas_connector::cli::run(cli) {
        Ok(outcome) => outcome.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
