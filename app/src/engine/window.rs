//! Realised behaviour over the last N requests of a set: what the feedback controller steers on and what
//! the simulator's assertions measure. Follows the counting rule of [`crate::engine::estimate`].
//!
//! Means are kept as running sums (O(1) per request; recomputed from the buffer once per N pushes so
//! round-off cannot accumulate). Percentiles are exact order statistics over the window, computed on demand
//! in O(N) with a selection algorithm: they are read once per re-plan, not per request.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::estimate::{has_distribution, Observation};
use super::plan::quantile_level;
use crate::model_set::{Dimension, Requirement, Statistic};

type Sums = (Dimension, f64, f64, f64);

/// Sliding window over the last `capacity` observations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    capacity: usize,
    buf: VecDeque<Observation>,
    /// (dimension, Σx, Σx², count)
    sums: Vec<Sums>,
    since_rebuild: usize,
    /// Requests ever pushed: how much of the window is new since a reader last looked.
    pushed: u64,
}

/// A requirement's realised value over a window, with what the feedback needs to weigh it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Realised {
    pub value: f64,
    /// Standard error of the value as an estimate of the long-run statistic.
    pub std_err: f64,
    /// Requests the window held.
    pub requests: usize,
    /// Requests ever pushed to the window ([`Window::pushed`]).
    pub pushed: u64,
}

impl Window {
    /// A window of the last `capacity` requests (at least 1).
    pub fn new(capacity: usize) -> Self {
        Window {
            capacity: capacity.max(1),
            buf: VecDeque::with_capacity(capacity.max(1)),
            sums: Vec::new(),
            since_rebuild: 0,
            pushed: 0,
        }
    }

    /// Requests ever pushed (not reset by [`Window::clear`]).
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Requests currently in the window.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True before the first request.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The window's capacity in requests.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Changes the capacity (at least 1), forgetting the oldest requests beyond it.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        while self.buf.len() > self.capacity {
            if let Some(old) = self.buf.pop_front() {
                Self::apply(&mut self.sums, &old, -1.0);
            }
        }
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.sums.clear();
        self.since_rebuild = 0;
    }

    fn each_value(obs: &Observation, mut f: impl FnMut(Dimension, f64)) {
        for d in [
            Dimension::Cost,
            Dimension::Latency,
            Dimension::ErrorRate,
            Dimension::Ttft,
            Dimension::Throughput,
        ] {
            if let Some(v) = obs.value(&d) {
                f(d, v);
            }
        }
        for (name, s) in &obs.evals {
            if s.is_finite() {
                f(Dimension::Eval(name.clone()), *s);
            }
        }
    }

    fn apply(sums: &mut Vec<Sums>, obs: &Observation, sign: f64) {
        Self::each_value(obs, |d, v| match sums.iter_mut().find(|e| e.0 == d) {
            Some(e) => {
                e.1 += sign * v;
                e.2 += sign * v * v;
                e.3 += sign;
            }
            None => sums.push((d, sign * v, sign * v * v, sign)),
        });
    }

    /// Adds a request, evicting the oldest when full.
    pub fn push(&mut self, obs: Observation) {
        if self.buf.len() == self.capacity {
            if let Some(old) = self.buf.pop_front() {
                Self::apply(&mut self.sums, &old, -1.0);
            }
        }
        Self::apply(&mut self.sums, &obs, 1.0);
        self.buf.push_back(obs);
        self.pushed += 1;
        self.since_rebuild += 1;
        if self.since_rebuild >= self.capacity {
            self.since_rebuild = 0;
            let mut sums = Vec::new();
            for o in &self.buf {
                Self::apply(&mut sums, o, 1.0);
            }
            self.sums = sums;
        }
    }

    /// Mean of `dim` over the requests that report it, `None` if none do.
    pub fn mean(&self, dim: &Dimension) -> Option<f64> {
        self.sums
            .iter()
            .find(|e| &e.0 == dim)
            .filter(|e| e.3 > 0.5)
            .map(|e| e.1 / e.3)
    }

    /// Number of requests in the window that report `dim`.
    pub fn count(&self, dim: &Dimension) -> usize {
        self.sums
            .iter()
            .find(|e| &e.0 == dim)
            .map(|e| e.3.round().max(0.0) as usize)
            .unwrap_or(0)
    }

    /// Exact `q`-quantile (nearest rank: the smallest value with at least ⌈qn⌉ values at or below it).
    pub fn quantile(&self, dim: &Dimension, q: f64) -> Option<f64> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        let mut vals: Vec<f64> = self.buf.iter().filter_map(|o| o.value(dim)).collect();
        if vals.is_empty() {
            return None;
        }
        let rank = ((q * vals.len() as f64).ceil() as usize).clamp(1, vals.len()) - 1;
        let (_, v, _) = vals.select_nth_unstable_by(rank, |a, b| a.total_cmp(b));
        Some(*v)
    }

    /// Standard error of the window's mean of `dim` (its noise as an estimate of the long-run mean).
    pub fn mean_std_err(&self, dim: &Dimension) -> Option<f64> {
        let e = self.sums.iter().find(|e| &e.0 == dim).filter(|e| e.3 > 1.5)?;
        let m = e.1 / e.3;
        let var = (e.2 / e.3 - m * m).max(0.0) * e.3 / (e.3 - 1.0);
        Some((var / e.3).sqrt())
    }

    /// Standard error of the window's `q`-quantile, from the order statistics one binomial standard deviation
    /// of rank (√(n·q·(1−q))) either side of it.
    pub fn quantile_std_err(&self, dim: &Dimension, q: f64) -> Option<f64> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        let mut vals: Vec<f64> = self.buf.iter().filter_map(|o| o.value(dim)).collect();
        let n = vals.len();
        if n < 2 {
            return None;
        }
        let d = (n as f64 * q * (1.0 - q)).sqrt();
        let at = |x: f64| (x.round().max(1.0) as usize).min(n) - 1;
        let (lo, hi) = (at(q * n as f64 - d), at(q * n as f64 + d));
        // Two selections rather than a sort: re-plans read this for every set's window.
        let (below, high, _) = vals.select_nth_unstable_by(hi, |a, b| a.total_cmp(b));
        let high = *high;
        let low = if lo < hi {
            *below.select_nth_unstable_by(lo, |a, b| a.total_cmp(b)).1
        } else {
            high
        };
        Some((high - low) / 2.0)
    }

    /// Each requirement's realised value with its standard error, for the feedback; `None`
    /// without a value.
    pub fn measured(&self, reqs: &[Requirement]) -> Vec<Option<Realised>> {
        reqs.iter()
            .map(|r| {
                let value = self.statistic(&r.dimension, r.statistic)?;
                let std_err = match quantile_level(r.statistic).filter(|_| has_distribution(&r.dimension)) {
                    Some(q) => self.quantile_std_err(&r.dimension, q),
                    None => self.mean_std_err(&r.dimension),
                }
                .unwrap_or(0.0);
                Some(Realised {
                    value,
                    std_err,
                    requests: self.len(),
                    pushed: self.pushed,
                })
            })
            .collect()
    }

    /// A statistic of a dimension (error rate: always its mean).
    pub fn statistic(&self, dim: &Dimension, stat: Statistic) -> Option<f64> {
        match quantile_level(stat).filter(|_| has_distribution(dim)) {
            Some(q) => self.quantile(dim, q),
            None => self.mean(dim),
        }
    }

    /// The realised value of each requirement's statistic.
    pub fn realised(&self, reqs: &[Requirement]) -> Vec<Option<f64>> {
        reqs.iter().map(|r| self.statistic(&r.dimension, r.statistic)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_set::Comparator;

    #[test]
    fn a_shorter_capacity_forgets_the_oldest() {
        let mut w = Window::new(4);
        for i in 1..=4 {
            w.push(Observation {
                latency_ms: i as f64 * 100.0,
                ..Default::default()
            });
        }
        w.set_capacity(2);
        assert_eq!((w.len(), w.capacity()), (2, 2));
        assert_eq!(w.mean(&Dimension::Latency), Some(350.0));
        w.set_capacity(10);
        w.push(Observation {
            latency_ms: 500.0,
            ..Default::default()
        });
        assert_eq!(w.len(), 3);
        assert_eq!(w.mean(&Dimension::Latency), Some(400.0));
    }

    #[test]
    fn slides_and_counts_failures_in_latency() {
        let mut w = Window::new(4);
        for i in 1..=6 {
            w.push(Observation {
                ok: i % 2 == 0,
                latency_ms: i as f64 * 100.0,
                ttft_ms: (i % 2 == 0).then_some(10.0),
                cost_usd: 0.01,
                ..Default::default()
            });
        }
        assert_eq!(w.len(), 4);
        assert_eq!(w.mean(&Dimension::Latency), Some(450.0));
        assert_eq!(w.mean(&Dimension::ErrorRate), Some(0.5));
        assert_eq!(w.count(&Dimension::Ttft), 2);
        assert_eq!(w.quantile(&Dimension::Latency, 0.5), Some(400.0));
        assert_eq!(w.statistic(&Dimension::Latency, Statistic::P99), Some(600.0));
        assert_eq!(Window::new(3).mean(&Dimension::Cost), None);
        let se = w.mean_std_err(&Dimension::Latency).unwrap_or(0.0);
        assert!((se - (16_666.67f64 / 4.0).sqrt()).abs() < 0.1, "{se}");
        let reqs = [Requirement {
            dimension: Dimension::Latency,
            statistic: Statistic::Mean,
            comparator: Comparator::AtMost,
            target: 1.0,
        }];
        let m = w.measured(&reqs);
        assert_eq!(m.len(), 1);
        assert!(m[0].is_some_and(|m| m.value == 450.0 && m.std_err == se && m.requests == 4 && m.pushed == 6));
        assert!(w.quantile_std_err(&Dimension::Latency, 0.5).is_some_and(|s| s > 0.0));
    }
}
