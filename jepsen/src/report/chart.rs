//! The frame both SVG plots share, so they look alike and line up when shown one above the
//! other: a title and a subtitle, a strip naming each fault above the plot, the plot area with
//! the faults shaded as translucent bands, a time axis in seconds, a y axis (linear or
//! decade-logarithmic) and a legend in its own column on the right, where it cannot cover data.
//!
//! A chart is built in layers (grid, bands, data, axes, legend) kept as separate strings and
//! joined in that order by [`Chart::finish`], so callers may add to them in any order while
//! points always sit above the bands and below nothing but the axes.

use std::fmt::Write as _;

use super::escape::{self, num};
use super::packing;
use super::palette::{self, Marker};
use super::ticks::{self, Linear, Log10};
use crate::history::NemesisPeriod;

/// Width of every plot, in px.
pub(crate) const WIDTH: f64 = 1000.0;
const LEFT: f64 = 78.0;
const LEGEND_WIDTH: f64 = 150.0;
const RIGHT: f64 = WIDTH - LEGEND_WIDTH - 18.0;
const TITLE_Y: f64 = 26.0;
const SUBTITLE_Y: f64 = 45.0;
const STRIP_TOP: f64 = 56.0;
const FAULT_ROW: f64 = 15.0;
const MAX_FAULT_ROWS: usize = 4;
/// Average advance of an 11 px sans-serif character, to keep labels from running into each
/// other without measuring text.
const CHAR_WIDTH: f64 = 6.4;
const LEGEND_ROW: f64 = 18.0;
const BAND_OPACITY: &str = "0.13";

pub(crate) struct Chart {
    title: String,
    subtitle: String,
    /// Seconds since the run began → px.
    pub(crate) x: Linear,
    top: f64,
    bottom: f64,
    grid: String,
    bands: String,
    data: String,
    axes: String,
    legend: String,
    legend_y: f64,
}

impl Chart {
    /// A chart over `[0, end_ms]` whose plot area is `plot_height` px tall, with `nemesis`
    /// shaded and named.
    pub(crate) fn new(
        title: &str,
        subtitle: &str,
        end_ms: u64,
        nemesis: &[NemesisPeriod],
        plot_height: f64,
    ) -> Chart {
        let end_s = end_ms.max(1) as f64 / 1_000.0;
        let x = Linear {
            lo: 0.0,
            hi: end_s,
            from: LEFT,
            to: RIGHT,
        };
        // Each label runs from its band's start for as long as its text is, or as the band is.
        let spans: Vec<(f64, f64)> = nemesis
            .iter()
            .map(|p| {
                let start = x.map(p.start_ms as f64 / 1_000.0);
                let end = x.map(p.end_ms.max(p.start_ms) as f64 / 1_000.0);
                let text = label_width(&p.name) + 8.0;
                (start, end.max(start + text))
            })
            .collect();
        let (rows, used) = packing::first_fit(&spans, MAX_FAULT_ROWS);
        let top = if used == 0 {
            STRIP_TOP
        } else {
            STRIP_TOP + used as f64 * FAULT_ROW + 4.0
        };
        let mut chart = Chart {
            title: title.to_owned(),
            subtitle: subtitle.to_owned(),
            x,
            top,
            bottom: top + plot_height,
            grid: String::new(),
            bands: String::new(),
            data: String::new(),
            axes: String::new(),
            legend: String::new(),
            legend_y: top + 4.0,
        };
        for (period, row) in nemesis.iter().zip(rows) {
            chart.band(period, row);
        }
        chart.time_axis();
        chart
    }

    fn band(&mut self, period: &NemesisPeriod, row: usize) {
        let colour = palette::fault(&period.name);
        let x0 = self.x.map(period.start_ms as f64 / 1_000.0);
        let x1 = self
            .x
            .map(period.end_ms.max(period.start_ms) as f64 / 1_000.0)
            .max(x0 + 1.5);
        let row_top = STRIP_TOP + row as f64 * FAULT_ROW;
        let tip = format!(
            "{} {}–{} s: {}",
            period.name,
            num(period.start_ms as f64 / 1_000.0, 3),
            num(period.end_ms as f64 / 1_000.0, 3),
            period.detail
        );
        let _ = write!(
            self.bands,
            r#"<g class="fault"><title>{tip}</title><rect x="{x0}" y="{top}" width="{w}" height="{h}" fill="{colour}" fill-opacity="{BAND_OPACITY}"/><path d="M{x0} {top}v{h}M{x1} {top}v{h}" stroke="{colour}" stroke-opacity="0.5" stroke-width="1"/><rect x="{x0}" y="{bar}" width="{w}" height="3" fill="{colour}"/><text x="{tx}" y="{ty}" fill="{colour}" font-weight="bold">{name}</text></g>"#,
            tip = escape::text(&tip),
            x0 = num(x0, 1),
            x1 = num(x1, 1),
            w = num(x1 - x0, 1),
            top = num(self.top, 1),
            h = num(self.bottom - self.top, 1),
            bar = num(row_top + 11.0, 1),
            // A label near the right edge is pulled left so it stays inside the picture.
            tx = num((x0 + 2.0).min(WIDTH - 4.0 - label_width(&period.name)), 1),
            ty = num(row_top + 9.0, 1),
            name = escape::text(&period.name),
        );
        self.bands.push('\n');
    }

    fn time_axis(&mut self) {
        let step = ticks::nice_step(self.x.hi, 10);
        let decimals = ticks::decimals(step);
        for t in ticks::ticks(0.0, self.x.hi, step) {
            let px = num(self.x.map(t), 1);
            let _ = writeln!(
                self.grid,
                r##"<path d="M{px} {}V{}" stroke="#e6e6e6"/>"##,
                num(self.top, 1),
                num(self.bottom, 1)
            );
            let _ = writeln!(
                self.axes,
                r##"<path d="M{px} {b}v5" stroke="#555"/><text x="{px}" y="{ty}" text-anchor="middle" fill="#333">{label}</text>"##,
                b = num(self.bottom, 1),
                ty = num(self.bottom + 17.0, 1),
                label = num(t, decimals),
            );
        }
        let _ = writeln!(
            self.axes,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#333" font-size="12">time since the run began (s)</text>"##,
            num((LEFT + RIGHT) / 2.0, 1),
            num(self.bottom + 36.0, 1)
        );
    }

    /// A linear y axis from `lo` to at least `hi`, rounded up to a whole tick; returns the scale.
    pub(crate) fn y_linear(&mut self, lo: f64, hi: f64, label: &str) -> Linear {
        let step = ticks::nice_step((hi - lo).max(1.0), 6);
        let hi = ((hi / step).ceil() * step).max(lo + step);
        let y = Linear {
            lo,
            hi,
            from: self.bottom,
            to: self.top,
        };
        let decimals = ticks::decimals(step);
        for v in ticks::ticks(lo, hi, step) {
            self.y_tick(y.map(v), &num(v, decimals));
        }
        self.y_label(label);
        y
    }

    /// A logarithmic y axis over whole decades enclosing `[min, max]`, ticks labelled by
    /// `label_of` at each decade and faint lines at 2 and 5 times it; returns the scale.
    pub(crate) fn y_log(
        &mut self,
        min: f64,
        max: f64,
        label: &str,
        label_of: impl Fn(f64) -> String,
    ) -> Log10 {
        let (lo, hi) = ticks::decades(min, max);
        let y = Log10 {
            lo,
            hi,
            from: self.bottom,
            to: self.top,
        };
        let mut decade = lo;
        while decade <= hi * 1.000_001 {
            self.y_tick(y.map(decade), &label_of(decade));
            for minor in [2.0, 5.0] {
                let v = decade * minor;
                if v < hi {
                    let _ = writeln!(
                        self.grid,
                        r##"<path d="M{LEFT} {py}H{RIGHT}" stroke="#f0f0f0"/>"##,
                        py = num(y.map(v), 1)
                    );
                }
            }
            decade *= 10.0;
        }
        self.y_label(label);
        y
    }

    fn y_tick(&mut self, py: f64, label: &str) {
        let py = num(py, 1);
        let _ = writeln!(
            self.grid,
            r##"<path d="M{LEFT} {py}H{RIGHT}" stroke="#e6e6e6"/>"##
        );
        let _ = writeln!(
            self.axes,
            r##"<path d="M{LEFT} {py}h-5" stroke="#555"/><text x="{tx}" y="{py}" dy="0.35em" text-anchor="end" fill="#333">{label}</text>"##,
            tx = LEFT - 8.0,
            label = escape::text(label),
        );
    }

    fn y_label(&mut self, label: &str) {
        let cy = num((self.top + self.bottom) / 2.0, 1);
        let _ = writeln!(
            self.axes,
            r##"<text transform="translate(18 {cy}) rotate(-90)" text-anchor="middle" fill="#333" font-size="12">{}</text>"##,
            escape::text(label)
        );
    }

    /// The layer drawn above the bands and below the axes.
    pub(crate) fn data(&mut self) -> &mut String {
        &mut self.data
    }

    /// A grey message in the middle of the plot, for when there is nothing to draw.
    pub(crate) fn note(&mut self, text: &str) {
        let _ = writeln!(
            self.axes,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#777" font-size="14">{}</text>"##,
            num((LEFT + RIGHT) / 2.0, 1),
            num((self.top + self.bottom) / 2.0, 1),
            escape::text(text)
        );
    }

    pub(crate) fn legend_heading(&mut self, text: &str) {
        if !self.legend.is_empty() {
            self.legend_y += 6.0;
        }
        let _ = writeln!(
            self.legend,
            r##"<text x="{}" y="{}" fill="#333" font-weight="bold">{}</text>"##,
            RIGHT + 18.0,
            num(self.legend_y + 4.0, 1),
            escape::text(text)
        );
        self.legend_y += LEGEND_ROW;
    }

    /// A legend row whose swatch is `marker` drawn in `colour`.
    pub(crate) fn legend_marker(&mut self, marker: Marker, colour: &str, label: &str) {
        let (cx, cy) = (RIGHT + 26.0, self.legend_y);
        let paint = if marker.hollow() {
            format!(r#"fill="none" stroke="{colour}" stroke-width="1.4""#)
        } else {
            format!(r#"fill="{colour}""#)
        };
        let swatch = format!("<g {paint}>{}</g>", marker.path(cx, cy, 4.0));
        self.legend_row(&swatch, label);
    }

    /// A legend row whose swatch is a short line in `colour`.
    pub(crate) fn legend_line(&mut self, colour: &str, label: &str) {
        let (x, y) = (RIGHT + 18.0, self.legend_y);
        let swatch = format!(
            r#"<path d="M{x} {y}h16" stroke="{colour}" stroke-width="2.5"/>"#,
            y = num(y, 1)
        );
        self.legend_row(&swatch, label);
    }

    /// A legend row for a fault: a swatch shaded like its bands.
    fn legend_fault(&mut self, name: &str) {
        let colour = palette::fault(name);
        let (x, y) = (RIGHT + 18.0, self.legend_y - 6.0);
        let swatch = format!(
            r#"<rect x="{x}" y="{y}" width="16" height="12" fill="{colour}" fill-opacity="0.3" stroke="{colour}"/>"#,
            y = num(y, 1)
        );
        self.legend_row(&swatch, name);
    }

    fn legend_row(&mut self, swatch: &str, label: &str) {
        let _ = writeln!(
            self.legend,
            r##"{swatch}<text x="{}" y="{}" dy="0.35em" fill="#333">{}</text>"##,
            RIGHT + 42.0,
            num(self.legend_y, 1),
            escape::text(label)
        );
        self.legend_y += LEGEND_ROW;
    }

    /// A legend section listing each distinct fault family of `nemesis`, in order of first use.
    pub(crate) fn legend_faults(&mut self, nemesis: &[NemesisPeriod]) {
        let mut seen: Vec<&str> = Vec::new();
        for period in nemesis {
            if !seen.contains(&period.name.as_str()) {
                seen.push(&period.name);
            }
        }
        if seen.is_empty() {
            return;
        }
        self.legend_heading("faults");
        for name in seen {
            self.legend_fault(name);
        }
    }

    /// The whole SVG document.
    pub(crate) fn finish(self) -> String {
        let height = (self.bottom + 50.0).max(self.legend_y + 8.0).ceil();
        let mut svg = String::with_capacity(
            self.grid.len() + self.bands.len() + self.data.len() + self.axes.len() + 2_048,
        );
        let _ = writeln!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"##
        );
        let _ = writeln!(svg, "<title>{}</title>", escape::text(&self.title));
        svg.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n");
        let _ = writeln!(
            svg,
            r##"<text x="{LEFT}" y="{TITLE_Y}" font-size="16" font-weight="bold" fill="#222">{}</text>"##,
            escape::text(&self.title)
        );
        let _ = writeln!(
            svg,
            r##"<text x="{LEFT}" y="{SUBTITLE_Y}" font-size="12" fill="#555">{}</text>"##,
            escape::text(&self.subtitle)
        );
        svg.push_str(&self.grid);
        svg.push_str(&self.bands);
        svg.push_str(&self.data);
        let _ = writeln!(
            svg,
            r##"<path d="M{LEFT} {top}V{bottom}H{RIGHT}" fill="none" stroke="#555"/>"##,
            top = num(self.top, 1),
            bottom = num(self.bottom, 1)
        );
        svg.push_str(&self.axes);
        svg.push_str(&self.legend);
        svg.push_str("</svg>\n");
        svg
    }
}

/// About how wide `text` is in the 11 px bold sans-serif of fault labels.
fn label_width(text: &str) -> f64 {
    text.chars().count() as f64 * CHAR_WIDTH
}
