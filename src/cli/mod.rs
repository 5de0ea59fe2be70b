//! The `vitals` command line (clap): parses arguments, sets up logging, and hands each
//! command to the library. Errors are printed for people, with their chain of causes.

mod calibrate;
#[cfg(feature = "ballista")]
mod cluster;
mod diff;
mod history;
mod init;
mod query;
mod segments;

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};

use crate::canonical::HEALTH;
use crate::config::{Cluster, Pipeline};
use crate::layout::OutputLayout;
use crate::publish;
use crate::report;
use crate::runner::{self, exit, ModelChoice, RunSettings};
use crate::sample_data::{self, SampleOptions};
use crate::transform::Engine;

#[derive(Debug, Parser)]
#[command(
    name = "vitals",
    version,
    long_version = LONG_VERSION,
    about = "Scores the health of every B2B customer from finance, CRM and survey exports"
)]
pub struct Cli {
    /// No progress or summary output; only warnings and errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Log lines on stderr as text, or as JSON objects for log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// `vitals --version`: with the engines it was built with, for bug reports.
macro_rules! long_version {
    ($($more:expr),*) => {
        concat!(
            env!("CARGO_PKG_VERSION"),
            "\nDataFusion ",
            env!("VITALS_VERSION_DATAFUSION"),
            "\npolars ",
            env!("VITALS_VERSION_POLARS"),
            "\nlinfa ",
            env!("VITALS_VERSION_LINFA")
            $(, $more)*
        )
    };
}
/// A cluster's processes must run the same Ballista as the driver: said too.
#[cfg(feature = "ballista")]
const LONG_VERSION: &str = long_version!("\nBallista ", env!("VITALS_VERSION_BALLISTA_CORE"));
#[cfg(not(feature = "ballista"))]
const LONG_VERSION: &str = long_version!();

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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
        /// Where the SQL models run: local, ballista-standalone or ballista://HOST:PORT
        /// (needs a build with the `ballista` feature). Defaults to [run] engine, else local.
        #[arg(long)]
        engine: Option<Cluster>,
    },
    /// Run a pipeline scoring churn with a saved model instead of training one.
    Predict {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// The saved model: <out>/models/churn/as_of=<date>/model.json.
        #[arg(long)]
        model: PathBuf,
        /// Score as of this date (YYYY-MM-DD); defaults as for `run`.
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Output directory; defaults to [run] out in the pipeline file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Where the SQL models run: local, ballista-standalone or ballista://HOST:PORT
        /// (needs a build with the `ballista` feature). Defaults to [run] engine, else local.
        #[arg(long)]
        engine: Option<Cluster>,
    },
    /// Re-score from the last ingest with the current SQL rules, into <out>/drafts/.
    ///
    /// Reads the bronze Parquet of the ingest (no exports) and applies the churn model saved
    /// for that date; published tables stay as they are. Drafts read as draft_<table> in
    /// `vitals query`.
    Score {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Re-score this ingested date; defaults to the newest.
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Output directory; defaults to [run] out in the pipeline file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Where the SQL models run: local, ballista-standalone or ballista://HOST:PORT
        /// (needs a build with the `ballista` feature). Defaults to [run] engine, else local.
        #[arg(long)]
        engine: Option<Cluster>,
    },
    /// Does the health score predict churn? Its ROC AUC and each dimension's on the churn
    /// model's snapshot dates, and dimension weights fitted on churn, as a TOML snippet.
    ///
    /// Reads the last ingest (like `score`), scores each snapshot date as a run on it would,
    /// and compares with who churned within [churn] horizon_days after it. Changes nothing.
    Calibrate {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Calibrate on this ingested date; defaults to the newest.
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Output directory; defaults to [run] out in the pipeline file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Where the SQL models run: local, ballista-standalone or ballista://HOST:PORT
        /// (needs a build with the `ballista` feature). Defaults to [run] engine, else local.
        #[arg(long)]
        engine: Option<Cluster>,
    },
    /// Remove the history `[run] keep_bronze` and `keep_runs` no longer keep (each run does
    /// this after publishing): bronze and saved model tables of older nights, and with
    /// keep_runs every published partition of older nights.
    Prune {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// List what would go and the space it would free; remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Output directory; defaults to [run] out in the pipeline file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// What the current rules change: tier moves and score deltas against a published run.
    ///
    /// Re-scores as `vitals score` does, then compares customer_health with a published
    /// run (--against DATE) or a saved customer_health Parquet file or folder.
    Diff {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// A published as_of date (YYYY-MM-DD), or a customer_health Parquet file or folder.
        #[arg(long)]
        against: String,
        /// Re-score this ingested date; defaults to the --against date, else the newest.
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// How many customers changing tier to list.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Output directory; defaults to [run] out in the pipeline file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a pipeline without running it; exits 1 on any problem.
    ///
    /// Validates the pipeline file, each export's columns against its mapping (reading only
    /// the start of each file), and plans every SQL model; SQL errors name file:line:column.
    /// With --data, also re-scores the last ingest into <out>/drafts/ and runs the data
    /// tests over it (exit 5 when a test of severity error fails); nothing is published.
    Check {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// Run the data tests ([[tests]], sql_tests/) over the last ingest too.
        #[arg(long)]
        data: bool,
        /// With --data: the ingested date to test; defaults to the newest.
        #[arg(long, requires = "data")]
        as_of: Option<NaiveDate>,
        /// With --data: the output directory; defaults to [run] out in the pipeline file.
        #[arg(long, requires = "data")]
        out: Option<PathBuf>,
    },
    /// Show one customer's score, tier, dimensions, churn risk and alerts over every run.
    History {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// The customer, e.g. C0000009.
        customer: String,
        /// Output directory; defaults to [run] out in the pipeline file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run SQL over every published table (all runs: filter on as_of) and every bronze table.
    Query {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// The query, e.g. "SELECT health_tier, COUNT(*) FROM customer_health GROUP BY 1".
        sql: String,
        /// Write the result to this .csv or .parquet file instead of printing it.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Output directory; defaults to [run] out in the pipeline file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write one self-contained HTML report of a run: tiers, scores, RFM, movers, alerts, churn model.
    Report {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
        /// The run to report on (YYYY-MM-DD); defaults to the newest published run.
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Output directory; defaults to [run] out in the pipeline file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The HTML file to write; defaults to <out>/reports/report_<as_of>.html.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print the RFM cell → segment map a pipeline file defines.
    Segments {
        /// The pipeline file (TOML).
        pipeline: PathBuf,
    },
    /// Write a starter project into a new or empty folder: a pipeline file over sample
    /// exports, a copy of the SQL models to edit, and a README of the layout.
    Init {
        /// The folder of the new project.
        dir: PathBuf,
    },
    /// Serve a Ballista cluster for `--engine ballista://HOST:PORT`: its scheduler, or one
    /// of its executors (one per machine). See the README, "On a Ballista cluster".
    #[cfg(feature = "ballista")]
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Print a completion script for a shell, e.g. `vitals completions bash > /etc/bash_completion.d/vitals`.
    Completions { shell: clap_complete::Shell },
    /// Write synthetic finance, CRM and survey exports (deterministic for a seed).
    SampleData {
        /// Number of customers.
        #[arg(long, default_value_t = SampleOptions::default().customers)]
        customers: usize,
        /// Random seed: the same seed writes byte-identical files.
        #[arg(long, default_value_t = SampleOptions::default().seed)]
        seed: u64,
        /// Last date of the data (the exports cover the three years up to it).
        #[arg(long, default_value_t = SampleOptions::default().end)]
        end: NaiveDate,
        /// Folder to write finance/, crm/ and survey/ into.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit::USAGE } else { exit::OK };
        }
    };
    #[cfg(feature = "ballista")]
    let serving = matches!(cli.command, Command::Cluster(_));
    #[cfg(not(feature = "ballista"))]
    let serving = false;
    init_logging(cli.quiet, serving, cli.log_format);
    let format = cli.log_format;
    match execute(cli) {
        Ok(()) => exit::OK,
        Err(e) => {
            let code = runner::exit_code(&e);
            match format {
                LogFormat::Text => eprintln!("error: {e:#}"),
                LogFormat::Json => tracing::error!(exit_code = code, "{e:#}"),
            }
            code
        }
    }
}

/// Logs to stderr: vitals' own from info (warn with --quiet); the engine's and a Ballista
/// cluster's from warn, but everything of a cluster process vitals serves.
fn init_logging(quiet: bool, serving: bool, format: LogFormat) {
    let default = match (quiet, serving) {
        (true, _) => "warn",
        (false, true) => "info",
        (false, false) => "warn,vitals=info",
    };
    // Ballista 55's scheduler logs as an error that it cannot lay a finished stage's
    // metrics over its plan when a stage has more operators than its plan shows: a debug
    // display, not a failure.
    let default = format!("{default},ballista_scheduler::display=off");
    let filter = tracing_subscriber::EnvFilter::try_from_env("VITALS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&default));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
}

/// The pipeline file, its engine replaced by `--engine` if given.
fn load(pipeline: &std::path::Path, engine: Option<Cluster>) -> Result<Pipeline> {
    let mut pipeline = Pipeline::load(pipeline)?;
    if let Some(engine) = engine {
        pipeline.engine = engine;
    }
    Ok(pipeline)
}

fn run_pipeline(
    pipeline: &Pipeline,
    as_of: Option<NaiveDate>,
    out: Option<PathBuf>,
    model: ModelChoice,
    quiet: bool,
) -> Result<()> {
    let progress = !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut settings = RunSettings::resolve(&pipeline, as_of, out, progress)?;
    settings.model = model;
    let manifest = runner::run(&pipeline, &settings)?;
    if !quiet {
        println!("published as of {} to {}", manifest.as_of, settings.out.display());
        for (table, report) in &manifest.tables {
            println!("  {table:<18} {:>10} rows", report.rows);
        }
        for input in &manifest.inputs {
            println!(
                "  source {:<25} read {:>9}  accepted {:>9}  rejected {:>6}",
                input.source, input.rows_read, input.rows_accepted, input.rows_rejected
            );
        }
        let churn = &manifest.churn;
        match (&churn.validation, &churn.reason) {
            (Some(v), _) => println!(
                "  churn model {}: out-of-time ROC AUC {:.3} (RFM baseline {:.3}{}) on {}",
                churn.status,
                v.model.roc_auc,
                v.baseline.roc_auc,
                v.recency.map(|r| format!(", recency alone {:.3}", r.roc_auc)).unwrap_or_default(),
                v.test_snapshot
            ),
            (None, Some(reason)) => println!("  churn model {}: {reason}", churn.status),
            (None, None) => println!("  churn model {}", churn.status),
        }
        if let Some(note) = &churn.label_note {
            println!("  churn label: {note}");
        }
        print_failed_data_tests(&manifest.data_tests, 0);
        let alerts: Vec<String> = manifest.alerts.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
        match &manifest.previous_as_of {
            Some(previous) => println!("  compared with {previous}; alerts: {}", alerts.join(", ")),
            None => println!("  first run in {}; alerts: {}", settings.out.display(), alerts.join(", ")),
        }
    }
    Ok(())
}

fn score(pipeline: &Pipeline, as_of: Option<NaiveDate>, out: Option<PathBuf>, quiet: bool) -> Result<()> {
    let out = RunSettings::resolve(&pipeline, None, out, false)?.out;
    let rescored = runner::rescore(&pipeline, &out, as_of)?;
    if !quiet {
        print_rescored(&rescored, &pipeline);
    }
    Ok(())
}

fn prune(pipeline: &std::path::Path, dry_run: bool, out: Option<PathBuf>) -> Result<()> {
    let pipeline = Pipeline::load(pipeline)?;
    let out = OutputLayout::new(RunSettings::resolve(&pipeline, None, out, false)?.out);
    let _lock = publish::lock::acquire(&out, &format!("vitals prune {}", pipeline.file.display()))?;
    let removals = publish::retention::plan(&out, pipeline.retention);
    let mb = |bytes: u64| bytes as f64 / 1e6;
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut text = String::new();
    for removal in &removals {
        text.push_str(&format!("{verb} {}  ({:.1} MB)\n", removal.path.display(), mb(removal.bytes)));
    }
    let total: u64 = removals.iter().map(|r| r.bytes).sum();
    let keep_runs = pipeline.retention.keep_runs.map_or("all".to_string(), |n| n.to_string());
    text.push_str(&format!(
        "{} folders, {:.1} MB {} (keep_bronze = {}, keep_runs = {keep_runs})\n",
        removals.len(),
        mb(total),
        if dry_run { "to free" } else { "freed" },
        pipeline.retention.keep_bronze
    ));
    if !dry_run {
        publish::retention::remove(&removals)?;
    }
    emit(&text)
}

/// Prints `text` to standard output; a reader that closed the pipe early (`vitals query …
/// | head`) ends the command quietly, not with an error.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        done => done.context("writing to standard output"),
    }
}

fn print_rescored(rescored: &runner::Rescored, pipeline: &Pipeline) {
    println!("re-scored as of {} with the rules in {} in {:.2} s", rescored.as_of, pipeline.sql, rescored.seconds);
    match &rescored.model {
        Some(model) => println!("  churn model {}", model.display()),
        None => println!("  no saved churn model: churn columns are empty (a nightly run trains one)"),
    }
    match &rescored.unsaved {
        Some(why) => println!("  every SQL model ran: {why}"),
        None => {
            println!("  reused {} model tables the run saved", rescored.reused.len());
            for rerun in &rescored.reran {
                println!("  ran {:<20} {}", rerun.model, rerun.why);
            }
        }
    }
    for draft in &rescored.drafts {
        println!("  draft {:<18} {:>10} rows  {}", draft.name, draft.rows, draft.path.display());
    }
    print_failed_data_tests(&rescored.data_tests, rescored.data_tests_reused);
}

/// How the data tests went, and each that failed (a run gets here only when none of
/// severity error did; a re-score lists those too, and how many results it took from the
/// run: `reused`).
fn print_failed_data_tests(results: &[crate::manifest::DataTestResult], reused: usize) {
    let count = |status: &str| results.iter().filter(|r| r.status == status).count();
    let reused = match reused {
        0 => String::new(),
        n => format!(" ({n} of them the run's results: the columns they test are unchanged)"),
    };
    println!("  data tests: {} passed, {} failed, {} skipped{reused}", count("pass"), count("fail"), count("skipped"));
    for r in results.iter().filter(|r| r.failed()) {
        println!("    {}", runner::data_test_line(r));
    }
}

fn diff_against(
    pipeline: &std::path::Path,
    against: &str,
    as_of: Option<NaiveDate>,
    limit: usize,
    out: Option<PathBuf>,
    quiet: bool,
) -> Result<()> {
    let pipeline = Pipeline::load(pipeline)?;
    let out = RunSettings::resolve(&pipeline, None, out, false)?.out;
    let layout = OutputLayout::new(&out);
    let (before, label, as_of) = match against.parse::<NaiveDate>() {
        Ok(date) => {
            let file = layout.table_file(HEALTH, date);
            if !file.exists() {
                let dates: Vec<String> = layout.partitions(HEALTH).iter().map(|d| d.to_string()).collect();
                anyhow::bail!(
                    "--against {date}: no customer_health was published as of {date} under {}; published dates: {}",
                    out.display(),
                    if dates.is_empty() { "none".to_string() } else { dates.join(", ") }
                );
            }
            (file, format!("published as of {date}"), as_of.or(Some(date)))
        }
        Err(_) => {
            let path = PathBuf::from(against);
            if !path.exists() {
                anyhow::bail!("--against {against}: neither a date (YYYY-MM-DD) nor an existing file or folder");
            }
            (path, against.to_string(), as_of)
        }
    };
    let rescored = runner::rescore(&pipeline, &out, as_of)?;
    if !quiet {
        print_rescored(&rescored, &pipeline);
        println!();
    }
    let after = rescored
        .draft(HEALTH)
        .with_context(|| format!("the pipeline {} does not publish {HEALTH}", pipeline.file.display()))?;
    let engine = Engine::for_reading()?;
    let diff = engine.block_on(crate::transform::diff::compare(&engine, &before, after))?;
    let now = format!("current rules as of {}", rescored.as_of);
    emit(&diff::render(&diff, &label, &now, limit))?;
    Ok(())
}

/// What `vitals check --data` tests: the ingested date and output directory.
struct DataCheck {
    as_of: Option<NaiveDate>,
    out: Option<PathBuf>,
}

fn check(pipeline_file: &std::path::Path, data: Option<DataCheck>, quiet: bool) -> Result<()> {
    use crate::check::Outcome;
    let pipeline = Pipeline::load(pipeline_file)?;
    let as_of = pipeline.as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
    let findings = crate::check::check(&pipeline, as_of)?;
    let problems = findings.iter().filter(|f| matches!(f.outcome, Outcome::Problem(_))).count();
    for f in &findings {
        match &f.outcome {
            Outcome::Fine(what) if !quiet => println!("ok     {:<32} {what}", f.subject),
            Outcome::Fine(_) => {}
            Outcome::Warning(what) => println!("WARN   {:<32} {what}", f.subject),
            Outcome::Problem(why) => println!("ERROR  {:<32} {why}", f.subject),
        }
    }
    if problems > 0 {
        anyhow::bail!("{problems} problem(s) in {}; see the ERROR lines above", pipeline.file.display());
    }
    if let Some(data) = data {
        let out = RunSettings::resolve(&pipeline, None, data.out, false)?.out;
        let rescored = runner::rescore(&pipeline, &out, data.as_of)?;
        print_data_tests(&rescored.data_tests, quiet);
        runner::data_test_gate(&pipeline, &rescored.data_tests)?;
        if !quiet {
            println!("the data tests pass on the ingest as of {} (drafts in {})", rescored.as_of, out.display());
        }
        return Ok(());
    }
    if !quiet {
        println!("{} is ready to run", pipeline.file.display());
    }
    Ok(())
}

/// One line per data test: failures always, passes unless quiet.
fn print_data_tests(results: &[crate::manifest::DataTestResult], quiet: bool) {
    for r in results {
        match r.status.as_str() {
            "pass" if quiet => {}
            "pass" => println!("ok     {:<32} {} on {}", r.test, r.check, r.table),
            "skipped" => println!("SKIP   {:<32} {}", r.test, r.detail.as_deref().unwrap_or("")),
            _ if r.severity == "warn" => println!("WARN   {}", runner::data_test_line(r)),
            _ => println!("ERROR  {}", runner::data_test_line(r)),
        }
    }
}

/// The output directory a reading command looks at: --out, else the pipeline's [run] out.
fn output_dir(pipeline: &std::path::Path, out: Option<PathBuf>) -> Result<OutputLayout> {
    let pipeline = Pipeline::load(pipeline)?;
    Ok(OutputLayout::new(RunSettings::resolve(&pipeline, None, out, false)?.out))
}

fn execute(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run { pipeline, as_of, out, engine } => {
            run_pipeline(&load(&pipeline, engine)?, as_of, out, ModelChoice::Pipeline, cli.quiet)
        }
        Command::Predict { pipeline, model, as_of, out, engine } => {
            run_pipeline(&load(&pipeline, engine)?, as_of, out, ModelChoice::File(model), cli.quiet)
        }
        Command::Score { pipeline, as_of, out, engine } => score(&load(&pipeline, engine)?, as_of, out, cli.quiet),
        Command::Calibrate { pipeline, as_of, out, engine } => calibrate::run(&load(&pipeline, engine)?, as_of, out),
        Command::Prune { pipeline, dry_run, out } => prune(&pipeline, dry_run, out),
        Command::Diff { pipeline, against, as_of, limit, out } => {
            diff_against(&pipeline, &against, as_of, limit, out, cli.quiet)
        }
        Command::Check { pipeline, data, as_of, out } => {
            check(&pipeline, data.then_some(DataCheck { as_of, out }), cli.quiet)
        }
        Command::History { pipeline, customer, out } => {
            let out = output_dir(&pipeline, out)?;
            let engine = Engine::for_reading()?;
            emit(&engine.block_on(history::render(&engine, &out, &customer))?)
        }
        Command::Query { pipeline, sql, output, out } => {
            let out = output_dir(&pipeline, out)?;
            let engine = Engine::for_reading()?;
            emit(&engine.block_on(query::run(&engine, &out, &sql, output.as_deref()))?)
        }
        Command::Report { pipeline, as_of, out, output } => {
            let out = output_dir(&pipeline, out)?;
            let engine = Engine::for_reading()?;
            let path = engine.block_on(report::write(&engine, &out, as_of, output.as_deref()))?;
            if !cli.quiet {
                println!("report written to {}", path.display());
            }
            Ok(())
        }
        Command::Segments { pipeline } => emit(&segments::render(&Pipeline::load(&pipeline)?.scoring)),
        Command::Init { dir } => {
            let written = init::write(&dir)?;
            if !cli.quiet {
                for path in &written {
                    println!("wrote {}", path.display());
                }
                println!("next: vitals run {}", dir.join("pipeline.toml").display());
            }
            Ok(())
        }
        #[cfg(feature = "ballista")]
        Command::Cluster(command) => cluster::run(command),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "vitals", &mut script);
            emit(&String::from_utf8_lossy(&script))
        }
        Command::SampleData { customers, seed, end, out } => {
            let summary = sample_data::generate(&SampleOptions { customers, seed, out, end })?;
            if !cli.quiet {
                for (path, rows) in &summary.files {
                    println!("{:>10} rows  {}", rows, path.display());
                }
            }
            Ok(())
        }
    }
}
