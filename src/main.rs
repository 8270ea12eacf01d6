//! The `postmortemd` command line: parses arguments and calls into the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "postmortemd", version, about = "Draft incident timelines in one UTC clock")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Mine log templates and print `LineId,EventTemplate` CSV (the Loghub convention).
    Templates {
        /// Files of one log message per line.
        files: Vec<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Templates { files } => {
            let _ = files;
            Ok(())
        }
    }
}
