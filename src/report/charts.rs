//! The report's charts, each an `<svg id="chart-…">` drawn from the gathered figures with
//! the primitives of [`super::svg`]: what is plotted, on which axes, in which colours.

use super::figures::{AlertCount, Churn, Report, SCORE_BIN};
use super::format::{percent, signed, thousands};
use super::svg::{self, fill, Frame};
use crate::canonical::{DIMENSIONS, TIERS};

const GHOST: &str = r#"class="ghost""#;
const UP: &str = "#2f9e6b";
const DOWN: &str = "#d9534f";
const MODEL: &str = "#2563eb";
const AMBER: &str = "#e3a23b";
const GREY: &str = "#8b95a3";
const DIAGONAL: &str = "#c3c8d0";

/// Ticks for a count of customers or alerts: whole numbers, and room above `most`.
fn count_ticks(most: f64) -> Vec<f64> {
    svg::ticks(most.max(5.0), 5)
}

/// A half-width chart's canvas.
fn frame(height: f64) -> Frame {
    Frame { width: 560.0, height, left: 64.0, right: 18.0, top: 44.0, bottom: 52.0 }
}

fn tier_label(tier: &str) -> String {
    match tier {
        "healthy" => "Healthy".into(),
        "sub_healthy" => "Sub-healthy".into(),
        "at_risk" => "At risk".into(),
        "lost" => "Lost".into(),
        other => other.replace('_', " "),
    }
}

fn tier_colour(tier: &str) -> &'static str {
    match tier {
        "healthy" => UP,
        "sub_healthy" => AMBER,
        "at_risk" => DOWN,
        _ => GREY,
    }
}

fn tier_legend() -> Vec<(String, String)> {
    TIERS.iter().map(|t| (tier_label(t), fill(tier_colour(t)))).collect()
}

/// Customers per tier now (bars) and in the previous run (dashed outlines).
pub fn tiers(report: &Report) -> String {
    let frame = frame(330.0);
    let highest = report.tiers.iter().map(|(now, before)| (*now).max(before.unwrap_or(0))).max().unwrap_or(0);
    let ticks = count_ticks(highest as f64 * 1.1);
    let (x, y) = (frame.x(0.0, TIERS.len() as f64), frame.y(0.0, ticks[ticks.len() - 1]));
    let mut body = svg::y_grid(&frame, y, &ticks, |t| thousands(t as i64));
    for (i, (tier, (now, before))) in TIERS.iter().zip(&report.tiers).enumerate() {
        let (centre, width) = (x.at(i as f64 + 0.5), x.len(0.5));
        let label = tier_label(tier);
        let mut tip = format!("{label}: {} customers", thousands(*now));
        let mut value = thousands(*now);
        if let Some(before) = before {
            tip += &format!(", {} in the previous run", thousands(*before));
            value += &format!(" ({})", signed((now - before) as f64, 0));
        }
        body += &svg::rect(centre - width / 2.0, y.at(0.0), width, -y.len(*now as f64), &fill(tier_colour(tier)), &tip);
        if let Some(before) = before {
            body +=
                &svg::rect(centre - width / 2.0 - 5.0, y.at(0.0), width + 10.0, -y.len(*before as f64), GHOST, &tip);
        }
        let top = y.at((*now).max(before.unwrap_or(0)) as f64);
        body += &svg::text(centre, top - 7.0, "middle", "value", &value);
        body += &svg::text(centre, frame.height - frame.bottom + 16.0, "middle", "tick", &label);
    }
    if let Some(previous) = report.previous {
        body += &svg::legend(
            &frame,
            &[
                (format!("This run ({})", report.as_of), fill("#6b7280")),
                (format!("Previous run ({previous})"), GHOST.to_string()),
            ],
        );
    }
    body += &svg::axis_titles(&frame, "Health tier", "Customers");
    svg::svg("chart-tiers", &frame, "Customers by health tier", &body)
}

/// Customers per band of health score, stacked by tier (lost at the bottom).
pub fn scores(report: &Report) -> String {
    let frame = frame(330.0);
    let bins = (100.0 / SCORE_BIN) as usize;
    let bin = |from: f64| ((from / SCORE_BIN) as usize).min(bins - 1);
    let mut totals = vec![0i64; bins];
    for b in &report.histogram {
        totals[bin(b.from)] += b.customers;
    }
    let ticks = count_ticks(totals.iter().copied().max().unwrap_or(0) as f64);
    let (x, y) = (frame.x(0.0, 100.0), frame.y(0.0, ticks[ticks.len() - 1]));
    let mut body = svg::y_grid(&frame, y, &ticks, |t| thousands(t as i64));
    let mut stacked = vec![0i64; bins];
    for tier in TIERS.iter().rev() {
        for b in report.histogram.iter().filter(|b| b.tier == *tier) {
            let i = bin(b.from);
            let tip = format!(
                "score {}–{}: {} {} customers",
                b.from,
                b.from + SCORE_BIN,
                thousands(b.customers),
                tier_label(tier).to_lowercase()
            );
            let base = y.at(stacked[i] as f64);
            body += &svg::rect(
                x.at(b.from) + 1.0,
                base,
                x.len(SCORE_BIN) - 2.0,
                -y.len(b.customers as f64),
                &fill(tier_colour(tier)),
                &tip,
            );
            stacked[i] += b.customers;
        }
    }
    for t in (0..=100).step_by(10) {
        body += &svg::text(x.at(t as f64), frame.height - frame.bottom + 16.0, "middle", "tick", &t.to_string());
    }
    body += &svg::legend(&frame, &tier_legend());
    body += &svg::axis_titles(&frame, "Health score (0–100)", "Customers");
    svg::svg("chart-scores", &frame, "Health score distribution", &body)
}

/// The R × F grid: cell colour by customers, labelled with their count and average spend.
pub fn rfm(report: &Report) -> String {
    let frame = Frame { left: 70.0, top: 20.0, ..frame(360.0) };
    let bins = report.rf_cells.iter().map(|c| c.r.max(c.f)).max().unwrap_or(1).max(1);
    let most = report.rf_cells.iter().map(|c| c.customers).max().unwrap_or(1).max(1) as f64;
    let (x, y) = (frame.x(0.5, bins as f64 + 0.5), frame.y(0.5, bins as f64 + 0.5));
    let (w, h) = (x.len(1.0), y.len(1.0));
    let mut body = String::new();
    for r in 1..=bins {
        for f in 1..=bins {
            let cell = report.rf_cells.iter().find(|c| c.r == r && c.f == f);
            let (customers, monetary) = cell.map_or((0, 0.0), |c| (c.customers, c.avg_monetary));
            let share = customers as f64 / most;
            let tip = format!(
                "R{r} F{f}: {} customers, average invoiced {}",
                thousands(customers),
                thousands(monetary.round() as i64)
            );
            let (cx, cy) = (x.at(f as f64), y.at(r as f64));
            body += &svg::rect(cx - w / 2.0 + 1.5, cy - h / 2.0 + 1.5, w - 3.0, h - 3.0, &fill(&blue(share)), &tip);
            let class = if share > 0.5 { "cell light" } else { "cell" };
            body += &svg::text(cx, cy - 1.0, "middle", &format!("{class} strong"), &thousands(customers));
            if customers > 0 {
                body += &svg::text(cx, cy + 14.0, "middle", class, &format!("avg {}", compact(monetary)));
            }
        }
        body += &svg::text(frame.left - 8.0, y.at(r as f64) + 4.0, "end", "tick", &format!("R{r}"));
    }
    for f in 1..=bins {
        body += &svg::text(x.at(f as f64), frame.height - frame.bottom + 16.0, "middle", "tick", &format!("F{f}"));
    }
    body += &svg::axis_titles(
        &frame,
        "Frequency score F (5 = buys most often)",
        "Recency score R (5 = bought most recently)",
    );
    svg::svg("chart-rfm", &frame, "Customers by recency and frequency score", &body)
}

/// From pale to deep blue as `share` goes from 0 to 1.
fn blue(share: f64) -> String {
    let (pale, deep) = ([238.0, 243.0, 250.0], [29.0, 78.0, 160.0]);
    let c: Vec<u8> = pale.iter().zip(deep).map(|(p, d)| (p + (d - p) * share.clamp(0.0, 1.0)).round() as u8).collect();
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// 207497 → "207k", 1234567 → "1.2M".
fn compact(v: f64) -> String {
    match v.abs() {
        a if a >= 1e6 => format!("{:.1}M", v / 1e6),
        a if a >= 1e3 => format!("{:.0}k", v / 1e3),
        _ => format!("{v:.0}"),
    }
}

/// Average score of each dimension, one bar per tier.
pub fn dimensions(report: &Report) -> String {
    let frame = frame(330.0);
    let ticks = svg::ticks(100.0, 5);
    let (x, y) = (frame.x(0.0, DIMENSIONS.len() as f64), frame.y(0.0, 100.0));
    let mut body = svg::y_grid(&frame, y, &ticks, |t| format!("{t}"));
    let width = x.len(0.8) / TIERS.len() as f64;
    for (d, dimension) in DIMENSIONS.iter().enumerate() {
        for (t, tier) in TIERS.iter().enumerate() {
            let Some(score) = report.dimensions[t][d] else { continue };
            let left = x.at(d as f64 + 0.1) + t as f64 * width;
            let tip = format!("{} customers: average {dimension} score {score:.1}", tier_label(tier));
            body += &svg::rect(left + 1.0, y.at(0.0), width - 2.0, -y.len(score), &fill(tier_colour(tier)), &tip);
        }
        let mut label = dimension.to_string();
        label[..1].make_ascii_uppercase();
        body += &svg::text(x.at(d as f64 + 0.5), frame.height - frame.bottom + 16.0, "middle", "tick", &label);
    }
    body += &svg::legend(&frame, &tier_legend());
    body += &svg::axis_titles(&frame, "Dimension", "Average score (0–100)");
    svg::svg("chart-dimensions", &frame, "Average dimension scores by tier", &body)
}

/// The customers whose health score rose and fell most, as bars either side of zero.
pub fn movers(report: &Report) -> String {
    const ROW: f64 = 26.0;
    let gap = if report.movers.iter().any(|m| m.delta > 0.0) && report.movers.iter().any(|m| m.delta < 0.0) {
        ROW / 2.0
    } else {
        0.0
    };
    let height = 44.0 + ROW * report.movers.len() as f64 + gap + 52.0;
    let frame = Frame { width: 1140.0, height, left: 360.0, right: 330.0, top: 44.0, bottom: 52.0 };
    let most = report.movers.iter().map(|m| m.delta.abs()).fold(0.0, f64::max);
    let ticks = svg::ticks(most.max(4.0), 4);
    let reach = ticks[ticks.len() - 1];
    let x = frame.x(-reach, reach);
    let mut body = String::new();
    let both_ways: Vec<f64> = ticks.iter().rev().map(|t| -t).chain(ticks.iter().skip(1).copied()).collect();
    body += &svg::x_grid(&frame, x, &both_ways, |t| signed(t, 0));
    let mut top = frame.top;
    for (i, m) in report.movers.iter().enumerate() {
        if i > 0 && m.delta < 0.0 && report.movers[i - 1].delta > 0.0 {
            top += gap;
        }
        let middle = top + ROW / 2.0;
        let colour = if m.delta > 0.0 { UP } else { DOWN };
        let change = format!("{} → {}", tier_label(&m.previous_tier), tier_label(&m.tier));
        let who = if m.name.is_empty() { m.customer_id.clone() } else { format!("{} ({})", m.name, m.customer_id) };
        let tip = format!("{who}: {} points, now {:.1}; {change}", signed(m.delta, 1), m.score);
        body += &svg::rect(x.at(0.0), middle - 8.0, x.at(m.delta) - x.at(0.0), 16.0, &fill(colour), &tip);
        let (end, anchor) = if m.delta > 0.0 { (x.at(m.delta) + 5.0, "start") } else { (x.at(m.delta) - 5.0, "end") };
        body += &svg::text(end, middle + 4.0, anchor, "value", &signed(m.delta, 1));
        body += &svg::text(frame.left - 12.0, middle + 4.0, "end", "tick", &who);
        body += &svg::text(
            frame.width - frame.right + 12.0,
            middle + 4.0,
            "start",
            "tick",
            &format!("{change} · now {:.1}", m.score),
        );
        top += ROW;
    }
    body += &svg::line(x.at(0.0), frame.top, x.at(0.0), frame.height - frame.bottom, "zero");
    body += &svg::text(frame.left - 12.0, frame.top - 12.0, "end", "head", "Customer");
    body +=
        &svg::text(frame.width - frame.right + 12.0, frame.top - 12.0, "start", "head", "Tier then → now · score now");
    body += &svg::axis_titles(&frame, "Change in health score since the previous run (points)", "");
    svg::svg("chart-movers", &frame, "Customers whose health score moved most", &body)
}

/// Alerts per kind, stacked by severity, most frequent kind first.
pub fn alerts(report: &Report) -> String {
    let mut kinds: Vec<(&str, i64)> = Vec::new();
    for a in &report.alerts {
        match kinds.iter_mut().find(|(k, _)| *k == a.kind) {
            Some(entry) => entry.1 += a.alerts,
            None => kinds.push((&a.kind, a.alerts)),
        }
    }
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let severities = severities(&report.alerts);
    const ROW: f64 = 28.0;
    let frame = Frame { left: 150.0, ..frame(44.0 + ROW * kinds.len() as f64 + 52.0) };
    let ticks = count_ticks(kinds.first().map_or(0, |k| k.1) as f64 * 1.08);
    let x = frame.x(0.0, ticks[ticks.len() - 1]);
    let mut body = svg::x_grid(&frame, x, &ticks, |t| thousands(t as i64));
    for (i, (kind, total)) in kinds.iter().enumerate() {
        let middle = frame.top + ROW * (i as f64 + 0.5);
        let mut done = 0;
        for severity in &severities {
            let Some(a) = report.alerts.iter().find(|a| a.kind == *kind && a.severity == *severity) else { continue };
            let tip = format!("{}: {} {severity}-severity alerts", kind.replace('_', " "), thousands(a.alerts));
            body += &svg::rect(
                x.at(done as f64),
                middle - 9.0,
                x.len(a.alerts as f64),
                18.0,
                &fill(severity_colour(severity)),
                &tip,
            );
            done += a.alerts;
        }
        body += &svg::text(x.at(*total as f64) + 5.0, middle + 4.0, "start", "value", &thousands(*total));
        body += &svg::text(frame.left - 8.0, middle + 4.0, "end", "tick", &kind.replace('_', " "));
    }
    let legend: Vec<(String, String)> =
        severities.iter().map(|s| (format!("{s} severity"), fill(severity_colour(s)))).collect();
    body += &svg::legend(&frame, &legend);
    body += &svg::axis_titles(&frame, "Alerts raised in this run", "");
    svg::svg("chart-alerts", &frame, "Alerts by kind", &body)
}

/// The severities present, most severe first.
fn severities(alerts: &[AlertCount]) -> Vec<&str> {
    let rank = |s: &str| ["critical", "high", "medium", "low"].iter().position(|k| *k == s).unwrap_or(4);
    let mut found: Vec<&str> = alerts.iter().map(|a| a.severity.as_str()).collect();
    found.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    found.dedup();
    found
}

fn severity_colour(severity: &str) -> &'static str {
    match severity {
        "critical" | "high" => DOWN,
        "medium" => AMBER,
        _ => GREY,
    }
}

/// The scorers of the churn validation, model first, then the risks an earlier run
/// published against what happened: name, colour and line style.
const SCORERS: [(&str, &str, &str, &str); 3] = [
    ("model", "Churn model", MODEL, "curve"),
    ("baseline", "Baseline R + F", GREY, "curve dashed"),
    ("realized", "Risks published a horizon ago", AMBER, "curve"),
];

/// A chart of one rate against another, both from 0 to `reach`, with the diagonal.
struct Rates<'a> {
    id: &'a str,
    label: &'a str,
    titles: (&'a str, &'a str),
    /// What the diagonal means.
    diagonal: &'a str,
    /// (scorer, x, y) in drawing order.
    points: &'a [(String, f64, f64)],
    reach: f64,
    /// Mark each point (calibration bins), not only the line through them.
    dots: bool,
    /// Show each scorer's ROC AUC in the legend.
    auc: Option<&'a Churn>,
}

fn rates(chart: &Rates) -> String {
    let frame = Frame { width: 560.0, height: 420.0, left: 64.0, right: 24.0, top: 44.0, bottom: 52.0 };
    let ticks = svg::ticks(chart.reach, 5);
    let reach = ticks[ticks.len() - 1];
    let (x, y) = (frame.x(0.0, reach), frame.y(0.0, reach));
    let mut body = svg::y_grid(&frame, y, &ticks, percent) + &svg::x_grid(&frame, x, &ticks, percent);
    body += &svg::line(x.at(0.0), y.at(0.0), x.at(reach), y.at(reach), "diagonal");
    let mut legend = Vec::new();
    for (scorer, name, colour, class) in SCORERS {
        let mine: Vec<(f64, f64)> = chart.points.iter().filter(|p| p.0 == scorer).map(|p| (p.1, p.2)).collect();
        if mine.is_empty() {
            continue;
        }
        let at: Vec<(f64, f64)> = mine.iter().map(|(a, b)| (x.at(*a), y.at(*b))).collect();
        body += &svg::polyline(&at, class, colour);
        if chart.dots {
            for (i, ((a, b), (px, py))) in mine.iter().zip(&at).enumerate() {
                let tip = format!("{name}, group {}: predicted {}, observed {}", i + 1, percent(*a), percent(*b));
                body += &svg::circle(*px, *py, 4.0, &fill(colour), &tip);
            }
        }
        let name = match chart.auc.and_then(|churn| churn.metric(scorer, "roc_auc")) {
            Some(auc) => format!("{name} (AUC {auc:.2})"),
            None => name.to_string(),
        };
        legend.push((name, fill(colour)));
    }
    legend.push((chart.diagonal.to_string(), fill(DIAGONAL)));
    body += &svg::legend(&frame, &legend);
    body += &svg::axis_titles(&frame, chart.titles.0, chart.titles.1);
    svg::svg(chart.id, &frame, chart.label, &body)
}

/// The ROC curves of the model and the baseline; None when the run published no points.
pub fn roc(churn: &Churn) -> Option<String> {
    let Churn::Validated { roc, .. } = churn else { return None };
    (!roc.is_empty()).then(|| {
        rates(&Rates {
            id: "chart-roc",
            label: "ROC curve of the churn model",
            titles: ("Staying customers flagged (false positive rate)", "Churners caught (true positive rate)"),
            diagonal: "Random guess",
            points: roc,
            reach: 1.0,
            dots: false,
            auc: Some(churn),
        })
    })
}

/// Predicted against observed churn per group of customers, for the model and the baseline.
pub fn calibration(churn: &Churn) -> Option<String> {
    let Churn::Validated { calibration, .. } = churn else { return None };
    (!calibration.is_empty()).then(|| {
        rates(&Rates {
            id: "chart-calibration",
            label: "Predicted against observed churn",
            titles: ("Predicted churn risk (group average)", "Customers who churned"),
            diagonal: "Predicted = observed",
            points: calibration,
            reach: calibration.iter().map(|p| p.1.max(p.2)).fold(0.0, f64::max),
            dots: true,
            auc: None,
        })
    })
}
