//! `vitals check`: everything a run would trip over, found without running it — the
//! pipeline file, each export's columns against its mapping (reading only the start of
//! each file), and every SQL model planned over empty tables.

use std::collections::BTreeSet;

use anyhow::Result;
use chrono::NaiveDate;

use crate::canonical::{self, CHURN_COLUMNS, HEALTH, READ_BY_CODE};
use crate::config::{Pipeline, RESERVED_PARAMS};
use crate::contract;
use crate::layout::OutputLayout;
use crate::manifest::Manifest;
use crate::runner::RunSettings;
use crate::transform::Engine;
use crate::{ingest, model, transform};

/// One thing checked: what, and what was found.
pub struct Finding {
    pub subject: String,
    pub outcome: Outcome,
}

pub enum Outcome {
    Fine(String),
    /// Worth a look, but a run would go on (and warn the same).
    Warning(String),
    /// A run would fail, or do something the pipeline cannot mean.
    Problem(String),
}

impl From<std::result::Result<String, String>> for Outcome {
    fn from(result: std::result::Result<String, String>) -> Outcome {
        match result {
            Ok(fine) => Outcome::Fine(fine),
            Err(problem) => Outcome::Problem(problem),
        }
    }
}

/// Checks a loaded pipeline as of `as_of` (the date only matters to the SQL's parameters).
pub fn check(pipeline: &Pipeline, as_of: NaiveDate) -> Result<Vec<Finding>> {
    let mut findings = Vec::new();
    for source in &pipeline.sources {
        let outcome = ingest::check_columns(source, &pipeline.file)
            .map(|n| format!("{} has {n} columns; every mapped field is there", source.path.display()))
            .map_err(|e| format!("{e:#}"));
        findings.push(Finding { subject: format!("source {}", source.name()), outcome: outcome.into() });
    }
    findings.extend(values_of_the_last_run(pipeline)?);
    let checks = transform::check(&Engine::for_reading()?, pipeline, as_of)?;
    let mut wanted: Vec<&str> = pipeline.publish.iter().map(String::as_str).collect();
    if pipeline.churn.enabled {
        wanted.push(model::FEATURES);
        if let Some(note) = &pipeline.churn.label_note {
            findings.push(Finding { subject: "churn label".into(), outcome: Outcome::Fine(note.clone()) });
        }
    }
    for name in wanted {
        if !checks.iter().any(|c| c.model == name) {
            findings.push(Finding {
                subject: format!("model {name}"),
                outcome: Outcome::Problem(format!(
                    "the pipeline needs a model `{name}` but {} has no {name}.sql",
                    pipeline.sql
                )),
            });
        }
    }
    let mut columns_of: std::collections::BTreeMap<String, Vec<String>> = pipeline
        .sources
        .iter()
        .map(|s| (s.name().to_string(), s.source.fields.iter().map(|f| f.name.to_string()).collect()))
        .collect();
    for c in &checks {
        if let Ok(columns) = &c.planned {
            let mut columns = columns.clone();
            if c.model == HEALTH {
                columns.extend(CHURN_COLUMNS.iter().map(|(name, _)| name.to_string()));
            }
            columns_of.insert(c.model.clone(), columns);
        }
    }
    findings.extend(data_tests_reach_their_columns(pipeline, &columns_of));
    for c in checks {
        let outcome = c.planned.and_then(|columns| {
            let read = READ_BY_CODE.iter().find(|(m, _)| *m == c.model).map_or(&[][..], |(_, read)| *read);
            let missing: Vec<&str> = read.iter().copied().filter(|r| !columns.iter().any(|c| c == r)).collect();
            let published = pipeline.publish.contains(&c.model);
            let contracted = contract::tables().get(&c.model).filter(|_| published);
            let gone: Vec<&str> = contracted
                .into_iter()
                .flatten()
                .map(|(name, _)| name.as_str())
                .filter(|n| !columns.iter().any(|c| c == n))
                // The churn columns join customer_health after its model, in Rust.
                .filter(|n| !(c.model == HEALTH && CHURN_COLUMNS.iter().any(|(churn, _)| churn == n)))
                .filter(|n| !pipeline.allow_breaking.contains(&format!("{}.{n}", c.model)))
                .collect();
            if !gone.is_empty() {
                return Err(format!(
                    "{} plans, but no longer produces {}, which BI users read (docs/tables.md): a run would be \
                     refused. Keep the column(s), or list them in [run] allow_breaking",
                    c.path.display(),
                    gone.iter().map(|n| format!("{}.{n}", c.model)).collect::<Vec<_>>().join(", ")
                ));
            }
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
        findings.push(Finding { subject: format!("model {}", c.model), outcome: outcome.into() });
    }
    findings.extend(rules_the_models_read(pipeline)?);
    Ok(findings)
}

/// Each data test names a table the run makes (a model or a source) and a column of it; a
/// test that does not would be skipped or fail at every run.
fn data_tests_reach_their_columns(
    pipeline: &Pipeline,
    columns_of: &std::collections::BTreeMap<String, Vec<String>>,
) -> Vec<Finding> {
    use crate::config::data_tests::Check;
    let mut findings = Vec::new();
    for test in pipeline.tests.iter().filter(|t| !matches!(t.check, Check::Sql { .. })) {
        let mut tables = vec![(&test.table, test.column.as_ref())];
        if let Check::Relationships { to, column } = &test.check {
            tables.push((to, Some(column)));
        }
        // A test on a source this pipeline does not read (a shipped default on accounts, in
        // an invoice-only pipeline) is skipped by design.
        if let Some((absent, _)) =
            tables.iter().find(|(t, _)| !columns_of.contains_key(t.as_str()) && canonical::source(t).is_some())
        {
            let why = format!("skipped: the pipeline reads no source {absent}");
            findings.push(Finding { subject: format!("data test {}", test.name), outcome: Outcome::Fine(why) });
            continue;
        }
        let unreachable: Vec<String> = tables
            .into_iter()
            .filter_map(|(table, column)| match (columns_of.get(table.as_str()), column) {
                (None, _) => Some(format!("the run makes no table {table} (a model of {} or a source)", pipeline.sql)),
                (Some(columns), Some(column)) if !columns.contains(column) => {
                    Some(format!("{table} has no column {column}"))
                }
                _ => None,
            })
            .collect();
        let outcome = match unreachable.is_empty() {
            true => Outcome::Fine(format!("{} on {}", test.check.kind(), test.table)),
            false => Outcome::Warning(format!("{}: a run would skip or fail it", unreachable.join("; "))),
        };
        findings.push(Finding { subject: format!("data test {}", test.name), outcome });
    }
    findings
}

/// The categorical values the newest committed run found that the value maps, as they are
/// now, still do not name: a renamed category in an export shows here before it drops rows
/// from the scores unnoticed.
fn values_of_the_last_run(pipeline: &Pipeline) -> Result<Vec<Finding>> {
    let out = OutputLayout::new(RunSettings::resolve(pipeline, None, None, false)?.out);
    let Some((date, manifest)) =
        out.run_dates().into_iter().rev().find_map(|d| Manifest::read(&out.manifest_file(d)).ok().map(|m| (d, m)))
    else {
        return Ok(Vec::new());
    };
    let mut findings = Vec::new();
    for source in pipeline.sources.iter().filter(|s| !s.values.is_empty()) {
        let Some(report) = manifest.inputs.iter().find(|r| r.source == source.name()) else { continue };
        let unmapped = ingest::unmapped_values(source, &report.unmapped);
        let subject = format!("values of {}", source.name());
        findings.push(match unmapped.is_empty() {
            true => Finding {
                subject,
                outcome: Outcome::Fine(format!("the run as of {date} found every categorical value mapped")),
            },
            false => Finding {
                subject,
                outcome: Outcome::Warning(format!("in the run as of {date}: {}", unmapped.join("; "))),
            },
        });
    }
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
        outcome: Outcome::from(match unknown.as_slice() {
            [] => Ok(format!("each of the {} metrics the rules score is produced by a model", metrics.len())),
            _ => Err(format!(
                "[metrics.{}] in {}: no SQL model produces a metric of that name (a typo, or a model \
                 removed?), so its weight scores nothing",
                unknown.join("], [metrics."),
                pipeline.file.display()
            )),
        }),
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
        outcome: Outcome::from(match unread.as_slice() {
            [] => Ok(format!("each of the {} [params] values is read by a model", pipeline.params.len())),
            _ => Err(format!(
                "[params] {} in {}: no SQL model reads it (a typo?), so it changes nothing",
                unread.join(", "),
                pipeline.file.display()
            )),
        }),
    });
    Ok(findings)
}
