//! The set editor's two charts, for the requirement being edited: where the projected mix's values fall
//! against its target ([`distribution_chart`]), and what each other target would cost
//! ([`tradeoff_chart`]). Both are small (the side panel is about 360 px wide, see [`EDITOR_WIDTH`]) and
//! follow the module's rules: fixed label areas, nothing measured, targets as dashed red lines, a
//! `<title>` on everything worth hovering.
//!
//! Values read as the rest of the app reads them ([`crate::describe`]): latency in ms or s, cost per
//! request in dollars, error rate in percent, eval scores as plain numbers ("0.85"). Axes over latency,
//! TTFT and cost turn logarithmic when they span more than tenfold ([`log_scaled`]), as the engine's
//! density bins and trade-off sweep do, so a bin or a step is equally wide across the chart.

use std::ops::Range;

use plotters::coord::CoordTranslate;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{
    hit_rect, overlay_text, palette_color, push_hits, render, scale, svg, target_line, text_px, text_style, DrawResult,
    Root, ValueAxis, AXIS, FONT, GRID, LABEL_PX, MARGIN_BOTTOM, MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MESSAGE_PX,
    MIN_HEIGHT, MIN_WIDTH, PALETTE, TARGET_RED_HEX, TEXT_GREY, TEXT_GREY_HEX, VIOLATION_SHADE, X_LABEL_AREA,
    Y_LABEL_AREA,
};
use crate::describe;
use crate::engine::estimate::has_distribution;
use crate::engine::{log_scaled, DensityBin, Interval, Tradeoff, TradeoffPoint};
use crate::format::{self, Unit};
use crate::model_set::{Comparator, Dimension, Objective, Requirement};

/// The size the editor's side panel draws these charts at (they scale to its width).
pub const EDITOR_WIDTH: u32 = 340;
pub const EDITOR_HEIGHT: u32 = 140;

/// Palette index of the density's bars and the trade-off's line.
const MIX: usize = 0;
/// Palette index of the projected statistic (its band and marker): violet, apart from the bars' blue and
/// the target's red.
const PROJECTION: usize = 3;
/// Opacity of the density's bars, so the projection's band shows through.
const BAR_OPACITY: f64 = 0.55;
/// Opacity of the projection's band behind the bars, and of the interval bar drawn without a density.
const BAND_OPACITY: f64 = 0.18;
const INTERVAL_OPACITY: f64 = 0.35;
/// Left margin of a chart without y labels: half the widest x label, before the first tick.
const NO_Y_LABELS_LEFT: u32 = MARGIN_RIGHT;
/// Horizontal pixels per x tick at least: value labels ("1.5 s", "$0.0004") are up to about 50 px wide.
const PX_PER_VALUE_TICK: i32 = 60;
/// Room above the tallest bar, as a multiple of it, for the label rows at the top of the plot.
const DENSITY_HEADROOM: f64 = 1.6;
/// Baselines of the label rows below the plot's top: the projection's, then the target's.
const ROW_1: i32 = 11;
const ROW_2: i32 = 24;
/// The narrowest bar of a density (see [`bars`]) and band of an interval, in pixels.
const MIN_BAR_PX: i32 = 3;
const MIN_BAND_PX: i32 = 3;
/// Half the width of the hover target over a vertical line.
const LINE_HIT: i32 = 4;

/// The unit a dimension's values are shown in. Eval scores have none ([`value_text`] shows them plain);
/// they are shares of 1 as far as an axis's range goes.
fn unit_of(d: &Dimension) -> Unit {
    match d {
        Dimension::Cost => Unit::UsdPerRequest,
        Dimension::Latency | Dimension::Ttft => Unit::Ms,
        Dimension::Throughput => Unit::TokensPerS,
        Dimension::ErrorRate | Dimension::Eval(_) => Unit::Share,
    }
}

/// A value with its unit, for a label or a tooltip: "2.1 s", "$0.00041 / req", "1.2 %", "0.85".
fn value_text(d: &Dimension, v: f64) -> String {
    match d {
        Dimension::Eval(_) => describe::value(d, v),
        _ => unit_of(d).format(v),
    }
}

/// A tick label: "400 ms", "$0.002", "2 %", "0.85".
fn tick_text(d: &Dimension, v: f64) -> String {
    match d {
        Dimension::Eval(_) => format::compact(v),
        _ => unit_of(d).axis(v),
    }
}

/// "p90", "mean": any statistic of error rate is its mean (the engine's rule: a proportion has no
/// percentiles).
fn statistic_short(r: &Requirement) -> &'static str {
    if has_distribution(&r.dimension) {
        describe::statistic(r.statistic)
    } else {
        "mean"
    }
}

/// "p90 latency", "mean cost per request".
fn statistic_name(r: &Requirement) -> String {
    format!("{} {}", statistic_short(r), describe::dimension(&r.dimension))
}

/// The smallest and largest finite values, `None` when there are none.
fn min_max(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, v| match acc {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// At most this many x ticks fit between two pixel columns.
fn max_value_ticks(left: i32, right: i32) -> usize {
    ((right - left) / PX_PER_VALUE_TICK).max(2) as usize
}

type ValueChart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<ValueAxis, ValueAxis>>;

/// Grid, axes and tick labels as [`super::time_chart`] draws them; y labels only when `y` is given.
fn draw_mesh(chart: &mut ValueChart<'_, '_>, x: &Dimension, y: Option<&Dimension>) -> DrawResult<()> {
    let x_label = |v: &f64| tick_text(x, *v);
    let y_label = |v: &f64| y.map(|d| tick_text(d, *v)).unwrap_or_default();
    chart
        .configure_mesh()
        .bold_line_style(GRID.stroke_width(1))
        .axis_style(AXIS.stroke_width(1))
        .set_all_tick_mark_size(3)
        .x_label_style(text_style(LABEL_PX, &TEXT_GREY, HPos::Center, VPos::Top))
        .y_label_style(text_style(LABEL_PX, &TEXT_GREY, HPos::Right, VPos::Center))
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .draw()
}

/// A label beside the vertical line at `x` (pixels): on the side away from `avoid` (another line it
/// should not cross) when it fits there, otherwise on the side with more of the plot (`plot`), so that it
/// stays inside. Whether it fits is judged by the legend's generous per-character width: the layout still
/// never waits on the real text's size.
fn side_label(overlay: &mut String, x: i32, y: i32, plot: &Range<i32>, avoid: Option<i32>, color: &str, text: &str) {
    let need = text_px(text) + 4;
    let (room_left, room_right) = (x - plot.start, plot.end - x);
    let prefer_right = match avoid {
        Some(a) => a < x,
        None => room_right >= room_left,
    };
    let right = if prefer_right {
        room_right >= need || room_right >= room_left
    } else {
        !(room_left >= need || room_left >= room_right)
    };
    let (anchor, at) = if right { ("start", x + 4) } else { ("end", x - 4) };
    overlay_text(overlay, (at, y), anchor, color, text);
}

/// A message centred in the plot, as [`super::time_chart`] shows its empty message.
fn centred_message(root: &Root<'_>, x: &Range<i32>, y: &Range<i32>, message: &str) -> DrawResult<()> {
    let centre = ((x.start + x.end) / 2, (y.start + y.end) / 2);
    let style = text_style(MESSAGE_PX, &TEXT_GREY, HPos::Center, VPos::Center);
    root.draw(&Text::new(message, centre, style))
}

/// The projected distribution of `requirement`'s dimension for the editor, drawn `width` x `height`
/// (at least 200 x 120; [`EDITOR_WIDTH`] x [`EDITOR_HEIGHT`] in the side panel).
///
/// * `density`: the mix's distribution, from [`crate::engine::mixture_density`] with the plan's weights,
///   drawn as bars (their share of requests on hover). The y axis has no labels: the bars' heights only
///   compare with each other, and every label area given to them is taken from the narrow plot.
/// * `projected`: the requirement's statistic of the mix with its interval (the projection's
///   [`RequirementCheck::projected`](crate::engine::RequirementCheck)), drawn as a band from low to high
///   with a marker at the value, so that an estimate never looks more certain than it is.
/// * The requirement's target: a dashed red line, the side that violates it lightly shaded.
///
/// Without a density (error rate has no distribution, only a share of failures; or the mix has no
/// histogram yet), the interval alone is drawn as a bar against the target on a linear axis from zero.
/// With neither, the chart says there is no data yet.
pub fn distribution_chart(
    requirement: &Requirement,
    density: &[DensityBin],
    projected: Option<Interval>,
    width: u32,
    height: u32,
) -> String {
    let (w, h) = (width.max(MIN_WIDTH), height.max(MIN_HEIGHT));
    let dim = &requirement.dimension;
    let label = format!(
        "Projected {} against “{}”",
        describe::dimension(dim),
        describe::requirement(requirement)
    );
    let bins: Vec<DensityBin> = density
        .iter()
        .copied()
        .filter(|b| b.low.is_finite() && b.high.is_finite() && b.high > b.low && b.share.is_finite() && b.share >= 0.0)
        .collect();
    let projected = projected.filter(|i| [i.low, i.value, i.high].iter().all(|v| v.is_finite()));
    let no_data = format!("No data on {} yet", describe::dimension(dim));
    if !bins.iter().any(|b| b.share > 0.0) && projected.is_none() {
        return svg::fallback(w, h, &label, &no_data, TEXT_GREY_HEX, FONT);
    }
    render(w, h, &label, &no_data, |root| {
        draw_distribution(root, requirement, &bins, projected, w)
    })
}

/// The density's bins as drawn: runs of bins too narrow to see (a spike far from its target, on an axis
/// stretched to hold both) merged until each bar is at least [`MIN_BAR_PX`] wide, shares added up.
fn bars(bins: &[DensityBin], px: impl Fn(f64) -> i32) -> Vec<DensityBin> {
    let mut out = Vec::new();
    let mut open: Option<DensityBin> = None;
    for b in bins {
        let bar = match open {
            Some(o) => DensityBin {
                low: o.low,
                high: b.high,
                share: o.share + b.share,
            },
            None => *b,
        };
        if px(bar.high) - px(bar.low) >= MIN_BAR_PX {
            out.push(bar);
            open = None;
        } else {
            open = Some(bar);
        }
    }
    out.extend(open);
    out
}

fn draw_distribution(
    root: &Root<'_>,
    r: &Requirement,
    bins: &[DensityBin],
    projected: Option<Interval>,
    w: u32,
) -> DrawResult<String> {
    let dim = &r.dimension;
    let target = Some(r.target).filter(|t| t.is_finite());
    let density = bins.iter().any(|b| b.share > 0.0);
    let markers = projected.iter().flat_map(|i| [i.low, i.value, i.high]).chain(target);
    let (lo, hi, log) = if density {
        let edges = bins.iter().flat_map(|b| [b.low, b.high]);
        let (lo, hi) = min_max(edges.chain(markers)).unwrap_or((0.0, 1.0));
        (lo, hi, log_scaled(dim, lo, hi))
    } else {
        // An interval alone reads against zero.
        let (_, hi) = min_max(markers.chain([0.0])).unwrap_or((0.0, 1.0));
        (0.0, hi * 1.1, false)
    };
    let (left, right) = (NO_Y_LABELS_LEFT as i32, (w - MARGIN_RIGHT) as i32);
    let xs = scale::x_scale(lo, hi, unit_of(dim), log, max_value_ticks(left, right));
    let cx = |v: f64| v.clamp(xs.lo, xs.hi);
    let bars = {
        let axis = ValueAxis::new(&xs);
        bars(bins, |v| axis.map(&cx(v), (left, right)))
    };
    let tallest = bars.iter().map(|b| b.share).fold(0.0, f64::max);
    let ys = scale::Scale {
        lo: 0.0,
        hi: if density { tallest * DENSITY_HEADROOM } else { 1.0 },
        ticks: Vec::new(),
        log: false,
    };
    let mut chart = ChartBuilder::on(root)
        .margin_top(MARGIN_TOP)
        .margin_right(MARGIN_RIGHT)
        .margin_left(NO_Y_LABELS_LEFT)
        .margin_bottom(MARGIN_BOTTOM)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(0)
        .build_cartesian_2d(ValueAxis::new(&xs), ValueAxis::new(&ys))?;
    draw_mesh(&mut chart, dim, None)?;
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();
    // Pixels of values, through a copy of the chart's own mapping (the chart is drawn on meanwhile).
    let coord = chart.as_coord_spec().clone();
    let px = |v: f64| coord.translate(&(cx(v), ys.lo)).0;
    let py = |v: f64| coord.translate(&(xs.lo, v)).1;

    if let Some(t) = target {
        let (a, b) = match r.comparator {
            Comparator::AtMost => (cx(t), xs.hi),
            Comparator::AtLeast => (xs.lo, cx(t)),
        };
        chart.draw_series(std::iter::once(Rectangle::new(
            [(a, ys.lo), (b, ys.hi)],
            VIOLATION_SHADE.filled(),
        )))?;
    }
    // With a density the band spans the plot behind the bars; alone it is a bar across the middle. Either
    // way at least MIN_BAND_PX wide, so a tight interval still shows as one.
    let violet = palette_color(PROJECTION);
    let (band_y, band_opacity, mark_y) = if density {
        ((y_px.start, y_px.end), BAND_OPACITY, (ys.lo, ys.hi))
    } else {
        ((py(0.65), py(0.35)), INTERVAL_OPACITY, (0.25, 0.75))
    };
    let band_x = projected.map(|i| {
        let (l, h, v) = (px(i.low), px(i.high), px(i.value));
        if h - l >= MIN_BAND_PX {
            (l, h)
        } else {
            (v - MIN_BAND_PX / 2, v - MIN_BAND_PX / 2 + MIN_BAND_PX)
        }
    });
    if let Some((l, h)) = band_x {
        root.draw(&Rectangle::new(
            [(l, band_y.0), (h, band_y.1)],
            violet.mix(band_opacity).filled(),
        ))?;
    }
    let blue = palette_color(MIX);
    chart.draw_series(bars.iter().filter(|b| b.share > 0.0).map(|b| {
        Rectangle::new(
            [(cx(b.low), 0.0), (cx(b.high), b.share)],
            blue.mix(BAR_OPACITY).filled(),
        )
    }))?;
    if let Some(i) = projected {
        let v = cx(i.value);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(v, mark_y.0), (v, mark_y.1)],
            violet.stroke_width(2),
        )))?;
    }

    let mut overlay = String::new();
    let mut hits = String::new();
    let target_x = target.map(px);
    let projection_title = projected.map(|i| {
        format!(
            "{} {} (likely {} – {})",
            statistic_name(r),
            value_text(dim, i.value),
            value_text(dim, i.low),
            value_text(dim, i.high)
        )
    });
    let mut row = ROW_1;
    if let (Some(i), Some(title), Some((l, h))) = (projected, &projection_title, band_x) {
        let text = format!("{} {}", statistic_short(r), value_text(dim, i.value));
        let y = y_px.start + row;
        side_label(
            &mut overlay,
            px(i.value),
            y,
            &x_px,
            target_x,
            PALETTE[PROJECTION],
            &text,
        );
        row = ROW_2;
        hit_rect(&mut hits, (l, band_y.0), (h, band_y.1), title);
    }
    for b in bars.iter().filter(|b| b.share > 0.0) {
        let title = format!(
            "{} – {} · {} of requests",
            value_text(dim, b.low),
            value_text(dim, b.high),
            format::percent(b.share)
        );
        hit_rect(&mut hits, (px(b.low), py(b.share)), (px(b.high), y_px.end), &title);
    }
    if let (Some(i), Some(title)) = (projected, &projection_title) {
        // The marker's own target, over the bars it crosses.
        let x = px(i.value);
        hit_rect(&mut hits, (x - LINE_HIT, y_px.start), (x + LINE_HIT, y_px.end), title);
    }
    if let (Some(t), Some(x)) = (target, target_x) {
        target_line(&mut overlay, (x, y_px.start), (x, y_px.end));
        let text = format!("target {}", value_text(dim, t));
        let marker = projected.map(|i| px(i.value));
        side_label(&mut overlay, x, y_px.start + row, &x_px, marker, TARGET_RED_HEX, &text);
        let title = format!("target: {}", describe::requirement(r));
        hit_rect(&mut hits, (x - LINE_HIT, y_px.start), (x + LINE_HIT, y_px.end), &title);
    }
    push_hits(&mut overlay, &hits);
    Ok(overlay)
}

/// The trade-off curve of `requirement` for the editor, drawn `width` x `height` (at least 200 x 120;
/// [`EDITOR_WIDTH`] x [`EDITOR_HEIGHT`] in the side panel): x is the requirement's target, y the best
/// `objective` the planner reaches there ([`crate::engine::tradeoff()`]).
///
/// A line runs through the achievable points; where the plan cannot meet every requirement there is no
/// line and the plot is shaded like a violated target, labelled "not achievable" where there is room.
/// The current target is a dashed red line with its point ringed. Every point's column carries a tooltip
/// such as "p90 latency ≤ 2.4 s → $0.00041 / req". A curve of fewer than two targets (nothing measured
/// on the requirement's dimension yet) is a message instead, as is a curve with nothing achievable or no
/// objective data.
pub fn tradeoff_chart(
    tradeoff: &Tradeoff,
    objective: &Objective,
    requirement: &Requirement,
    width: u32,
    height: u32,
) -> String {
    let (w, h) = (width.max(MIN_WIDTH), height.max(MIN_HEIGHT));
    let (Objective::Minimize(od) | Objective::Maximize(od)) = objective;
    let label = format!(
        "Best {} for each target of {}",
        describe::dimension(od),
        statistic_name(requirement)
    );
    let mut points: Vec<TradeoffPoint> = tradeoff
        .points
        .iter()
        .copied()
        .filter(|p| p.target.is_finite())
        .collect();
    points.sort_by(|a, b| a.target.total_cmp(&b.target));
    let too_few = format!(
        "Too little data on {} to compare targets",
        describe::dimension(&requirement.dimension)
    );
    if points.len() < 2 {
        return svg::fallback(w, h, &label, &too_few, TEXT_GREY_HEX, FONT);
    }
    render(w, h, &label, &too_few, |root| {
        draw_tradeoff(root, &points, tradeoff.current_target, od, requirement, w)
    })
}

/// The objective an achievable point reaches, if known.
fn reached(p: &TradeoffPoint) -> Option<f64> {
    p.objective.filter(|v| p.feasible && v.is_finite())
}

fn draw_tradeoff(
    root: &Root<'_>,
    points: &[TradeoffPoint],
    current: f64,
    od: &Dimension,
    r: &Requirement,
    w: u32,
) -> DrawResult<String> {
    let rd = &r.dimension;
    let current = Some(current).filter(|c| c.is_finite());
    let (lo, hi) = min_max(points.iter().map(|p| p.target).chain(current)).unwrap_or((0.0, 1.0));
    let (left, right) = ((MARGIN_LEFT + Y_LABEL_AREA) as i32, (w - MARGIN_RIGHT) as i32);
    let xs = scale::x_scale(
        lo,
        hi,
        unit_of(rd),
        log_scaled(rd, lo, hi),
        max_value_ticks(left, right),
    );
    let ys = scale::y_scale(points.iter().filter_map(reached), unit_of(od), false);
    let mut chart = ChartBuilder::on(root)
        .margin_top(MARGIN_TOP)
        .margin_right(MARGIN_RIGHT)
        .margin_left(MARGIN_LEFT)
        .margin_bottom(MARGIN_BOTTOM)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(ValueAxis::new(&xs), ValueAxis::new(&ys))?;
    draw_mesh(&mut chart, rd, Some(od))?;
    let cx = |v: f64| v.clamp(xs.lo, xs.hi);
    let (x_px, y_px) = chart.plotting_area().get_pixel_range();

    // Each point owns the column halfway to its neighbours (pixels): its tooltip's area, and the extent
    // of its shade when it is not achievable.
    let at: Vec<i32> = points
        .iter()
        .map(|p| chart.backend_coord(&(cx(p.target), ys.lo)).0)
        .collect();
    let columns: Vec<(i32, i32)> = (0..at.len())
        .map(|i| {
            let l = if i == 0 { x_px.start } else { (at[i - 1] + at[i]) / 2 };
            let r = if i + 1 == at.len() {
                x_px.end
            } else {
                (at[i] + at[i + 1]) / 2
            };
            (l, r)
        })
        .collect();
    let mut unreachable: Vec<(i32, i32)> = Vec::new();
    for (p, &(l, r)) in points.iter().zip(&columns) {
        if p.feasible {
            continue;
        }
        match unreachable.last_mut() {
            Some(span) if span.1 == l => span.1 = r,
            _ => unreachable.push((l, r)),
        }
    }
    for &(l, r) in &unreachable {
        root.draw(&Rectangle::new(
            [(l, y_px.start), (r, y_px.end)],
            VIOLATION_SHADE.filled(),
        ))?;
    }

    let blue = palette_color(MIX);
    let style = ShapeStyle {
        color: blue.to_rgba(),
        filled: true,
        stroke_width: 2,
    };
    let spacing = f64::from(x_px.end - x_px.start) / (points.len() - 1).max(1) as f64;
    let marker = if spacing >= 5.0 { 2 } else { 0 };
    for run in points.chunk_by(|a, b| reached(a).is_some() == reached(b).is_some()) {
        let line: Vec<(f64, f64)> = run
            .iter()
            .filter_map(|p| reached(p).map(|v| (cx(p.target), v)))
            .collect();
        match line.len() {
            0 => {}
            1 => {
                chart.draw_series(line.into_iter().map(|p| Circle::new(p, 3, style)))?;
            }
            _ => {
                chart.draw_series(LineSeries::new(line, style).point_size(marker))?;
            }
        }
    }
    let now = points.iter().position(|p| Some(p.target) == current);
    if let Some(v) = now.and_then(|i| reached(&points[i]).map(|v| (cx(points[i].target), v))) {
        chart.draw_series([
            Circle::new(v, 6, blue.stroke_width(2)),
            Circle::new(v, 3, blue.filled()),
        ])?;
    }

    if points.iter().all(|p| !p.feasible) {
        centred_message(root, &x_px, &y_px, "Not achievable at any of these targets")?;
    } else if points.iter().all(|p| reached(p).is_none()) {
        centred_message(
            root,
            &x_px,
            &y_px,
            &format!("No data on {} yet", describe::dimension(od)),
        )?;
    } else if let Some(&(l, r)) = unreachable.iter().max_by_key(|(l, r)| r - l) {
        let text = "not achievable";
        if r - l >= text_px(text) + 8 {
            let y = (y_px.start + y_px.end) / 2;
            root.draw(&Text::new(
                text,
                ((l + r) / 2, y),
                text_style(LABEL_PX, &TEXT_GREY, HPos::Center, VPos::Center),
            ))?;
        }
    }

    let mut overlay = String::new();
    let mut hits = String::new();
    if let Some(c) = current {
        let x = chart.backend_coord(&(cx(c), ys.lo)).0;
        target_line(&mut overlay, (x, y_px.start), (x, y_px.end));
        let text = format!("target {}", value_text(rd, c));
        side_label(&mut overlay, x, y_px.start + ROW_1, &x_px, None, TARGET_RED_HEX, &text);
    }
    let mut at_target = r.clone();
    for (i, (p, &(l, rt))) in points.iter().zip(&columns).enumerate() {
        at_target.target = p.target;
        let outcome = match (p.feasible, reached(p)) {
            (true, Some(v)) => value_text(od, v),
            (true, None) => format!("no data on {}", describe::dimension(od)),
            (false, _) => "not achievable".to_owned(),
        };
        let mut title = format!("{} → {outcome}", describe::requirement(&at_target));
        if Some(i) == now {
            title.push_str(" (current target)");
        }
        hit_rect(&mut hits, (l, y_px.start), (rt, y_px.end), &title);
    }
    push_hits(&mut overlay, &hits);
    Ok(overlay)
}
