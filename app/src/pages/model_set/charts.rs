//! From a [`Series`] to the charts of the monitoring sections: which value each chart draws,
//! for which lines, with which target. Pure, so the server render and the browser agree.

use crate::charts::{ChartKind, ChartLine, Target, TimeChart};
use crate::describe;
use crate::format::Unit;
use crate::model_set::{Comparator, Dimension, Requirement, Statistic};
pub use crate::monitoring::Lines as Scope;
use crate::monitoring::{Bucket, Line, Series};

/// What a chart can draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Latency,
    Ttft,
    Throughput,
    CostPerRequest,
    Cost,
    Requests,
    InputTokens,
    OutputTokens,
    ErrorRate,
    ErrorsByClass,
    /// The mean score of an eval metric, by its DeepEval name (`answer_relevancy`).
    Eval(&'static str),
    /// What the judge charged for the evals.
    EvalCost,
}

/// The four sections and their charts.
pub const SECTIONS: [(&str, &str, &[Metric]); 4] = [
    (
        "performance",
        "Performance",
        &[Metric::Latency, Metric::Ttft, Metric::Throughput],
    ),
    ("cost", "Cost", &[Metric::CostPerRequest, Metric::Cost]),
    (
        "usage",
        "Usage",
        &[Metric::Requests, Metric::InputTokens, Metric::OutputTokens],
    ),
    ("errors", "Errors", &[Metric::ErrorRate, Metric::ErrorsByClass]),
];

/// The Evals section's charts: each of the set's (known) eval metrics, then the eval cost.
pub fn eval_charts(metrics: &[String]) -> Vec<Metric> {
    metrics
        .iter()
        .filter_map(|name| crate::evals::metric(name))
        .map(|m| Metric::Eval(m.name))
        .chain(std::iter::once(Metric::EvalCost))
        .collect()
}

impl Metric {
    /// Whether the chart follows the statistic switch (a distribution was measured).
    pub fn has_distribution(self) -> bool {
        matches!(self, Metric::Latency | Metric::Ttft)
    }

    fn name(self) -> String {
        let name = match self {
            Metric::Latency => "latency",
            Metric::Ttft => "time to first token",
            Metric::Throughput => "output tokens/s",
            Metric::CostPerRequest => "cost per request",
            Metric::Cost => "cost",
            Metric::Requests => "requests",
            Metric::InputTokens => "input tokens",
            Metric::OutputTokens => "output tokens",
            Metric::ErrorRate => "error rate",
            Metric::ErrorsByClass => "errors by class",
            Metric::Eval(metric) => return crate::evals::words(metric),
            Metric::EvalCost => "eval cost",
        };
        name.to_string()
    }

    fn unit(self) -> Unit {
        match self {
            Metric::Latency | Metric::Ttft => Unit::Ms,
            Metric::Throughput => Unit::TokensPerS,
            Metric::CostPerRequest => Unit::UsdPerRequest,
            Metric::Cost => Unit::Usd,
            Metric::Requests | Metric::ErrorsByClass => Unit::Requests,
            Metric::InputTokens | Metric::OutputTokens => Unit::Tokens,
            Metric::ErrorRate => Unit::Share,
            Metric::Eval(_) => Unit::Score,
            Metric::EvalCost => Unit::Usd,
        }
    }

    /// The requirement dimension this chart can show a target for.
    fn dimension(self) -> Option<Dimension> {
        match self {
            Metric::Latency => Some(Dimension::Latency),
            Metric::Ttft => Some(Dimension::Ttft),
            Metric::Throughput => Some(Dimension::Throughput),
            Metric::CostPerRequest => Some(Dimension::Cost),
            Metric::ErrorRate => Some(Dimension::ErrorRate),
            Metric::Eval(metric) => Some(Dimension::Eval(metric.to_string())),
            _ => None,
        }
    }

    fn value(self, b: &Bucket, statistic: Statistic) -> Option<f64> {
        match self {
            Metric::Latency => b.latency.get(statistic),
            Metric::Ttft => b.ttft.get(statistic),
            Metric::Throughput => b.tokens_per_s,
            Metric::CostPerRequest => b.cost_per_request(),
            Metric::Cost => Some(b.cost_usd),
            Metric::Requests => Some(b.requests as f64),
            Metric::InputTokens => Some(b.prompt_tokens as f64),
            Metric::OutputTokens => Some(b.completion_tokens as f64),
            Metric::ErrorRate => b.error_rate(),
            Metric::ErrorsByClass => Some(b.errors as f64),
            Metric::Eval(metric) => b.eval_mean(metric),
            Metric::EvalCost => Some(b.eval_cost_usd),
        }
    }

    /// The statistic actually drawn: the switch's where there is a distribution, else the mean.
    fn statistic(self, chosen: Statistic) -> Statistic {
        if self.has_distribution() {
            chosen
        } else {
            Statistic::Mean
        }
    }

    /// "p90 latency", "mean output tokens/s", "requests per 15 min".
    fn heading(self, statistic: Statistic, bucket_ms: i64) -> String {
        let per = bucket_label(bucket_ms);
        match self {
            Metric::Latency | Metric::Ttft | Metric::Throughput | Metric::CostPerRequest => {
                let stat = match statistic {
                    Statistic::Mean => "average",
                    s => describe::statistic(s),
                };
                format!("{stat} {}", self.name())
            }
            Metric::ErrorRate => self.name(),
            // Scores are kept as means only: no percentile applies.
            Metric::Eval(_) => format!("mean {}", self.name()),
            _ => format!("{} per {per}", self.name()),
        }
    }
}

fn bucket_label(ms: i64) -> String {
    let minutes = ms / 60_000;
    match minutes {
        1 => "minute".into(),
        m if m < 60 => format!("{m} min"),
        60 => "hour".into(),
        m => format!("{} h", m / 60),
    }
}

/// The colour of a model: its place in the set (0 is the whole set's).
pub fn colour(models: &[String], line: &Line) -> usize {
    match &line.model {
        None => 0,
        Some(id) => models.iter().position(|m| m == id).map_or(models.len() + 1, |i| i + 1),
    }
}

/// The chart of `metric` for `scope` and `statistic`, with a matching requirement's target.
pub fn chart(
    series: &Series,
    models: &[String],
    requirements: &[Requirement],
    metric: Metric,
    scope: &Scope,
    chosen: Statistic,
) -> TimeChart {
    let statistic = metric.statistic(chosen);
    let range = series.range.label();
    let empty_message = if series.set.total.requests == 0 {
        // Short enough for the chart's width; the section head says how to send one.
        format!("No requests in the {range}")
    } else {
        match metric {
            Metric::Ttft => format!("No streamed requests in the {range}: only a stream has a time to first token"),
            Metric::ErrorsByClass => format!("No errors in the {range}"),
            Metric::Eval(_) => format!("No {} scores in the {range}", metric.name()),
            Metric::EvalCost => format!("No evals in the {range}"),
            _ => format!("No {} measured in the {range}", metric.name()),
        }
    };
    let (lines, whose): (Vec<&Line>, String) = match scope {
        Scope::Set => (vec![&series.set], "whole set".into()),
        Scope::Models => (series.models.iter().collect(), "per model".into()),
        Scope::Model(id) => (
            series
                .models
                .iter()
                .filter(|l| l.model.as_deref() == Some(id))
                .collect(),
            id.clone(),
        ),
    };
    let title = format!(
        "{}, {whose}, {}",
        capitalise(&metric.heading(statistic, series.bucket_ms)),
        series.range.label()
    );
    let target = metric.dimension().and_then(|dimension| {
        requirements
            .iter()
            .find(|r| r.dimension == dimension && r.statistic == statistic)
            .map(|r| Target {
                value: r.target,
                at_most: r.comparator == Comparator::AtMost,
            })
    });
    let chart_lines = if metric == Metric::ErrorsByClass {
        // Stacked columns, one per class, of the chosen line (the set's for "per model").
        let line = match scope {
            Scope::Models => &series.set,
            _ => lines.first().copied().unwrap_or(&series.set),
        };
        by_class(line)
    } else {
        lines
            .into_iter()
            .map(|line| ChartLine {
                label: line.model.clone().unwrap_or_else(|| "Whole set".into()),
                color: colour(models, line),
                points: line
                    .buckets
                    .iter()
                    .filter_map(|b| Some((b.at, metric.value(b, statistic)?)))
                    .collect(),
            })
            .collect()
    };
    TimeChart {
        title,
        unit: metric.unit(),
        from_ms: series.from,
        to_ms: series.to,
        bucket_ms: series.bucket_ms,
        lines: chart_lines,
        target,
        empty_message,
        kind: if matches!(metric, Metric::Requests | Metric::ErrorsByClass) {
            ChartKind::Bars
        } else {
            ChartKind::Line
        },
    }
}

/// One series per error class, in the order of the line's total.
fn by_class(line: &Line) -> Vec<ChartLine> {
    line.total
        .error_classes
        .iter()
        .enumerate()
        .map(|(i, (class, _))| ChartLine {
            label: class.clone(),
            color: 7 + i,
            points: line
                .buckets
                .iter()
                .filter_map(|b| {
                    let n = b.error_classes.iter().find(|(c, _)| c == class)?.1;
                    Some((b.at, n as f64))
                })
                .collect(),
        })
        .collect()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::{Quantiles, Range};

    fn bucket(at: i64, p90: f64, errors: u64) -> Bucket {
        Bucket {
            at,
            requests: 10,
            errors,
            error_classes: if errors > 0 {
                vec![("timeout".into(), errors)]
            } else {
                vec![]
            },
            latency: Quantiles {
                mean: Some(p90 / 2.0),
                p90: Some(p90),
                ..Quantiles::default()
            },
            ..Bucket::default()
        }
    }

    fn series() -> Series {
        let line = |model: Option<&str>, p90: f64| Line {
            model: model.map(str::to_string),
            buckets: vec![bucket(0, p90, 0), bucket(900_000, p90 + 100.0, 2)],
            total: bucket(0, p90, 2),
        };
        Series {
            range: Range::Day,
            from: 0,
            to: 86_400_000,
            bucket_ms: 900_000,
            set: line(None, 1000.0),
            models: vec![line(Some("b/y"), 2000.0), line(Some("a/x"), 500.0)],
        }
    }

    #[test]
    fn charts_draw_the_chosen_statistic_scope_and_target() {
        let models = vec!["a/x".to_string(), "b/y".to_string()];
        let reqs = vec![Requirement::new(
            Dimension::Latency,
            Statistic::P90,
            Comparator::AtMost,
            3000.0,
        )];
        let s = series();
        let c = chart(&s, &models, &reqs, Metric::Latency, &Scope::Models, Statistic::P90);
        assert_eq!(c.title, "P90 latency, per model, last 24\u{a0}h");
        assert_eq!(c.lines.len(), 2);
        assert_eq!(
            (c.lines[0].label.as_str(), c.lines[0].color),
            ("b/y", 2),
            "colour by the set's order"
        );
        assert_eq!(c.lines[0].points, vec![(0, 2000.0), (900_000, 2100.0)]);
        assert_eq!(
            c.target,
            Some(Target {
                value: 3000.0,
                at_most: true
            })
        );
        let mean = chart(&s, &models, &reqs, Metric::Latency, &Scope::Set, Statistic::Mean);
        assert_eq!(mean.target, None, "a p90 target is not drawn on the average");
        assert_eq!(mean.lines[0].points[0], (0, 500.0));
        let one = chart(
            &s,
            &models,
            &reqs,
            Metric::Latency,
            &Scope::Model("a/x".into()),
            Statistic::P90,
        );
        assert_eq!(one.lines.len(), 1);
        let errors = chart(&s, &models, &reqs, Metric::ErrorsByClass, &Scope::Set, Statistic::P90);
        assert_eq!(errors.lines[0].label, "timeout");
        assert_eq!(errors.lines[0].points, vec![(900_000, 2.0)]);
        assert_eq!(
            Scope::parse(&Scope::Model("a/x".into()).param()),
            Scope::Model("a/x".into())
        );
    }

    #[test]
    fn eval_charts_draw_means_on_a_score_axis_with_their_target() {
        use crate::monitoring::EvalScores;
        let mut s = series();
        let scores = |scored: u64, sum: f64| {
            vec![EvalScores {
                metric: "answer_relevancy".into(),
                scored,
                sum,
                failed: 0,
            }]
        };
        s.set.buckets[0].evals = scores(4, 3.4);
        s.set.buckets[1].eval_cost_usd = 0.002;
        s.models[1].buckets[1].evals = scores(2, 1.0);
        let models = vec!["a/x".to_string(), "b/y".to_string()];
        let reqs = vec![Requirement::new(
            Dimension::Eval("answer_relevancy".into()),
            Statistic::Mean,
            Comparator::AtLeast,
            0.8,
        )];
        let metrics = eval_charts(&["answer_relevancy".into(), "unknown".into()]);
        assert_eq!(metrics, vec![Metric::Eval("answer_relevancy"), Metric::EvalCost]);
        // The statistic switch does not apply: the mean, whatever is chosen.
        let c = chart(&s, &models, &reqs, metrics[0], &Scope::Set, Statistic::P90);
        assert_eq!(c.title, "Mean answer relevancy, whole set, last 24\u{a0}h");
        assert_eq!(c.unit, Unit::Score);
        assert_eq!(
            c.lines[0].points,
            vec![(0, 0.85)],
            "a bucket without scores has no point"
        );
        assert_eq!(
            c.target,
            Some(Target {
                value: 0.8,
                at_most: false
            })
        );
        let per_model = chart(&s, &models, &reqs, metrics[0], &Scope::Models, Statistic::Mean);
        assert_eq!(per_model.lines[1].points, vec![(900_000, 0.5)]);
        assert_eq!(per_model.lines[1].color, 1, "a/x keeps its colour");
        let cost = chart(&s, &models, &reqs, metrics[1], &Scope::Set, Statistic::Mean);
        assert_eq!(cost.title, "Eval cost per 15 min, whole set, last 24\u{a0}h");
        assert_eq!(cost.lines[0].points, vec![(0, 0.0), (900_000, 0.002)]);
        assert_eq!(cost.target, None);
        // No scores yet: the chart says so.
        let none = chart(&series(), &models, &reqs, metrics[0], &Scope::Set, Statistic::Mean);
        assert!(none.lines[0].points.is_empty());
        assert_eq!(none.empty_message, "No answer relevancy scores in the last 24\u{a0}h");
    }
}
