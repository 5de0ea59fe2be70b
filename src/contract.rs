//! The published tables' columns as BI users rely on them: declared once, in the column
//! tables of `docs/tables.md` (built into the binary), and held against what a run is
//! about to publish. A column dropped, renamed or retyped by an edited SQL model refuses
//! the run unless the pipeline allows that break (`[run] allow_breaking`); a column added
//! passes and is listed in the manifest.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use datafusion::arrow::datatypes::{DataType, Schema};

use crate::layout::PARTITION_COLUMN;

/// The page that declares the contract.
const TABLES_DOC: &str = include_str!("../docs/tables.md");
const HEADER: &str = "| column | type | unit | meaning | produced by |";

/// A published table's columns, in documented order, with their types.
pub type Columns = Vec<(String, DataType)>;

/// Every contracted table by name.
pub fn tables() -> &'static BTreeMap<String, Columns> {
    static TABLES: OnceLock<BTreeMap<String, Columns>> = OnceLock::new();
    TABLES.get_or_init(|| parse(TABLES_DOC).expect("docs/tables.md declares the tables (tested)"))
}

/// The Arrow type a documented type name stands for.
pub fn data_type(name: &str) -> Option<DataType> {
    Some(match name {
        "string" => DataType::Utf8,
        "date32" => DataType::Date32,
        "int32" => DataType::Int32,
        "int64" => DataType::Int64,
        "float64" => DataType::Float64,
        "bool" => DataType::Boolean,
        _ => return None,
    })
}

fn type_name(kind: &DataType) -> String {
    match kind {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".to_string(),
        DataType::Date32 => "date32".to_string(),
        DataType::Int32 => "int32".to_string(),
        DataType::Int64 => "int64".to_string(),
        DataType::Float64 => "float64".to_string(),
        DataType::Boolean => "bool".to_string(),
        other => other.to_string(),
    }
}

/// The column tables of the page: a `## <table>` heading followed by a table with the
/// header [`HEADER`].
fn parse(doc: &str) -> Result<BTreeMap<String, Columns>, String> {
    let mut tables = BTreeMap::new();
    let mut heading: Option<&str> = None;
    let mut lines = doc.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        if let Some(name) = line.strip_prefix("## ") {
            heading = Some(name.trim());
        }
        if line.trim() != HEADER {
            continue;
        }
        let table = heading.ok_or(format!("docs/tables.md:{}: a column table without a heading", i + 1))?;
        lines.next(); // the |---| row
        let mut columns = Vec::new();
        while let Some((j, row)) = lines.next_if(|(_, l)| l.trim_start().starts_with('|')) {
            let cells: Vec<&str> = row.trim().trim_matches('|').split('|').map(str::trim).collect();
            let (name, kind) = (cells[0].replace('`', ""), cells.get(1).unwrap_or(&"").replace('`', ""));
            let kind = data_type(&kind).ok_or(format!("docs/tables.md:{}: {table}.{name}: no type `{kind}`", j + 1))?;
            columns.push((name, kind));
        }
        tables.insert(table.to_string(), columns);
    }
    Ok(tables)
}

/// How a table about to be published stands against its contract.
#[derive(Debug, Default)]
pub struct Held {
    /// Columns the contract does not list (fine: listed in the manifest).
    pub added: Vec<String>,
    /// Contracted columns missing or of another type, each `table.column: what happened`.
    pub broken: Vec<(String, String)>,
}

/// Holds the columns `schema` of `table` against the contract; `allowed` lists the breaks
/// (`table.column`) the pipeline accepts. A table without a contract adds nothing.
pub fn hold(table: &str, schema: &Schema, allowed: &[String]) -> Held {
    let Some(contract) = tables().get(table) else { return Held::default() };
    let mut held = Held::default();
    for (name, kind) in contract.iter().filter(|(n, _)| n != PARTITION_COLUMN) {
        let key = format!("{table}.{name}");
        if allowed.contains(&key) {
            continue;
        }
        match schema.field_with_name(name) {
            Err(_) => held.broken.push((
                key,
                format!("the column is gone (dropped or renamed); BI users read it as {}", type_name(kind)),
            )),
            Ok(field) if type_name(field.data_type()) != type_name(kind) => held.broken.push((
                key,
                format!("the column is now {}, where BI users read {}", type_name(field.data_type()), type_name(kind)),
            )),
            Ok(_) => {}
        }
    }
    held.added = schema
        .fields()
        .iter()
        .map(|f| f.name())
        .filter(|n| *n != PARTITION_COLUMN && !contract.iter().any(|(c, _)| c == *n))
        .cloned()
        .collect();
    held
}

/// Whether `key` (`table.column`) names a contracted column.
pub fn is_contracted(key: &str) -> bool {
    key.split_once('.').is_some_and(|(t, c)| tables().get(t).is_some_and(|cols| cols.iter().any(|(n, _)| n == c)))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::datatypes::Field;

    use super::*;

    #[test]
    fn the_page_declares_every_table_vitals_publishes() {
        let tables = tables();
        for table in ["customer_health", "customer_metrics", "kpis", "alerts", "rejects", "model_metrics"] {
            assert!(tables.get(table).is_some_and(|c| c.len() > 2), "{table}: {:?}", tables.keys());
        }
        assert!(tables["customer_health"].contains(&("health_tier".to_string(), DataType::Utf8)));
    }

    #[test]
    fn a_dropped_or_retyped_column_breaks_unless_allowed_and_an_added_one_passes() {
        let mut fields: Vec<Field> =
            tables()["kpis"].iter().map(|(n, t)| Field::new(n.clone(), t.clone(), true)).collect();
        let gone = fields.remove(1).name().clone();
        let retyped = fields[2].name().clone();
        fields[2] = Field::new(retyped.clone(), DataType::Utf8, true);
        fields.push(Field::new("new_measure", DataType::Float64, true));
        let schema = Schema::new(fields);
        let held = hold("kpis", &schema, &[]);
        let keys: Vec<&str> = held.broken.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, [format!("kpis.{gone}"), format!("kpis.{retyped}")], "{:?}", held.broken);
        assert_eq!(held.added, ["new_measure"]);
        let allowed = hold("kpis", &schema, &[format!("kpis.{gone}"), format!("kpis.{retyped}")]);
        assert!(allowed.broken.is_empty(), "{:?}", allowed.broken);
        assert!(hold("my_own_table", &schema, &[]).broken.is_empty(), "no contract, nothing to break");
    }
}
