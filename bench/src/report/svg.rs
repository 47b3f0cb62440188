//! Line charts as self-contained SVG text: axes with ticks and units, grid lines, a legend,
//! one `<path>` per series. Written by hand (no plotting dependency) because the report must
//! be one HTML file that opens anywhere, with nothing to fetch.

use std::fmt::Write;

/// Colours for series, chosen to stay apart from each other (Tableau 10).
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

const WIDTH: f64 = 760.0;
const PLOT_HEIGHT: f64 = 300.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 48.0;
const LEGEND_ROW: f64 = 20.0;
const LEGEND_COLUMNS: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Base-10 logarithmic; values ≤ 0 are left out.
    Log,
}

#[derive(Clone, Debug)]
pub struct Series {
    /// The legend's text; series with the same label and colour share one legend entry.
    pub label: String,
    /// Index into the palette.
    pub color: usize,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    /// A line under the title (e.g. which line style means what).
    pub subtitle: String,
    pub x_label: String,
    pub y_label: String,
    pub y_scale: Scale,
    /// Fixed x ticks `(position, label)`; `None`: evenly spaced round numbers.
    pub x_ticks: Option<Vec<(f64, String)>>,
    /// Start the y axis at zero (throughput) rather than at the smallest value.
    pub y_from_zero: bool,
    /// Start the x axis at zero (time since the run began).
    pub x_from_zero: bool,
    pub series: Vec<Series>,
}

/// The colour of palette entry `i`.
pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// Round tick positions covering `[lo, hi]`: steps of 1, 2 or 5 × 10^k, about `target` of them.
fn linear_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    let span = (hi - lo).max(f64::EPSILON);
    let raw = span / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// A number as a short tick label (`0.05`, `2`, `1.5k`, `20k`).
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.to_owned()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart as an `<svg>` element.
pub fn render(chart: &Chart) -> String {
    let legend: Vec<(&str, usize)> = {
        let mut entries: Vec<(&str, usize)> = Vec::new();
        for s in &chart.series {
            if !s.label.is_empty() && !entries.contains(&(s.label.as_str(), s.color)) {
                entries.push((s.label.as_str(), s.color));
            }
        }
        entries
    };
    let legend_rows = legend.len().div_ceil(LEGEND_COLUMNS);
    let height = TOP + PLOT_HEIGHT + BOTTOM + legend_rows as f64 * LEGEND_ROW + 8.0;
    let plot_w = WIDTH - LEFT - RIGHT;

    let visible = |y: f64| chart.y_scale == Scale::Linear || y > 0.0;
    let points = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite() && visible(*y))
    };
    let (mut x_lo, mut x_hi) = points().fold((f64::MAX, f64::MIN), |(lo, hi), (x, _)| {
        (lo.min(*x), hi.max(*x))
    });
    let (mut y_lo, mut y_hi) = points().fold((f64::MAX, f64::MIN), |(lo, hi), (_, y)| {
        (lo.min(*y), hi.max(*y))
    });
    if x_lo > x_hi {
        (x_lo, x_hi) = (0.0, 1.0);
    }
    if chart.x_from_zero {
        x_lo = x_lo.min(0.0);
    }
    if let Some(ticks) = &chart.x_ticks {
        for (x, _) in ticks {
            x_lo = x_lo.min(*x);
        }
    }
    if x_hi - x_lo < 1e-9 {
        x_hi = x_lo + 1.0;
    }
    if y_lo > y_hi {
        (y_lo, y_hi) = (0.0, 1.0);
    }
    // Map y through the scale, then pad so lines do not touch the frame.
    let ty = |y: f64| match chart.y_scale {
        Scale::Linear => y,
        Scale::Log => y.max(1e-12).log10(),
    };
    let (mut v_lo, mut v_hi) = match chart.y_scale {
        Scale::Linear => (
            if chart.y_from_zero {
                y_lo.min(0.0)
            } else {
                y_lo
            },
            y_hi,
        ),
        Scale::Log => (ty(y_lo).floor(), ty(y_hi).ceil()),
    };
    if v_hi - v_lo < 1e-9 {
        v_hi = v_lo + 1.0;
    }
    if chart.y_scale == Scale::Linear {
        let pad = (v_hi - v_lo) * 0.05;
        v_hi += pad;
        if !chart.y_from_zero {
            v_lo -= pad;
        }
    }
    let sx = |x: f64| LEFT + (x - x_lo) / (x_hi - x_lo) * plot_w;
    let sy = |v: f64| TOP + PLOT_HEIGHT - (v - v_lo) / (v_hi - v_lo) * PLOT_HEIGHT;

    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"##
    );
    let _ = write!(
        out,
        r##"<rect width="{WIDTH}" height="{height}" fill="white"/><text x="{LEFT}" y="18" font-size="15" font-weight="bold">{}</text><text x="{LEFT}" y="33" fill="#555">{}</text>"##,
        escape(&chart.title),
        escape(&chart.subtitle)
    );
    // Y ticks and grid.
    let y_ticks: Vec<(f64, String)> = match chart.y_scale {
        Scale::Linear => linear_ticks(v_lo, v_hi, 6)
            .into_iter()
            .map(|v| (v, tick_label(v)))
            .collect(),
        // Decades; over a narrow span also 2 and 5 times them, so the eye can read values.
        Scale::Log => (v_lo as i64..=v_hi as i64)
            .flat_map(|e| {
                let steps: &[f64] = if v_hi - v_lo <= 3.0 {
                    &[1.0, 2.0, 5.0]
                } else {
                    &[1.0]
                };
                steps.iter().map(move |m| m * 10f64.powi(e as i32))
            })
            .map(|v| (v.log10(), tick_label(v)))
            .filter(|(v, _)| *v <= v_hi + 1e-9)
            .collect(),
    };
    for (v, label) in &y_ticks {
        let y = sy(*v);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            escape(label)
        );
    }
    // X ticks and grid.
    let x_ticks: Vec<(f64, String)> = match &chart.x_ticks {
        Some(ticks) => ticks.clone(),
        None => linear_ticks(x_lo, x_hi, 8)
            .into_iter()
            .map(|v| (v, tick_label(v)))
            .collect(),
    };
    for (x, label) in x_ticks.iter().filter(|(x, _)| *x >= x_lo && *x <= x_hi) {
        let px = sx(*x);
        let _ = write!(
            out,
            r##"<line x1="{px:.1}" y1="{TOP}" x2="{px:.1}" y2="{:.1}" stroke="#e4e4e4"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" fill="#333">{}</text>"##,
            TOP + PLOT_HEIGHT,
            TOP + PLOT_HEIGHT + 16.0,
            escape(label)
        );
    }
    // Frame and axis labels.
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{PLOT_HEIGHT}" fill="none" stroke="#888"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
        LEFT + plot_w / 2.0,
        TOP + PLOT_HEIGHT + 36.0,
        escape(&chart.x_label),
        TOP + PLOT_HEIGHT / 2.0,
        escape(&chart.y_label)
    );
    // The series, clipped to the plot area.
    // Several charts share one HTML page: each needs its own clip id.
    let clip = format!(
        "clip-{:x}",
        chart
            .title
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b))
                .wrapping_mul(0x100_0000_01b3))
    );
    let _ = write!(
        out,
        r##"<clipPath id="{clip}"><rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{PLOT_HEIGHT}"/></clipPath><g clip-path="url(#{clip})">"##
    );
    for s in &chart.series {
        let mut d = String::new();
        for (x, y) in s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
        {
            if !visible(*y) {
                continue;
            }
            let cmd = if d.is_empty() { 'M' } else { 'L' };
            let _ = write!(d, "{cmd}{:.1},{:.1} ", sx(*x), sy(ty(*y)));
        }
        let dash = if s.dashed {
            r##" stroke-dasharray="6 4""##
        } else {
            ""
        };
        let _ = write!(
            out,
            r##"<path class="series" d="{}" fill="none" stroke="{}" stroke-width="2"{dash}><title>{}</title></path>"##,
            d.trim_end(),
            color(s.color),
            escape(&s.label)
        );
    }
    out.push_str("</g>");
    // Legend under the x axis label.
    let column_w = plot_w / LEGEND_COLUMNS as f64;
    for (i, (label, c)) in legend.iter().enumerate() {
        let x = LEFT + (i % LEGEND_COLUMNS) as f64 * column_w;
        let y = TOP + PLOT_HEIGHT + BOTTOM + (i / LEGEND_COLUMNS) as f64 * LEGEND_ROW + 6.0;
        let _ = write!(
            out,
            r##"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"##,
            x + 22.0,
            color(*c),
            x + 28.0,
            y + 4.0,
            escape(label)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(series: Vec<Series>, y_scale: Scale) -> Chart {
        Chart {
            title: "Throughput <over> time".into(),
            subtitle: String::new(),
            x_label: "time (s)".into(),
            y_label: "ops/s".into(),
            y_scale,
            x_ticks: None,
            y_from_zero: true,
            x_from_zero: false,
            series,
        }
    }

    #[test]
    fn one_path_per_series_with_legend_and_escaped_text() {
        let series: Vec<Series> = (0..3)
            .map(|i| Series {
                label: format!("contender {i}"),
                color: i,
                dashed: i == 2,
                points: (0..10).map(|t| (t as f64, (t * (i + 1)) as f64)).collect(),
            })
            .collect();
        let svg = render(&chart(series, Scale::Linear));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<path class=\"series\"").count(), 3);
        for i in 0..3 {
            assert!(
                svg.contains(&format!(">contender {i}</text>")),
                "legend {i}"
            );
        }
        assert!(svg.contains("Throughput &lt;over&gt; time"));
        assert!(svg.contains(">time (s)</text>") && svg.contains(">ops/s</text>"));
        assert_eq!(svg.matches("stroke-dasharray").count(), 1);
        // Every path starts with a move and has one command per point.
        for d in svg.split(" d=\"").skip(1) {
            let d = &d[..d.find('"').unwrap_or(0)];
            assert!(d.starts_with('M'));
            assert_eq!(d.split(' ').count(), 10);
        }
    }

    #[test]
    fn log_scale_leaves_out_non_positive_values_and_ticks_decades() {
        let series = vec![Series {
            label: "a".into(),
            color: 0,
            dashed: false,
            points: vec![(0.0, 0.0), (1.0, 0.05), (2.0, 3.0)],
        }];
        let svg = render(&chart(series, Scale::Log));
        assert!(
            svg.contains(">0.01</text>") && svg.contains(">10</text>"),
            "{svg}"
        );
        let d = svg.split(" d=\"").nth(1).unwrap_or_default();
        assert_eq!(d[..d.find('"').unwrap_or(0)].split(' ').count(), 2);
    }

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(
            linear_ticks(0.0, 10.0, 5),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(tick_label(25_000.0), "25k");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_label(1_500_000.0), "1.5M");
    }
}
