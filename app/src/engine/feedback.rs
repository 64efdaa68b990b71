//! Feedback on realised behaviour: per requirement, an integral controller on the planning target, so
//! that realised values hold their targets even when the estimates are biased (drift the decay has
//! not caught up with, a set whose prompts differ from the global mix, optimistic priors) and do not
//! sit needlessly far inside them (the planner's own pessimism, which a set with plenty of data no
//! longer needs).
//!
//! State per requirement is one number `tighten` ∈ [−max_loosen, max_tighten]; the planning target
//! is `target × (1 − tighten)` for ≤ and `target × (1 + tighten)` for ≥ (evals capped at 1), so a
//! negative value gives slack back.
//!
//! The law, per update, with `fresh` the share of the realised window that is new since the last
//! update (so the gains are per window of data, whatever the re-plan rate):
//!
//! * the **set-point** is the target moved `aim_z` of the window's standard errors inside it: a
//!   window scatters around the long-run value, and aiming a little inside keeps windows that
//!   scatter outward within tolerance;
//! * `tighten += gain × fresh × e`, with `e` the relative excess of the realised value over the
//!   set-point (> 0 violated, < 0 slack), then a `bleed × fresh` share of it is released toward the
//!   plain target, and it is clamped (anti-windup); nothing is integrated while the plan is
//!   infeasible (the planner knows it misses; see [`Feedback::update`]);
//! * **slack is given back only where it buys something**: a requirement the plan does not hold at
//!   its bound (`binding` false) is not loosened further, and a loosening it carries is released,
//!   so a requirement that is met with room to spare does not wind up a loosening that would let it
//!   overshoot when it starts to bind. Nor is a percentile loosened: the room it keeps is the
//!   planner's window margin ([`super::plan::PlanOptions::window_requests`]), kept on purpose where
//!   the mix has little density at the target and a window's percentile scatters far.
//!
//! Damping: with the plan's realised value following its planned target one for one (loop gain 1),
//! a step in the bias is corrected geometrically, by (1 − gain)(1 − bleed) per window of fresh data:
//! at the defaults (0.15, 0.01) 90 % of a step in 14 windows, without overshoot, settling at
//! gain / (gain + bleed) ≈ 94 % of it (the bleed's price: the rest is left to the estimates, which
//! follow the bias with their half-life). The unit test
//! `a_step_in_the_bias_is_corrected_geometrically_without_overshoot` is that step response; the
//! simulator's error-step scenario (`app/tests/engine_uncertainty.rs`) is the closed loop with the
//! planner. A window's noise moves a target by `gain × fresh × noise` per re-plan, a few tenths
//! of a percent, so the plan does not swing between models from one re-plan to the next.

use serde::{Deserialize, Serialize};

use super::plan::{is_quantile, Plan};
use super::window::Realised;
use crate::model_set::{Comparator, Dimension, Requirement};

/// Controller gains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackConfig {
    /// Change of `tighten` per unit of relative excess per window of fresh data.
    pub gain: f64,
    /// Share of the tightening released per window of fresh data.
    pub bleed: f64,
    /// Largest tightening (relative to the target).
    pub max_tighten: f64,
    /// Largest loosening (relative to the target).
    pub max_loosen: f64,
    /// Window standard errors the set-point sits inside the target.
    pub aim_z: f64,
}

impl Default for FeedbackConfig {
    fn default() -> Self {
        FeedbackConfig {
            gain: 0.15,
            bleed: 0.01,
            max_tighten: 0.3,
            max_loosen: 0.2,
            aim_z: 0.3,
        }
    }
}

/// Feedback state for a set's requirements (same order as the spec's).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Feedback {
    pub cfg: FeedbackConfig,
    /// Current tightening per requirement (negative: loosened).
    pub tighten: Vec<f64>,
    /// Per requirement: the window's push count at the last update, to weigh the next by what is new.
    #[serde(default)]
    seen: Vec<u64>,
}

impl Feedback {
    /// Fresh state for `n` requirements.
    pub fn new(n: usize, cfg: FeedbackConfig) -> Self {
        Feedback {
            cfg,
            tighten: vec![0.0; n],
            seen: vec![0; n],
        }
    }

    /// Relative excess of a realised value over its target (> 0 = violated), `None` if not measurable.
    pub fn excess(req: &Requirement, realised: f64) -> Option<f64> {
        Self::excess_over(req, req.target, realised)
    }

    fn excess_over(req: &Requirement, target: f64, realised: f64) -> Option<f64> {
        if !realised.is_finite() || !target.is_finite() {
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
            Comparator::AtMost => (realised - target) / scale,
            Comparator::AtLeast => (target - realised) / scale,
        })
    }

    /// Feeds one realised window per requirement (`None` = no value: only bleeds). `plan`: the
    /// plan routing followed. A requirement it does not hold at its bound ([`Plan::binding`]) is
    /// not loosened. While it meets no mix (infeasible) or there is none, nothing is integrated:
    /// the planner already knows it misses, tightening cannot help, and winding up on that
    /// stretch would leave the targets tightened long after a feasible plan returns. A spec
    /// whose requirement count changed resets the state.
    pub fn update(&mut self, reqs: &[Requirement], realised: &[Option<Realised>], plan: Option<&Plan>) {
        let (binding, holding): (&[bool], bool) = match plan {
            Some(p) => (&p.binding, !p.feasible),
            None => (&[], true),
        };
        if self.tighten.len() != reqs.len() {
            self.tighten = vec![0.0; reqs.len()];
        }
        self.seen.resize(reqs.len(), 0);
        let c = &self.cfg;
        for (i, req) in reqs.iter().enumerate() {
            let Some(r) = realised.get(i).copied().flatten() else {
                self.tighten[i] *= 1.0 - c.bleed.clamp(0.0, 1.0);
                continue;
            };
            let new = r.pushed.saturating_sub(self.seen[i]);
            let fresh = if r.pushed < self.seen[i] {
                1.0
            } else {
                (new as f64 / r.requests.max(1) as f64).clamp(0.0, 1.0)
            };
            self.seen[i] = r.pushed;
            if holding {
                self.tighten[i] *= 1.0 - (c.bleed * fresh).clamp(0.0, 1.0);
                continue;
            }
            let aim = match req.comparator {
                Comparator::AtMost => req.target - c.aim_z * r.std_err,
                Comparator::AtLeast => req.target + c.aim_z * r.std_err,
            };
            let e = Self::excess_over(req, aim, r.value).unwrap_or(0.0);
            let binds = binding.get(i).copied().unwrap_or(false) && !is_quantile(req);
            let mut t = self.tighten[i];
            if binds || e > 0.0 {
                t += c.gain * fresh * e;
            }
            t *= 1.0 - (c.bleed * fresh).clamp(0.0, 1.0);
            if !binds && t < 0.0 {
                // Loosening a requirement that has room to spare buys nothing: let it go.
                t *= 1.0 - (0.5 * fresh).clamp(0.0, 1.0);
            }
            self.tighten[i] = if t.is_finite() {
                t.clamp(-c.max_loosen.max(0.0), c.max_tighten.max(0.0))
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

    fn plan(binding: bool) -> Plan {
        Plan {
            weights: vec![1.0],
            feasible: true,
            violations: vec![0.0],
            targets: vec![1000.0],
            exploring: Vec::new(),
            objective: None,
            promising: Vec::new(),
            potential: None,
            binding: vec![binding],
        }
    }

    fn window(value: f64, pushed: u64) -> Option<Realised> {
        Some(Realised {
            value,
            std_err: 5.0,
            requests: 1_000,
            pushed,
        })
    }

    #[test]
    fn tightens_while_over_and_gives_slack_back_when_under() {
        let reqs = vec![Requirement {
            dimension: Dimension::Latency,
            statistic: Statistic::Mean,
            comparator: Comparator::AtMost,
            target: 1000.0,
        }];
        let mut f = Feedback::new(1, FeedbackConfig::default());
        // Ten windows' worth of updates, each a tenth new, 10 % over.
        for k in 1..=100 {
            f.update(&reqs, &[window(1100.0, 100 * k)], Some(&plan(true)));
        }
        let tight = f.targets(&reqs)[0];
        assert!((700.0..950.0).contains(&tight), "{tight}");
        // Far under target while binding: the slack is given back, down to the bound.
        for k in 101..=400 {
            f.update(&reqs, &[window(800.0, 100 * k)], Some(&plan(true)));
        }
        let loose = f.targets(&reqs)[0];
        assert!(loose > 1000.0 && loose <= 1200.0 + 1e-9, "{loose}");
        // The same under target while not binding: the loosening is released.
        for k in 401..=500 {
            f.update(&reqs, &[window(800.0, 100 * k)], Some(&plan(false)));
        }
        assert!((f.targets(&reqs)[0] - 1000.0).abs() < 2.0, "{:?}", f.targets(&reqs));
        // An update with nothing new moves nothing but the bleed.
        let before = f.tighten[0];
        f.update(&reqs, &[window(2000.0, 50_000)], Some(&plan(true)));
        assert_eq!(f.tighten[0], before);
        f.update(&reqs, &[None], None);
        assert!(f.tighten[0].abs() <= before.abs());
    }

    /// The controller's step response against a plant that realises the planned target plus a
    /// bias (relative to the target): a step of +10 % in the bias, one window of fresh data per
    /// update, no noise. The correction is geometric, (1 − gain) per window, without overshoot, and
    /// settles where the bleed balances the gain (gain / (gain + bleed) of the step).
    #[test]
    fn a_step_in_the_bias_is_corrected_geometrically_without_overshoot() {
        let reqs = vec![Requirement {
            dimension: Dimension::ErrorRate,
            statistic: Statistic::Mean,
            comparator: Comparator::AtMost,
            target: 0.01,
        }];
        let cfg = FeedbackConfig {
            aim_z: 0.0,
            ..FeedbackConfig::default()
        };
        let (gain, bleed) = (cfg.gain, cfg.bleed);
        let mut f = Feedback::new(1, cfg);
        let step = 0.1;
        let mut path = Vec::new();
        for k in 1..=60u64 {
            let bias = if k > 10 { step } else { 0.0 };
            let planned = f.targets(&reqs)[0];
            let realised = planned + bias * reqs[0].target;
            let r = Realised {
                value: realised,
                std_err: 0.0,
                requests: 1_000,
                pushed: 1_000 * k,
            };
            f.update(&reqs, &[Some(r)], Some(&plan(true)));
            path.push(f.tighten[0]);
        }
        let settled = step * gain / (gain + bleed);
        // Before the step: nothing to correct.
        assert!(path[..10].iter().all(|t| t.abs() < 1e-12), "{path:?}");
        // After: rising every window, never past where it settles.
        for w in path[10..].windows(2) {
            assert!(w[1] >= w[0] - 1e-12 && w[1] <= settled + 1e-9, "{path:?}");
        }
        // 90 % of the way within ln(0.1) / ln(1 − gain − bleed) ≈ 14 windows of the step.
        let needed = (0.1f64.ln() / (1.0 - gain - bleed).ln()).ceil() as usize;
        assert!(path[10 + needed] >= 0.9 * settled, "{needed} windows: {path:?}");
        assert!((path[59] - settled).abs() < 0.01 * settled, "{path:?}");
    }
}
