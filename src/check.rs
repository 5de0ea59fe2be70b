//! `vitals check`: everything a run would trip over, found without running it — the
//! pipeline file, each export's columns against its mapping (reading only the start of
//! each file), and every SQL model planned over empty tables.

use anyhow::Result;
use chrono::NaiveDate;

use crate::config::Pipeline;
use crate::transform::Engine;
use crate::{ingest, model, transform};

/// One thing checked: what, and either what was found fine or what is wrong.
pub struct Finding {
    pub subject: String,
    pub outcome: std::result::Result<String, String>,
}

/// Checks a loaded pipeline as of `as_of` (the date only matters to the SQL's parameters).
pub fn check(pipeline: &Pipeline, as_of: NaiveDate) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for source in &pipeline.sources {
        let outcome = ingest::check_columns(source, &pipeline.file)
            .map(|n| format!("{} has {n} columns; every mapped field is there", source.path.display()))
            .map_err(|e| format!("{e:#}"));
        findings.push(Finding { subject: format!("source {}", source.name()), outcome });
    }
    let checks = transform::check(&Engine::for_reading()?, pipeline, as_of)?;
    let mut wanted: Vec<&str> = pipeline.publish.iter().map(String::as_str).collect();
    if pipeline.churn.enabled {
        wanted.push(model::FEATURES);
    }
    for name in wanted {
        if !checks.iter().any(|c| c.model == name) {
            findings.push(Finding {
                subject: format!("model {name}"),
                outcome: Err(format!("the pipeline needs a model `{name}` but {} has no {name}.sql", pipeline.sql)),
            });
        }
    }
    for c in checks {
        let outcome = c.planned.map(|()| format!("{} plans", c.path.display()));
        findings.push(Finding { subject: format!("model {}", c.model), outcome });
    }
    Ok(findings)
}
