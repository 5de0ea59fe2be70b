//! Where the SQL lane's queries run: in this process, or on a Ballista cluster
//! (`[run] engine`, `--engine`). Parsed here, set up by the transform lane's engine.

use std::fmt;
use std::str::FromStr;

/// Where the SQL lane's queries run (`--engine`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cluster {
    /// In this process.
    #[default]
    Local,
    /// On a Ballista scheduler and executor started inside this process.
    BallistaStandalone,
    /// On the Ballista cluster of the scheduler at `host:port`.
    Ballista { host: String, port: u16 },
}

/// The port a Ballista scheduler listens on unless told otherwise.
const SCHEDULER_PORT: u16 = 50050;

impl FromStr for Cluster {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Cluster, String> {
        let wrong = || format!("`{text}` is not an engine: say local, ballista-standalone or ballista://HOST:PORT");
        match text {
            "local" => Ok(Cluster::Local),
            "ballista-standalone" => Ok(Cluster::BallistaStandalone),
            _ => {
                let address = text.strip_prefix("ballista://").ok_or_else(wrong)?.trim_end_matches('/');
                let (host, port) = match address.rsplit_once(':') {
                    Some((host, port)) => (host, port.parse().map_err(|_| wrong())?),
                    None => (address, SCHEDULER_PORT),
                };
                match host.is_empty() {
                    true => Err(wrong()),
                    false => Ok(Cluster::Ballista { host: host.to_string(), port }),
                }
            }
        }
    }
}

impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cluster::Local => f.write_str("local"),
            Cluster::BallistaStandalone => f.write_str("ballista-standalone"),
            Cluster::Ballista { host, port } => write!(f, "ballista://{host}:{port}"),
        }
    }
}
