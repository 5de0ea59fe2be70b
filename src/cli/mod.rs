//! The `vitals` command line (clap): parses arguments, sets up logging, and hands each
//! command to the library. Errors are printed for people, with their chain of causes.

mod segments;

use std::path::PathBuf;

use anyhow::Result;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::config::Pipeline;
use crate::run::{self, RunSettings};
use crate::sample_data::{self, SampleOptions};

#[derive(Debug, Parser)]
#[command(
    name = "vitals",
    version,
    about = "Scores the health of every B2B customer from finance, CRM and survey exports"
)]
pub struct Cli {
    /// No progress or summary output; only warnings and errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline: ingest the exports, run the SQL models, publish Parquet.
    Run {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Score as of this date (YYYY-MM-DD); only rows dated on or before it are used.
        /// Defaults to [run] as_of in the pipeline file, else today.
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Output directory; defaults to [run] out in the pipeline file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the RFM cell → segment map a pipeline file defines.
    Segments {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
    },
    /// Write synthetic finance, CRM and survey exports (deterministic for a seed).
    SampleData {
        /// Number of customers.
        #[arg(long, default_value_t = 2000)]
        customers: usize,
        /// Random seed: the same seed writes byte-identical files.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Last date of the data (the exports cover the three years up to it).
        #[arg(long, default_value = "2026-06-30")]
        end: NaiveDate,
        /// Folder to write finance/, crm/ and survey/ into.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_logging(cli.quiet);
    match execute(cli) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn init_logging(quiet: bool) {
    let default = if quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("VITALS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn execute(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run {
            pipeline,
            as_of,
            out,
        } => {
            let pipeline = Pipeline::load(&pipeline)?;
            let progress = !cli.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
            let settings = RunSettings::resolve(&pipeline, as_of, out, progress)?;
            let manifest = run::run(&pipeline, &settings)?;
            if !cli.quiet {
                println!(
                    "published as of {} to {}",
                    manifest.as_of,
                    settings.out.display()
                );
                for (table, report) in &manifest.tables {
                    println!("  {table:<18} {:>10} rows", report.rows);
                }
                for input in &manifest.inputs {
                    println!(
                        "  source {:<25} read {:>9}  accepted {:>9}  rejected {:>6}",
                        input.source, input.rows_read, input.rows_accepted, input.rows_rejected
                    );
                }
            }
            Ok(())
        }
        Command::Segments { pipeline } => {
            print!("{}", segments::render(&Pipeline::load(&pipeline)?.scoring));
            Ok(())
        }
        Command::SampleData {
            customers,
            seed,
            end,
            out,
        } => {
            let summary = sample_data::generate(&SampleOptions {
                customers,
                seed,
                out,
                end,
            })?;
            if !cli.quiet {
                for (path, rows) in &summary.files {
                    println!("{:>10} rows  {}", rows, path.display());
                }
            }
            Ok(())
        }
    }
}
