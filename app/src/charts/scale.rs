//! Axis ranges and round ticks: values on y (and on x for the editor's charts, linear or logarithmic), UTC
//! times on x.

use time::{macros::format_description, OffsetDateTime};

use crate::format::Unit;

/// A value axis: its range, the round values that get a tick and a grid line, and whether positions go
/// by log(value) rather than by value.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub ticks: Vec<f64>,
    pub log: bool,
}

/// About five intervals between ticks (so four to seven ticks on the axis).
const Y_INTERVALS: f64 = 5.0;

/// The y range for `values` (finite ones; others are skipped) and the target's value: from
/// zero for amounts that add up (or when asked, as for stacked bars), or when the data reach
/// down to half their maximum anyway; otherwise from just below the data. 10 % headroom
/// above the highest value, then out to the next round tick.
pub(super) fn y_scale(values: impl IntoIterator<Item = f64>, unit: Unit, from_zero: bool) -> Scale {
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        min = min.min(v);
        max = max.max(v);
    }
    if unit == Unit::Score {
        // Scores are read against the whole scale, whatever the data: 0.85 near the top.
        return ticks_over(0.0, 1.0, unit);
    }
    if min > max {
        // Nothing to show: an axis that reads sensibly for the unit.
        let hi = match unit {
            Unit::Ms => 1000.0,
            Unit::Usd => 1.0,
            Unit::UsdPerRequest => 0.01,
            Unit::Share => 1.0,
            Unit::TokensPerS => 100.0,
            Unit::Requests => 10.0,
            Unit::Tokens => 1000.0,
            Unit::Score => 1.0,
        };
        return ticks_over(0.0, hi, unit);
    }
    let zero_based = from_zero || unit.starts_at_zero() || min <= max * 0.5;
    let mut lo = if zero_based { min.min(0.0) } else { min };
    let span = max - lo;
    let mut hi = if span > 0.0 {
        max + span * 0.1
    } else if max > 0.0 {
        max * 1.1
    } else if max < 0.0 {
        0.0
    } else {
        // All zero: an axis with the zero line at the bottom.
        match unit {
            Unit::Share => 1.0,
            _ if unit.is_whole() => 10.0,
            _ => 1.0,
        }
    };
    if !zero_based {
        lo = min - (hi - min) * 0.1;
    }
    // A share needs no room above 100 %.
    if unit == Unit::Share && max <= 1.0 && hi > 1.0 {
        hi = 1.0;
    }
    ticks_over(lo, hi, unit)
}

/// Round ticks covering lo..hi, the range widened out to the first and last tick.
fn ticks_over(lo: f64, hi: f64, unit: Unit) -> Scale {
    let (mut nice, mut exp) = nice_step((hi - lo) / Y_INTERVALS);
    if unit.is_whole() && exp < 0 {
        (nice, exp) = (1.0, 0);
    }
    // k steps of nice x 10^exp, dividing for negative powers: 3 x 1 / 10 is exactly 0.3,
    // where 3 x 0.1 is 0.30000000000000004.
    let at = |k: f64| {
        if exp >= 0 {
            k * nice * 10f64.powi(exp)
        } else {
            k * nice / 10f64.powi(-exp)
        }
    };
    let step = at(1.0);
    let first = (lo / step).floor();
    let last = (hi / step).ceil().max(first + 1.0);
    // Values at the ends of f64 (1e-320, 1e308) make no step: a plain axis instead.
    if !(step > 0.0 && first.is_finite() && last.is_finite() && last - first <= 100.0) {
        return Scale {
            lo: 0.0,
            hi: 1.0,
            ticks: vec![0.0, 0.25, 0.5, 0.75, 1.0],
            log: false,
        };
    }
    let ticks: Vec<f64> = (0..=(last - first) as i64).map(|k| at(first + k as f64)).collect();
    Scale {
        lo: at(first),
        hi: at(last),
        ticks,
        log: false,
    }
}

/// `m` × 10^`exp`, dividing for negative powers so that 2 × 10^-4 is exactly 0.0002.
fn times_ten_to(m: f64, exp: i32) -> f64 {
    if exp >= 0 {
        m * 10f64.powi(exp)
    } else {
        m / 10f64.powi(-exp)
    }
}

/// The share of an x axis's span (of its logarithm on a log axis) left spare at each end, so that the
/// first and last values do not sit on the frame.
const END_PAD: f64 = 0.04;

/// The next smaller of the 1, 2, 5 steps.
fn smaller_step((nice, exp): (f64, i32)) -> (f64, i32) {
    if nice > 2.0 {
        (2.0, exp)
    } else if nice > 1.0 {
        (1.0, exp)
    } else {
        (5.0, exp - 1)
    }
}

/// Round values inside lo..=hi, at most `max_ticks`: the largest 1-2-5 step that gives at least two
/// (or, if halving it would give too many, the one it gives).
fn inner_ticks(lo: f64, hi: f64, unit: Unit, max_ticks: usize) -> Vec<f64> {
    let mut step = nice_step((hi - lo) / (max_ticks.max(2) - 1) as f64);
    let mut ticks = Vec::new();
    for _ in 0..4 {
        if unit.is_whole() && step.1 < 0 {
            step = (1.0, 0);
        }
        let size = times_ten_to(step.0, step.1);
        let (first, last) = ((lo / size).ceil(), (hi / size).floor());
        if !(size > 0.0 && first.is_finite() && last.is_finite() && last - first < 100.0) {
            break;
        }
        let count = (last - first + 1.0).max(0.0) as i64;
        let next: Vec<f64> = (0..count)
            .map(|k| times_ten_to(step.0 * (first + k as f64), step.1))
            .collect();
        if next.len() > max_ticks {
            break;
        }
        ticks = next;
        if ticks.len() >= 2 || (unit.is_whole() && step == (1.0, 0)) {
            break;
        }
        step = smaller_step(step);
    }
    ticks
}

/// An x axis over values from `lo` to `hi` with at most `max_ticks` ticks (at least 2).
///
/// The range is padded by [`END_PAD`] at each end (not below zero for a range that starts at or above it)
/// and keeps its ends, rather than widening out to round ticks as y axes do: on a narrow x axis that
/// could waste half the width. With `log` (and `lo` > 0), positions go by log(value) and the ticks are the
/// round values 1, 2 and 5 × 10^k inside the range, thinned to 1 and 3, then to whole decades, then to
/// every few decades while there are more than `max_ticks`; a range too narrow for two of them is linear
/// instead. A linear axis has the largest round step giving two ticks or more. An empty range is widened
/// by 10 % each way (to 0..1 at zero), and values that are not numbers give the unit's default range.
pub(super) fn x_scale(lo: f64, hi: f64, unit: Unit, log: bool, max_ticks: usize) -> Scale {
    let max_ticks = max_ticks.max(2);
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return y_scale([], unit, false);
    }
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else if hi != 0.0 {
        let pad = hi.abs() * 0.1;
        (lo - pad, hi + pad)
    } else {
        (0.0, 1.0)
    };
    let linear = |lo: f64, hi: f64| {
        let pad = (hi - lo) * END_PAD;
        let lo = if lo >= 0.0 { (lo - pad).max(0.0) } else { lo - pad };
        let hi = hi + pad;
        let ticks = inner_ticks(lo, hi, unit, max_ticks);
        Scale {
            lo,
            hi,
            ticks,
            log: false,
        }
    };
    if !(log && lo > 0.0) {
        return linear(lo, hi);
    }
    let pad = (hi / lo).powf(END_PAD);
    let (lo, hi) = (lo / pad, hi * pad);
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let within = |mantissas: &[f64], every: i32| -> Vec<f64> {
        (first..=last)
            .filter(|e| (e - first) % every == 0)
            .flat_map(|e| mantissas.iter().map(move |&m| times_ten_to(m, e)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let mut ticks = Vec::new();
    for mantissas in [&[1.0, 2.0, 5.0][..], &[1.0, 3.0], &[1.0]] {
        ticks = within(mantissas, 1);
        if ticks.len() <= max_ticks {
            break;
        }
    }
    let mut every = 2;
    while ticks.len() > max_ticks {
        ticks = within(&[1.0], every);
        every += 1;
    }
    if ticks.len() < 2 {
        // Too narrow a range for round values a few apart in ratio: a linear axis reads better.
        return linear(lo * pad, hi / pad);
    }
    Scale {
        lo,
        hi,
        ticks,
        log: true,
    }
}

/// The first of 1, 2 or 5 times a power of ten that is at least `raw`, as (1, 2 or 5;
/// the power).
fn nice_step(raw: f64) -> (f64, i32) {
    if !(raw.is_finite() && raw > 0.0) {
        return (1.0, 0);
    }
    let exp = raw.log10().floor() as i32;
    let norm = raw / 10f64.powi(exp);
    if norm <= 1.0 {
        (1.0, exp)
    } else if norm <= 2.0 {
        (2.0, exp)
    } else if norm <= 5.0 {
        (5.0, exp)
    } else {
        (1.0, exp + 1)
    }
}

/// The end of year 9999 in unix ms: a chart's range starts within +-MAX_MS and ends by
/// 2 x MAX_MS, so that sums of a few times and steps cannot overflow an i64.
pub(super) const MAX_MS: i64 = 253_402_300_799_999;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
pub(super) const DAY: i64 = 24 * HOUR;

/// Steps between time ticks for ranges up to a day, shown as HH:MM.
const CLOCK_STEPS: [i64; 14] = [
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    4 * HOUR,
    6 * HOUR,
    8 * HOUR,
    12 * HOUR,
    DAY,
];

/// Steps for longer ranges, shown as dates; whole days from midnight UTC.
const DATE_STEPS: [i64; 8] = [DAY, 2 * DAY, 3 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY, 364 * DAY];

/// Whether a range is shown with dates rather than clock times.
pub(super) fn shows_dates(from_ms: i64, to_ms: i64) -> bool {
    to_ms.saturating_sub(from_ms) > DAY
}

/// Round UTC times in from..=to, at most `max_ticks` of them: the smallest step of the
/// lists above that keeps within that count, at whole multiples of the step (midnight UTC
/// for days, since the epoch started at one).
pub(super) fn time_ticks(from_ms: i64, to_ms: i64, max_ticks: usize) -> Vec<i64> {
    let max_ticks = max_ticks.max(2) as i64;
    let steps: &[i64] = if shows_dates(from_ms, to_ms) {
        &DATE_STEPS
    } else {
        &CLOCK_STEPS
    };
    let count = |step: i64| to_ms.div_euclid(step) - (from_ms + step - 1).div_euclid(step) + 1;
    let step = steps
        .iter()
        .copied()
        .find(|&step| count(step) <= max_ticks)
        .unwrap_or_else(|| {
            // Beyond the lists (years): multiples of the last step.
            let last = steps[steps.len() - 1];
            let span = to_ms.saturating_sub(from_ms).max(1);
            last * (span / (last * max_ticks) + 1)
        });
    let first = (from_ms + step - 1).div_euclid(step) * step;
    (0..)
        .map(|k| first + k * step)
        .take_while(|&t| t <= to_ms)
        .take(max_ticks as usize)
        .collect()
}

fn utc(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

/// An x tick's label: "14:05" for ranges up to a day, "Dec 06" beyond.
pub(super) fn tick_label(ms: i64, dates: bool) -> String {
    let Some(at) = utc(ms) else { return String::new() };
    let text = if dates {
        at.format(format_description!("[month repr:short] [day]"))
    } else {
        at.format(format_description!("[hour]:[minute]"))
    };
    text.unwrap_or_default()
}

/// A point's time in its tooltip: "14:05 UTC", with the date too ("Dec 06 14:05 UTC") when
/// the chart spans more than a day.
pub(super) fn hover_time(ms: i64, dates: bool) -> String {
    let Some(at) = utc(ms) else { return String::new() };
    let text = if dates {
        at.format(format_description!("[month repr:short] [day] [hour]:[minute] UTC"))
    } else {
        at.format(format_description!("[hour]:[minute] UTC"))
    };
    text.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn y_ranges_are_round_and_start_at_zero_for_amounts() {
        let s = y_scale([120.0, 412.0], Unit::Ms, false);
        assert_eq!(s.lo, 0.0);
        assert_eq!(s.hi, 500.0);
        assert_eq!(s.ticks, vec![0.0, 100.0, 200.0, 300.0, 400.0, 500.0]);

        // Latencies bunched high start near them, not at zero.
        let s = y_scale([380.0, 460.0], Unit::Ms, false);
        assert!(s.lo > 300.0 && s.lo <= 380.0, "{s:?}");
        assert!(s.hi >= 460.0 * 1.0 && s.hi <= 500.0, "{s:?}");
        // ... but costs always start at zero.
        let s = y_scale([0.38, 0.46], Unit::Usd, false);
        assert_eq!(s.lo, 0.0);
        assert!(s.hi >= 0.46 * 1.1 - 1e-12);

        // 10 % headroom: 100 does not sit on the top edge.
        let s = y_scale([100.0], Unit::Requests, false);
        assert!(s.hi >= 110.0, "{s:?}");
        // Whole units never get fractional ticks.
        let s = y_scale([2.0], Unit::Requests, false);
        assert!(s.ticks.iter().all(|t| t.fract() == 0.0), "{s:?}");
        // Shares stop at 100 %.
        let s = y_scale([0.5, 0.97], Unit::Share, false);
        assert_eq!(s.hi, 1.0);
        assert!((4..=8).contains(&s.ticks.len()), "{s:?}");
        // Nothing, all zero and NaN still give a usable axis.
        for s in [
            y_scale([], Unit::Ms, false),
            y_scale([0.0, 0.0], Unit::Requests, false),
            y_scale([f64::NAN], Unit::Usd, false),
        ] {
            assert_eq!(s.lo, 0.0);
            assert!(s.hi > 0.0 && s.ticks.len() >= 2, "{s:?}");
        }
        // Eval scores are drawn on the whole 0–1 scale, data or not.
        for s in [
            y_scale([0.81, 0.9], Unit::Score, false),
            y_scale([], Unit::Score, false),
        ] {
            assert_eq!((s.lo, s.hi), (0.0, 1.0));
            assert_eq!(s.ticks, vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
        }
        // Tick values stay clean multiples.
        let s = y_scale([0.27], Unit::Usd, false);
        assert!(s.ticks.contains(&0.3) || s.ticks.contains(&0.25), "{s:?}");
    }

    #[test]
    fn x_scales_are_logarithmic_over_decades_and_round_either_way() {
        // 300 ms to 30 s: three decades, so no room for 1-2-5 or 1-3 at 4 ticks: decades.
        let s = x_scale(300.0, 30_000.0, Unit::Ms, true, 4);
        assert!(s.log && s.lo < 300.0 && s.hi > 30_000.0, "{s:?}");
        assert_eq!(s.ticks, vec![1000.0, 10_000.0]);
        let s = x_scale(300.0, 30_000.0, Unit::Ms, true, 5);
        assert_eq!(s.ticks, vec![300.0, 1000.0, 3000.0, 10_000.0, 30_000.0]);
        let s = x_scale(300.0, 30_000.0, Unit::Ms, true, 6);
        assert_eq!(s.ticks, vec![500.0, 1000.0, 2000.0, 5000.0, 10_000.0, 20_000.0]);
        // Tiny costs get exact round ticks.
        let s = x_scale(0.00012, 0.004, Unit::UsdPerRequest, true, 6);
        assert_eq!(s.ticks, vec![0.0002, 0.0005, 0.001, 0.002]);
        // Many decades: every other one.
        let s = x_scale(1e-6, 1e3, Unit::Usd, true, 4);
        assert!(s.ticks.len() <= 4 && s.ticks.len() >= 2, "{s:?}");
        // Linear: the data's range (a little padded, not widened to 0..4 s) with round ticks inside it.
        let s = x_scale(350.0, 2900.0, Unit::Ms, false, 4);
        assert!(
            !s.log && s.lo < 350.0 && s.lo > 200.0 && s.hi > 2900.0 && s.hi < 3100.0,
            "{s:?}"
        );
        assert_eq!(s.ticks, vec![1000.0, 2000.0, 3000.0]);
        let s = x_scale(380.0, 460.0, Unit::Ms, false, 4);
        assert!((2..=4).contains(&s.ticks.len()), "{s:?}");
        assert!(
            s.ticks.iter().all(|t| t % 10.0 == 0.0 && (s.lo..=s.hi).contains(t)),
            "{s:?}"
        );
        // Shares from zero keep their zero tick; tiny amounts get exact ones.
        let s = x_scale(0.0, 0.022, Unit::Share, false, 4);
        assert_eq!((s.lo, s.ticks[0]), (0.0, 0.0));
        assert_eq!(s.ticks, vec![0.0, 0.01, 0.02]);
        // Whole units never get fractional ticks, even over a short range.
        let s = x_scale(2.0, 3.0, Unit::Requests, false, 4);
        assert!(s.ticks.iter().all(|t| t.fract() == 0.0), "{s:?}");
        // Log asked with zero at the low end: linear.
        assert!(!x_scale(0.0, 100.0, Unit::Ms, true, 4).log);
        // Degenerate ranges still give an axis.
        for s in [
            x_scale(5.0, 5.0, Unit::Ms, true, 4),
            x_scale(0.0, 0.0, Unit::Share, false, 4),
            x_scale(f64::NAN, 1.0, Unit::Ms, false, 4),
        ] {
            assert!(s.hi > s.lo && s.ticks.len() >= 2, "{s:?}");
        }
    }

    #[test]
    fn time_ticks_are_round_and_few() {
        let from = 1_765_000_000_000; // 2025-12-06 05:46:40 UTC
        let ticks = time_ticks(from, from + DAY, 7);
        assert!((4..=7).contains(&ticks.len()), "{ticks:?}");
        assert!(ticks.iter().all(|t| t % (4 * HOUR) == 0), "{ticks:?}");
        assert_eq!(tick_label(ticks[0], false), "08:00");

        let ticks = time_ticks(from, from + HOUR, 7);
        assert!((4..=7).contains(&ticks.len()), "{ticks:?}");
        assert!(ticks.iter().all(|t| t % (10 * MINUTE) == 0), "{ticks:?}");

        let ticks = time_ticks(from, from + 7 * DAY, 7);
        assert!(ticks.iter().all(|t| t % DAY == 0), "{ticks:?}");
        assert_eq!(tick_label(ticks[0], true), "Dec 07");
        assert!(shows_dates(from, from + 7 * DAY));
        assert!(!shows_dates(from, from + DAY));

        let ticks = time_ticks(from, from + 4000 * DAY, 6);
        assert!(!ticks.is_empty() && ticks.len() <= 6, "{ticks:?}");

        assert_eq!(hover_time(from, false), "05:46 UTC");
        assert_eq!(hover_time(from, true), "Dec 06 05:46 UTC");
    }
}
