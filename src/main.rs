//! The `postmortemd` command line: parses arguments and calls into the library.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;

use anyhow::Context;

use clap::{Parser, Subcommand};
use postmortemd::timeline::templates;

#[derive(Parser)]
#[command(
    name = "postmortemd",
    version,
    about = "Draft incident timelines in one UTC clock"
)]
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
            let mut readers = Vec::with_capacity(files.len());
            for file in &files {
                let opened =
                    File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
                readers.push(BufReader::new(opened));
            }
            let stdout = std::io::stdout().lock();
            templates::write_csv(readers, BufWriter::new(stdout))
                .context("cannot write the templates csv")?;
            Ok(())
        }
    }
}
