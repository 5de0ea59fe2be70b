//! `vitals segments`: the RFM cell → segment map of a pipeline, as a person reads it.

use crate::config::segments::Cell;
use crate::config::Scoring;

/// An R × F grid when no segment depends on M (the common case), else one line per cell;
/// then each segment with its number of cells.
pub fn render(scoring: &Scoring) -> String {
    let bins = scoring.rfm_bins;
    let cell =
        |r: u32, f: u32, m: u32| -> &Cell { &scoring.segments[(((r - 1) * bins + (f - 1)) * bins + (m - 1)) as usize] };
    let m_free =
        (1..=bins).all(|r| (1..=bins).all(|f| (1..=bins).all(|m| cell(r, f, m).segment == cell(r, f, 1).segment)));
    let mut out = String::new();
    if m_free {
        let width = scoring.segments.iter().map(|c| c.segment.chars().count()).max().unwrap_or(0).max(4);
        out.push_str(&format!("RFM segments ({bins} bins; M does not change the segment)\n\n    "));
        for f in 1..=bins {
            out.push_str(&format!(" {:<width$}", format!("F{f}")));
        }
        out.push('\n');
        for r in (1..=bins).rev() {
            let mut row = format!("R{r:<3}");
            for f in 1..=bins {
                row.push_str(&format!(" {:<width$}", cell(r, f, 1).segment));
            }
            out.push_str(row.trim_end());
            out.push('\n');
        }
    } else {
        out.push_str(&format!("RFM segments ({bins} bins)\n\n"));
        for c in &scoring.segments {
            out.push_str(&format!("{}  {}\n", c.label(), c.segment));
        }
    }
    out.push('\n');
    let mut names: Vec<&str> = Vec::new();
    for c in &scoring.segments {
        if !names.contains(&c.segment.as_str()) {
            names.push(&c.segment);
        }
    }
    for name in names {
        let n = scoring.segments.iter().filter(|c| c.segment == name).count();
        out.push_str(&format!("{name:<24} {n:>4} cells\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Pipeline;
    use std::path::Path;

    #[test]
    fn the_default_map_reads_as_a_grid() {
        let p = Pipeline::parse("[sources.invoices]\npath = \"x\"\nformat = \"csv\"\n", Path::new("p.toml")).unwrap();
        let text = render(&p.scoring);
        let r5 = text.lines().find(|l| l.starts_with("R5")).unwrap();
        assert!(r5.contains("New") && r5.contains("Champions"), "{text}");
        assert!(text.contains("Lost") && text.contains("10 cells"), "{text}");
    }
}
