//! `vitals diff`: the terminal view of what a rule change does — tier migration matrix,
//! the customers whose tier changed, and the distribution of score deltas.

use std::fmt::Write;

use crate::transform::diff::Diff;

/// Width of the longest bar in the delta histogram.
const BAR: usize = 40;

/// The comparison as text; `limit` caps the customers listed.
pub fn render(diff: &Diff, before: &str, after: &str, limit: usize) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "customer_health: {before}  →  {after}\n");
    matrix(&mut text, diff);
    movers(&mut text, diff, limit);
    deltas(&mut text, diff);
    text
}

fn matrix(text: &mut String, diff: &Diff) {
    let tiers = diff.tiers();
    let width = tiers.iter().map(String::len).max().unwrap_or(0).max("from \\ to".len()) + 2;
    let _ = writeln!(text, "tier migration (rows: before, columns: after)");
    let _ = write!(text, "{:<width$}", "from \\ to");
    for t in &tiers {
        let _ = write!(text, "{t:>width$}");
    }
    let _ = writeln!(text, "{:>width$}", "total");
    for from in &tiers {
        let _ = write!(text, "{from:<width$}");
        let mut total = 0;
        for to in &tiers {
            let n = diff.count(from, to);
            total += n;
            let cell = if n == 0 { ".".to_string() } else { n.to_string() };
            let _ = write!(text, "{cell:>width$}");
        }
        let _ = writeln!(text, "{total:>width$}");
    }
    let moved = diff.moved.len();
    let all: i64 = diff.matrix.iter().map(|(_, _, n)| n).sum();
    let _ = writeln!(text, "{moved} of {all} customers change tier\n");
}

fn movers(text: &mut String, diff: &Diff, limit: usize) {
    if diff.moved.is_empty() {
        return;
    }
    let shown = diff.moved.len().min(limit);
    let _ = writeln!(text, "customers changing tier (biggest score move first; {shown} of {})", diff.moved.len());
    let _ = writeln!(
        text,
        "{:<12} {:<28} {:<12} {:<12} {:>8} {:>8} {:>8}",
        "customer", "name", "from", "to", "before", "after", "delta"
    );
    let score = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    for m in diff.moved.iter().take(limit) {
        let delta = match (m.before, m.after) {
            (Some(b), Some(a)) => format!("{:+.2}", a - b),
            _ => "-".to_string(),
        };
        let _ = writeln!(
            text,
            "{:<12} {} {:<12} {:<12} {:>8} {:>8} {:>8}",
            m.customer_id,
            pad(&m.name, 28),
            m.from_tier,
            m.to_tier,
            score(m.before),
            score(m.after),
            delta
        );
    }
    text.push('\n');
}

/// `text` cut and padded to `width` terminal columns (CJK characters take two).
fn pad(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width {
            break;
        }
        out.push(c);
        used += w;
    }
    out + &" ".repeat(width - used)
}

fn deltas(text: &mut String, diff: &Diff) {
    let n = diff.deltas.len();
    let _ = writeln!(text, "score deltas (after − before) of the {n} customers scored on both sides");
    if n == 0 {
        return;
    }
    let mean = diff.deltas.iter().sum::<f64>() / n as f64;
    let q = |p: f64| diff.delta_quantile(p).unwrap_or(0.0);
    let _ = writeln!(
        text,
        "changed {}  mean {mean:+.2}  min {:+.2}  p5 {:+.2}  p25 {:+.2}  median {:+.2}  p75 {:+.2}  p95 {:+.2}  max {:+.2}",
        diff.changed_scores(),
        q(0.0),
        q(0.05),
        q(0.25),
        q(0.5),
        q(0.75),
        q(0.95),
        q(1.0)
    );
    let buckets = histogram(&diff.deltas);
    let most = buckets.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    for (label, count) in buckets {
        let bar = "#".repeat((count * BAR).div_ceil(most));
        let _ = writeln!(text, "{label:>16} {count:>8} {bar}");
    }
}

/// Counts of deltas in fixed, symmetric buckets (points of health score).
fn histogram(deltas: &[f64]) -> Vec<(String, usize)> {
    const EDGES: [f64; 6] = [0.005, 1.0, 2.0, 5.0, 10.0, 20.0];
    let mut buckets: Vec<(String, f64, f64)> = Vec::new();
    buckets.push((format!("< -{}", EDGES[5]), f64::NEG_INFINITY, -EDGES[5]));
    for w in EDGES.windows(2).rev() {
        buckets.push((format!("-{} … -{}", w[1], w[0].max(0.01)), -w[1], -w[0]));
    }
    buckets.push(("unchanged".to_string(), -EDGES[0], EDGES[0]));
    for w in EDGES.windows(2) {
        buckets.push((format!("+{} … +{}", w[0].max(0.01), w[1]), w[0], w[1]));
    }
    buckets.push((format!("≥ +{}", EDGES[5]), EDGES[5], f64::INFINITY));
    buckets
        .into_iter()
        .map(|(label, lo, hi)| (label, deltas.iter().filter(|d| **d >= lo && **d < hi).count()))
        .filter(|(_, count)| *count > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::diff::Moved;

    fn sample() -> Diff {
        Diff {
            matrix: vec![
                ("healthy".into(), "healthy".into(), 5),
                ("healthy".into(), "sub_healthy".into(), 1),
                ("at_risk".into(), "at_risk".into(), 2),
            ],
            moved: vec![Moved {
                customer_id: "C1".into(),
                name: "Acme".into(),
                from_tier: "healthy".into(),
                to_tier: "sub_healthy".into(),
                before: Some(86.0),
                after: Some(80.5),
            }],
            deltas: vec![-5.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.5],
        }
    }

    #[test]
    fn names_are_padded_by_terminal_width() {
        assert_eq!(pad("广州", 6), "广州  ");
        assert_eq!(pad("广州宏图", 5), "广州 ");
        assert_eq!(pad("Acme", 6), "Acme  ");
    }

    #[test]
    fn every_delta_lands_in_exactly_one_bucket() {
        let deltas = [-30.0, -20.0, -10.0, -0.004, 0.0, 0.004, 0.005, 1.0, 19.99, 20.0, 55.0];
        let total: usize = histogram(&deltas).iter().map(|(_, n)| n).sum();
        assert_eq!(total, deltas.len());
    }

    #[test]
    fn the_report_shows_matrix_movers_and_deltas() {
        let text = render(&sample(), "published 2026-06-30", "current rules", 10);
        assert!(text.contains("1 of 8 customers change tier"), "{text}");
        let header = text.lines().find(|l| l.starts_with("from \\ to")).unwrap();
        let order: Vec<&str> = header.split_whitespace().skip(3).collect();
        assert_eq!(order, ["healthy", "sub_healthy", "at_risk", "total"], "{text}");
        assert!(text.contains("C1") && text.contains("Acme") && text.contains("-5.50"), "{text}");
        assert!(text.contains("changed 2"), "{text}");
        let unchanged = text.lines().find(|l| l.trim_start().starts_with("unchanged")).unwrap();
        assert!(unchanged.contains(" 6 "), "{unchanged}");
    }
}
