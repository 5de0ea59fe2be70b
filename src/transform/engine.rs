//! The one place the DataFusion engine is set up: session settings, memory budget and
//! spill folder, and the tokio runtime that drives it. Runs, `vitals check` and the readers
//! all get their sessions here.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use tokio::runtime::Runtime;

/// How the engine may use the machine.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Partitions per query (0: one per core).
    pub partitions: usize,
    /// Bytes the engine's operators may hold before they spill to disk (None: no limit).
    pub memory_limit: Option<usize>,
    /// Where spilled data goes (None: the system's temporary folder).
    pub spill_dir: Option<PathBuf>,
}

/// A tokio runtime and the settings every DataFusion session of a command shares.
pub struct Engine {
    runtime: Runtime,
    env: Arc<RuntimeEnv>,
    partitions: usize,
}

impl Engine {
    pub fn new(options: EngineOptions) -> Result<Engine> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores)
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let mut env = RuntimeEnvBuilder::new();
        if let Some(limit) = options.memory_limit {
            env = env.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
        }
        if let Some(dir) = &options.spill_dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the spill folder {}", dir.display()))?;
            env = env.with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir.clone()])),
            );
        }
        let env = env.build_arc().context("setting up the SQL engine")?;
        let partitions = if options.partitions == 0 { cores } else { options.partitions };
        Ok(Engine { runtime, env, partitions })
    }

    /// An engine for commands that only read published tables: every core, no budget.
    pub fn for_reading() -> Result<Engine> {
        Engine::new(EngineOptions::default())
    }

    /// A new session with vitals' settings. Spans are kept so a planning error can name
    /// the line of the model it comes from; text is read as plain strings, which joins and
    /// sorts handle faster than string views pointing into the buffers they came from.
    pub fn session(&self) -> SessionContext {
        let config = SessionConfig::new()
            .with_target_partitions(self.partitions)
            .set_bool("datafusion.sql_parser.collect_spans", true)
            .set_bool("datafusion.execution.parquet.schema_force_view_types", false)
            .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false);
        SessionContext::new_with_config_rt(config, self.env.clone())
    }

    /// Runs a future of the engine to completion (callable from several threads at once).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}
