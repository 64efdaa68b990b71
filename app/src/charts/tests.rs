use super::*;

/// 2025-12-06 00:00 UTC.
const DAY0: i64 = 1_764_979_200_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;

fn line(label: &str, color: usize, points: Vec<(i64, f64)>) -> ChartLine {
    ChartLine {
        label: label.into(),
        color,
        points,
    }
}

/// A latency chart over the 24 h of 2025-12-06, 5-minute buckets.
fn day_chart(lines: Vec<ChartLine>) -> TimeChart {
    TimeChart {
        title: "p90 latency, per model, last 24 h".into(),
        unit: Unit::Ms,
        from_ms: DAY0,
        to_ms: DAY0 + 24 * HOUR,
        bucket_ms: 5 * MIN,
        lines,
        target: None,
        empty_message: "No requests in the last 24 h".into(),
        kind: ChartKind::Line,
    }
}

/// The value of attribute `name` in `tag` (the text of one element).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

fn num(tag: &str, name: &str) -> f64 {
    attr(tag, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {name} in {tag}"))
}

/// Every element `<name ...>` (up to its first `>`), in order.
fn tags<'a>(svg: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name} ");
    svg.match_indices(&open)
        .map(|(i, _)| &svg[i..i + svg[i..].find('>').unwrap_or(0) + 1])
        .collect()
}

/// The polylines drawn in `color` (plotters writes upper-case hex).
fn polylines<'a>(svg: &'a str, color: &str) -> Vec<&'a str> {
    tags(svg, "polyline")
        .into_iter()
        .filter(|t| attr(t, "stroke") == Some(color))
        .collect()
}

fn points_of(polyline: &str) -> Vec<(i32, i32)> {
    attr(polyline, "points")
        .unwrap_or("")
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').expect("x,y");
            (x.parse().expect("x"), y.parse().expect("y"))
        })
        .collect()
}

#[test]
fn every_point_has_a_title_with_its_formatted_value() {
    let mini = line(
        "gpt-4o-mini",
        0,
        vec![(DAY0 + 14 * HOUR, 380.0), (DAY0 + 14 * HOUR + 5 * MIN, 412.0)],
    );
    let sonnet = line(
        "claude-sonnet",
        1,
        vec![
            (DAY0 + 14 * HOUR, 1830.0),
            (DAY0 + 14 * HOUR + 5 * MIN, 2200.0),
            (DAY0 + 14 * HOUR + 10 * MIN, 38.46),
        ],
    );
    let svg = time_chart(&day_chart(vec![mini, sonnet]), 640, 240);
    assert_eq!(svg.matches("<title>").count(), 5, "{svg}");
    assert!(svg.contains("<title>gpt-4o-mini · 14:05 UTC · 412 ms</title>"), "{svg}");
    assert!(svg.contains("<title>gpt-4o-mini · 14:00 UTC · 380 ms</title>"));
    assert!(svg.contains("<title>claude-sonnet · 14:00 UTC · 1.83 s</title>"));
    assert!(svg.contains("<title>claude-sonnet · 14:10 UTC · 38.5 ms</title>"));
    // The hit circles are invisible but catch the pointer, and sit on the drawn points.
    assert!(
        svg.contains(r#"<g fill="transparent" pointer-events="all"><circle "#),
        "{svg}"
    );
    let hit = tags(&svg, "circle")
        .into_iter()
        .filter(|t| attr(t, "r") == Some("6"))
        .collect::<Vec<_>>();
    assert_eq!(hit.len(), 5);
    let drawn = points_of(polylines(&svg, PALETTE[0])[0]);
    assert_eq!(drawn.len(), 2);
    assert_eq!((num(hit[1], "cx") as i32, num(hit[1], "cy") as i32), drawn[1]);
    // Higher values are higher on the chart.
    assert!(drawn[1].1 < drawn[0].1);
    // The legend names both lines; the axis is in the chart's unit.
    assert!(
        svg.contains(">\ngpt-4o-mini\n</text>") && svg.contains(">\nclaude-sonnet\n</text>"),
        "{svg}"
    );
    assert!(
        svg.contains(">\n2 s\n</text>") || svg.contains(">\n2.5 s\n</text>"),
        "{svg}"
    );
    assert!(svg.contains(">\n12:00\n</text>"), "{svg}");
}

#[test]
fn a_single_line_has_no_legend() {
    let svg = time_chart(
        &day_chart(vec![line("only-model", 0, vec![(DAY0, 1.0), (DAY0 + 5 * MIN, 2.0)])]),
        640,
        240,
    );
    assert!(!svg.contains(">\nonly-model\n</text>"), "{svg}");
    assert!(svg.contains("<title>only-model · 00:00 UTC · 1.0 ms</title>"));
}

#[test]
fn a_target_is_a_dashed_labelled_line_over_a_shaded_violating_side() {
    let mut chart = day_chart(vec![line(
        "m",
        0,
        vec![(DAY0 + HOUR, 400.0), (DAY0 + HOUR + 5 * MIN, 420.0)],
    )]);
    chart.target = Some(Target {
        value: 3000.0,
        at_most: true,
    });
    let svg = time_chart(&chart, 640, 240);

    let dashed: Vec<&str> = tags(&svg, "line")
        .into_iter()
        .filter(|t| t.contains("stroke-dasharray"))
        .collect();
    assert_eq!(dashed.len(), 1, "{svg}");
    let y = num(dashed[0], "y1");
    assert_eq!(y, num(dashed[0], "y2"));
    assert!(svg.contains(">target 3.0 s</text>"), "{svg}");
    // The target is far above the data, yet on the chart (the y range holds it) and above
    // the points.
    let points = points_of(polylines(&svg, PALETTE[0])[0]);
    assert!(
        y > 0.0 && y < f64::from(points[0].1),
        "target at {y}, data at {points:?}"
    );

    // at most: the shade runs from the top of the plot down to the line.
    let shade = tags(&svg, "rect")
        .into_iter()
        .find(|t| attr(t, "opacity") == Some("0.08"))
        .expect("shade");
    assert_eq!(attr(shade, "fill"), Some(TARGET_RED_HEX));
    assert!(
        (num(shade, "y") + num(shade, "height") - y).abs() <= 1.0,
        "{shade} vs {y}"
    );
    assert!(num(shade, "y") < y);

    // at least: from the line down.
    chart.target = Some(Target {
        value: 3000.0,
        at_most: false,
    });
    let svg = time_chart(&chart, 640, 240);
    let y = num(
        tags(&svg, "line")
            .into_iter()
            .find(|t| t.contains("stroke-dasharray"))
            .expect("target"),
        "y1",
    );
    let shade = tags(&svg, "rect")
        .into_iter()
        .find(|t| attr(t, "opacity") == Some("0.08"))
        .expect("shade");
    assert!((num(shade, "y") - y).abs() <= 1.0, "{shade} vs {y}");
}

#[test]
fn eval_scores_sit_on_a_zero_to_one_axis_with_their_target() {
    let mut chart = day_chart(vec![
        line(
            "Whole set",
            0,
            vec![(DAY0 + 14 * HOUR, 0.8666), (DAY0 + 15 * HOUR, 0.92)],
        ),
        line("openai/gpt-4o", 1, vec![(DAY0 + 14 * HOUR, 0.71)]),
    ]);
    chart.title = "Mean answer relevancy, per model, last 24 h".into();
    chart.unit = Unit::Score;
    chart.bucket_ms = HOUR;
    chart.target = Some(Target {
        value: 0.8,
        at_most: false,
    });
    let svg = time_chart(&chart, 400, 200);
    // Every point's exact value on hover, as a score.
    assert!(svg.contains("<title>Whole set · 14:00 UTC · 0.87</title>"), "{svg}");
    assert!(svg.contains("<title>Whole set · 15:00 UTC · 0.92</title>"), "{svg}");
    assert!(svg.contains("<title>openai/gpt-4o · 14:00 UTC · 0.71</title>"), "{svg}");
    // The target: dashed, labelled as a score, the side below it (at least) shaded.
    let dashed: Vec<&str> = tags(&svg, "line")
        .into_iter()
        .filter(|t| t.contains("stroke-dasharray"))
        .collect();
    assert_eq!(dashed.len(), 1, "{svg}");
    assert!(svg.contains(">target 0.80</text>"), "{svg}");
    let y = num(dashed[0], "y1");
    let shade = tags(&svg, "rect")
        .into_iter()
        .find(|t| attr(t, "opacity") == Some("0.08"))
        .expect("shade");
    assert!((num(shade, "y") - y).abs() <= 1.0, "{shade} vs {y}");
    // The whole 0–1 scale, in round ticks, though the data stay between 0.71 and 0.92.
    for tick in ["0", "0.2", "0.4", "0.6", "0.8", "1"] {
        assert!(svg.contains(&format!(">\n{tick}\n</text>")), "tick {tick}: {svg}");
    }
}

#[test]
fn an_empty_chart_draws_its_frame_and_message() {
    let svg = time_chart(
        &day_chart(vec![line("m", 0, vec![]), line("n", 1, vec![(DAY0, f64::NAN)])]),
        640,
        240,
    );
    assert!(svg.contains(">\nNo requests in the last 24 h\n</text>"), "{svg}");
    // The message is centred in the plot.
    let message = tags(&svg, "text")
        .into_iter()
        .find(|t| attr(t, "text-anchor") == Some("middle") && attr(t, "dy") == Some("0.5ex"));
    let x = num(message.expect("message"), "x");
    assert!((x - f64::from(2 + 62 + 640 - 24) / 2.0).abs() <= 1.0, "{x}");
    // The frame: axes, grid and tick labels, but no series, tooltips or legend.
    assert!(svg.contains(">\n12:00\n</text>"));
    assert!(tags(&svg, "line").len() >= 4, "{svg}");
    assert!(polylines(&svg, PALETTE[0]).is_empty() && polylines(&svg, PALETTE[1]).is_empty());
    assert!(!svg.contains("<title>"));
    assert!(!svg.contains(">\nm\n</text>"));
}

#[test]
fn a_gap_breaks_the_line() {
    let t = |bucket: i64| DAY0 + bucket * 5 * MIN;
    let points = vec![
        (t(0), 1.0),
        (t(1), 2.0),
        (t(2), 3.0),
        (t(5), 2.0),
        (t(6), 1.0),
        (t(9), 5.0),
        (t(11), f64::NAN),
        (t(12), 1.0),
        (t(13), 2.0),
    ];
    let svg = time_chart(&day_chart(vec![line("m", 2, points)]), 640, 240);
    let runs = polylines(&svg, PALETTE[2]);
    let lengths: Vec<usize> = runs.iter().map(|p| points_of(p).len()).collect();
    // 0-2, 5-6, and 12-13 (a NaN is a gap too); 9 stands alone, as a larger dot.
    assert_eq!(lengths, vec![3, 2, 2], "{svg}");
    let alone = tags(&svg, "circle")
        .into_iter()
        .filter(|c| attr(c, "r") == Some("3"))
        .count();
    assert_eq!(alone, 1);
    assert_eq!(svg.matches("<title>").count(), 8);
}

#[test]
fn points_outside_the_range_are_left_out() {
    let points = vec![
        (DAY0 - 5 * MIN, 1.0),
        (DAY0, 2.0),
        (DAY0 + 5 * MIN, 3.0),
        (DAY0 + 24 * HOUR, 4.0),
    ];
    let svg = time_chart(&day_chart(vec![line("m", 0, points)]), 640, 240);
    assert_eq!(svg.matches("<title>").count(), 2);
}

#[test]
fn the_root_scales_and_names_the_chart() {
    let mut chart = day_chart(vec![line("m", 0, vec![(DAY0, 1.0)])]);
    chart.title = "Errors <by class> & \"model\"".into();
    let svg = time_chart(&chart, 640, 240);
    let root = &svg[..svg.find('>').expect("root tag") + 1];
    assert_eq!(
        root,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 240" width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="Errors &lt;by class&gt; &amp; &quot;model&quot;">"#
    );
    assert_eq!(svg.matches("<svg").count(), 1);
    assert_eq!(svg.matches("</svg>").count(), 1);
    assert!(svg.ends_with("</g></svg>\n"), "the overlay comes last: {svg}");
    // Text in the UI's font and sizes, in a grey for both themes.
    assert!(
        svg.contains(r#"font-family="system-ui, sans-serif" font-size="11""#),
        "{svg}"
    );
    assert!(svg.contains(r##"fill="#777B82""##));
    // Too small a size is raised to the minimum.
    assert!(time_chart(&chart, 10, 10).contains(r#"viewBox="0 0 200 120""#));
}

#[test]
fn the_layout_does_not_depend_on_text() {
    // The same values under a unit with longer tick labels ("0.2" against "0.2 ms") and with
    // longer names: plotters measures nothing, so grid, axes, lines and hover targets stay put.
    let chart = |unit: Unit, a: &str, b: &str| TimeChart {
        unit,
        ..day_chart(vec![
            line(a, 0, vec![(DAY0, 0.5), (DAY0 + 5 * MIN, 0.8)]),
            line(b, 1, vec![(DAY0, 0.2), (DAY0 + 5 * MIN, 0.3)]),
        ])
    };
    let short = time_chart(&chart(Unit::TokensPerS, "a", "b"), 640, 240);
    let long = time_chart(
        &chart(Unit::Ms, "a-much-longer-model-name", "another-long-one"),
        640,
        240,
    );
    assert!(short.contains(">\n0.2\n</text>") && long.contains(">\n0.2 ms\n</text>"));
    assert_eq!(tags(&short, "line"), tags(&long, "line"));
    for color in ["#808080", PALETTE[0], PALETTE[1]] {
        assert_eq!(polylines(&short, color), polylines(&long, color), "{color}");
    }
    let hits = |svg: &str| {
        tags(svg, "circle")
            .into_iter()
            .filter(|t| attr(t, "r") == Some("6"))
            .collect::<Vec<_>>()
            .join("")
    };
    assert_eq!(hits(&short), hits(&long));
    // And the same input gives the same bytes, as hydration needs.
    assert_eq!(
        long,
        time_chart(
            &chart(Unit::Ms, "a-much-longer-model-name", "another-long-one"),
            640,
            240
        )
    );
}

#[test]
fn stacked_bars_stack_and_have_titles() {
    let mut chart = day_chart(vec![
        line("ok", 2, vec![(DAY0 + HOUR, 10.0), (DAY0 + 2 * HOUR, 20.0)]),
        line("timeout", 1, vec![(DAY0 + HOUR, 5.0), (DAY0 + 2 * HOUR, 0.0)]),
    ]);
    chart.unit = Unit::Requests;
    chart.bucket_ms = HOUR;
    chart.kind = ChartKind::Bars;
    let svg = time_chart(&chart, 640, 240);
    // Columns are below the legend's row (whose swatches are rects too).
    let columns = |color: &str| -> Vec<&str> {
        tags(&svg, "rect")
            .into_iter()
            .filter(|t| attr(t, "fill") == Some(color) && num(t, "y") > 20.0)
            .collect()
    };
    let bars = columns(PALETTE[2]);
    assert_eq!(bars.len(), 2, "{svg}");
    let timeout = columns(PALETTE[1]);
    assert_eq!(timeout.len(), 1, "a zero adds no segment: {svg}");
    // The timeouts sit on top of the first hour's column.
    assert_eq!(num(timeout[0], "y") + num(timeout[0], "height"), num(bars[0], "y"));
    assert_eq!(num(timeout[0], "x"), num(bars[0], "x"));
    assert!(svg.contains("<title>timeout · 01:00 UTC · 5 req</title>"), "{svg}");
    assert!(svg.contains("<title>ok · 02:00 UTC · 20 req</title>"));
    assert_eq!(svg.matches("<title>").count(), 3);
    // Counts: the axis starts at zero with whole ticks.
    assert!(svg.contains(">\n0\n</text>"));
    assert!(!svg.contains(".5\n</text>"), "{svg}");
}

#[test]
fn longer_ranges_show_dates() {
    let mut chart = day_chart(vec![line("m", 0, vec![(DAY0 + HOUR, 1.0)])]);
    chart.to_ms = DAY0 + 7 * 24 * HOUR;
    chart.bucket_ms = HOUR;
    let svg = time_chart(&chart, 640, 240);
    assert!(svg.contains(">\nDec 08\n</text>"), "{svg}");
    assert!(svg.contains("<title>m · Dec 06 01:00 UTC · 1.0 ms</title>"), "{svg}");
}

#[test]
fn eleven_lines_of_a_hundred_points() {
    let lines: Vec<ChartLine> = (0..11)
        .map(|i| {
            let points = (0..100)
                .map(|k| (DAY0 + k * 10 * MIN, 200.0 + (i * 37 + k * 13) as f64 % 300.0))
                .collect();
            line(&format!("provider/model-{i}"), i as usize, points)
        })
        .collect();
    let mut chart = day_chart(lines);
    chart.bucket_ms = 10 * MIN;
    chart.target = Some(Target {
        value: 450.0,
        at_most: true,
    });
    let svg = time_chart(&chart, 720, 280);
    assert_eq!(svg.matches("<title>").count(), 1100);
    // One unbroken polyline per line; palette index 10 wraps around to the first colour.
    assert_eq!(polylines(&svg, PALETTE[0]).len(), 2);
    for color in &PALETTE[1..] {
        let runs = polylines(&svg, color);
        assert_eq!(runs.len(), 1, "{color}");
        assert_eq!(points_of(runs[0]).len(), 100);
    }
    for i in 0..11 {
        assert!(svg.contains(&format!(">\nprovider/model-{i}\n</text>")), "{i}");
    }
    assert!(svg.contains(">target 450 ms</text>"));
    assert!(svg.ends_with("</svg>\n"));
}

#[test]
fn sparklines() {
    let values: Vec<f64> = (0..24).map(|h| f64::from(h % 7) * 3.0).collect();
    let svg = sparkline(&values, 120, 32);
    assert!(
        svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 32" width="100%""#),
        "{svg}"
    );
    assert!(svg.contains(r#"aria-hidden="true""#));
    let line = polylines(&svg, PALETTE[0]);
    assert_eq!(line.len(), 1, "{svg}");
    let points = points_of(line[0]);
    assert_eq!(points.len(), 24);
    // Left to right, within the drawing, the highest value highest.
    assert!(points.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(points
        .iter()
        .all(|&(x, y)| (0..=120).contains(&x) && (0..=32).contains(&y)));
    let top = points.iter().map(|p| p.1).min();
    assert_eq!(top, Some(points[6].1));
    assert!(tags(&svg, "polygon").len() == 1, "the light fill");

    for flat in [
        sparkline(&[], 120, 32),
        sparkline(&[0.0; 24], 120, 32),
        sparkline(&[f64::NAN], 120, 32),
    ] {
        let line = polylines(&flat, PALETTE[0]);
        assert_eq!(line.len(), 1, "{flat}");
        let points = points_of(line[0]);
        assert!(points.len() >= 2);
        let y = points[0].1;
        assert!(points.iter().all(|p| p.1 == y), "flat: {points:?}");
        assert!(y >= 28, "a baseline at the bottom: {y}");
        assert!(
            points[points.len() - 1].0 - points[0].0 >= 110,
            "across the width: {points:?}"
        );
    }
}

#[test]
fn a_legend_too_long_for_three_rows_ends_in_a_count() {
    let lines: Vec<ChartLine> = (0..11)
        .map(|i| {
            line(
                &format!("provider/model-{i}"),
                i,
                vec![(DAY0, 1.0), (DAY0 + 5 * MIN, 2.0)],
            )
        })
        .collect();
    let svg = time_chart(&day_chart(lines), 360, 240);
    let shown = (0..11)
        .filter(|i| svg.contains(&format!(">\nprovider/model-{i}\n</text>")))
        .count();
    assert!((3..11).contains(&shown), "{shown}: {svg}");
    assert!(svg.contains(&format!(">\n+{} more\n</text>", 11 - shown)), "{svg}");
    // The plot starts below the three rows.
    let axis = polylines(&svg, "#808080")[0];
    assert!(points_of(axis).iter().all(|p| p.1 >= 10 + 3 * 16), "{axis}");
    // Every point still has its tooltip.
    assert_eq!(svg.matches("<title>").count(), 22);
}

#[test]
fn absurd_input_still_draws() {
    let charts = [
        TimeChart {
            from_ms: i64::MIN,
            to_ms: i64::MAX,
            bucket_ms: i64::MAX,
            ..day_chart(vec![line("m", 0, vec![(0, 1.0), (1, 2.0)])])
        },
        TimeChart {
            from_ms: DAY0,
            to_ms: DAY0,
            bucket_ms: -5,
            ..day_chart(vec![line("m", usize::MAX, vec![(DAY0, 1.0)])])
        },
        TimeChart {
            kind: ChartKind::Bars,
            bucket_ms: 0,
            ..day_chart(vec![line("m", 0, vec![(DAY0, 1e308), (DAY0 + MIN, 1e308)])])
        },
        day_chart(vec![line("m", 0, vec![(DAY0, 1e-320), (DAY0 + 5 * MIN, -1e-320)])]),
        TimeChart {
            target: Some(Target {
                value: f64::INFINITY,
                at_most: true,
            }),
            ..day_chart(vec![])
        },
    ];
    for chart in &charts {
        let svg = time_chart(chart, 0, 0);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"), "{svg}");
        assert!(svg.contains("viewBox=\"0 0 200 120\""));
    }
    assert!(sparkline(&[f64::MAX, -f64::MAX, 1.0], 0, 0).ends_with("</svg>\n"));
}

// The set editor's charts.

mod editor_charts {
    use super::{attr, num, polylines, tags};
    use crate::charts::*;
    use crate::engine::plan::observed_model;
    use crate::engine::{mixture_density, plan, project, tradeoff, DensityBin, Interval, ModelInput, PlanOptions};
    use crate::model_set::{Comparator, Dimension, ModelSetSpec, Objective, Requirement, Statistic};

    /// A model answering around `latency` ms (spread over ±40 %), each request at `cost`.
    fn model(id: &str, cost: f64, latency: f64) -> ModelInput {
        observed_model(
            id,
            cost,
            (0..400).map(|i| latency * (0.6 + 0.8 * f64::from(i % 41) / 40.0)),
        )
    }

    fn models() -> Vec<ModelInput> {
        vec![model("cheap", 0.001, 2000.0), model("fast", 0.01, 500.0)]
    }

    fn spec(r: Requirement) -> ModelSetSpec {
        ModelSetSpec {
            models: vec!["cheap".into(), "fast".into()],
            requirements: vec![r],
            objective: Objective::Minimize(Dimension::Cost),
            ..Default::default()
        }
    }

    fn p90(target: f64) -> Requirement {
        Requirement::new(Dimension::Latency, Statistic::P90, Comparator::AtMost, target)
    }

    /// The editor's distribution chart of `r` for `models`, as the page would draw it.
    fn distribution(r: &Requirement, models: &[ModelInput]) -> String {
        let s = spec(r.clone());
        let opts = PlanOptions::default();
        let p = project(&s, models, &opts).expect("projection");
        let weights: Vec<f64> = p.weights.iter().map(|w| w.weight).collect();
        let density = mixture_density(models, &weights, &r.dimension, 40);
        distribution_chart(r, &density, p.requirements[0].projected, EDITOR_WIDTH, EDITOR_HEIGHT)
    }

    fn well_formed(svg: &str) {
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"), "{svg}");
        assert_eq!(svg.matches("<svg").count(), 1);
        assert_eq!(svg.matches("<title>").count(), svg.matches("</title>").count());
        assert!(svg.contains(r#"viewBox="0 0 340 140""#) || svg.contains(r#"viewBox="0 0 200 120""#));
    }

    /// The dashed lines (targets) in `svg`.
    fn dashed(svg: &str) -> Vec<&str> {
        tags(svg, "line")
            .into_iter()
            .filter(|t| t.contains("stroke-dasharray"))
            .collect()
    }

    fn shades(svg: &str) -> Vec<&str> {
        tags(svg, "rect")
            .into_iter()
            .filter(|t| attr(t, "opacity") == Some("0.08"))
            .collect()
    }

    fn titles(svg: &str) -> Vec<&str> {
        svg.match_indices("<title>")
            .map(|(i, _)| &svg[i + 7..i + svg[i..].find("</title>").unwrap_or(7)])
            .collect()
    }

    #[test]
    fn a_distribution_shows_bars_the_projected_band_and_the_target() {
        let r = p90(1500.0);
        let svg = distribution(&r, &models());
        well_formed(&svg);
        assert!(
            svg.contains(r#"aria-label="Projected latency against “p90 latency ≤ 1.5 s”""#),
            "{svg}"
        );
        // The target: one vertical dashed line, the side above it (at most) shaded.
        let lines = dashed(&svg);
        assert_eq!(lines.len(), 1, "{svg}");
        let x = num(lines[0], "x1");
        assert_eq!(x, num(lines[0], "x2"));
        assert!(svg.contains(">target 1.5 s</text>"), "{svg}");
        let shade = shades(&svg);
        assert_eq!(shade.len(), 1, "{svg}");
        assert!((num(shade[0], "x") - x).abs() <= 1.0, "{} vs {x}", shade[0]);
        assert!(num(shade[0], "width") > 20.0);
        // The bars, each with its share of requests on hover, in the mix's colour.
        let bars: Vec<&str> = tags(&svg, "rect")
            .into_iter()
            .filter(|t| attr(t, "fill") == Some(PALETTE[0]))
            .collect();
        assert!(bars.len() >= 20, "{svg}");
        let bar_titles: Vec<&str> = titles(&svg)
            .into_iter()
            .filter(|t| t.ends_with(" of requests"))
            .collect();
        assert_eq!(bar_titles.len(), bars.len());
        // Each bar's hover target lies exactly over it.
        let hits: Vec<&str> = tags(&svg, "rect")
            .into_iter()
            .filter(|t| attr(t, "fill").is_none())
            .collect();
        for bar in &bars {
            let (x, width) = (num(bar, "x"), num(bar, "width"));
            assert!(
                hits.iter().any(|h| num(h, "x") == x && num(h, "width") == width),
                "{bar} in {hits:?}"
            );
        }
        assert!(
            bar_titles.iter().all(|t| t.contains(" ms") || t.contains(" s ")),
            "{bar_titles:?}"
        );
        // The projected p90 as a band (never a bare point) with a marker, in violet, named on hover.
        let band: Vec<&str> = tags(&svg, "rect")
            .into_iter()
            .filter(|t| attr(t, "fill") == Some(PALETTE[3]))
            .collect();
        assert_eq!(band.len(), 1, "{svg}");
        assert!(num(band[0], "width") >= 1.0);
        assert_eq!(polylines(&svg, PALETTE[3]).len(), 1, "the marker");
        let band_title = titles(&svg)
            .into_iter()
            .find(|t| t.starts_with("p90 latency "))
            .expect("the projection's tooltip");
        assert!(
            band_title.contains("(likely ") && band_title.contains(" – "),
            "{band_title}"
        );
        assert!(titles(&svg).contains(&"target: p90 latency ≤ 1.5 s"));
        // The same input, the same bytes.
        assert_eq!(svg, distribution(&r, &models()));
    }

    #[test]
    fn an_at_least_target_shades_below_it() {
        let r = Requirement::new(Dimension::Latency, Statistic::P50, Comparator::AtLeast, 800.0);
        let svg = distribution(&r, &models());
        let x = num(dashed(&svg)[0], "x1");
        let shade = shades(&svg);
        assert_eq!(shade.len(), 1, "{svg}");
        assert!(
            (num(shade[0], "x") + num(shade[0], "width") - x).abs() <= 1.0,
            "{} vs {x}",
            shade[0]
        );
    }

    #[test]
    fn latencies_across_decades_get_a_log_axis_with_even_bars() {
        let wide = vec![model("quick", 0.01, 150.0), model("slow", 0.001, 9000.0)];
        let weights = [0.5, 0.5];
        let density = mixture_density(&wide, &weights, &Dimension::Latency, 30);
        assert_eq!(density.len(), 30);
        // Log-spaced bins ...
        let ratio = density[0].high / density[0].low;
        assert!(
            density.iter().all(|b| (b.high / b.low / ratio - 1.0).abs() < 1e-9),
            "{density:?}"
        );
        let total: f64 = density.iter().map(|b| b.share).sum();
        assert!((0.99..=1.0).contains(&total), "{total}");
        // ... drawn equally wide, under round ticks a decade apart.
        let projected = Interval {
            low: 7000.0,
            value: 8000.0,
            high: 9500.0,
        };
        let svg = distribution_chart(&p90(10_000.0), &density, Some(projected), EDITOR_WIDTH, EDITOR_HEIGHT);
        well_formed(&svg);
        let widths: Vec<f64> = tags(&svg, "rect")
            .into_iter()
            .filter(|t| attr(t, "fill") == Some(PALETTE[0]))
            .map(|t| num(t, "width"))
            .collect();
        assert!(widths.len() >= 10, "{svg}");
        let (min, max) = widths
            .iter()
            .fold((f64::MAX, 0.0f64), |(a, b), w| (a.min(*w), b.max(*w)));
        assert!(max - min <= 1.0, "{widths:?}");
        assert!(
            svg.contains(">\n1 s\n</text>") && svg.contains(">\n100 ms\n</text>"),
            "{svg}"
        );
        assert!(svg.contains(">p90 8.0 s</text>"), "{svg}");
    }

    #[test]
    fn an_error_rate_is_an_interval_against_the_target() {
        let r = Requirement::new(Dimension::ErrorRate, Statistic::Mean, Comparator::AtMost, 0.02);
        let projected = Interval {
            low: 0.008,
            value: 0.012,
            high: 0.019,
        };
        let svg = distribution_chart(&r, &[], Some(projected), EDITOR_WIDTH, EDITOR_HEIGHT);
        well_formed(&svg);
        assert_eq!(dashed(&svg).len(), 1);
        assert!(svg.contains(">target 2.0 %</text>"), "{svg}");
        assert!(svg.contains(">mean 1.2 %</text>"), "{svg}");
        assert!(
            titles(&svg).contains(&"mean error rate 1.2 % (likely 0.80 % – 1.9 %)"),
            "{svg}"
        );
        // The interval is a bar across the middle, from low to high.
        let bar = tags(&svg, "rect")
            .into_iter()
            .find(|t| attr(t, "fill") == Some(PALETTE[3]))
            .expect("the interval");
        assert!(num(bar, "width") > 20.0 && num(bar, "height") < 60.0, "{bar}");
        assert!(!svg.contains(" of requests</title>"));
        // The axis starts at zero, in percent.
        assert!(svg.contains(">\n0\n</text>") && svg.contains(" %\n</text>"), "{svg}");
    }

    #[test]
    fn a_distribution_without_data_says_so() {
        let r = p90(1500.0);
        for svg in [
            distribution_chart(&r, &[], None, EDITOR_WIDTH, EDITOR_HEIGHT),
            distribution(
                &r,
                &[ModelInput {
                    id: "new".into(),
                    estimate: Default::default(),
                    local_requests: 0.0,
                    available: true,
                }],
            ),
        ] {
            well_formed(&svg);
            assert!(svg.contains(">No data on latency yet</text>"), "{svg}");
        }
        // Absurd values still draw.
        let odd = [
            DensityBin {
                low: f64::NAN,
                high: 1.0,
                share: 0.5,
            },
            DensityBin {
                low: 5.0,
                high: 5.0,
                share: 0.5,
            },
            DensityBin {
                low: 1.0,
                high: 1e300,
                share: f64::INFINITY,
            },
            DensityBin {
                low: 0.0,
                high: 1e-300,
                share: 1.0,
            },
        ];
        let inf = Interval {
            low: 0.0,
            value: f64::INFINITY,
            high: 1.0,
        };
        for r in [p90(f64::NAN), p90(0.0), p90(1e300)] {
            for projected in [None, Some(inf)] {
                let svg = distribution_chart(&r, &odd, projected, 0, 0);
                assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"), "{svg}");
            }
        }
    }

    /// The trade-off chart of p90 latency for the cheap and fast models.
    fn curve(target: f64) -> (crate::engine::Tradeoff, String) {
        let r = p90(target);
        let t = tradeoff(&spec(r.clone()), &models(), &PlanOptions::default(), 0, 24).expect("curve");
        let objective = Objective::Minimize(Dimension::Cost);
        let svg = tradeoff_chart(&t, &objective, &r, EDITOR_WIDTH, EDITOR_HEIGHT);
        (t, svg)
    }

    #[test]
    fn a_tradeoff_draws_the_achievable_curve_and_marks_the_current_target() {
        let (t, svg) = curve(1200.0);
        well_formed(&svg);
        assert!(
            svg.contains(r#"aria-label="Best cost per request for each target of p90 latency""#),
            "{svg}"
        );
        // One line through the achievable points, from expensive (tight) down to cheap (loose).
        let lines = polylines(&svg, PALETTE[0]);
        assert_eq!(lines.len(), 1, "{svg}");
        let drawn = super::points_of(lines[0]);
        assert_eq!(drawn.len(), t.points.iter().filter(|p| p.feasible).count());
        assert!(
            drawn.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "{drawn:?}"
        );
        // The tight end is not achievable: shaded and labelled.
        assert!(!t.points[0].feasible);
        let shade = shades(&svg);
        assert_eq!(shade.len(), 1, "{svg}");
        assert!(
            num(shade[0], "x") <= 64.0 + 1.0,
            "from the plot's left edge: {}",
            shade[0]
        );
        // The current target: a dashed line through its ringed point.
        let lines = dashed(&svg);
        assert_eq!(lines.len(), 1);
        let x = num(lines[0], "x1");
        assert_eq!(x, num(lines[0], "x2"));
        assert!(svg.contains(">target 1.2 s</text>"), "{svg}");
        let ring = tags(&svg, "circle")
            .into_iter()
            .find(|c| attr(c, "r") == Some("6"))
            .expect("the current point's ring");
        assert_eq!(num(ring, "cx"), x);
        // A tooltip per point with both units, the current one named.
        let all = titles(&svg);
        assert_eq!(all.len(), t.points.len());
        let now = t.current().expect("current point");
        let cost = crate::format::Unit::UsdPerRequest.format(now.objective.expect("cost"));
        let expected = format!("p90 latency ≤ 1.2 s → {cost} (current target)");
        assert!(all.contains(&expected.as_str()), "{expected} in {all:?}");
        assert!(all.iter().any(|t| t.ends_with("→ not achievable")), "{all:?}");
        assert!(
            all.iter()
                .all(|t| t.contains(" / req") || t.ends_with("not achievable")),
            "{all:?}"
        );
        // The y axis is in dollars.
        assert!(
            svg.contains(">\n$0.01\n</text>") || svg.contains(">\n$0.005\n</text>"),
            "{svg}"
        );
        // The current point's objective is the plan's.
        let planned = plan(&spec(p90(1200.0)), &models(), None, &PlanOptions::default()).expect("plan");
        assert_eq!(now.objective, planned.objective);
        // The same input, the same bytes.
        assert_eq!(svg, curve(1200.0).1);
    }

    #[test]
    fn degenerate_tradeoffs_say_why() {
        use crate::engine::{Tradeoff, TradeoffPoint};
        let r = p90(1200.0);
        let cost = Objective::Minimize(Dimension::Cost);
        let draw = |points: Vec<TradeoffPoint>| {
            let t = Tradeoff {
                requirement: 0,
                points,
                current_target: 1200.0,
            };
            tradeoff_chart(&t, &cost, &r, EDITOR_WIDTH, EDITOR_HEIGHT)
        };
        let point = |target: f64, objective: Option<f64>, feasible: bool| TradeoffPoint {
            target,
            objective,
            feasible,
        };
        let too_few = ">Too little data on latency to compare targets</text>";
        for svg in [draw(vec![]), draw(vec![point(1200.0, None, false)])] {
            well_formed(&svg);
            assert!(svg.contains(too_few), "{svg}");
        }
        let svg = draw(vec![point(800.0, Some(0.01), false), point(1200.0, Some(0.01), false)]);
        well_formed(&svg);
        assert!(
            svg.contains(">\nNot achievable at any of these targets\n</text>"),
            "{svg}"
        );
        assert!(polylines(&svg, PALETTE[0]).is_empty());
        assert_eq!(shades(&svg).len(), 1);
        let svg = draw(vec![point(800.0, None, true), point(1200.0, None, true)]);
        assert!(svg.contains(">\nNo data on cost per request yet\n</text>"), "{svg}");
        // Targets that are not numbers are left out; one point alone is a dot, not a line.
        let svg = draw(vec![
            point(f64::NAN, Some(0.01), true),
            point(800.0, Some(0.01), false),
            point(1200.0, Some(0.004), true),
            point(f64::INFINITY, Some(0.001), true),
        ]);
        well_formed(&svg);
        assert_eq!(titles(&svg).len(), 2);
        assert!(polylines(&svg, PALETTE[0]).is_empty(), "{svg}");
        // A maximised eval score reads as a plain number.
        let quality = Objective::Maximize(Dimension::Eval("answer_quality".into()));
        let t = Tradeoff {
            requirement: 0,
            points: vec![point(800.0, Some(0.71), true), point(1600.0, Some(0.83), true)],
            current_target: 1200.0,
        };
        let svg = tradeoff_chart(&t, &quality, &r, EDITOR_WIDTH, EDITOR_HEIGHT);
        assert!(titles(&svg).contains(&"p90 latency ≤ 1.6 s → 0.83"), "{svg}");
        assert!(
            svg.contains(">target 1.2 s</text>"),
            "the current target between two points: {svg}"
        );
    }
}
