//! `vitals check`: everything a run would trip over, found without running it — the
//! pipeline file, each export's columns against its mapping (reading only the start of
//! each file), and every SQL model planned over empty tables.

use std::collections::BTreeSet;

use anyhow::Result;
use chrono::NaiveDate;

use crate::canonical::READ_BY_CODE;
use crate::config::{Pipeline, RESERVED_PARAMS};
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
        let outcome = c.planned.and_then(|columns| {
            let read = READ_BY_CODE.iter().find(|(m, _)| *m == c.model).map_or(&[][..], |(_, read)| *read);
            let missing: Vec<&str> = read.iter().copied().filter(|r| !columns.iter().any(|c| c == r)).collect();
            match missing.as_slice() {
                [] => Ok(format!("{} plans", c.path.display())),
                _ => Err(format!(
                    "{} plans, but no longer produces {}, which vitals reads (the churn model, the report, \
                     history or diff): keep those columns in the model",
                    c.path.display(),
                    missing.join(", ")
                )),
            }
        });
        findings.push(Finding { subject: format!("model {}", c.model), outcome });
    }
    findings.extend(rules_the_models_read(pipeline)?);
    Ok(findings)
}

/// Whether the models read what the pipeline configures for them: each `[metrics.*]` is a
/// metric some model produces, each `[params]` key one some model reads. A typo in either
/// would otherwise leave a rule without effect, silently.
fn rules_the_models_read(pipeline: &Pipeline) -> Result<Vec<Finding>> {
    let models = transform::models::load(&pipeline.sql)?;
    let mut findings = Vec::new();
    let metrics = &pipeline.scoring.metrics;
    let produced = |name: &str| models.iter().any(|m| m.sql.contains(&format!("'{name}'")));
    let unknown: Vec<&str> = metrics.iter().map(|m| m.name.as_str()).filter(|n| !produced(n)).collect();
    findings.push(Finding {
        subject: "metrics".to_string(),
        outcome: match unknown.as_slice() {
            [] => Ok(format!("each of the {} metrics the rules score is produced by a model", metrics.len())),
            _ => Err(format!(
                "[metrics.{}] in {}: no SQL model produces a metric of that name (a typo, or a model \
                 removed?), so its weight scores nothing",
                unknown.join("], [metrics."),
                pipeline.file.display()
            )),
        },
    });
    let read: BTreeSet<String> = models.iter().flat_map(|m| transform::models::identifiers(&m.sql)).collect();
    let unread: Vec<&str> = pipeline
        .params
        .keys()
        .map(String::as_str)
        .filter(|k| !RESERVED_PARAMS.contains(k) && !read.contains(&k.to_lowercase()))
        .collect();
    findings.push(Finding {
        subject: "params".to_string(),
        outcome: match unread.as_slice() {
            [] => Ok(format!("each of the {} [params] values is read by a model", pipeline.params.len())),
            _ => Err(format!(
                "[params] {} in {}: no SQL model reads it (a typo?), so it changes nothing",
                unread.join(", "),
                pipeline.file.display()
            )),
        },
    });
    Ok(findings)
}
