//! RFM segments: the table in the pipeline file that names every R×F×M cell.
//!
//! Each segment is a box of score ranges (`r`, `f`, `m`, each a score or `[low, high]`,
//! absent = any). Together the boxes must cover every cell exactly once for the configured
//! number of bins; a gap or an overlap is an error naming the cell, so a segment rule can
//! never silently leave a customer unlabelled or labelled twice.

use anyhow::{bail, Result};
use serde::Deserialize;

/// A score range as written: one score, or an inclusive `[low, high]`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum ScoreRange {
    One(u32),
    Span([u32; 2]),
}

impl ScoreRange {
    fn bounds(self) -> (u32, u32) {
        match self {
            ScoreRange::One(s) => (s, s),
            ScoreRange::Span([lo, hi]) => (lo, hi),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentSpec {
    pub name: String,
    pub r: Option<ScoreRange>,
    pub f: Option<ScoreRange>,
    pub m: Option<ScoreRange>,
}

/// One cell of the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub r: u32,
    pub f: u32,
    pub m: u32,
    pub segment: String,
}

impl Cell {
    pub fn label(&self) -> String {
        format!("R{}F{}M{}", self.r, self.f, self.m)
    }
}

/// The default segments for 5 bins, on the recency × frequency grid (monetary any):
/// the common eleven-segment map, with no overlaps.
pub fn default_segments() -> Vec<SegmentSpec> {
    let seg = |name: &str, r: [u32; 2], f: [u32; 2]| SegmentSpec {
        name: name.to_string(),
        r: Some(ScoreRange::Span(r)),
        f: Some(ScoreRange::Span(f)),
        m: None,
    };
    vec![
        seg("Champions", [5, 5], [4, 5]),
        seg("Loyal", [3, 4], [4, 5]),
        seg("Potential Loyalist", [4, 5], [2, 3]),
        seg("New", [5, 5], [1, 1]),
        seg("Promising", [4, 4], [1, 1]),
        seg("Need Attention", [3, 3], [3, 3]),
        seg("About to Sleep", [3, 3], [1, 2]),
        seg("At Risk", [1, 2], [3, 4]),
        seg("Can't Lose Them", [1, 2], [5, 5]),
        seg("Hibernating", [2, 2], [1, 2]),
        seg("Lost", [1, 1], [1, 2]),
    ]
}

/// Every cell of a `bins`³ grid with its one segment, in R, F, M order.
pub fn cell_map(specs: &[SegmentSpec], bins: u32, section: &str) -> Result<Vec<Cell>> {
    for spec in specs {
        for (axis, range) in [("r", spec.r), ("f", spec.f), ("m", spec.m)] {
            if let Some((lo, hi)) = range.map(ScoreRange::bounds) {
                if lo < 1 || hi > bins || lo > hi {
                    bail!(
                        "{section}: segment \"{}\" has {axis} = [{lo}, {hi}], outside the scores 1..{bins}",
                        spec.name
                    );
                }
            }
        }
    }
    let within =
        |range: Option<ScoreRange>, s: u32| range.map(ScoreRange::bounds).is_none_or(|(lo, hi)| lo <= s && s <= hi);
    let mut cells = Vec::new();
    for r in 1..=bins {
        for f in 1..=bins {
            for m in 1..=bins {
                let mut hits = specs.iter().filter(|s| within(s.r, r) && within(s.f, f) && within(s.m, m));
                let label = format!("R{r}F{f}M{m}");
                let Some(first) = hits.next() else {
                    bail!("{section}: cell {label} belongs to no segment; widen a segment's ranges to cover it");
                };
                if let Some(second) = hits.next() {
                    bail!(
                        "{section}: cell {label} belongs to both \"{}\" and \"{}\"; segments must not overlap",
                        first.name,
                        second.name
                    );
                }
                cells.push(Cell { r, f, m, segment: first.name.clone() });
            }
        }
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_segments_cover_all_125_cells_once() {
        let cells = cell_map(&default_segments(), 5, "[rfm]").unwrap();
        assert_eq!(cells.len(), 125);
        let named = |label: &str| cells.iter().find(|c| c.label() == label).unwrap().segment.clone();
        assert_eq!(named("R5F5M5"), "Champions");
        assert_eq!(named("R1F3M4"), "At Risk");
        assert_eq!(named("R4F2M2"), "Potential Loyalist");
        assert_eq!(named("R1F1M1"), "Lost");
        let distinct: std::collections::BTreeSet<_> = cells.iter().map(|c| c.segment.as_str()).collect();
        assert_eq!(distinct.len(), 11);
    }

    #[test]
    fn a_gap_names_the_uncovered_cell() {
        let mut specs = default_segments();
        specs.retain(|s| s.name != "Promising");
        let err = cell_map(&specs, 5, "[rfm]").unwrap_err().to_string();
        assert!(err.contains("R4F1M1") && err.contains("no segment"), "{err}");
    }

    #[test]
    fn an_overlap_names_the_cell_and_both_segments() {
        let mut specs = default_segments();
        specs[0].f = Some(ScoreRange::Span([3, 5]));
        let err = cell_map(&specs, 5, "[rfm]").unwrap_err().to_string();
        assert!(err.contains("R5F3M1") && err.contains("Champions") && err.contains("Potential Loyalist"), "{err}");
    }

    #[test]
    fn ranges_outside_the_bins_are_refused() {
        let err = cell_map(&default_segments(), 3, "[rfm]").unwrap_err().to_string();
        assert!(err.contains("outside the scores 1..3"), "{err}");
    }
}
