//! Value maps for categorical fields (`[sources.<source>.values.<field>]`): how an export
//! spells a category (`投诉`, `Complaint `, `P1`) against the value the models compare with
//! (`complaint`, `critical`). Spellings are folded (case and white space) before they are
//! looked up, so a map needs one entry per word, not per spelling.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::canonical::{self, fold, Kind};

/// One field's map: folded spelling → value, and the values a folded spelling may already
/// be (the field's canonical values and the map's targets).
#[derive(Debug, Clone, Default)]
pub struct ValueMap {
    map: HashMap<String, String>,
    known: HashSet<String>,
}

impl ValueMap {
    /// The value an export's `raw` spelling stands for, and whether it is a known one.
    pub fn resolve(&self, raw: &str) -> (String, bool) {
        let folded = fold(raw);
        match self.map.get(&folded) {
            Some(value) => (value.clone(), true),
            None => {
                let known = self.known.contains(&folded);
                (folded, known)
            }
        }
    }

    /// Whether `value` needs no folding or mapping: it is a known value as it stands.
    pub fn is_known(&self, value: &str) -> bool {
        self.known.contains(value)
    }
}

/// The value maps of a source: every categorical field gets one (folding alone), and any
/// text field the pipeline maps. `spec` is `[sources.<source>.values]` as written.
pub fn maps(
    source: &canonical::Source,
    spec: BTreeMap<String, BTreeMap<String, String>>,
    here: &str,
) -> Result<BTreeMap<&'static str, ValueMap>, Vec<String>> {
    let mut problems = Vec::new();
    let mut maps: BTreeMap<&'static str, ValueMap> = BTreeMap::new();
    for field in source.fields.iter().filter(|f| !f.values.is_empty()) {
        maps.insert(
            field.name,
            ValueMap { known: field.values.iter().map(|v| v.to_string()).collect(), ..Default::default() },
        );
    }
    for (name, entries) in spec {
        let Some(field) = source.field(&name).filter(|f| f.kind == Kind::Text) else {
            let text: Vec<&str> = source.fields.iter().filter(|f| f.kind == Kind::Text).map(|f| f.name).collect();
            problems.push(format!(
                "{here}.values.{name}: `{name}` is not a text field of {}; its text fields are {}",
                source.name,
                text.join(", ")
            ));
            continue;
        };
        let map = maps.entry(field.name).or_default();
        let mut spelled: BTreeMap<String, String> = BTreeMap::new();
        for (from, to) in entries {
            let (key, value) = (fold(&from), to.trim().to_string());
            if key.is_empty() || value.is_empty() {
                problems.push(format!("{here}.values.{name}: \"{from}\" = \"{to}\": neither side may be empty"));
                continue;
            }
            if !field.values.is_empty() && !field.values.contains(&value.as_str()) {
                problems.push(format!(
                    "{here}.values.{name}: \"{from}\" = \"{value}\", but the models compare {name} with {}; map onto one of them",
                    field.values.join(", ")
                ));
                continue;
            }
            match map.map.get(&key) {
                Some(earlier) if *earlier != value => problems.push(format!(
                    "{here}.values.{name}: \"{from}\" and \"{}\" are the same spelling once case and spaces are folded, \
                     but map to \"{earlier}\" and \"{value}\"",
                    spelled[&key]
                )),
                _ => {
                    spelled.insert(key.clone(), from);
                    map.known.insert(value.clone());
                    map.map.insert(key, value);
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(maps)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tickets(spec: &[(&str, &[(&str, &str)])]) -> Result<BTreeMap<&'static str, ValueMap>, Vec<String>> {
        let spec = spec
            .iter()
            .map(|(f, e)| (f.to_string(), e.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()))
            .collect();
        maps(canonical::source("tickets").unwrap(), spec, "[sources.tickets]")
    }

    #[test]
    fn spellings_fold_and_map_onto_the_models_values() {
        let maps =
            tickets(&[("kind", &[("投诉", "complaint"), ("Praise!", "praise")]), ("severity", &[("P1", "critical")])])
                .unwrap();
        let kind = &maps["kind"];
        assert_eq!(kind.resolve("投诉"), ("complaint".to_string(), true));
        assert_eq!(kind.resolve("  COMPLAINT "), ("complaint".to_string(), true), "folding alone");
        assert_eq!(kind.resolve("praise!"), ("praise".to_string(), true));
        assert_eq!(kind.resolve("Feature  Wish"), ("feature wish".to_string(), false), "unmapped, folded");
        assert_eq!(maps["severity"].resolve("p1"), ("critical".to_string(), true));
        let activities = super::maps(canonical::source("activities").unwrap(), BTreeMap::new(), "").unwrap();
        assert_eq!(activities.keys().collect::<Vec<_>>(), [&"contact_level", &"type"], "every categorical field folds");
    }

    #[test]
    fn a_map_onto_no_model_value_or_two_targets_for_one_spelling_is_refused() {
        let wrong = tickets(&[("kind", &[("投诉", "complaints")])]).unwrap_err();
        assert!(wrong[0].contains("complaint, praise, request"), "{wrong:?}");
        let twice = tickets(&[("kind", &[("Complaint", "complaint"), ("complaint ", "praise")])]).unwrap_err();
        assert!(twice[0].contains("same spelling"), "{twice:?}");
        let not_text = tickets(&[("opened_date", &[("x", "y")])]).unwrap_err();
        assert!(not_text[0].contains("not a text field"), "{not_text:?}");
    }
}
