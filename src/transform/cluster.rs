//! The SQL lane on a Ballista cluster (feature `ballista`): sessions whose queries the
//! scheduler cuts into stages for its executors, the scheduler and executor that
//! `--engine ballista-standalone` starts inside this process, and the long-running ones
//! of a real cluster (`vitals cluster scheduler|executor`).
//!
//! Only planning and execution move: the lane still writes each model's result on this
//! machine, and the executors read every file (bronze, the models' tables, the rules) by
//! the path this process gives them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::BallistaCodec;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::ExecutorProcessConfig;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;

/// A session whose queries the scheduler at `scheduler` (`http://HOST:PORT`) runs.
pub fn session(state: SessionState, scheduler: &str) -> Result<SessionContext> {
    let config = state.config().clone().upgrade_for_ballista().with_ballista_adaptive_query_planner(false);
    let state = SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build()
        .upgrade_for_ballista(scheduler.to_string())
        .with_context(|| format!("setting up a session on the Ballista scheduler {scheduler}"))?;
    Ok(SessionContext::new_with_state(state))
}

/// Starts a scheduler and one executor of `cores` task slots in this process, and returns
/// the scheduler's address. The scheduler plans with each session's own settings, as a
/// scheduler of a real cluster does; the executor runs within `state`'s memory budget and
/// spills into its folder.
pub async fn standalone(state: &SessionState, cores: usize) -> Result<String> {
    let config = state.config().clone().upgrade_for_ballista();
    let address = ballista_scheduler::standalone::new_standalone_scheduler_with_builder(
        Arc::new(default_session_builder),
        Arc::new(move || config.clone()),
        BallistaCodec::default(),
    )
    .await
    .context("starting the in-process Ballista scheduler")?;
    let url = format!("http://localhost:{}", address.port());
    // The scheduler may still be starting: tried for ten seconds.
    let mut tries = 0;
    let scheduler = loop {
        match SchedulerGrpcClient::connect(url.clone()).await {
            Ok(client) => break client,
            Err(e) if tries == 100 => {
                return Err(e).with_context(|| format!("the in-process Ballista scheduler at {url} does not answer"))
            }
            Err(_) => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    ballista_executor::new_standalone_executor_from_state(scheduler, cores, state)
        .await
        .context("starting the in-process Ballista executor")?;
    Ok(url)
}

/// Runs a Ballista scheduler listening on `bind` until the process is stopped
/// (`vitals cluster scheduler`): the same Ballista and DataFusion this vitals plans with,
/// so client, scheduler and executors always agree on the plans they exchange.
pub async fn serve_scheduler(bind: SocketAddr) -> Result<()> {
    let config =
        SchedulerConfig { bind_host: bind.ip().to_string(), bind_port: bind.port(), ..SchedulerConfig::default() };
    let cluster = BallistaCluster::new_from_config(&config).await.context("setting up the Ballista scheduler")?;
    ballista_scheduler::scheduler_process::start_server(cluster, bind, Arc::new(config))
        .await
        .with_context(|| format!("running the Ballista scheduler on {bind}"))
}

/// What `vitals cluster executor` runs with.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler to register with.
    pub scheduler: (String, u16),
    /// Where this executor listens: its Arrow Flight port; gRPC takes the next one.
    pub bind: SocketAddr,
    /// The name the other executors and the driver reach this one by (None: the address
    /// the scheduler sees it connect from).
    pub advertise: Option<String>,
    /// Tasks run at once (None: one per core).
    pub cores: Option<usize>,
    /// Bytes the executor's tasks may hold together before they spill (None: Ballista's
    /// share of the machine's memory).
    pub memory_limit: Option<usize>,
    /// Shuffle files and spills (None: the system's temporary folder).
    pub work_dir: Option<PathBuf>,
}

/// Runs a Ballista executor until the process is stopped or the scheduler tells it to.
pub async fn serve_executor(options: ExecutorOptions) -> Result<()> {
    let (scheduler_host, scheduler_port) = options.scheduler.clone();
    let defaults = ExecutorProcessConfig::default();
    let config = ExecutorProcessConfig {
        bind_host: options.bind.ip().to_string(),
        external_host: options.advertise.clone(),
        port: options.bind.port(),
        grpc_port: options.bind.port() + 1,
        scheduler_host,
        scheduler_port,
        vcores: options.cores.unwrap_or(defaults.vcores),
        memory_pool_size: options.memory_limit.map(|bytes| bytes as u64),
        work_dir: options.work_dir.as_ref().map(|d| d.to_string_lossy().to_string()),
        ..defaults
    };
    ballista_executor::executor_process::start_executor_process(Arc::new(config)).await.with_context(|| {
        let (host, port) = &options.scheduler;
        format!("running the Ballista executor of the scheduler at {host}:{port}")
    })
}
