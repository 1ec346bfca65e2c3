//! Charts drawn on the server as inline SVG: grouped bars or lines over labelled categories,
//! from plain numbers. Each is an image with a `<title>` and a `<desc>` (`role="img"`,
//! `aria-labelledby`), sized by its `viewBox` to the width of its box, so it reads without
//! JavaScript and fits a phone. Colours come from the page's CSS (`.chart .s0` …); the numbers
//! themselves are in the data table the page puts beside each chart.

use std::fmt::Write;

/// How the series are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One bar per category and series, side by side.
    Bars,
    /// One line per series through its categories.
    Lines,
}

/// One named row of values, one per category.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub values: Vec<f64>,
}

/// A chart to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Unique in the page: the ids of the title and description derive from it.
    pub id: String,
    pub title: String,
    pub desc: String,
    /// The categories along the bottom.
    pub labels: Vec<String>,
    pub series: Vec<Series>,
    pub kind: Kind,
    /// Values are percentages (0-100).
    pub percent: bool,
}

// The drawing's units: about a CSS pixel on a phone, so its 12-13 unit text stays readable
// there; wider screens scale it up.
const W: f64 = 420.0;
const H: f64 = 240.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 26.0;
/// Most category labels written along the bottom; the rest are in the tooltips and the table.
const MAX_LABELS: usize = 7;

/// Text made safe inside SVG (element content and attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The smallest 1, 2, 2.5 or 5 times a power of ten at or above `v` (1 when `v` is not above 0).
fn nice_max(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|m| *m >= v)
        .unwrap_or(10.0 * mag)
}

/// A number as the axis and tooltips write it: whole numbers plainly, others to at most two
/// decimals.
pub fn num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A label cut to fit `room` units (whole, or its start and `…`).
fn short(s: &str, room: f64) -> String {
    if text_width(s) <= room {
        return s.to_string();
    }
    let mut t = String::new();
    for c in s.chars() {
        if text_width(&t) + text_width(&c.to_string()) + 13.0 > room {
            break;
        }
        t.push(c);
    }
    t.push('…');
    t
}

/// The rough width of a text in the chart's units (CJK characters are wider).
fn text_width(s: &str) -> f64 {
    s.chars()
        .map(|c| if c.is_ascii() { 7.0 } else { 13.0 })
        .sum()
}

impl Chart {
    /// The largest value drawn, rounded up to a round number.
    fn top_value(&self) -> f64 {
        let max = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().copied())
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let top = nice_max(max);
        if self.percent {
            // Small shares get a small scale (0.1%), so a young campaign is not a flat line.
            top.clamp(0.01, 100.0).max(max)
        } else {
            top.max(1.0)
        }
    }

    fn value_text(&self, v: f64) -> String {
        if self.percent {
            format!("{}%", num(v))
        } else {
            num(v)
        }
    }

    /// The chart as an `<svg>` element.
    pub fn svg(&self) -> String {
        let n = self.labels.len().max(1);
        let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let top = self.top_value();
        let cw = pw / n as f64;
        let y_of = |v: f64| TOP + ph - (v.clamp(0.0, top) / top) * ph;
        let id = esc(&self.id);
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg class="chart" viewBox="0 0 {W} {H}" width="100%" role="img" aria-labelledby="{id}-t {id}-d" xmlns="http://www.w3.org/2000/svg"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
            esc(&self.title),
            esc(&self.desc)
        );
        // The value axis: 0, half and the top, with grid lines.
        for v in [0.0, top / 2.0, top] {
            let y = y_of(v);
            let _ = write!(
                s,
                r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="yl" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                W - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                esc(&self.value_text(v))
            );
        }
        // The legend, along the top.
        let mut x = LEFT;
        for (j, se) in self.series.iter().enumerate() {
            let _ = write!(
                s,
                r#"<rect class="key s{j}" x="{x:.1}" y="6" width="12" height="12"/><text class="lg" x="{:.1}" y="16">{}</text>"#,
                x + 16.0,
                esc(&se.name)
            );
            x += 16.0 + text_width(&se.name) + 18.0;
        }
        // The category labels: at most MAX_LABELS, evenly spread.
        let step = n.div_ceil(MAX_LABELS);
        for (i, label) in self.labels.iter().enumerate() {
            if i % step != 0 {
                continue;
            }
            let _ = write!(
                s,
                r#"<text class="xl" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                LEFT + (i as f64 + 0.5) * cw,
                H - BOTTOM + 16.0,
                esc(&short(label, cw * step as f64 - 4.0))
            );
        }
        match self.kind {
            Kind::Bars => self.bars(&mut s, cw, &y_of),
            Kind::Lines => self.lines(&mut s, cw, &y_of),
        }
        s.push_str("</svg>");
        s
    }

    fn tip(&self, i: usize, se: &Series, v: f64) -> String {
        let label = self.labels.get(i).map(String::as_str).unwrap_or("");
        esc(&format!("{label} · {}: {}", se.name, self.value_text(v)))
    }

    fn bars(&self, s: &mut String, cw: f64, y_of: &dyn Fn(f64) -> f64) {
        let k = self.series.len().max(1) as f64;
        let bw = cw * 0.8 / k;
        let base = y_of(0.0);
        for i in 0..self.labels.len() {
            for (j, se) in self.series.iter().enumerate() {
                let v = se.values.get(i).copied().unwrap_or(0.0);
                let y = y_of(v);
                let _ = write!(
                    s,
                    r#"<rect class="bar s{j}" x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}"><title>{}</title></rect>"#,
                    LEFT + i as f64 * cw + cw * 0.1 + j as f64 * bw,
                    (bw - 1.0).max(1.0),
                    base - y,
                    self.tip(i, se, v)
                );
            }
        }
    }

    fn lines(&self, s: &mut String, cw: f64, y_of: &dyn Fn(f64) -> f64) {
        for (j, se) in self.series.iter().enumerate() {
            let points: Vec<String> = (0..self.labels.len())
                .map(|i| {
                    let v = se.values.get(i).copied().unwrap_or(0.0);
                    format!("{:.1},{:.1}", LEFT + (i as f64 + 0.5) * cw, y_of(v))
                })
                .collect();
            let _ = write!(
                s,
                r#"<polyline class="line s{j}" fill="none" points="{}"/>"#,
                points.join(" ")
            );
            for i in 0..self.labels.len() {
                let v = se.values.get(i).copied().unwrap_or(0.0);
                let _ = write!(
                    s,
                    r#"<circle class="dot s{j}" cx="{:.1}" cy="{:.1}" r="3"><title>{}</title></circle>"#,
                    LEFT + (i as f64 + 0.5) * cw,
                    y_of(v),
                    self.tip(i, se, v)
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(kind: Kind) -> Chart {
        Chart {
            id: "c".into(),
            title: "Doses <per> day".into(),
            desc: "d".into(),
            labels: vec!["3/1".into(), "3/2".into(), "3/3".into()],
            series: vec![
                Series {
                    name: "dose 1".into(),
                    values: vec![1.0, 0.0, 7.0],
                },
                Series {
                    name: "dose 2".into(),
                    values: vec![2.0, 3.0, 0.0],
                },
            ],
            kind,
            percent: false,
        }
    }

    #[test]
    fn bars_are_one_per_category_and_series_and_text_is_escaped() {
        let svg = chart(Kind::Bars).svg();
        assert_eq!(svg.matches(r#"class="bar "#).count(), 6);
        assert!(svg.contains("Doses &lt;per&gt; day"));
        assert!(svg.contains(r#"role="img" aria-labelledby="c-t c-d""#));
        assert!(svg.contains("3/3 · dose 1: 7"));
        assert_eq!(svg.matches(r#"class="xl""#).count(), 3);
    }

    #[test]
    fn lines_have_a_point_per_value() {
        let svg = chart(Kind::Lines).svg();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 6);
    }

    #[test]
    fn the_axis_ends_on_a_round_number() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(0.06), 0.1);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(23.0), 25.0);
        assert_eq!(nice_max(120.0), 200.0);
        assert_eq!(num(2.0), "2");
        assert_eq!(num(12.346), "12.35");
        assert_eq!(num(0.05), "0.05");
        assert_eq!(num(2.5), "2.5");
    }
}
