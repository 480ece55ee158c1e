//! The `bench --plot` chart: requests/s and p99 latency against concurrency, as a hand-written
//! SVG document (no plotting crate: a chart of two lines needs a page of code).
//!
//! One panel. The x axis is the pool size on a log scale (a sweep is usually 1, 10, 100,
//! 1000), with a labelled tick at every power of ten and unlabelled ones between; the left y
//! axis is requests/s, the right y axis p99 latency in milliseconds, each with its own "nice"
//! linear scale from zero. Each series is one `<path class="series ...">` plus a marker per
//! level (circles for requests/s, squares for p99) carrying a `<title>` tooltip with the exact
//! figure. A level with no successful request has no p99: the latency line skips it.
//!
//! All text goes through [`escape`], so a workload path such as `/delay/10/{i}?a=1&b=<2>`
//! cannot break the document.

use std::fmt::Write as _;

/// One level of the sweep, as the chart needs it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Point {
    /// The pool size (x).
    pub(crate) concurrency: usize,
    /// Requests per second (left y).
    pub(crate) rps: f64,
    /// p99 latency in milliseconds (right y); `None` when no request succeeded.
    pub(crate) p99_ms: Option<f64>,
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
    let max_rps = pts.iter().map(|p| p.rps).fold(0.0, f64::max);
    let max_p99 = pts.iter().filter_map(|p| p.p99_ms).fold(0.0, f64::max);
    let (rps_step, rps_top) = nice_scale(max_rps);
    let (p99_step, p99_top) = nice_scale(max_p99);
    let y_of = |v: f64, top: f64| BOTTOM - (v / top) * (BOTTOM - TOP);

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

    // Grid and left axis (requests/s).
    s.push_str("<g class=\"axis left\">\n");
    let mut v = 0.0;
    while v <= rps_top + rps_step / 2.0 {
        let y = y_of(v, rps_top);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="{GRID}"/><line x1="{l:.1}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}" stroke="{INK}"/><text x="{lt:.1}" y="{ty:.1}" text-anchor="end" fill="{INK}">{label}</text>"##,
            l = LEFT - 5.0,
            lt = LEFT - 8.0,
            ty = y + 4.0,
            label = escape(&tick_label(v)),
        );
        v += rps_step;
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{BOTTOM}" stroke="{INK}"/>
<text class="axis-title" transform="translate(24 {my}) rotate(-90)" text-anchor="middle" fill="{RPS_COLOUR}">requests/s</text>
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
<text class="axis-title" transform="translate({tx} {my}) rotate(90)" text-anchor="middle" fill="{P99_COLOUR}">p99 latency (ms)</text>
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
        .map(|p| {
            (
                x_of(p.concurrency),
                y_of(p.rps, rps_top),
                format!("c={}: {:.0} requests/s", p.concurrency, p.rps),
            )
        })
        .collect();
    let p99: Vec<(f64, f64, String)> = pts
        .iter()
        .filter_map(|p| {
            p.p99_ms.map(|ms| {
                (
                    x_of(p.concurrency),
                    y_of(ms, p99_top),
                    format!("c={}: p99 {ms:.2} ms", p.concurrency),
                )
            })
        })
        .collect();
    series(&mut s, "rps", RPS_COLOUR, &rps, Marker::Circle);
    series(&mut s, "p99", P99_COLOUR, &p99, Marker::Square);

    // The legend, under the x axis title.
    let ly = HEIGHT - 22.0;
    let lx = WIDTH / 2.0 - 150.0;
    let _ = writeln!(
        s,
        r##"<g class="legend">
<line x1="{lx}" y1="{ly}" x2="{lx2}" y2="{ly}" stroke="{RPS_COLOUR}" stroke-width="2"/><circle cx="{lm}" cy="{ly}" r="4" fill="{RPS_COLOUR}"/><text x="{lt}" y="{lty}" fill="{INK}">requests/s (left axis)</text>
<line x1="{rx}" y1="{ly}" x2="{rx2}" y2="{ly}" stroke="{P99_COLOUR}" stroke-width="2"/><rect x="{rm}" y="{ry}" width="8" height="8" fill="{P99_COLOUR}"/><text x="{rt}" y="{lty}" fill="{INK}">p99 latency (right axis)</text>
</g>
</svg>"##,
        lx2 = lx + 28.0,
        lm = lx + 14.0,
        lt = lx + 36.0,
        lty = ly + 4.0,
        rx = lx + 170.0,
        rx2 = lx + 198.0,
        rm = lx + 180.0,
        ry = ly - 4.0,
        rt = lx + 206.0,
    );
    s
}

#[derive(Clone, Copy)]
enum Marker {
    Circle,
    Square,
}

/// Writes one series: its `<path class="series NAME">` and a marker per point.
fn series(s: &mut String, name: &str, colour: &str, pts: &[(f64, f64, String)], marker: Marker) {
    let mut d = String::new();
    for (i, (x, y, _)) in pts.iter().enumerate() {
        let _ = write!(d, "{}{x:.1},{y:.1}", if i == 0 { "M" } else { " L" });
    }
    let _ = writeln!(
        s,
        r##"<g class="{name}"><path class="series {name}" d="{d}" fill="none" stroke="{colour}" stroke-width="2"/>"##
    );
    for (x, y, tip) in pts {
        let tip = escape(tip);
        let _ = match marker {
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
                p99_ms: Some(80.0),
            },
            Point {
                concurrency: 1,
                rps: 95.0,
                p99_ms: Some(10.6),
            },
            Point {
                concurrency: 10,
                rps: 900.0,
                p99_ms: None,
            },
        ]
    }

    #[test]
    fn one_path_per_series_axes_and_legend() {
        let doc = svg("greenfetch bench", "closed loop", &sweep());
        let (paths, text) = parse(&doc);
        assert_eq!(paths, ["series rps", "series p99"]);
        for needle in [
            "requests/s",
            "p99 latency (ms)",
            "concurrency (pool size, log scale)",
            "1k",
            "greenfetch bench",
        ] {
            assert!(text.contains(needle), "{needle}");
        }
        // Three rps markers, two p99 markers (one level had no p99).
        assert_eq!(doc.matches(r#"class="marker rps""#).count(), 3);
        assert_eq!(doc.matches(r#"class="marker p99""#).count(), 2);
        // The rps path runs left to right.
        let d = doc.split(r#"class="series rps" d=""#).nth(1).unwrap();
        let xs: Vec<f64> = d
            .split('"')
            .next()
            .unwrap()
            .split(['M', 'L', ' '])
            .filter(|p| !p.is_empty())
            .map(|p| p.split(',').next().unwrap().parse().unwrap())
            .collect();
        assert_eq!(xs.len(), 3);
        assert!(xs.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(xs[0], LEFT + PAD);
        assert_eq!(xs[2], RIGHT - PAD);
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
        assert_eq!(paths.len(), 2);
        let one = [Point {
            concurrency: 64,
            rps: 0.0,
            p99_ms: None,
        }];
        let (paths, _) = parse(&svg("t", "s", &one));
        assert_eq!(paths.len(), 2);
        assert_eq!(decades(&one), (1, 2));
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
