//! The one place the DataFusion engine is set up: session settings, memory budget and
//! spill folder, where queries run (this process or a Ballista cluster), and the tokio
//! runtime that drives it. Runs, `vitals check` and the readers all get their sessions here.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use datafusion::arrow::array::RecordBatch;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use tokio::runtime::Runtime;

use super::build_side;
use super::memory::LendingPool;
use super::whole_days;

use crate::config::Cluster;

/// How the engine may use the machine.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Partitions per query (0: one per core).
    pub partitions: usize,
    /// Bytes the engine's operators may hold before they spill to disk (None: no limit).
    pub memory_limit: Option<usize>,
    /// Where spilled data goes (None: the system's temporary folder); on a cluster, also
    /// the small tables the executors are sent as files (see [`Engine::register_batch`]).
    pub spill_dir: Option<PathBuf>,
    /// Where queries run.
    pub cluster: Cluster,
}

/// A tokio runtime and the settings every DataFusion session of a command shares.
pub struct Engine {
    runtime: Runtime,
    env: Arc<RuntimeEnv>,
    partitions: usize,
    /// The Ballista cluster queries go to; None: this process.
    cluster: Option<Remote>,
}

/// A Ballista cluster an engine sends its queries to.
struct Remote {
    /// Its scheduler, `http://HOST:PORT`.
    #[cfg_attr(not(feature = "ballista"), allow(dead_code))]
    scheduler: String,
    /// The folder small tables are shipped to the executors in.
    shipped: PathBuf,
    /// How many tables were shipped, for unique file names.
    count: AtomicUsize,
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
            env = env.with_memory_pool(Arc::new(LendingPool::new(limit)));
        }
        if let Some(dir) = &options.spill_dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the spill folder {}", dir.display()))?;
            env = env.with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir.clone()])),
            );
        }
        let env = env.build_arc().context("setting up the SQL engine")?;
        let on_cluster = options.cluster != Cluster::Local;
        if on_cluster && options.partitions == 1 {
            bail!(
                "--engine {}: [run] partitions = 1 on a Ballista cluster would publish wrong rows \
                 (Ballista 55 returns a UNION's rows more than once at one partition, \
                 apache/datafusion-ballista#2184); set [run] partitions to 2 or more, or 0 for the default",
                options.cluster
            );
        }
        let partitions = match options.partitions {
            // At least two on a cluster, for the same reason.
            0 if on_cluster => cores.max(2),
            0 => cores,
            n => n,
        };
        let mut engine = Engine { runtime, env, partitions, cluster: None };
        if on_cluster {
            let scheduler = engine.connect(&options.cluster, cores)?;
            let shipped = options.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
            engine.cluster = Some(Remote { scheduler, shipped, count: AtomicUsize::new(0) });
        }
        Ok(engine)
    }

    /// The address of the Ballista scheduler of `cluster`, started here if standalone.
    #[cfg(feature = "ballista")]
    fn connect(&self, cluster: &Cluster, cores: usize) -> Result<String> {
        match cluster {
            Cluster::Local => bail!("the local engine has no scheduler"),
            Cluster::BallistaStandalone => self.block_on(super::cluster::standalone(&self.state(), cores)),
            Cluster::Ballista { host, port } => {
                // Checked now, so a wrong address fails before any work, saying which.
                let address = format!("{host}:{port}");
                std::net::TcpStream::connect(&address).with_context(|| {
                    format!(
                        "--engine {cluster}: no Ballista scheduler answers at {address}; \
                         start one there (`vitals cluster scheduler --bind 0.0.0.0:{port}`, or \
                         ballista-scheduler --bind-port {port}) or check the address"
                    )
                })?;
                Ok(format!("http://{address}"))
            }
        }
    }

    #[cfg(not(feature = "ballista"))]
    fn connect(&self, cluster: &Cluster, _cores: usize) -> Result<String> {
        bail!(
            "--engine {cluster}: this vitals was built without Ballista; \
             build it with `cargo build --release --features ballista`, or leave out --engine"
        )
    }

    /// An engine for commands that only read published tables: every core, no budget.
    pub fn for_reading() -> Result<Engine> {
        Engine::new(EngineOptions::default())
    }

    /// A new session with vitals' settings. Spans are kept so a planning error can name
    /// the line of the model it comes from; text is read as plain strings, which joins and
    /// sorts handle faster than string views pointing into the buffers they came from.
    /// On a cluster, its queries are planned by the scheduler and run by the executors.
    pub fn session(&self) -> Result<SessionContext> {
        #[cfg(feature = "ballista")]
        if let Some(cluster) = &self.cluster {
            return super::cluster::session(self.state(), &cluster.scheduler);
        }
        Ok(SessionContext::new_with_state(self.state()))
    }

    fn state(&self) -> SessionState {
        let config = SessionConfig::new()
            .with_target_partitions(self.partitions)
            .set_bool("datafusion.sql_parser.collect_spans", true)
            .set_bool("datafusion.execution.parquet.schema_force_view_types", false)
            .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false);
        SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(self.env.clone())
            .with_default_features()
            .with_physical_optimizer_rules(build_side::physical_rules())
            .with_optimizer_rules(whole_days::optimizer_rules())
            .build()
    }

    /// Registers a small table the models read (rules, run dates, an absent source's empty
    /// table) in a session of this engine. A cluster's executors cannot be sent a table
    /// held in memory, so there it is written to a Parquet file they read instead.
    pub async fn register_batch(&self, ctx: &SessionContext, name: &str, batch: RecordBatch) -> Result<()> {
        let Some(Remote { shipped: folder, count, .. }) = &self.cluster else {
            ctx.register_batch(name, batch)?;
            return Ok(());
        };
        std::fs::create_dir_all(folder).with_context(|| format!("cannot create {}", folder.display()))?;
        let file = folder.join(format!("{name}-{}.parquet", count.fetch_add(1, Ordering::Relaxed)));
        let context = || format!("writing the table {name} for the cluster to {}", file.display());
        let mut writer =
            ArrowWriter::try_new(std::fs::File::create(&file).with_context(context)?, batch.schema(), None)?;
        writer.write(&batch).with_context(context)?;
        writer.close().with_context(context)?;
        ctx.register_parquet(name, file.to_string_lossy().as_ref(), ParquetReadOptions::default()).await?;
        Ok(())
    }

    /// Runs a future of the engine to completion (callable from several threads at once).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}
