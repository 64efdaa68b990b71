//! What the monitoring charts draw: a set's behaviour over a time range, bucketed, for the
//! whole set and for each of its models. The server builds a [`Series`] from the rollups
//! (merging writers, and merging sketches — never averaging percentiles — to widen buckets);
//! pages only pick what to draw from it.

use serde::{Deserialize, Serialize};

use crate::model_set::{Dimension, Statistic};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// The ranges a chart offers, each with its bucket width.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Range {
    #[serde(rename = "1h")]
    Hour,
    #[default]
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

/// Where a range's buckets are read from: per-minute rollups, or the hourly ones (the same
/// sums and sketches, merged by the writer as it goes) for ranges of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grain {
    Minute,
    Hour,
}

impl Grain {
    pub fn ms(self) -> i64 {
        match self {
            Grain::Minute => MINUTE_MS,
            Grain::Hour => HOUR_MS,
        }
    }
}

impl Range {
    pub const ALL: [Range; 4] = [Range::Hour, Range::Day, Range::Week, Range::Month];

    /// The value in URLs: `1h`, `24h`, `7d`, `30d`.
    pub fn param(self) -> &'static str {
        match self {
            Range::Hour => "1h",
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
        }
    }

    pub fn parse(text: &str) -> Option<Range> {
        Range::ALL.into_iter().find(|r| r.param() == text)
    }

    /// For titles: "last 24 h" (a no-break space keeps the number with its unit).
    pub fn label(self) -> &'static str {
        match self {
            Range::Hour => "last hour",
            Range::Day => "last 24\u{a0}h",
            Range::Week => "last 7\u{a0}days",
            Range::Month => "last 30\u{a0}days",
        }
    }

    pub fn span_ms(self) -> i64 {
        match self {
            Range::Hour => HOUR_MS,
            Range::Day => 24 * HOUR_MS,
            Range::Week => 7 * 24 * HOUR_MS,
            Range::Month => 30 * 24 * HOUR_MS,
        }
    }

    /// The bucket width: 24 to 168 points a chart.
    pub fn bucket_ms(self) -> i64 {
        match self {
            Range::Hour => MINUTE_MS,
            // From the hourly rows: 15-minute buckets would read 1,440 minute rows (and
            // decode their sketches) per model, several times over the page's budget.
            Range::Day => HOUR_MS,
            Range::Week => HOUR_MS,
            Range::Month => 6 * HOUR_MS,
        }
    }

    pub fn grain(self) -> Grain {
        match self {
            Range::Hour => Grain::Minute,
            Range::Day | Range::Week | Range::Month => Grain::Hour,
        }
    }

    /// `[from, to)` of the range ending with the bucket that holds `now_ms`.
    pub fn window(self, now_ms: i64) -> (i64, i64) {
        let bucket = self.bucket_ms();
        let to = now_ms - now_ms.rem_euclid(bucket) + bucket;
        (to - self.span_ms(), to)
    }
}

/// The mean and percentiles of a distribution; `None` where nothing was measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
}

impl Quantiles {
    pub fn get(&self, statistic: Statistic) -> Option<f64> {
        match statistic {
            Statistic::Mean => self.mean,
            Statistic::P50 => self.p50,
            Statistic::P90 => self.p90,
            Statistic::P99 => self.p99,
        }
    }
}

/// Everything measured in one bucket (or a whole range) for one line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Unix milliseconds at the bucket's start (for a range total: the range's start).
    pub at: i64,
    pub requests: u64,
    pub errors: u64,
    /// Failed requests by class (`timeout`, `upstream_5xx`, …), largest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_classes: Vec<(String, u64)>,
    /// Milliseconds, successful requests.
    pub latency: Quantiles,
    /// Milliseconds, successful requests.
    pub ttft: Quantiles,
    /// Mean output tokens per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_s: Option<f64>,
    pub cost_usd: f64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// What the judge charged for the evals of this bucket's requests (apart from `cost_usd`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub eval_cost_usd: f64,
    /// Eval scores by metric, for this bucket's requests that were evaluated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evals: Vec<EvalScores>,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// One eval metric's scores in a bucket: an eval counts in the bucket of its request's time
/// (once it is scored, seconds later), and the mean is over the scored ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalScores {
    /// The metric's name (`answer_relevancy`, …).
    pub metric: String,
    /// Evals that produced a score.
    pub scored: u64,
    /// The sum of their scores (each in [0, 1]).
    pub sum: f64,
    /// Evals that ended in an error (the judge failed, or answered nonsense twice).
    #[serde(default)]
    pub failed: u64,
}

impl EvalScores {
    pub fn mean(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.sum / self.scored as f64)
    }
}

impl Bucket {
    /// The mean score of `metric` here, if any eval of it was scored.
    pub fn eval_mean(&self, metric: &str) -> Option<f64> {
        self.evals.iter().find(|e| e.metric == metric)?.mean()
    }

    pub fn error_rate(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.errors as f64 / self.requests as f64)
    }

    pub fn cost_per_request(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.cost_usd / self.requests as f64)
    }

    /// The value a requirement on `dimension` / `statistic` constrains, as measured here.
    /// Eval scores are kept as means only (a percentile of them: `None`).
    pub fn value(&self, dimension: &Dimension, statistic: Statistic) -> Option<f64> {
        match dimension {
            Dimension::Cost => self.cost_per_request(),
            Dimension::Latency => self.latency.get(statistic),
            Dimension::Ttft => self.ttft.get(statistic),
            Dimension::Throughput => self.tokens_per_s,
            Dimension::ErrorRate => self.error_rate(),
            Dimension::Eval(metric) => match statistic {
                Statistic::Mean => self.eval_mean(metric),
                _ => None,
            },
        }
    }
}

/// One line of a chart: the whole set (`model: None`) or one of its models.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Line {
    pub model: Option<String>,
    /// Buckets with at least one request, oldest first.
    pub buckets: Vec<Bucket>,
    /// The whole range merged.
    pub total: Bucket,
}

/// Whose lines a series carries besides the whole set's: none, every model's, or one model's.
/// The page asks only for what it draws (a week of ten models' buckets is most of a page).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lines {
    #[default]
    Set,
    Models,
    Model(String),
}

impl Lines {
    /// The value in URLs (`?model=`): `set`, `models` or a model's id.
    pub fn param(&self) -> String {
        match self {
            Lines::Set => "set".into(),
            Lines::Models => "models".into(),
            Lines::Model(id) => id.clone(),
        }
    }

    pub fn parse(text: &str) -> Lines {
        match text {
            "" | "set" => Lines::Set,
            "models" => Lines::Models,
            id => Lines::Model(id.to_string()),
        }
    }

    /// Whether the line of `model` is wanted.
    pub fn wants(&self, model: &str) -> bool {
        match self {
            Lines::Set => false,
            Lines::Models => true,
            Lines::Model(id) => id == model,
        }
    }
}

/// A set's behaviour over a range.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub range: Range,
    pub from: i64,
    pub to: i64,
    pub bucket_ms: i64,
    pub set: Line,
    /// One line per model that served requests in the range and was asked for ([`Lines`]),
    /// in the set's order (models no longer in the set last).
    pub models: Vec<Line>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip_through_their_url_value() {
        for r in Range::ALL {
            assert_eq!(Range::parse(r.param()), Some(r));
            assert_eq!(serde_json::to_string(&r).expect("json"), format!("\"{}\"", r.param()));
            let points = r.span_ms() / r.bucket_ms();
            assert!((24..=168).contains(&points), "{r:?}: {points} points");
            assert_eq!(r.bucket_ms() % r.grain().ms(), 0, "buckets are whole rollup rows");
        }
        assert_eq!(Range::parse("2h"), None);
    }

    #[test]
    fn a_window_ends_with_the_current_bucket() {
        let now = 10 * HOUR_MS + 7 * MINUTE_MS + 30_000;
        let (from, to) = Range::Day.window(now);
        assert_eq!(to, 11 * HOUR_MS);
        assert_eq!(to - from, 24 * HOUR_MS);
        let (from, to) = Range::Hour.window(now);
        assert_eq!((from, to), (9 * HOUR_MS + 8 * MINUTE_MS, 10 * HOUR_MS + 8 * MINUTE_MS));
    }

    #[test]
    fn bucket_values_follow_the_dimension() {
        let b = Bucket {
            requests: 200,
            errors: 3,
            cost_usd: 0.5,
            latency: Quantiles {
                p90: Some(900.0),
                ..Quantiles::default()
            },
            ..Bucket::default()
        };
        assert_eq!(b.value(&Dimension::ErrorRate, Statistic::Mean), Some(0.015));
        assert_eq!(b.value(&Dimension::Cost, Statistic::Mean), Some(0.0025));
        assert_eq!(b.value(&Dimension::Latency, Statistic::P90), Some(900.0));
        assert_eq!(b.value(&Dimension::Eval("x".into()), Statistic::Mean), None);
        let scored = Bucket {
            evals: vec![EvalScores {
                metric: "x".into(),
                scored: 4,
                sum: 3.0,
                failed: 1,
            }],
            ..Bucket::default()
        };
        assert_eq!(scored.value(&Dimension::Eval("x".into()), Statistic::Mean), Some(0.75));
        assert_eq!(scored.value(&Dimension::Eval("x".into()), Statistic::P90), None);
        assert_eq!(scored.value(&Dimension::Eval("y".into()), Statistic::Mean), None);
        assert_eq!(Bucket::default().error_rate(), None);
    }
}
