//! The `gatehouse` binary: parse the command line, run one command, print an
//! error on stderr and exit non-zero when it fails. `anyhow` lives here and
//! in `cli/` only.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gatehouse: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
