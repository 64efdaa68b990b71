//! Feedback on realised behaviour: per requirement, an integral controller that tightens the planning
//! target while the realised window value runs over it, so that realised averages really hold even when the
//! estimates are biased (drift the decay has not caught up with, a set whose prompts differ from the global
//! mix, optimistic priors).
//!
//! State per requirement is one number `tighten` ∈ [0, max_tighten]. Each update adds `gain` × the relative
//! excess (negative when under target, so it relaxes), bleeds a fraction off (so it returns to the plain
//! target once the cause is gone), and clamps (anti-windup). The planning target is
//! `target × (1 − tighten)` for ≤ and `target × (1 + tighten)` for ≥ (evals capped at 1).

use serde::{Deserialize, Serialize};

use crate::model_set::{Comparator, Dimension, Requirement};

/// Controller gains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackConfig {
    /// Added tightening per unit of relative excess per update.
    pub gain: f64,
    /// Share of the tightening released per update.
    pub bleed: f64,
    /// Largest tightening (relative to the target).
    pub max_tighten: f64,
    /// Relative excess (either way) below which nothing is added: window noise must not wind the
    /// controller up, since every bit of tightening costs objective.
    pub deadband: f64,
}

impl Default for FeedbackConfig {
    fn default() -> Self {
        FeedbackConfig {
            gain: 0.5,
            bleed: 0.02,
            max_tighten: 0.3,
            deadband: 0.005,
        }
    }
}

/// Feedback state for a set's requirements (same order as the spec's).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Feedback {
    pub cfg: FeedbackConfig,
    /// Current tightening per requirement.
    pub tighten: Vec<f64>,
}

impl Feedback {
    /// Fresh state for `n` requirements.
    pub fn new(n: usize, cfg: FeedbackConfig) -> Self {
        Feedback {
            cfg,
            tighten: vec![0.0; n],
        }
    }

    /// Relative excess of a realised value over its target (> 0 = violated), `None` if not measurable.
    pub fn excess(req: &Requirement, realised: f64) -> Option<f64> {
        if !realised.is_finite() || !req.target.is_finite() {
            return None;
        }
        // Relative to the target; a zero target on a unit-range dimension (0 % errors) uses 1 point as scale.
        let unit = matches!(req.dimension, Dimension::ErrorRate | Dimension::Eval(_));
        let scale = match req.target.abs() {
            t if t > 0.0 => t,
            _ if unit => 0.01,
            _ => return None,
        };
        Some(match req.comparator {
            Comparator::AtMost => (realised - req.target) / scale,
            Comparator::AtLeast => (req.target - realised) / scale,
        })
    }

    /// Feeds one realised window (one value per requirement; `None` = not enough data: only bleeds).
    /// A spec whose requirement count changed resets the state.
    pub fn update(&mut self, reqs: &[Requirement], realised: &[Option<f64>]) {
        if self.tighten.len() != reqs.len() {
            self.tighten = vec![0.0; reqs.len()];
        }
        let c = &self.cfg;
        for (i, req) in reqs.iter().enumerate() {
            let e = realised.get(i).copied().flatten().and_then(|v| Self::excess(req, v));
            let push = match e {
                Some(e) if e.abs() > c.deadband => c.gain * e,
                _ => 0.0,
            };
            let t = self.tighten[i] * (1.0 - c.bleed.clamp(0.0, 1.0)) + push;
            self.tighten[i] = if t.is_finite() {
                t.clamp(0.0, c.max_tighten.max(0.0))
            } else {
                0.0
            };
        }
    }

    /// Targets to plan against.
    pub fn targets(&self, reqs: &[Requirement]) -> Vec<f64> {
        reqs.iter()
            .enumerate()
            .map(|(i, r)| {
                let k = self.tighten.get(i).copied().unwrap_or(0.0);
                let unit = matches!(r.dimension, Dimension::ErrorRate | Dimension::Eval(_));
                match r.comparator {
                    Comparator::AtMost => r.target * (1.0 - k),
                    Comparator::AtLeast if unit => (r.target * (1.0 + k)).min(1.0),
                    Comparator::AtLeast => r.target * (1.0 + k),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_set::Statistic;

    #[test]
    fn tightens_while_over_and_releases_after() {
        let reqs = vec![Requirement {
            dimension: Dimension::Latency,
            statistic: Statistic::Mean,
            comparator: Comparator::AtMost,
            target: 1000.0,
        }];
        let mut f = Feedback::new(1, FeedbackConfig::default());
        for _ in 0..10 {
            f.update(&reqs, &[Some(1100.0)]);
        }
        let tight = f.targets(&reqs)[0];
        assert!((700.0..1000.0).contains(&tight), "{tight}");
        for _ in 0..200 {
            f.update(&reqs, &[Some(990.0)]);
        }
        assert!(f.targets(&reqs)[0] > 999.0);
        f.update(&reqs, &[None]);
        assert!(f.tighten[0] >= 0.0);
    }
}
