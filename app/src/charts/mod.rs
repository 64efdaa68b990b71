//! Charts for the web app: series in, SVG string out, the same on the server (SSR) and in
//! the browser (WASM), drawn with plotters' SVG backend.
//!
//! [`time_chart`] draws values over time (lines, or stacked columns for counts), with a
//! requirement's target as a dashed line over a lightly shaded violating side, and a
//! tooltip on every point that needs no JavaScript: an invisible hit circle (or, for a
//! column, a rectangle) with an SVG `<title>` child. [`sparkline`] draws the tiny trend on a
//! registry card. For the set editor's side panel, [`distribution_chart`] draws a projected
//! distribution against a requirement's target and [`tradeoff_chart`] the best objective at
//! each target of that requirement (see the `editor` module).
//!
//! The SVG scales: its root has `viewBox="0 0 W H"` and `width="100%"`, so `width` and
//! `height` only set the proportions and the size of text relative to the drawing.
//!
//! # Text is never measured
//!
//! Without a font feature, plotters measures text two different ways: natively with a crude
//! estimate (0.7 em per byte), and on wasm32 by appending a `<span>` to the page's `<body>`
//! and reading its size, which lays the page out again for every label and panics where
//! there is no document. Plotters measures in a few places only: a chart's `caption`, a
//! titled area, the legend of `configure_series_labels`, and labels on a right-hand y axis.
//! This module uses none of them: the label areas and margins have fixed sizes, tick labels
//! sit on the left and bottom axes where plotters places them by anchor (the browser's
//! `text-anchor` aligns them, whatever the font), the title is the page's HTML heading and
//! the SVG's `aria-label`, and the legend is laid out here from a fixed per-character width.
//! So the same input gives the same bytes on both targets, which hydration needs as well.

mod editor;
mod scale;
mod svg;

use std::fmt::Write as _;

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::format::Unit;

pub use editor::{distribution_chart, tradeoff_chart, EDITOR_HEIGHT, EDITOR_WIDTH};

/// Line colours, by a line's palette index (modulo the length): mid tones with at least 3:1
/// contrast against white and against #111, distinct from each other and from the target's
/// red.
pub const PALETTE: [&str; 10] = [
    "#3B82F6", // blue
    "#D97706", // amber
    "#16A34A", // green
    "#8B5CF6", // violet
    "#DB2777", // pink
    "#0891B2", // cyan
    "#65A30D", // lime
    "#EA580C", // orange
    "#A16207", // ochre
    "#C026D3", // magenta
];

/// Values over time, for [`time_chart`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TimeChart {
    /// What the chart shows, e.g. "p90 latency, per model, last 24 h": the page shows it
    /// above the chart; the SVG carries it as its `aria-label`.
    pub title: String,
    pub unit: Unit,
    /// The x range, unix milliseconds.
    pub from_ms: i64,
    pub to_ms: i64,
    /// The width of one point's bucket: a line is broken where a bucket has no point.
    pub bucket_ms: i64,
    pub lines: Vec<ChartLine>,
    /// A requirement's target.
    pub target: Option<Target>,
    /// Shown when no line has a point, e.g. "No requests in the last hour".
    pub empty_message: String,
    pub kind: ChartKind,
}

/// One series of a [`TimeChart`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ChartLine {
    pub label: String,
    /// Index into [`PALETTE`], so that a model keeps its colour across charts.
    pub color: usize,
    /// (bucket start, unix ms; value), sorted by time. A missing bucket (or a value that is
    /// not a number) breaks the line there.
    pub points: Vec<(i64, f64)>,
}

/// A requirement's target value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Target {
    pub value: f64,
    /// True for "at most" (≤): values above the target violate it. False for "at least".
    pub at_most: bool,
}

/// How a [`TimeChart`] draws its series.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ChartKind {
    /// One line per series, with point markers.
    #[default]
    Line,
    /// Stacked columns, one per bucket (for counts: requests, errors by class).
    Bars,
}

// Layout. Fixed sizes only: see "Text is never measured" above.
const MIN_WIDTH: u32 = 200;
const MIN_HEIGHT: u32 = 120;
/// Room for y tick labels such as "$0.00021" or "1.25 s", right-aligned to the axis.
const Y_LABEL_AREA: u32 = 62;
/// Room for x tick labels ("14:05", "Dec 06") under the axis.
const X_LABEL_AREA: u32 = 22;
const MARGIN_LEFT: u32 = 2;
/// Half of the widest x label ("Dec 06") past the last possible tick.
const MARGIN_RIGHT: u32 = 24;
/// Half a tick label above the top tick.
const MARGIN_TOP: u32 = 10;
const MARGIN_BOTTOM: u32 = 2;
const LEGEND_ROW: u32 = 16;
const LEGEND_MAX_ROWS: u32 = 3;
/// Assumed advance of one character at 11 px, for the legend's layout only: generous for
/// system-ui, so entries do not collide when the real font is wider than average.
const CHAR_PX: f64 = 6.6;
/// Swatch and the gap after it, before a legend label.
const SWATCH_PX: i32 = 16;
/// Between two legend entries.
const LEGEND_GAP_PX: i32 = 14;
/// Horizontal pixels per x tick at most (labels are about 35 px wide).
const PX_PER_X_TICK: i32 = 80;
const MAX_X_TICKS: usize = 7;

const FONT: &str = "system-ui, sans-serif";
const LABEL_PX: f64 = 11.0;
const MESSAGE_PX: f64 = 12.0;
/// Plotters' SVG backend writes `font-size` as the style's size divided by 1.24 (its
/// em-to-pixel convention), so a size of `px * 1.24` comes out as `px` (exactly for 11, 12).
const PLOTTERS_FONT_SCALE: f64 = 1.24;
/// Mid grey, about 4.3:1 against white and against #111: text reads on either theme.
const TEXT_GREY: RGBColor = RGBColor(0x77, 0x7B, 0x82);
const TEXT_GREY_HEX: &str = "#777B82";
/// Grid and axes: neutral grey made light by opacity, so it recedes on either background.
const GRID: RGBAColor = RGBAColor(128, 128, 128, 0.22);
const AXIS: RGBAColor = RGBAColor(128, 128, 128, 0.6);
const TARGET_RED_HEX: &str = "#DC2626";
const VIOLATION_SHADE: RGBAColor = RGBAColor(0xDC, 0x26, 0x26, 0.08);
/// Radius of the invisible circle that catches the pointer over a point.
const HIT_RADIUS: u32 = 6;

type DrawResult<T> = Result<T, DrawingAreaErrorKind<std::io::Error>>;
type Root<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws `chart` as an SVG document laid out in `width` x `height` pixels (at least
/// 200 x 120), scaling to its container's width.
///
/// Lines are drawn in their palette colour with small markers (left out when points are
/// closer than 5 px; a point alone between two gaps always gets one); each point is placed
/// at the middle of its bucket. Bars stack the lines in the given order, bottom first, each
/// column as wide as a bucket less a tenth on each side; a value of zero or less adds no
/// segment (nor a tooltip) to its column.
pub fn time_chart(chart: &TimeChart, width: u32, height: u32) -> String {
    let (w, h) = (width.max(MIN_WIDTH), height.max(MIN_HEIGHT));
    render(w, h, &chart.title, &chart.empty_message, |root| {
        draw_time_chart(root, chart, w)
    })
}

/// Runs `draw` on a `w` x `h` SVG canvas and finishes the document: the scalable root tag named `label`,
/// and the overlay `draw` returns on top. If drawing fails, a frame with `fallback_message` instead.
fn render(
    w: u32,
    h: u32,
    label: &str,
    fallback_message: &str,
    draw: impl FnOnce(&Root<'_>) -> DrawResult<String>,
) -> String {
    let mut doc = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut doc, (w, h)).into_drawing_area();
        draw(&root).and_then(|overlay| root.present().map(|()| overlay))
    };
    let root_tag = svg::root_tag(w, h, svg::Role::Img(label));
    drawn
        .ok()
        .and_then(|overlay| svg::finish(&doc, &root_tag, &overlay))
        .unwrap_or_else(|| svg::fallback(w, h, label, fallback_message, TEXT_GREY_HEX, FONT))
}

/// A tiny trend without axes (e.g. requests per hour over the last 24 h), for cards: a line
/// over a light fill, from zero up to the highest value plus 10 %. Empty or all-zero input
/// draws a flat baseline; values that are not numbers count as zero.
pub fn sparkline(values: &[f64], width: u32, height: u32) -> String {
    let (w, h) = (width.max(8), height.max(4));
    let mut values: Vec<f64> = values.iter().map(|v| if v.is_finite() { *v } else { 0.0 }).collect();
    if values.len() < 2 {
        // One value (or none) is a level, drawn across the whole width.
        let v = values.first().copied().unwrap_or(0.0);
        values = vec![v, v];
    }
    let mut doc = String::new();
    let drawn = {
        let root = SVGBackend::with_string(&mut doc, (w, h)).into_drawing_area();
        draw_sparkline(&root, &values).and_then(|()| root.present())
    };
    let root_tag = svg::root_tag(w, h, svg::Role::Decorative);
    drawn
        .ok()
        .and_then(|()| svg::finish(&doc, &root_tag, ""))
        .unwrap_or_else(|| format!("{root_tag}</svg>\n"))
}

fn draw_sparkline(root: &Root<'_>, values: &[f64]) -> DrawResult<()> {
    let max = values.iter().copied().fold(0.0, f64::max);
    let min = values.iter().copied().fold(0.0, f64::min);
    let hi = if max > 0.0 { max * 1.1 } else { 1.0 };
    let last = (values.len() - 1) as f64;
    let mut chart = ChartBuilder::on(root)
        .margin(2)
        .build_cartesian_2d(0.0..last, min..hi)?;
    let color = palette_color(0);
    let points = values.iter().enumerate().map(|(i, v)| (i as f64, *v));
    chart.draw_series(AreaSeries::new(points, 0.0, color.mix(0.15)).border_style(color.stroke_width(2)))?;
    Ok(())
}

/// The RGB of palette entry `index` (wrapping).
fn palette_color(index: usize) -> RGBColor {
    let hex = PALETTE[index % PALETTE.len()].trim_start_matches('#');
    let byte = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|s| u8::from_str_radix(s, 16).ok())
            .unwrap_or(128)
    };
    RGBColor(byte(0), byte(2), byte(4))
}

fn text_style(px: f64, color: &'static RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    TextStyle::from((FONT, px * PLOTTERS_FONT_SCALE).into_font())
        .color(color)
        .pos(Pos::new(h, v))
}

/// A value axis, linear or logarithmic, with the round ticks of its [`scale::Scale`] and no minor grid.
/// (Plotters' `with_key_points` would do for a linear one, but its f64 axis then lacks a label formatter;
/// and its log axis picks its own ticks.)
#[derive(Clone)]
struct ValueAxis {
    /// Linear over positions: values, or their logarithms on a log axis.
    positions: RangedCoordf64,
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<f64>,
}

impl ValueAxis {
    fn new(scale: &scale::Scale) -> Self {
        let log = scale.log && scale.lo > 0.0;
        let at = |v: f64| if log { v.ln() } else { v };
        ValueAxis {
            positions: (at(scale.lo)..at(scale.hi)).into(),
            lo: scale.lo,
            hi: scale.hi,
            log,
            ticks: scale.ticks.clone(),
        }
    }

    /// Where `value` lies along the axis, in the units of `positions`. A log axis puts zero and below at
    /// its low end: callers keep what they draw within the range anyway.
    fn position(&self, value: f64) -> f64 {
        if self.log {
            value.max(self.lo).ln()
        } else {
            value
        }
    }
}

impl Ranged for ValueAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.positions.map(&self.position(*value), limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// A series ready to draw: its points inside the x range with finite values.
struct Series<'a> {
    label: &'a str,
    color: RGBColor,
    points: Vec<(i64, f64)>,
}

/// One column segment of a stacked bar: bucket start, bottom and top value.
type Segment = (i64, f64, f64);

/// Draws everything plotters can and returns what it cannot, the overlay (target line and
/// its label, hover targets) to put on top.
fn draw_time_chart(root: &Root<'_>, c: &TimeChart, w: u32) -> DrawResult<String> {
    // Times start within what a date can show (years -9999 to 9999) and span at most twice
    // that, so that no sum of times below overflows; an empty or reversed range becomes a
    // minute (or a bucket) long.
    let from = c.from_ms.clamp(-scale::MAX_MS, scale::MAX_MS);
    let to = if c.to_ms > from {
        c.to_ms.min(2 * scale::MAX_MS)
    } else {
        from + c.bucket_ms.clamp(60_000, scale::MAX_MS)
    };
    let bucket = c.bucket_ms.clamp(0, to - from);
    let series: Vec<Series<'_>> = c
        .lines
        .iter()
        .map(|line| Series {
            label: &line.label,
            color: palette_color(line.color),
            points: line
                .points
                .iter()
                .copied()
                .filter(|&(t, v)| v.is_finite() && from <= t && t < to)
                .collect(),
        })
        .collect();
    let empty = series.iter().all(|s| s.points.is_empty());
    let target = c.target.filter(|t| t.value.is_finite());

    // Bars stack in the given order; the y axis must hold the stacks' tops.
    let stacks: Vec<Vec<Segment>> = match c.kind {
        ChartKind::Line => Vec::new(),
        ChartKind::Bars => stack(&series),
    };
    let values: Vec<f64> = match c.kind {
        ChartKind::Line => series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).collect(),
        ChartKind::Bars => stacks.iter().flatten().map(|seg| seg.2).collect(),
    };
    let ys = scale::y_scale(
        values.into_iter().chain(target.map(|t| t.value)),
        c.unit,
        c.kind == ChartKind::Bars,
    );

    let plot_left = (MARGIN_LEFT + Y_LABEL_AREA) as i32;
    let plot_right = (w - MARGIN_RIGHT) as i32;
    let legend = if series.len() >= 2 && !empty {
        legend_layout(&series, plot_left, plot_right)
    } else {
        Legend::default()
    };
    let top = MARGIN_TOP + legend.rows * LEGEND_ROW;

    let dates = scale::shows_dates(from, to);
    let max_x_ticks = (((plot_right - plot_left) / PX_PER_X_TICK).max(2) as usize).min(MAX_X_TICKS);
    let x_ticks = scale::time_ticks(from, to, max_x_ticks);

    let mut chart = ChartBuilder::on(root)
        .margin_top(top)
        .margin_right(MARGIN_RIGHT)
        .margin_left(MARGIN_LEFT)
        .margin_bottom(MARGIN_BOTTOM)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d((from..to).with_key_points(x_ticks), ValueAxis::new(&ys))?;

    let x_label = |t: &i64| scale::tick_label(*t, dates);
    let unit = c.unit;
    let y_label = |v: &f64| unit.axis(*v);
    chart
        .configure_mesh()
        .bold_line_style(GRID.stroke_width(1))
        .axis_style(AXIS.stroke_width(1))
        .set_all_tick_mark_size(3)
        .x_label_style(text_style(LABEL_PX, &TEXT_GREY, HPos::Center, VPos::Top))
        .y_label_style(text_style(LABEL_PX, &TEXT_GREY, HPos::Right, VPos::Center))
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .draw()?;

    if let Some(t) = target {
        let (lo, hi) = if t.at_most { (t.value, ys.hi) } else { (ys.lo, t.value) };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(from, lo), (to, hi)],
            VIOLATION_SHADE.filled(),
        )))?;
    }

    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    let mut hits = String::new();
    let hover = |label: &str, t: i64, v: f64| -> String {
        let mut text = String::new();
        if !label.is_empty() {
            text.push_str(label);
            text.push_str(" · ");
        }
        text.push_str(&scale::hover_time(t, dates));
        text.push_str(" · ");
        text.push_str(&unit.format(v));
        text
    };

    match c.kind {
        ChartKind::Line => {
            let half = bucket / 2;
            // Markers only while they stay apart: a point per bucket (or per point when
            // buckets are unknown) across the plot's width.
            let per_point = if bucket > 0 {
                bucket as f64
            } else {
                (to - from) as f64 / series.iter().map(|s| s.points.len()).max().unwrap_or(1).max(1) as f64
            };
            let spacing = per_point / (to - from) as f64 * f64::from(x_px.end - x_px.start);
            let marker = if spacing >= 5.0 { 2 } else { 0 };
            for s in &series {
                let style = ShapeStyle {
                    color: s.color.to_rgba(),
                    filled: true,
                    stroke_width: 2,
                };
                for run in s.points.chunk_by(|a, b| bucket == 0 || b.0 - a.0 <= bucket) {
                    let at = run.iter().map(|&(t, v)| (t + half, v));
                    if run.len() == 1 {
                        chart.draw_series(at.map(|p| Circle::new(p, 3, style)))?;
                    } else {
                        chart.draw_series(LineSeries::new(at, style).point_size(marker))?;
                    }
                }
            }
            for s in &series {
                for &(t, v) in &s.points {
                    let (x, y) = chart.backend_coord(&(t + half, v));
                    let _ = write!(
                        hits,
                        r#"<circle cx="{x}" cy="{y}" r="{HIT_RADIUS}"><title>{}</title></circle>"#,
                        svg::escape(&hover(s.label, t, v))
                    );
                }
            }
        }
        ChartKind::Bars => {
            let width = if bucket > 0 { bucket } else { ((to - from) / 100).max(1) };
            let inset = width / 10;
            for (s, segments) in series.iter().zip(&stacks) {
                let fill = s.color.filled();
                chart.draw_series(
                    segments
                        .iter()
                        .map(|&(t, lo, hi)| Rectangle::new([(t + inset, lo), ((t + width - inset).min(to), hi)], fill)),
                )?;
                for &(t, lo, hi) in segments {
                    let top_left = chart.backend_coord(&(t + inset, hi));
                    let bottom_right = chart.backend_coord(&((t + width - inset).min(to), lo));
                    hit_rect(&mut hits, top_left, bottom_right, &hover(s.label, t, hi - lo));
                }
            }
        }
    }

    draw_legend(root, &legend, &series, c.kind)?;

    if empty {
        let centre = ((x_px.start + x_px.end) / 2, (y_px.start + y_px.end) / 2);
        let style = text_style(MESSAGE_PX, &TEXT_GREY, HPos::Center, VPos::Center);
        root.draw(&Text::new(c.empty_message.as_str(), centre, style))?;
    }

    let mut overlay = String::new();
    if let Some(t) = target {
        let y = chart.backend_coord(&(from, t.value)).1;
        target_line(&mut overlay, (x_px.start, y), (x_px.end, y));
        // Above the line, unless that would leave the plot.
        let label_y = if y - 16 >= y_px.start { y - 4 } else { y + 13 };
        let text = format!("target {}", unit.format(t.value));
        overlay_text(&mut overlay, (x_px.end - 4, label_y), "end", TARGET_RED_HEX, &text);
    }
    push_hits(&mut overlay, &hits);
    Ok(overlay)
}

/// A target's dashed red line from `a` to `b` (pixels), written onto `overlay`: plotters draws no dashes.
fn target_line(overlay: &mut String, (x1, y1): (i32, i32), (x2, y2): (i32, i32)) {
    let _ = write!(
        overlay,
        r#"<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{TARGET_RED_HEX}" stroke-width="1.5" stroke-dasharray="6 4"/>"#,
    );
}

/// `text` at `at` (pixels) in the label size, aligned by `anchor` ("start", "middle", "end"): the browser
/// aligns it, so its width is never needed.
fn overlay_text(overlay: &mut String, (x, y): (i32, i32), anchor: &str, color: &str, text: &str) {
    let _ = write!(
        overlay,
        r#"<text x="{x}" y="{y}" text-anchor="{anchor}" font-family="{FONT}" font-size="{LABEL_PX}" fill="{color}">{}</text>"#,
        svg::escape(text),
    );
}

/// A hover target over the rectangle between two corners (pixels, at least 1 x 1) with `title` as its
/// tooltip, onto `hits` (see [`push_hits`]).
fn hit_rect(hits: &mut String, (x0, y0): (i32, i32), (x1, y1): (i32, i32), title: &str) {
    let _ = write!(
        hits,
        r#"<rect x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>"#,
        x0.min(x1),
        y0.min(y1),
        (x1 - x0).abs().max(1),
        (y1 - y0).abs().max(1),
        svg::escape(title),
    );
}

/// Puts the hover targets on top of the overlay: invisible but hit-testable, so the browser shows each
/// `<title>` on hover without any script.
fn push_hits(overlay: &mut String, hits: &str) {
    if !hits.is_empty() {
        overlay.push_str(r#"<g fill="transparent" pointer-events="all">"#);
        overlay.push_str(hits);
        overlay.push_str("</g>");
    }
}

/// Each series' column segments, stacked in series order over the buckets they share.
fn stack(series: &[Series<'_>]) -> Vec<Vec<Segment>> {
    let mut tops: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter(|p| p.1 > 0.0)
                .map(|&(t, v)| {
                    let base = tops.entry(t).or_insert(0.0);
                    let segment = (t, *base, *base + v);
                    *base += v;
                    segment
                })
                .collect()
        })
        .collect()
}

/// Where each legend entry goes: rows across the top, from the plot's left edge.
#[derive(Debug, Default)]
struct Legend {
    rows: u32,
    /// (series index, x, row, text as shown).
    entries: Vec<(usize, i32, u32, String)>,
    /// "+N more" at (x, row) when not all entries fit in the rows allowed.
    more: Option<(i32, u32, String)>,
}

fn text_px(text: &str) -> i32 {
    (text.chars().count() as f64 * CHAR_PX).ceil() as i32
}

fn legend_layout(series: &[Series<'_>], left: i32, right: i32) -> Legend {
    let room = (right - left - SWATCH_PX).max(1);
    let max_chars = ((f64::from(room) / CHAR_PX) as usize).max(4);
    let mut legend = Legend::default();
    let (mut x, mut row) = (left, 0);
    for (i, s) in series.iter().enumerate() {
        let text: String = if s.label.chars().count() > max_chars {
            s.label.chars().take(max_chars - 1).chain(['…']).collect()
        } else {
            s.label.to_owned()
        };
        let width = SWATCH_PX + text_px(&text);
        if x > left && x + width > right {
            x = left;
            row += 1;
        }
        legend.entries.push((i, x, row, text));
        x += width + LEGEND_GAP_PX;
    }
    if row >= LEGEND_MAX_ROWS {
        // Keep the rows allowed and end the last with "+N more", dropping entries from the
        // end of it until that fits.
        legend.entries.retain(|e| e.2 < LEGEND_MAX_ROWS);
        let last_row = LEGEND_MAX_ROWS - 1;
        loop {
            let hidden = series.len() - legend.entries.len();
            let more = format!("+{hidden} more");
            let end = legend
                .entries
                .last()
                .filter(|e| e.2 == last_row)
                .map_or(left, |e| e.1 + SWATCH_PX + text_px(&e.3) + LEGEND_GAP_PX);
            if end + text_px(&more) <= right || legend.entries.last().is_none_or(|e| e.2 != last_row) {
                legend.more = Some((end, last_row, more));
                break;
            }
            legend.entries.pop();
        }
        row = last_row;
    }
    legend.rows = row + 1;
    legend
}

fn draw_legend(root: &Root<'_>, legend: &Legend, series: &[Series<'_>], kind: ChartKind) -> DrawResult<()> {
    // Rows from 4 px down; the plot starts below the last (see `top` in draw_time_chart).
    let row_y = |row: u32| (4 + row * LEGEND_ROW + LEGEND_ROW / 2) as i32;
    let style = text_style(LABEL_PX, &TEXT_GREY, HPos::Left, VPos::Center);
    for (i, x, row, text) in &legend.entries {
        let y = row_y(*row);
        let color = series[*i].color;
        match kind {
            ChartKind::Line => {
                // A filled bar rather than a path, so that a chart's polylines are its series.
                root.draw(&Rectangle::new([(*x, y - 1), (x + 12, y + 1)], color.filled()))?;
                root.draw(&Circle::new((x + 6, y), 2, color.filled()))?;
            }
            ChartKind::Bars => root.draw(&Rectangle::new([(x + 1, y - 5), (x + 11, y + 5)], color.filled()))?,
        }
        root.draw(&Text::new(text.as_str(), (x + SWATCH_PX, y), style.clone()))?;
    }
    if let Some((x, row, text)) = &legend.more {
        root.draw(&Text::new(text.as_str(), (*x, row_y(*row)), style))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
