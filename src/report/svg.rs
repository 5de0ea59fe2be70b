//! SVG chart primitives: a canvas with a plot area, linear scales, axes with ticks,
//! gridlines and titles, a legend, and the marks (bars, lines, points, labels) charts are
//! made of. Every text is escaped here; coordinates are written with one decimal, so the
//! same figures always give the same bytes.

use super::format::escape;

/// A chart's canvas in SVG units, and the margins around its plot area.
pub struct Frame {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

/// A linear map from figures in [lo, hi] to SVG units in [from, to].
#[derive(Clone, Copy)]
pub struct Scale {
    lo: f64,
    hi: f64,
    from: f64,
    to: f64,
}

impl Frame {
    /// Left to right across the plot area.
    pub fn x(&self, lo: f64, hi: f64) -> Scale {
        Scale { lo, hi, from: self.left, to: self.width - self.right }
    }

    /// Bottom to top across the plot area.
    pub fn y(&self, lo: f64, hi: f64) -> Scale {
        Scale { lo, hi, from: self.height - self.bottom, to: self.top }
    }
}

impl Scale {
    pub fn at(&self, v: f64) -> f64 {
        self.from + (v - self.lo) / (self.hi - self.lo) * (self.to - self.from)
    }

    /// The SVG length of `v` figure units.
    pub fn len(&self, v: f64) -> f64 {
        (v / (self.hi - self.lo) * (self.to - self.from)).abs()
    }
}

/// A coordinate as written.
fn n(v: f64) -> String {
    format!("{v:.1}")
}

/// The chart element: scales to the width of its container.
pub fn svg(id: &str, frame: &Frame, label: &str, body: &str) -> String {
    format!(
        r#"<svg id="{id}" class="chart" viewBox="0 0 {} {}" role="img" aria-label="{}">{body}</svg>"#,
        frame.width,
        frame.height,
        escape(label)
    )
}

/// A fill colour, for [`rect`], [`circle`] and [`legend`].
pub fn fill(colour: &str) -> String {
    format!(r#"fill="{colour}""#)
}

/// A rectangle (negative sizes flip it) painted by `paint` (attributes such as [`fill`] or a
/// class), with `tip` shown on hover.
pub fn rect(x: f64, y: f64, w: f64, h: f64, paint: &str, tip: &str) -> String {
    format!(
        r#"<rect x="{}" y="{}" width="{}" height="{}" {paint}><title>{}</title></rect>"#,
        n(x.min(x + w)),
        n(y.min(y + h)),
        n(w.abs()),
        n(h.abs()),
        escape(tip)
    )
}

pub fn circle(x: f64, y: f64, r: f64, paint: &str, tip: &str) -> String {
    format!(r#"<circle cx="{}" cy="{}" r="{}" {paint}><title>{}</title></circle>"#, n(x), n(y), n(r), escape(tip))
}

/// Text anchored at its `start`, `middle` or `end`, styled by `class`.
pub fn text(x: f64, y: f64, anchor: &str, class: &str, content: &str) -> String {
    format!(r#"<text x="{}" y="{}" text-anchor="{anchor}" class="{class}">{}</text>"#, n(x), n(y), escape(content))
}

pub fn line(x1: f64, y1: f64, x2: f64, y2: f64, class: &str) -> String {
    format!(r#"<line x1="{}" y1="{}" x2="{}" y2="{}" class="{class}"/>"#, n(x1), n(y1), n(x2), n(y2))
}

/// A line through `points`, styled by `class`, in colour `stroke`.
pub fn polyline(points: &[(f64, f64)], class: &str, stroke: &str) -> String {
    let points: Vec<String> = points.iter().map(|(x, y)| format!("{},{}", n(*x), n(*y))).collect();
    format!(r#"<polyline points="{}" class="{class}" stroke="{stroke}"/>"#, points.join(" "))
}

/// Horizontal gridlines at `ticks` across the plot, labelled on the left.
pub fn y_grid(frame: &Frame, y: Scale, ticks: &[f64], label: impl Fn(f64) -> String) -> String {
    let mut out = String::new();
    for &t in ticks {
        out += &line(frame.left, y.at(t), frame.width - frame.right, y.at(t), "gridline");
        out += &text(frame.left - 6.0, y.at(t) + 4.0, "end", "tick", &label(t));
    }
    out
}

/// Vertical gridlines at `ticks` across the plot, labelled below it.
pub fn x_grid(frame: &Frame, x: Scale, ticks: &[f64], label: impl Fn(f64) -> String) -> String {
    let mut out = String::new();
    for &t in ticks {
        out += &line(x.at(t), frame.top, x.at(t), frame.height - frame.bottom, "gridline");
        out += &text(x.at(t), frame.height - frame.bottom + 16.0, "middle", "tick", &label(t));
    }
    out
}

/// The axis titles: below the plot, and turned up along its left side (none when empty).
pub fn axis_titles(frame: &Frame, x: &str, y: &str) -> String {
    let middle_x = (frame.left + frame.width - frame.right) / 2.0;
    let mut out = text(middle_x, frame.height - 8.0, "middle", "axis-title", x);
    if !y.is_empty() {
        let middle_y = (frame.top + frame.height - frame.bottom) / 2.0;
        out += &format!(
            r#"<text x="0" y="0" transform="translate(14 {}) rotate(-90)" text-anchor="middle" class="axis-title">{}</text>"#,
            n(middle_y),
            escape(y)
        );
    }
    out
}

/// Swatches with their labels above the plot, from its left edge, in as many rows as its
/// width needs.
pub fn legend(frame: &Frame, items: &[(String, String)]) -> String {
    let width = |label: &str| 30.0 + 6.5 * label.chars().count() as f64;
    // Rows as wide as the plot, the last one just above it.
    let mut rows: Vec<Vec<&(String, String)>> = vec![Vec::new()];
    let mut x = frame.left;
    for item in items {
        if x + width(&item.0) > frame.width - frame.right && !rows[rows.len() - 1].is_empty() {
            rows.push(Vec::new());
            x = frame.left;
        }
        x += width(&item.0);
        rows.last_mut().expect("a row").push(item);
    }
    let mut out = String::new();
    for (r, row) in rows.iter().enumerate() {
        let (mut x, y) = (frame.left, frame.top - 22.0 - LEGEND_ROW * (rows.len() - 1 - r) as f64);
        for (label, paint) in row {
            out += &format!(r#"<rect x="{}" y="{}" width="12" height="12" rx="2" {paint}/>"#, n(x), n(y));
            out += &text(x + 17.0, y + 10.5, "start", "legend", label);
            x += width(label);
        }
    }
    out
}

/// The height of a row of the legend.
const LEGEND_ROW: f64 = 18.0;

/// Round tick values from 0 to at least `max`, about `count` steps of 1, 2 or 5 × 10ⁿ.
pub fn ticks(max: f64, count: usize) -> Vec<f64> {
    let max = if max > 0.0 { max } else { 1.0 };
    let raw = max / count as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    let steps = (max / step - 1e-9).ceil() as usize;
    (0..=steps).map(|i| i as f64 * step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_reach_the_maximum() {
        assert_eq!(ticks(100.0, 5), vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(ticks(7.0, 4), vec![0.0, 2.0, 4.0, 6.0, 8.0]);
        assert_eq!(ticks(0.0, 4), vec![0.0, 0.5, 1.0]);
    }

    #[test]
    fn text_is_escaped_and_scales_map_the_range() {
        assert_eq!(
            text(1.0, 2.0, "start", "c", "<a & b>"),
            r#"<text x="1.0" y="2.0" text-anchor="start" class="c">&lt;a &amp; b&gt;</text>"#
        );
        let frame = Frame { width: 200.0, height: 100.0, left: 10.0, right: 10.0, top: 10.0, bottom: 10.0 };
        let (x, y) = (frame.x(0.0, 1.0), frame.y(0.0, 1.0));
        assert_eq!((x.at(0.0), x.at(1.0), y.at(0.0), y.at(1.0)), (10.0, 190.0, 90.0, 10.0));
        assert_eq!(x.len(0.5), 90.0);
    }

    #[test]
    fn a_legend_wider_than_the_plot_wraps_into_rows_above_it() {
        let frame = Frame { width: 300.0, height: 200.0, left: 20.0, right: 20.0, top: 44.0, bottom: 20.0 };
        let item = |label: &str| (label.to_string(), String::new());
        let one = legend(&frame, &[item("short"), item("also short")]);
        assert_eq!(one.matches(r#"y="22.0""#).count(), 2, "one row just above the plot: {one}");
        let two = legend(&frame, &[item("a label of some length"), item("another long label"), item("third")]);
        let rows: Vec<&str> = ["y=\"4.0\"", "y=\"22.0\""].into_iter().filter(|y| two.contains(y)).collect();
        assert_eq!(rows.len(), 2, "{two}");
        let xs: Vec<f64> =
            two.split(r#"<rect x=""#).skip(1).map(|r| r.split('"').next().unwrap().parse().unwrap()).collect();
        assert_eq!(xs.iter().filter(|x| **x == frame.left).count(), 2, "each row starts at the plot's left edge");
    }
}
