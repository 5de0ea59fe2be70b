//! Tests on the data (`[[tests]]` in the pipeline file, the shipped models' defaults in
//! `defaults.toml`, and one query per file in the pipeline's `sql_tests/` folder): what a
//! run's tables must hold before they are published. A test with severity `error` that
//! fails stops the run; `warn` is reported. A pipeline test of a default's name replaces
//! it (`severity = "off"` turns it off).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// One test on one table.
#[derive(Debug, Clone, PartialEq)]
pub struct DataTest {
    pub name: String,
    /// A model's table or a source (its bronze rows); `(sql)` for a custom query.
    pub table: String,
    pub column: Option<String>,
    pub check: Check,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Unique,
    NotNull,
    AcceptedValues(Vec<String>),
    Range {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// Every value of the column is a value of `column` in table `to`.
    Relationships {
        to: String,
        column: String,
    },
    /// A query returning the failing rows, from the file it was read from.
    Sql {
        file: String,
        query: String,
    },
}

impl Check {
    pub fn kind(&self) -> &'static str {
        match self {
            Check::Unique => "unique",
            Check::NotNull => "not_null",
            Check::AcceptedValues(_) => "accepted_values",
            Check::Range { .. } => "range",
            Check::Relationships { .. } => "relationships",
            Check::Sql { .. } => "sql",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warn,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
        }
    }
}

/// The folder of custom SQL tests, beside the pipeline file.
pub const SQL_TESTS: &str = "sql_tests";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestSpec {
    name: Option<String>,
    table: Option<String>,
    column: Option<String>,
    test: Option<String>,
    severity: Option<String>,
    values: Option<Vec<String>>,
    min: Option<f64>,
    max: Option<f64>,
    to: Option<String>,
    to_column: Option<String>,
}

/// The tests of a pipeline: `defaults` (from defaults.toml) overridden by name by `user`
/// (the pipeline's `[[tests]]`), then the files of `sql_tests/` beside `file`.
pub fn tests(
    defaults: Option<toml::Value>,
    user: Option<toml::Value>,
    file: &Path,
) -> Result<Vec<DataTest>, Vec<String>> {
    let name = file.display();
    let mut problems = Vec::new();
    let mut by_name: BTreeMap<String, Option<DataTest>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (origin, value) in [("built-in defaults", defaults), ("pipeline file", user)] {
        let Some(value) = value else { continue };
        let specs: Vec<TestSpec> = match value.try_into() {
            Ok(specs) => specs,
            Err(e) => {
                problems.push(format!("{origin} {name}: [[tests]]: {}", e.to_string().trim_end()));
                continue;
            }
        };
        for spec in specs {
            match test(spec) {
                Ok((key, test)) => {
                    if !by_name.contains_key(&key) {
                        order.push(key.clone());
                    }
                    by_name.insert(key, test);
                }
                Err(why) => problems.push(format!("{origin} {name}: [[tests]] {why}")),
            }
        }
    }
    let mut tests: Vec<DataTest> = order.into_iter().filter_map(|k| by_name.remove(&k).flatten()).collect();
    let folder = file.parent().unwrap_or(Path::new(".")).join(SQL_TESTS);
    if let Ok(entries) = std::fs::read_dir(&folder) {
        let mut files: Vec<_> =
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "sql")).collect();
        files.sort();
        for path in files {
            match std::fs::read_to_string(&path) {
                Ok(query) => {
                    let warn = query.lines().any(|l| l.trim().trim_start_matches("--").trim() == "severity: warn");
                    tests.push(DataTest {
                        name: path.file_stem().unwrap_or_default().to_string_lossy().to_string(),
                        table: "(sql)".to_string(),
                        column: None,
                        check: Check::Sql {
                            file: path.display().to_string(),
                            query: query.trim().trim_end_matches(';').to_string(),
                        },
                        severity: if warn { Severity::Warn } else { Severity::Error },
                    });
                }
                Err(e) => problems.push(format!("cannot read the SQL test {}: {e}", path.display())),
            }
        }
    }
    if problems.is_empty() {
        Ok(tests)
    } else {
        Err(problems)
    }
}

/// A test from its spec, under its name; None for one turned off (which needs only its
/// name).
fn test(s: TestSpec) -> Result<(String, Option<DataTest>), String> {
    if let (Some(name), Some("off")) = (&s.name, s.severity.as_deref()) {
        return Ok((name.clone(), None));
    }
    let column = s.column.clone();
    let (Some(table), Some(kind)) = (s.table.clone(), s.test.clone()) else {
        let which = s.name.as_deref().map(|n| format!("`{n}`")).unwrap_or("a test".to_string());
        return Err(format!("{which} needs table = \"<table or source>\" and test = \"<unique, not_null, …>\""));
    };
    let default_name = format!("{kind}_{table}{}", column.as_deref().map(|c| format!("_{c}")).unwrap_or_default());
    let name = s.name.clone().unwrap_or(default_name);
    let here = format!("`{name}`");
    let severity = match s.severity.as_deref().unwrap_or("error") {
        "error" => Some(Severity::Error),
        "warn" => Some(Severity::Warn),
        "off" => None,
        other => return Err(format!("{here}: severity = \"{other}\" must be \"error\", \"warn\" or \"off\"")),
    };
    let need_column = || column.clone().ok_or(format!("{here}: test = \"{kind}\" needs a column"));
    let check = match kind.as_str() {
        "unique" => Check::Unique,
        "not_null" => Check::NotNull,
        "accepted_values" => Check::AcceptedValues(
            s.values
                .clone()
                .filter(|v| !v.is_empty())
                .ok_or(format!("{here}: accepted_values needs values = [\"…\"]"))?,
        ),
        "range" if s.min.is_none() && s.max.is_none() => return Err(format!("{here}: range needs min, max or both")),
        "range" => Check::Range { min: s.min, max: s.max },
        "relationships" => {
            let to = s.to.clone().ok_or(format!("{here}: relationships needs to = \"<table>\""))?;
            Check::Relationships { to, column: s.to_column.clone().unwrap_or(need_column()?) }
        }
        other => {
            return Err(format!(
                "{here}: test = \"{other}\" is not a test; tests are unique, not_null, accepted_values, range, \
                 relationships (or a query in {SQL_TESTS}/)"
            ))
        }
    };
    let column = Some(need_column()?);
    Ok((name.clone(), severity.map(|severity| DataTest { name, table, column, check, severity })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(text: &str) -> Option<toml::Value> {
        Some(text.parse::<toml::Table>().unwrap()["tests"].clone())
    }

    const DEFAULTS: &str = r#"
        [[tests]]
        table = "customer_health"
        column = "customer_id"
        test = "unique"
        [[tests]]
        table = "invoices"
        column = "customer_id"
        test = "relationships"
        to = "accounts"
        severity = "warn"
    "#;

    #[test]
    fn a_pipeline_test_replaces_a_default_of_its_name_or_turns_it_off() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        let user = specs(
            r#"
            [[tests]]
            name = "unique_customer_health_customer_id"
            severity = "off"
            [[tests]]
            name = "relationships_invoices_customer_id"
            table = "invoices"
            column = "customer_id"
            test = "relationships"
            to = "accounts"
            [[tests]]
            table = "kpis"
            column = "customers"
            test = "range"
            min = 0
            "#,
        );
        let tests = tests(specs(DEFAULTS), user, &file).unwrap();
        let names: Vec<_> = tests.iter().map(|t| (t.name.as_str(), t.severity)).collect();
        assert_eq!(
            names,
            [("relationships_invoices_customer_id", Severity::Error), ("range_kpis_customers", Severity::Error)]
        );
        assert_eq!(tests[0].check, Check::Relationships { to: "accounts".into(), column: "customer_id".into() });
        assert_eq!(tests[1].check, Check::Range { min: Some(0.0), max: None });
    }

    #[test]
    fn a_sql_test_is_a_file_of_sql_tests_beside_the_pipeline_named_for_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(SQL_TESTS)).unwrap();
        std::fs::write(dir.path().join(SQL_TESTS).join("b_warned.sql"), "-- severity: warn\nSELECT 1;\n").unwrap();
        std::fs::write(dir.path().join(SQL_TESTS).join("a_stops.sql"), "SELECT customer_id FROM kpis").unwrap();
        std::fs::write(dir.path().join(SQL_TESTS).join("notes.txt"), "not a test").unwrap();
        let tests = tests(None, None, &dir.path().join("p.toml")).unwrap();
        let found: Vec<_> = tests.iter().map(|t| (t.name.as_str(), t.severity, t.check.kind())).collect();
        assert_eq!(found, [("a_stops", Severity::Error, "sql"), ("b_warned", Severity::Warn, "sql")]);
        assert!(matches!(&tests[1].check, Check::Sql { query, .. } if query == "-- severity: warn\nSELECT 1"));
    }

    #[test]
    fn a_test_missing_what_it_needs_is_a_pipeline_error_naming_it() {
        let file = Path::new("/nowhere/p.toml");
        let bad = |text: &str| tests(None, specs(text), file).unwrap_err().join("\n");
        let no_column = bad("[[tests]]\ntable = \"kpis\"\ntest = \"not_null\"");
        assert!(no_column.contains("`not_null_kpis`: test = \"not_null\" needs a column"), "{no_column}");
        let no_values = bad("[[tests]]\ntable = \"kpis\"\ncolumn = \"x\"\ntest = \"accepted_values\"");
        assert!(no_values.contains("accepted_values needs values"), "{no_values}");
        let unknown = bad("[[tests]]\ntable = \"kpis\"\ncolumn = \"x\"\ntest = \"positive\"");
        assert!(unknown.contains("test = \"positive\" is not a test"), "{unknown}");
        let severity = bad("[[tests]]\ntable = \"kpis\"\ncolumn = \"x\"\ntest = \"unique\"\nseverity = \"fatal\"");
        assert!(severity.contains("severity = \"fatal\" must be"), "{severity}");
        let typo = bad("[[tests]]\ntable = \"kpis\"\ncolumn = \"x\"\ntest = \"unique\"\nseverty = \"warn\"");
        assert!(typo.contains("severty"), "{typo}");
    }
}
