//! The report page: one HTML document with its CSS inline and no scripts, fonts or
//! links to fetch, laying out the headline figures and the charts of [`super::charts`],
//! each with a title and a sentence on how to read it.

use super::charts;
use super::figures::{Churn, Report, SAVED_MODEL};
use super::format::{escape, percent, signed, thousands};
use crate::model::drift;

const STYLE: &str = r#"
* { box-sizing: border-box; }
body { margin: 0; background: #f3f5f8; color: #1f2937;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans",
  "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 28px 24px 32px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
header p { margin: 0; color: #4b5563; }
.kpis { display: grid; grid-template-columns: repeat(5, 1fr); gap: 14px; margin: 20px 0 16px; }
.kpi, .card { background: #fff; border: 1px solid #e3e7ed; border-radius: 10px; box-shadow: 0 1px 2px rgba(16, 24, 40, 0.05); }
.kpi { padding: 12px 16px; }
.kpi .label { font-size: 12px; color: #6b7280; text-transform: uppercase; letter-spacing: 0.04em; }
.kpi .figure { font-size: 26px; font-weight: 650; margin: 2px 0; font-variant-numeric: tabular-nums; }
.kpi .change { font-size: 13px; color: #6b7280; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.card { margin: 0; padding: 16px 18px 12px; }
.card.wide { grid-column: 1 / -1; }
h2 { font-size: 16px; margin: 0 0 4px; }
.how { margin: 0 0 10px; color: #4b5563; font-size: 13px; }
.empty { margin: 8px 0; padding: 20px; background: #f8fafc; border-radius: 8px; color: #374151; }
svg.chart { display: block; width: 100%; height: auto; }
svg text { font-size: 12px; fill: #374151; }
.tick { fill: #4b5563; }
.axis-title { font-weight: 600; fill: #1f2937; }
.value { font-weight: 600; fill: #111827; }
.head { font-weight: 600; fill: #6b7280; font-size: 11px; }
.cell { fill: #1f2937; font-size: 11px; }
.cell.light { fill: #ffffff; }
.cell.strong { font-size: 14px; font-weight: 700; }
line.gridline { stroke: #e8ebf0; }
line.zero { stroke: #6b7280; stroke-width: 1.2; }
line.diagonal { stroke: #c3c8d0; stroke-width: 1.5; stroke-dasharray: 4 4; }
polyline.curve { fill: none; stroke-width: 2.5; stroke-linejoin: round; }
polyline.dashed { stroke-dasharray: 7 4; stroke-width: 2; }
.ghost { fill: none; stroke: #1f2937; stroke-width: 1.5; stroke-dasharray: 5 3; }
rect:hover, circle:hover { opacity: 0.8; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 7px 8px; border-bottom: 1px solid #edf0f4; vertical-align: top; }
th { font-size: 12px; color: #6b7280; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; white-space: nowrap; }
footer { margin-top: 18px; color: #9ca3af; font-size: 12px; }
@media (max-width: 900px) { .charts { grid-template-columns: 1fr; } .kpis { grid-template-columns: repeat(2, 1fr); } }
@media print { body { background: #fff; } .card, .kpi { box-shadow: none; break-inside: avoid; } }
"#;

/// The whole report page.
pub fn page(r: &Report) -> String {
    let title = format!("Customer health report, as of {}", r.as_of);
    let compared = match r.previous {
        Some(previous) => format!("Compared with the previous run, as of {previous}."),
        None => "The first run in this output folder: there is no earlier run to compare with.".to_string(),
    };
    let mut charts = String::new();
    charts += &tiers(r);
    charts += &figure(
        "Health score distribution",
        "Each bar counts the customers whose health score (0–100) falls in a 5-point band, coloured by tier: \
         the further right, the healthier. Lost customers are those with no invoice or contact for too long.",
        &charts::scores(r),
        false,
    );
    charts += &figure(
        "Who buys recently and often (R × F)",
        "Each cell holds the customers with one recency score (rows, 5 = bought most recently) and one frequency \
         score (columns, 5 = buys most often); darker cells hold more customers, and “avg” is what they were \
         invoiced on average over the period. Top right are the best customers; bottom left have gone quiet.",
        &charts::rfm(r),
        false,
    );
    charts += &figure(
        "Average dimension scores by tier",
        "For each of the five dimensions the health score is made of, the bars compare the average score (0–100) \
         of each tier's customers. A dimension where even healthy customers score low is a weakness of the whole \
         portfolio.",
        &charts::dimensions(r),
        false,
    );
    charts += &movers(r);
    charts += &figure(
        "Alerts raised in this run",
        "Each bar counts the alerts of one kind raised by this run (events since the previous run), split by \
         severity; hover over a bar for its count. Start with the high-severity ones.",
        &if r.alerts.is_empty() { empty("This run raised no alerts.") } else { charts::alerts(r) },
        false,
    );
    charts += &churn(&r.churn);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<main>\n<header><h1>{}</h1><p>{}</p></header>\n{}\n\
         <div class=\"charts\">\n{charts}</div>\n<footer>Made by vitals {} from the tables published for this run.\
         </footer>\n</main>\n</body>\n</html>\n",
        escape(&title),
        escape(&title),
        escape(&compared),
        kpis(r),
        env!("CARGO_PKG_VERSION"),
    )
}

/// A card: title, how to read it, then the chart (or a plain message).
fn figure(title: &str, how: &str, content: &str, wide: bool) -> String {
    let class = if wide { "card wide" } else { "card" };
    format!(
        "<figure class=\"{class}\"><h2>{}</h2><p class=\"how\">{}</p>{content}</figure>\n",
        escape(title),
        escape(how)
    )
}

fn empty(message: &str) -> String {
    format!("<p class=\"empty\">{}</p>", escape(message))
}

/// The headline figures above the charts.
fn kpis(r: &Report) -> String {
    let (customers, score) = r.portfolio[0];
    let before = r.portfolio.get(1);
    let since = |change: Option<String>| match (r.previous, change) {
        (Some(previous), Some(change)) => format!("{change} since {previous}"),
        _ => "first run".to_string(),
    };
    // At risk and lost: the last two of TIERS.
    let weak: i64 = r.tiers[2..].iter().map(|t| t.0).sum();
    let weak_before: Option<i64> = r.tiers[2..].iter().map(|t| t.1).sum();
    let alerts: i64 = r.alerts.iter().map(|a| a.alerts).sum();
    let share = if customers > 0 { weak as f64 / customers as f64 } else { 0.0 };
    let model = match (r.churn.metric("model", "roc_auc"), r.churn.metric("baseline", "roc_auc")) {
        (Some(model), Some(baseline)) => (format!("{model:.2}"), format!("baseline {baseline:.2}; 0.5 is a coin toss")),
        _ => ("none".to_string(), "no model validated this run".to_string()),
    };
    let cards = [
        ("Customers scored", thousands(customers), since(before.map(|b| signed((customers - b.0) as f64, 0)))),
        ("Average health score", format!("{score:.1}"), since(before.map(|b| signed(score - b.1, 1)))),
        (
            "At risk or lost",
            format!("{} ({})", thousands(weak), percent(share)),
            since(weak_before.map(|b| signed((weak - b) as f64, 0))),
        ),
        ("Alerts raised", thousands(alerts), "new events this run".to_string()),
        ("Churn model ROC AUC", model.0, model.1),
    ];
    let mut out = String::from("<section class=\"kpis\">");
    for (label, figure, change) in cards {
        out += &format!(
            "<div class=\"kpi\"><div class=\"label\">{}</div><div class=\"figure\">{}</div><div class=\"change\">{}</div></div>",
            escape(label),
            escape(&figure),
            escape(&change)
        );
    }
    out + "</section>"
}

fn tiers(r: &Report) -> String {
    let how = match r.previous {
        Some(previous) => format!(
            "Each bar is the number of customers in a tier on {}; the dashed outline shows how many there were on \
             {previous}, and the figure in brackets is the change.",
            r.as_of
        ),
        None => format!("Each bar is the number of customers in a tier on {}.", r.as_of),
    };
    figure("Customers by health tier", &how, &charts::tiers(r), false)
}

fn movers(r: &Report) -> String {
    let title = "Biggest movers since the previous run";
    let Some(previous) = r.previous else {
        return figure(title, "Movers need an earlier run to compare with.", &empty("This is the first run."), true);
    };
    let how = format!(
        "Each bar is one customer's change in health score between {previous} and {}: green rose, red fell, \
         the largest moves first. The right column shows the tier then and now, and the score now.",
        r.as_of
    );
    let content = if r.movers.is_empty() { empty("No customer's score changed.") } else { charts::movers(r) };
    figure(title, &how, &content, true)
}

/// The churn model's headline figures and its two charts, or why there is no model.
fn churn(churn: &Churn) -> String {
    let title = "Churn model: how far to trust the churn risk";
    let (realized_from, drift) = match churn {
        Churn::Absent(reason) => {
            let how = "No churn model was validated for this run, so there are no churn charts.";
            return figure(title, how, &empty(reason), false);
        }
        Churn::Validated { realized_from, drift, .. } => (realized_from, drift),
    };
    let rows = [
        ("roc_auc", "ROC AUC", "How often a customer who churned was ranked riskier than one who stayed: 0.5 is a coin toss, 1 is perfect."),
        ("pr_auc", "PR AUC", "How precise the riskiest picks are; churners are rare, so even good values look low. Higher is better."),
        ("brier", "Brier score", "Average squared gap between predicted risk and what happened. Lower is better."),
        ("log_loss", "Log loss", "Penalises confident wrong predictions. Lower is better."),
    ];
    let value =
        |scorer: &str, metric: &str| churn.metric(scorer, metric).map_or("–".to_string(), |v| format!("{v:.3}"));
    let realized = realized_from.as_ref().map(|d| format!("Risks of {d}, what happened"));
    let mut table = String::from("<table><tr><th>Measure</th><th>Model</th><th>Baseline</th>");
    if let Some(head) = &realized {
        table += &format!("<th>{}</th>", escape(head));
    }
    table += "<th>How to read it</th></tr>";
    for (metric, name, meaning) in rows {
        table += &format!(
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>",
            escape(name),
            value("model", metric),
            value("baseline", metric)
        );
        if realized.is_some() {
            table += &format!("<td class=\"num\">{}</td>", value("realized", metric));
        }
        table += &format!("<td>{}</td></tr>", escape(meaning));
    }
    table += "</table>";
    let mut how = String::from(match churn.metric("model", "roc_auc") {
        Some(_) => {
            "The model was tested on the newest past date whose outcome is known, after training only on older \
             dates, beside a simple baseline (the churn rate of customers with the same R + F score). It is worth \
             using where it beats the baseline."
        }
        None => SAVED_MODEL,
    });
    if let Some(date) = realized_from {
        how += &format!(
            " The last column checks the churn risks published on {date} against which of those customers churned \
             since: if it is far below the model's, the model has gone stale."
        );
    }
    // The amber line of both charts, when there is one.
    let amber = realized_from.as_ref().map_or(String::new(), |d| {
        format!(" The amber line is the churn risks published on {d}, against what happened since.")
    });
    let mut out = figure(title, &how, &table, false);
    out += &figure(
        "Churn model: ROC curve",
        &format!(
            "Flagging customers from the riskiest down, the curve shows the share of churners caught (up) against \
             the share of staying customers flagged too (right). The further above the diagonal, the better; the \
             dashed line is the baseline.{amber}"
        ),
        &charts::roc(churn).unwrap_or_else(|| empty("This run published no ROC points; rerun it to add them.")),
        false,
    );
    out += &figure(
        "Churn model: predicted against observed",
        &format!(
            "Customers are split into ten equal groups by predicted risk; each point compares a group's average \
             predicted churn risk with the share that actually churned. Points near the diagonal mean the risk \
             figures can be taken at face value.{amber}"
        ),
        &charts::calibration(churn).unwrap_or_else(|| empty("This run published no calibration table.")),
        false,
    );
    if !drift.is_empty() {
        out += &figure(
            "Churn model: how far the customers moved from its training",
            "For each feature, the population stability index between the customers the model learned on and \
             those it scored now: up to 0.1 stable, to 0.25 moving, over 0.25 shifted. Features that grow \
             with a customer's age (tenure, purchase span) move by themselves over the training year; for a \
             model reused night after night, a shifted feature is the sign to retrain it.",
            &drift_table(drift),
            false,
        );
    }
    out
}

/// The features by drift, largest first: PSI and what it means.
fn drift_table(drift: &[(String, f64)]) -> String {
    let mut table = String::from("<table><tr><th>Feature</th><th>PSI</th><th>Reading</th></tr>");
    for (feature, psi) in drift {
        table += &format!(
            "<tr><td>{}</td><td class=\"num\">{psi:.3}</td><td>{}</td></tr>",
            escape(feature),
            drift::reading(*psi)
        );
    }
    table + "</table>"
}
