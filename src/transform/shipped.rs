//! The SQL models shipped with vitals, compiled into the binary: what a pipeline without
//! `[run] sql_dir` runs, and what `vitals init` copies out for an analyst to edit. The
//! repository's `sql/` folder is their source; a test keeps this list complete.

macro_rules! shipped {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!("../../sql/", $name, ".sql")))),*]
    };
}

/// Each shipped model: its name (the table it produces) and its SQL.
pub const SHIPPED: [(&str, &str); 19] = shipped![
    "alert_events",
    "alerts",
    "churn_features",
    "churn_labels",
    "customer_activity",
    "customer_dimensions",
    "customer_features",
    "customer_health",
    "customer_kpi_facts",
    "customer_metrics",
    "customer_period",
    "customer_rfm",
    "dimension_scores",
    "engagement_metrics",
    "kpis",
    "relationship_metrics",
    "risk_metrics",
    "satisfaction_metrics",
    "value_metrics",
];

#[cfg(test)]
mod tests {
    #[test]
    fn every_model_of_the_sql_folder_is_shipped() {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
        let mut files: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().to_string())
            .collect();
        files.sort();
        let shipped: Vec<&str> = super::SHIPPED.iter().map(|(name, _)| *name).collect();
        assert_eq!(files, shipped, "add the new model to SHIPPED (or remove the deleted one)");
    }
}
