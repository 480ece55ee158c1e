//! The `bench --plot` chart: throughput and latency against concurrency, as a hand-written
//! SVG document (no plotting crate: a chart of a few lines needs a page of code).
//!
//! One panel. The x axis is the pool size on a log scale (a sweep is usually 1, 10, 100,
//! 1000), with a labelled tick at every power of ten and unlabelled ones between. The left y
//! axis is successful requests/s on a log scale too (a sweep's throughput spans decades, and
//! a pool that scales is a straight line), with the ideal throughput of a `/delay` workload
//! (c / delay) dashed beside it; the right y axis is latency in milliseconds, p50 and p99
//! side by side, on a "nice" linear scale from zero. Each series is one
//! `<path class="series ...">`; the measured ones have a marker per level (circles for
//! requests/s, diamonds for p50, squares for p99) carrying a `<title>` tooltip with the exact
//! figure. A level with no successful request has no throughput to put on a log scale and no
//! latency: the lines skip it.
//!
//! All text goes through [`escape`], so a workload path such as `/delay/10/{i}?a=1&b=<2>`
//! cannot break the document.

use std::fmt::Write as _;

/// One level of the sweep, as the chart needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    /// The pool size (x).
    pub(crate) concurrency: usize,
    /// Successful requests per second (left y).
    pub(crate) rps: f64,
    /// p50 latency in milliseconds (right y); `None` when no request succeeded.
    pub(crate) p50_ms: Option<f64>,
    /// p99 latency in milliseconds (right y); `None` when no request succeeded.
    pub(crate) p99_ms: Option<f64>,
    /// The ideal requests per second (c / delay for a `/delay` workload), if there is one.
    pub(crate) ideal_rps: Option<f64>,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 480.0;
/// The plot area: left, right, top and bottom edges.
const LEFT: f64 = 90.0;
const RIGHT: f64 = 670.0;
const TOP: f64 = 80.0;
const BOTTOM: f64 = 380.0;
/// Room between the y axes and the first and last decade, so markers clear the axis lines.
const PAD: f64 = 16.0;

const RPS_COLOUR: &str = "#1f6fb4";
const IDEAL_COLOUR: &str = "#7fa7cf";
const P50_COLOUR: &str = "#e0a030";
const P99_COLOUR: &str = "#d1461f";
const INK: &str = "#222";
const GRID: &str = "#e2e2e2";

/// Escapes text for use in XML content and in double- or single-quoted attributes.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 does not allow at all (control characters but tab and
            // line breaks) are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// A linear scale from zero: the tick step and the top of the axis (a whole number of steps,
/// at least `max`). Steps are 1, 2, 2.5 or 5 times a power of ten, about five to the axis.
pub(crate) fn nice_scale(max: f64) -> (f64, f64) {
    if !max.is_finite() || max <= 0.0 {
        return (0.2, 1.0);
    }
    let rough = max / 5.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude);
    let top = (max / step).ceil() * step;
    (step, top.max(step))
}

/// The log-scale x domain: whole decades around the smallest and largest pool size, at least
/// one decade wide. Returned as the exponents (lo, hi).
pub(crate) fn decades(points: &[Point]) -> (i32, i32) {
    let lo = points
        .iter()
        .map(|p| p.concurrency.max(1))
        .min()
        .unwrap_or(1);
    let hi = points
        .iter()
        .map(|p| p.concurrency.max(1))
        .max()
        .unwrap_or(10);
    let lo = (lo as f64).log10().floor() as i32;
    let hi = ((hi as f64).log10().ceil() as i32).max(lo + 1);
    (lo, hi)
}

/// The log-scale domain of the throughput axis: whole decades around the positive values, at
/// least one decade wide. Returned as the exponents (lo, hi).
pub(crate) fn value_decades(values: impl Iterator<Item = f64>) -> (i32, i32) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| v.is_finite() && *v > 0.0) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if hi <= 0.0 {
        return (0, 1);
    }
    let lo = lo.log10().floor() as i32;
    let hi = (hi.log10().ceil() as i32).max(lo + 1);
    (lo, hi)
}

/// A tick label: `2.5`, `40`, `1k`, `12.5k`, `2M`.
pub(crate) fn tick_label(v: f64) -> String {
    let (n, suffix) = if v.abs() >= 1e6 {
        (v / 1e6, "M")
    } else if v.abs() >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let mut s = format!("{n:.3}");
    while s.contains('.') && (s.ends_with('0') || s.ends_with('.')) {
        s.pop();
    }
    s + suffix
}

/// The chart as an SVG document. `title` is the heading, `subtitle` the line under it (the run's
/// settings); both are escaped here.
pub(crate) fn svg(title: &str, subtitle: &str, points: &[Point]) -> String {
    let mut pts = points.to_vec();
    pts.sort_by_key(|p| p.concurrency);
    let (dlo, dhi) = decades(&pts);
    let x_of = |c: usize| {
        let t = ((c.max(1) as f64).log10() - f64::from(dlo)) / f64::from(dhi - dlo);
        LEFT + PAD + t * (RIGHT - LEFT - 2.0 * PAD)
    };
    let (rlo, rhi) = value_decades(
        pts.iter()
            .flat_map(|p| [Some(p.rps), p.ideal_rps])
            .flatten(),
    );
    let max_ms = pts
        .iter()
        .flat_map(|p| [p.p50_ms, p.p99_ms])
        .flatten()
        .fold(0.0, f64::max);
    let (p99_step, p99_top) = nice_scale(max_ms);
    let y_of = |v: f64, top: f64| BOTTOM - (v / top) * (BOTTOM - TOP);
    let y_log = |v: f64| {
        let t = (v.log10() - f64::from(rlo)) / f64::from(rhi - rlo);
        BOTTOM - t * (BOTTOM - TOP)
    };

    let mut s = String::new();
    // Writing to a String cannot fail; the results are ignored below for that reason.
    let _ = writeln!(
        s,
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text class="title" x="{cx}" y="28" text-anchor="middle" font-size="16" font-weight="bold" fill="{INK}">{title}</text>
<text class="subtitle" x="{cx}" y="48" text-anchor="middle" fill="#555">{subtitle}</text>"##,
        cx = WIDTH / 2.0,
        title = escape(title),
        subtitle = escape(subtitle),
    );

    // Grid and left axis (requests/s, log scale): a labelled tick per decade, small ones
    // between.
    s.push_str("<g class=\"axis left\">\n");
    for d in rlo..=rhi {
        let decade = 10f64.powi(d);
        let y = y_log(decade);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="{GRID}"/><line x1="{l:.1}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}" stroke="{INK}"/><text x="{lt:.1}" y="{ty:.1}" text-anchor="end" fill="{INK}">{label}</text>"##,
            l = LEFT - 5.0,
            lt = LEFT - 8.0,
            ty = y + 4.0,
            label = escape(&tick_label(decade)),
        );
        if d < rhi {
            for m in 2..10 {
                let y = y_log(decade * f64::from(m));
                let _ = writeln!(
                    s,
                    r##"<line x1="{l:.1}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}" stroke="{INK}"/>"##,
                    l = LEFT - 3.0,
                );
            }
        }
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{BOTTOM}" stroke="{INK}"/>
<text class="axis-title" transform="translate(24 {my}) rotate(-90)" text-anchor="middle" fill="{RPS_COLOUR}">requests/s (log scale)</text>
</g>"##,
        my = (TOP + BOTTOM) / 2.0,
    );

    // Right axis (p99 latency).
    s.push_str("<g class=\"axis right\">\n");
    let mut v = 0.0;
    while v <= p99_top + p99_step / 2.0 {
        let y = y_of(v, p99_top);
        let _ = writeln!(
            s,
            r##"<line x1="{RIGHT}" y1="{y:.1}" x2="{r:.1}" y2="{y:.1}" stroke="{INK}"/><text x="{rt:.1}" y="{ty:.1}" text-anchor="start" fill="{INK}">{label}</text>"##,
            r = RIGHT + 5.0,
            rt = RIGHT + 8.0,
            ty = y + 4.0,
            label = escape(&tick_label(v)),
        );
        v += p99_step;
    }
    let _ = writeln!(
        s,
        r##"<line x1="{RIGHT}" y1="{TOP}" x2="{RIGHT}" y2="{BOTTOM}" stroke="{INK}"/>
<text class="axis-title" transform="translate({tx} {my}) rotate(90)" text-anchor="middle" fill="{P99_COLOUR}">latency (ms)</text>
</g>"##,
        tx = WIDTH - 22.0,
        my = (TOP + BOTTOM) / 2.0,
    );

    // Bottom axis (concurrency, log scale): a labelled tick per decade, small ones between.
    s.push_str("<g class=\"axis bottom\">\n");
    for d in dlo..=dhi {
        let decade = 10f64.powi(d);
        let x = x_of(decade as usize);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{BOTTOM}" stroke="{GRID}"/><line x1="{x:.1}" y1="{BOTTOM}" x2="{x:.1}" y2="{b:.1}" stroke="{INK}"/><text x="{x:.1}" y="{ty:.1}" text-anchor="middle" fill="{INK}">{label}</text>"##,
            b = BOTTOM + 6.0,
            ty = BOTTOM + 20.0,
            label = escape(&tick_label(decade)),
        );
        if d < dhi {
            for m in 2..10 {
                let x = x_of((decade * f64::from(m)) as usize);
                let _ = writeln!(
                    s,
                    r##"<line x1="{x:.1}" y1="{BOTTOM}" x2="{x:.1}" y2="{b:.1}" stroke="{INK}"/>"##,
                    b = BOTTOM + 3.0,
                );
            }
        }
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{BOTTOM}" x2="{RIGHT}" y2="{BOTTOM}" stroke="{INK}"/>
<text class="axis-title" x="{mx}" y="{ty}" text-anchor="middle" fill="{INK}">concurrency (pool size, log scale)</text>
</g>"##,
        mx = (LEFT + RIGHT) / 2.0,
        ty = BOTTOM + 42.0,
    );

    // The series: one path each, then the markers.
    let rps: Vec<(f64, f64, String)> = pts
        .iter()
        .filter(|p| p.rps > 0.0)
        .map(|p| {
            (
                x_of(p.concurrency),
                y_log(p.rps),
                format!("c={}: {:.0} requests/s", p.concurrency, p.rps),
            )
        })
        .collect();
    let ideal: Vec<(f64, f64, String)> = pts
        .iter()
        .filter_map(|p| {
            p.ideal_rps.filter(|r| *r > 0.0).map(|r| {
                (
                    x_of(p.concurrency),
                    y_log(r),
                    format!("c={}: ideal {r:.0} requests/s", p.concurrency),
                )
            })
        })
        .collect();
    let latency = |pick: fn(&Point) -> Option<f64>, name: &str| -> Vec<(f64, f64, String)> {
        pts.iter()
            .filter_map(|p| {
                pick(p).map(|ms| {
                    (
                        x_of(p.concurrency),
                        y_of(ms, p99_top),
                        format!("c={}: {name} {ms:.2} ms", p.concurrency),
                    )
                })
            })
            .collect()
    };
    let p50 = latency(|p| p.p50_ms, "p50");
    let p99 = latency(|p| p.p99_ms, "p99");
    if !ideal.is_empty() {
        series(&mut s, "ideal", IDEAL_COLOUR, &ideal, Marker::None);
    }
    series(&mut s, "rps", RPS_COLOUR, &rps, Marker::Circle);
    series(&mut s, "p50", P50_COLOUR, &p50, Marker::Diamond);
    series(&mut s, "p99", P99_COLOUR, &p99, Marker::Square);

    // The legend, under the x axis title.
    let ly = HEIGHT - 22.0;
    let lx = WIDTH / 2.0 - 290.0;
    let _ = writeln!(
        s,
        r##"<g class="legend">
<line x1="{lx}" y1="{ly}" x2="{lx2}" y2="{ly}" stroke="{RPS_COLOUR}" stroke-width="2"/><circle cx="{lm}" cy="{ly}" r="4" fill="{RPS_COLOUR}"/><text x="{lt}" y="{lty}" fill="{INK}">requests/s (left)</text>"##,
        lx2 = lx + 28.0,
        lm = lx + 14.0,
        lt = lx + 36.0,
        lty = ly + 4.0,
    );
    if !ideal.is_empty() {
        let ix = lx + 150.0;
        let _ = writeln!(
            s,
            r##"<line x1="{ix}" y1="{ly}" x2="{ix2}" y2="{ly}" stroke="{IDEAL_COLOUR}" stroke-width="2" stroke-dasharray="6 4"/><text x="{it}" y="{lty}" fill="{INK}">ideal (c / delay)</text>"##,
            ix2 = ix + 28.0,
            it = ix + 36.0,
            lty = ly + 4.0,
        );
    }
    let px = lx + 300.0;
    let _ = writeln!(
        s,
        r##"<line x1="{px}" y1="{ly}" x2="{px2}" y2="{ly}" stroke="{P50_COLOUR}" stroke-width="2"/><polygon points="{pm},{dy0} {pr},{ly} {pm},{dy1} {pl},{ly}" fill="{P50_COLOUR}"/><text x="{pt}" y="{lty}" fill="{INK}">p50 latency (right)</text>
<line x1="{qx}" y1="{ly}" x2="{qx2}" y2="{ly}" stroke="{P99_COLOUR}" stroke-width="2"/><rect x="{qm}" y="{ry}" width="8" height="8" fill="{P99_COLOUR}"/><text x="{qt}" y="{lty}" fill="{INK}">p99 latency (right)</text>
</g>
</svg>"##,
        px2 = px + 28.0,
        pm = px + 14.0,
        pl = px + 9.0,
        pr = px + 19.0,
        dy0 = ly - 5.0,
        dy1 = ly + 5.0,
        pt = px + 36.0,
        lty = ly + 4.0,
        qx = px + 150.0,
        qx2 = px + 178.0,
        qm = px + 160.0,
        ry = ly - 4.0,
        qt = px + 186.0,
    );
    s
}

#[derive(Clone, Copy)]
enum Marker {
    /// A dashed line without markers (the ideal).
    None,
    Circle,
    Diamond,
    Square,
}

/// Writes one series: its `<path class="series NAME">` and a marker per point.
fn series(s: &mut String, name: &str, colour: &str, pts: &[(f64, f64, String)], marker: Marker) {
    let mut d = String::new();
    for (i, (x, y, _)) in pts.iter().enumerate() {
        let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" });
    }
    let dash = if matches!(marker, Marker::None) {
        r#" stroke-dasharray="6 4""#
    } else {
        ""
    };
    let _ = writeln!(
        s,
        r##"<g class="{name}"><path class="series {name}" d="{d}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"##
    );
    for (x, y, tip) in pts {
        let tip = escape(tip);
        let _ = match marker {
            Marker::None => Ok(()),
            Marker::Diamond => writeln!(
                s,
                r##"<polygon class="marker {name}" points="{x:.1},{t:.1} {r:.1},{y:.1} {x:.1},{b:.1} {l:.1},{y:.1}" fill="{colour}"><title>{tip}</title></polygon>"##,
                t = y - 5.0,
                b = y + 5.0,
                l = x - 5.0,
                r = x + 5.0,
            ),
            Marker::Circle => writeln!(
                s,
                r##"<circle class="marker {name}" cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}"><title>{tip}</title></circle>"##
            ),
            Marker::Square => writeln!(
                s,
                r##"<rect class="marker {name}" x="{rx:.1}" y="{ry:.1}" width="8" height="8" fill="{colour}"><title>{tip}</title></rect>"##,
                rx = x - 4.0,
                ry = y - 4.0,
            ),
        };
    }
    s.push_str("</g>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::Reader;
    use quick_xml::events::Event;

    /// Parses the document; returns the classes of its `<path>`s and all its text.
    fn parse(doc: &str) -> (Vec<String>, String) {
        let mut r = Reader::from_str(doc);
        let (mut depth, mut paths, mut text) = (0i32, Vec::new(), String::new());
        loop {
            match r.read_event().expect("well-formed XML") {
                Event::Start(e) => {
                    depth += 1;
                    if e.name().as_ref() == "path" {
                        panic!("paths are empty elements");
                    }
                }
                Event::End(_) => depth -= 1,
                Event::Empty(e) if e.name().as_ref() == "path" => {
                    let class = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == "class")
                        .map(|a| a.value.to_string())
                        .unwrap_or_default();
                    paths.push(class);
                }
                Event::Text(t) => text.push_str(&t),
                Event::GeneralRef(g) => {
                    let name = g.to_string();
                    assert!(
                        ["amp", "lt", "gt", "quot", "apos"].contains(&name.as_str()),
                        "{name}"
                    );
                    text.push('&');
                }
                Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!(depth, 0, "every element is closed");
        (paths, text)
    }

    fn sweep() -> Vec<Point> {
        vec![
            Point {
                concurrency: 1000,
                rps: 21_000.0,
                p50_ms: Some(40.0),
                p99_ms: Some(80.0),
                ideal_rps: Some(100_000.0),
            },
            Point {
                concurrency: 1,
                rps: 95.0,
                p50_ms: Some(10.2),
                p99_ms: Some(10.6),
                ideal_rps: Some(100.0),
            },
            Point {
                concurrency: 10,
                rps: 900.0,
                p50_ms: None,
                p99_ms: None,
                ideal_rps: Some(1000.0),
            },
        ]
    }

    #[test]
    fn one_path_per_series_axes_and_legend() {
        let doc = svg("greenfetch bench", "closed loop", &sweep());
        let (paths, text) = parse(&doc);
        assert_eq!(
            paths,
            ["series ideal", "series rps", "series p50", "series p99"]
        );
        for needle in [
            "requests/s (log scale)",
            "latency (ms)",
            "concurrency (pool size, log scale)",
            "ideal (c / delay)",
            "p50 latency (right)",
            "p99 latency (right)",
            "1k",
            "100k",
            "greenfetch bench",
        ] {
            assert!(text.contains(needle), "{needle}");
        }
        // Three rps markers, two p50 and p99 markers (one level had no latency), none on the
        // ideal line.
        assert_eq!(doc.matches(r#"class="marker rps""#).count(), 3);
        assert_eq!(doc.matches(r#"class="marker p50""#).count(), 2);
        assert_eq!(doc.matches(r#"class="marker p99""#).count(), 2);
        assert_eq!(doc.matches(r#"class="marker ideal""#).count(), 0);
        // The rps path runs left to right, and up a log scale: 95, 900 and 21,000 a second
        // are about a decade apart each.
        let d = doc.split(r#"class="series rps" d=""#).nth(1).unwrap();
        let pts: Vec<(f64, f64)> = d
            .split('"')
            .next()
            .unwrap()
            .split(['M', 'L', ' '])
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(pts.len(), 3);
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 > w[1].1));
        assert_eq!(pts[0].0, LEFT + PAD);
        assert_eq!(pts[2].0, RIGHT - PAD);
        let decade = (BOTTOM - TOP) / 4.0; // 10 to 100k
        assert!(((pts[0].1 - pts[1].1) - decade * (900f64 / 95.0).log10()).abs() < 0.2);
    }

    #[test]
    fn text_is_escaped() {
        let doc = svg("a<b>&\"c'", "/delay/10/{i}?x=1&y=2\u{1}", &sweep());
        let (_, text) = parse(&doc);
        assert!(!doc.contains("a<b>"));
        assert!(doc.contains("a&lt;b&gt;&amp;&quot;c&apos;"));
        assert!(text.contains("/delay/10/{i}?x=1"));
    }

    #[test]
    fn empty_and_single_level_charts_are_well_formed() {
        let (paths, _) = parse(&svg("t", "s", &[]));
        assert_eq!(paths.len(), 3);
        let one = [Point {
            concurrency: 64,
            rps: 0.0,
            p50_ms: None,
            p99_ms: None,
            ideal_rps: None,
        }];
        let (paths, _) = parse(&svg("t", "s", &one));
        assert_eq!(paths.len(), 3);
        assert_eq!(decades(&one), (1, 2));
        assert_eq!(value_decades([95.0, 21_000.0, 0.0].into_iter()), (1, 5));
        assert_eq!(value_decades(std::iter::empty()), (0, 1));
    }

    #[test]
    fn scales_and_labels() {
        assert_eq!(nice_scale(0.0), (0.2, 1.0));
        assert_eq!(nice_scale(95.0), (20.0, 100.0));
        assert_eq!(nice_scale(21_000.0), (5000.0, 25_000.0));
        assert_eq!(nice_scale(11.0), (2.5, 12.5));
        assert_eq!(nice_scale(1.0), (0.2, 1.0));
        assert_eq!(decades(&sweep()), (0, 3));
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(2.5), "2.5");
        assert_eq!(tick_label(12_500.0), "12.5k");
        assert_eq!(tick_label(1000.0), "1k");
        assert_eq!(tick_label(2_000_000.0), "2M");
    }
}
