//! `vitals init DIR`: a starter project that runs at once and is then made one's own — the
//! sample pipeline over generated sample exports, a copy of the shipped SQL models to edit,
//! and a README of what is where. It writes only into a new or empty folder.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::sample_data::{self, SampleOptions};
use crate::transform::shipped::SHIPPED;

/// The repository's sample pipeline, whose paths (`../sample_data/…`, `../sql`, `../out`)
/// become the project's own.
const SAMPLE_PIPELINE: &str = include_str!("../../pipelines/sample.toml");
/// Where things go in the project, relative to its folder.
const PROJECT_PATHS: [(&str, &str); 3] =
    [("\"../sample_data/", "\"sample_data/"), ("\"../sql\"", "\"sql\""), ("\"../out\"", "\"out\"")];

const README: &str = "# A vitals project

    pipeline.toml   what runs: the exports, their column mappings, the scoring rules
    sql/            the SQL models, one per table; edit them, `vitals check` plans them
    sample_data/    synthetic finance, CRM and survey exports to start from
    out/            what `vitals run` publishes (Parquet per table and date)

    vitals run pipeline.toml                     the nightly job
    vitals query pipeline.toml \"SELECT ...\"      SQL over what was published
    vitals report pipeline.toml                  an HTML report of the newest run
    vitals score pipeline.toml                   re-score after editing rules or SQL

To score your own customers, point `[sources.*] path` in pipeline.toml at your exports
and map their columns under `[sources.*.columns]`; `vitals check pipeline.toml` says
what does not fit. Remove `sql_dir` to run the models built into vitals instead of sql/.
";

/// Writes the starter project into `dir` and returns what it wrote.
pub fn write(dir: &Path) -> Result<Vec<PathBuf>> {
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        bail!(
            "{} is not empty: give vitals init a new or empty folder, so nothing there is overwritten",
            dir.display()
        );
    }
    let sql = dir.join("sql");
    std::fs::create_dir_all(&sql).with_context(|| format!("cannot create {}", sql.display()))?;
    let mut written = Vec::new();
    let mut put = |path: PathBuf, text: &str| -> Result<()> {
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push(path);
        Ok(())
    };
    put(dir.join("pipeline.toml"), &starter_pipeline())?;
    for (name, text) in SHIPPED {
        put(sql.join(format!("{name}.sql")), text)?;
    }
    put(dir.join("README.md"), README)?;
    let data = dir.join("sample_data");
    sample_data::generate(&SampleOptions { out: data.clone(), ..SampleOptions::default() })?;
    written.push(data);
    Ok(written)
}

/// The sample pipeline with the project's paths.
fn starter_pipeline() -> String {
    PROJECT_PATHS.iter().fold(SAMPLE_PIPELINE.to_string(), |text, (from, to)| text.replace(from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_pipeline_reaches_nothing_outside_the_project() {
        for (from, _) in PROJECT_PATHS {
            assert!(SAMPLE_PIPELINE.contains(from), "the sample pipeline no longer says {from}");
        }
        assert!(!starter_pipeline().contains("../"), "{}", starter_pipeline());
    }
}
