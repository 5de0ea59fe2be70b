//! `vitals report`: one self-contained HTML page per run, with every chart, no network
//! references, and a page headless Chromium renders without errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const CHARTS: [&str; 8] = ["tiers", "scores", "rfm", "dimensions", "movers", "alerts", "roc", "calibration"];

/// Headless Chromium; the test fails (never skips) when it is not installed.
const CHROMIUM: &str = "/usr/bin/chromium";

fn report(args: &[&str], out: &Path) -> String {
    let output = vitals().arg("report").args(args).arg("--out").arg(out).output().unwrap();
    assert!(output.status.success(), "vitals report {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Every way an HTML page could reach the network or pull in code or fonts.
fn assert_self_contained(html: &str) {
    for banned in ["http://", "https://", "<script", "<link", "@import", "url(", "<iframe", "<img"] {
        assert!(!html.to_ascii_lowercase().contains(banned), "the report contains {banned}");
    }
}

fn chromium(profile: &Path, args: &[&str], page: &Path) -> Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: install it with `sudo apt-get install -y chromium` (or run tests/install-deps.sh)"
    );
    let output = Command::new(CHROMIUM)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(output.status.success(), "chromium {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let console: Vec<&str> = stderr.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "the page wrote to the console: {console:#?}");
    output
}

/// Checks, inside the browser, that every chart is laid out and has visible marks.
const CHECK: &str = r#"<script>
const charts = [...document.querySelectorAll('svg[id^="chart-"]')];
const blank = charts.filter(svg => {
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll('rect, polyline, circle')].filter(m => {
    const b = m.getBBox();
    return b.width > 0 || b.height > 0;
  });
  return box.width < 200 || box.height < 150 || marks.length === 0;
});
document.body.setAttribute('data-check', blank.length ? 'blank ' + blank.map(s => s.id).join(' ') : 'drawn ' + charts.length);
</script>"#;

#[test]
fn the_report_of_two_runs_has_every_chart_and_renders_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // A horizon (90 days) apart: the second run checks the churn risks of the first.
    run_sample(&out, "2026-04-01");
    run_sample(&out, "2026-06-30");

    let printed = report(&["pipelines/sample.toml"], &out);
    let path = vitals::layout::OutputLayout::new(&out).report_file(day("2026-06-30"));
    assert!(printed.contains(&path.display().to_string()), "{printed}");
    let html = std::fs::read_to_string(&path).unwrap();
    for chart in CHARTS {
        assert!(html.contains(&format!("<svg id=\"chart-{chart}\"")), "no chart-{chart}");
    }
    assert_self_contained(&html);
    assert!(html.contains("Compared with the previous run, as of 2026-04-01"));
    assert!(html.contains("<th>Risks of 2026-04-01, what happened</th>"), "no column of the risks checked");
    assert!(html.contains("how far the customers moved from its training") && html.contains("purchase_span_days"));

    // The same published tables give the same bytes.
    let again = dir.path().join("again.html");
    report(&["pipelines/sample.toml", "--as-of", "2026-06-30", "--output", again.to_str().unwrap()], &out);
    assert!(std::fs::read(&again).unwrap() == html.as_bytes(), "a second report differs");

    // The reports folder is not taken for a table.
    let queried = vitals()
        .args(["query", "pipelines/sample.toml", "SELECT COUNT(*) AS n FROM customer_health", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(queried.status.success(), "{}", String::from_utf8_lossy(&queried.stderr));

    let profile = dir.path().join("chromium-profile");
    let screenshot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    let _ = std::fs::remove_file(&screenshot);
    chromium(&profile, &[&format!("--screenshot={}", screenshot.display()), "--window-size=1280,2400"], &path);
    let png = std::fs::read(&screenshot).expect("chromium wrote no screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let size = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (1280, 2400), "screenshot size");
    assert!(png.len() > 100_000, "a {}-byte screenshot is too plain to hold the charts", png.len());

    let checked = dir.path().join("checked.html");
    std::fs::write(&checked, html.replace("</body>", &format!("{CHECK}</body>"))).unwrap();
    let dom = chromium(&profile, &["--dump-dom", "--window-size=1280,2400"], &checked);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains(&format!("data-check=\"drawn {}\"", CHARTS.len())), "charts not drawn: {}", marker(&dom));
    println!("screenshot: {}", screenshot.display());
}

fn marker(dom: &str) -> &str {
    dom.split("data-check=").nth(1).and_then(|s| s.split('>').next()).unwrap_or("no marker: the check did not run")
}

#[test]
fn a_first_run_without_a_churn_model_says_so_instead_of_drawing_empty_charts() {
    let fx = Fixture::new();
    fx.write(
        "invoices.csv",
        "customer_id,invoice_date,amount\nA,2026-01-05,10\nB,2026-03-01,20\nA,2026-06-01,5\nC,2025-02-01,7\n",
    );
    fx.run(&format!("{CHURN_ON}{INVOICES_SECTION}")).unwrap();
    let pipeline = fx.path("pipeline.toml");
    report(&[pipeline.to_str().unwrap()], &fx.out());
    let html =
        std::fs::read_to_string(vitals::layout::OutputLayout::new(fx.out()).report_file(day("2026-06-30"))).unwrap();
    assert!(html.contains("No churn model was trained for this run"), "{html}");
    assert!(html.contains("This is the first run."));
    for chart in ["roc", "calibration", "movers"] {
        assert!(!html.contains(&format!("id=\"chart-{chart}\"")), "chart-{chart} drawn without data");
    }
    for chart in ["tiers", "scores", "rfm", "dimensions"] {
        assert!(html.contains(&format!("id=\"chart-{chart}\"")), "no chart-{chart}");
    }
    assert_self_contained(&html);
}
