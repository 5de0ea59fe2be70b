//! `vitals cluster scheduler|executor` (feature `ballista`): the long-running processes of
//! the Ballista cluster `--engine ballista://HOST:PORT` sends the SQL models to, built from
//! the same Ballista and DataFusion as the vitals that sends them.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::Subcommand;

use crate::config::{self, Cluster};
use crate::transform::{self, Engine, ExecutorOptions};

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The scheduler: plans each query into stages and hands their tasks to executors.
    Scheduler {
        /// Address to listen on (0.0.0.0:50050 for other machines).
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
    },
    /// An executor: runs tasks the scheduler hands it and serves their results.
    Executor {
        /// The scheduler, HOST:PORT.
        #[arg(long, default_value = "localhost:50050", value_parser = scheduler)]
        scheduler: (String, u16),
        /// Address of its Arrow Flight service; its gRPC service takes the next port.
        #[arg(long, default_value = "127.0.0.1:50051")]
        bind: SocketAddr,
        /// The name other machines reach this one by; defaults to the address the
        /// scheduler sees it connect from.
        #[arg(long)]
        advertise: Option<String>,
        /// Tasks run at once; defaults to one per core.
        #[arg(long)]
        cores: Option<usize>,
        /// What its tasks may hold together before they spill, e.g. "4 GiB"; defaults to
        /// Ballista's share of the machine's memory.
        #[arg(long, value_parser = config::memory_size)]
        memory_limit: Option<usize>,
        /// Folder for shuffle files and spills; defaults to the system's temporary folder.
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
}

pub fn run(command: ClusterCommand) -> Result<()> {
    let engine = Engine::for_reading()?;
    match command {
        ClusterCommand::Scheduler { bind } => engine.block_on(transform::serve_scheduler(bind)),
        ClusterCommand::Executor { scheduler, bind, advertise, cores, memory_limit, work_dir } => {
            let options = ExecutorOptions { scheduler, bind, advertise, cores, memory_limit, work_dir };
            engine.block_on(transform::serve_executor(options))
        }
    }
}

/// A scheduler's HOST:PORT.
fn scheduler(text: &str) -> Result<(String, u16), String> {
    match format!("ballista://{text}").parse() {
        Ok(Cluster::Ballista { host, port }) => Ok((host, port)),
        _ => Err(format!("`{text}` is not a scheduler address: say HOST:PORT, e.g. sched.internal:50050")),
    }
}
