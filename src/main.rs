//! The `postmortemd` command line: parses arguments and calls into the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use postmortemd::normalize::inspect::inspect_times;
use postmortemd::normalize::time::{Finder, TimeContext, parse_window, parse_zone};

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
    /// Show, line by line, which embedded timestamp was read and how:
    /// `LINE_NO<TAB>TIME_UTC<TAB>FORMAT<TAB>FLAGS<TAB>MATCHED<TAB>KUBELET`.
    InspectTimes {
        /// Incident window `START/END` (RFC 3339); year-less times take their year from it.
        #[arg(long)]
        window: Option<String>,
        /// Zone for zone-less times: `UTC`, an offset like `+09:00`, or an IANA name.
        #[arg(long)]
        zone: Option<String>,
        /// A log file, one line per record.
        file: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Templates { files } => {
            let _ = files;
            Ok(())
        }
        Command::InspectTimes { window, zone, file } => {
            let mut context = TimeContext::default();
            if let Some(window) = window {
                context.window =
                    Some(parse_window(&window).with_context(|| {
                        format!("window {window:?} is not START/END in RFC 3339")
                    })?);
            }
            if let Some(zone) = zone {
                context.zone = parse_zone(&zone).with_context(|| {
                    format!("zone {zone:?} is neither an offset nor a known IANA name")
                })?;
            }
            let input =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let stdout = std::io::stdout().lock();
            let mut output = std::io::BufWriter::with_capacity(1 << 16, stdout);
            let written = inspect_times(&input, &mut Finder::new(context), &mut output)
                .and_then(|()| std::io::Write::flush(&mut output));
            match written {
                // A reader that stopped early (`| head`) is not a failure of ours.
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                written => written.context("writing the report to stdout"),
            }
        }
    }
}
