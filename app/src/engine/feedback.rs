//! Feedback on realised behaviour: per requirement, an integral controller that moves the planning target
//! so that realised averages hold at the target, whatever bias the estimates carry (drift the decay has
//! not caught up with, a set whose prompts differ from the global mix, optimistic priors), and that gives
//! back a margin the realised values show is not needed (the planner's pessimism, sized for thin data,
//! is more than a well-measured set needs).
//!
//! State per requirement is one number `k` ∈ [−max_loosen, max_tighten]; the planning target is
//! `target × (1 − k)` for ≤ and `target × (1 + k)` for ≥ (evals capped at 1): k > 0 tightens, k < 0 plans
//! above a ≤ target (below a ≥ one) because the realised values sit confidently inside it.
//!
//! It steers on two measures of each requirement, each with its standard error ([`Measured`]):
//! * the **short window** (the set's last few thousand requests) only *tightens*, and only when the
//!   window is over its target by more than [`FeedbackConfig::tighten_z`] of its own standard errors — a
//!   real problem (a slowdown the estimates have not caught up with, a set whose prompts differ), not
//!   window noise;
//! * the **long measure** only *loosens*: the current mix's value on the set's own traffic to each model
//!   over the estimates' half-life ([`realised_long`]), when it is inside the target by more than
//!   [`FeedbackConfig::long_z`] standard errors and the short window is inside it too. It holds far more
//!   requests than a window (near 1 % error rates a window of 2,000 has a relative standard error near
//!   20 %; only thousands more can say the set is inside its target with room to spare), and being the
//!   current mix's it does not lag behind a change of plan. This is what gives back the margin the
//!   planner's pessimism keeps: at equilibrium the current mix sits `long_z` of its standard errors
//!   inside the target instead of the planner's `z`.
//!
//! **Damping.** Each update adds `gain × fresh × e`, where `e` is the confident relative excess (the
//! excess beyond its z standard errors) and `fresh` the share of the short window that is new since the
//! last update (new requests over its length). So `gain` is the share of a measured excess corrected per
//! window of fresh traffic, whatever the traffic rate or re-plan interval: a window that still holds the
//! old behaviour is not counted again and again (integral windup, the swing between models from one
//! re-plan to the next). With `gain` = 0.3 the loop is an integrator behind a moving-average lag of one
//! window, inside the non-oscillating range (gain ≤ ¼ per lag for a critically damped integrator, a
//! little more for a moving average's half-window mean delay); `the_controller_settles_without_swinging`
//! in `app/tests/engine_explore.rs` shows its step response. A deadband of 0.5 % keeps it still within
//! noise; while the plan is infeasible, tightening is released instead of wound up.

use serde::{Deserialize, Serialize};

use super::estimate::{has_distribution, Estimate};
use super::plan::quantile_level;
use crate::model_set::{Comparator, Dimension, Requirement};

/// Controller gains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackConfig {
    /// Share of a confident relative excess corrected per full turnover of its measure.
    pub gain: f64,
    /// Largest tightening (relative to the target).
    pub max_tighten: f64,
    /// Largest loosening (relative to the target), once the long measure shows room.
    #[serde(default = "default_max_loosen")]
    pub max_loosen: f64,
    /// Relative excess (beyond its noise) below which nothing moves.
    pub deadband: f64,
    /// Standard errors of its own noise the short window must be over by before it tightens.
    #[serde(default = "default_tighten_z")]
    pub tighten_z: f64,
    /// Standard errors the long measure must be inside the target by before it loosens it.
    #[serde(default = "default_long_z")]
    pub long_z: f64,
}

fn default_max_loosen() -> f64 {
    0.3
}

fn default_tighten_z() -> f64 {
    2.0
}

fn default_long_z() -> f64 {
    1.0
}

impl Default for FeedbackConfig {
    fn default() -> Self {
        FeedbackConfig {
            gain: 0.3,
            max_tighten: 0.3,
            max_loosen: default_max_loosen(),
            deadband: 0.005,
            tighten_z: default_tighten_z(),
            long_z: default_long_z(),
        }
    }
}

/// A realised statistic with its standard error.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub value: f64,
    pub std_err: f64,
}

/// What the controller reads at one update: per requirement (spec order) the short window's and the
/// long measure, and the share of the short window that is new since the previous update (0–1).
#[derive(Debug, Clone, Default)]
pub struct Reading {
    pub short: Vec<Option<Measured>>,
    pub short_fresh: f64,
    pub long: Vec<Option<Measured>>,
    /// Per requirement: whether it held the last plan back ([`crate::engine::Plan::binding`]). A
    /// loosened requirement that no longer binds is brought back towards its target: room it does not
    /// use would only let realised values drift when something changes.
    pub binding: Vec<bool>,
    /// The last plan could not meet every (planned) target: tightening further cannot help and
    /// only moves the least-violating mix away from the real targets, so tightening is released
    /// instead (anti-windup).
    pub infeasible: bool,
}

/// Feedback state for a set's requirements (same order as the spec's).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Feedback {
    pub cfg: FeedbackConfig,
    /// Current `k` per requirement: > 0 tightened, < 0 loosened.
    pub tighten: Vec<f64>,
}

/// The scale a requirement's relative excess is measured in: its target, or one point on a unit-range
/// dimension whose target is 0 (0 % errors).
fn scale(req: &Requirement) -> Option<f64> {
    let unit = matches!(req.dimension, Dimension::ErrorRate | Dimension::Eval(_));
    match req.target.abs() {
        t if t > 0.0 && t.is_finite() => Some(t),
        _ if unit => Some(0.01),
        _ => None,
    }
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
        let scale = scale(req)?;
        Some(match req.comparator {
            Comparator::AtMost => (realised - req.target) / scale,
            Comparator::AtLeast => (req.target - realised) / scale,
        })
    }

    /// The relative excess beyond `z` standard errors either way: positive when confidently over,
    /// negative when confidently under, 0 within noise or when unmeasured.
    fn confident(req: &Requirement, m: Option<Measured>, z: f64) -> f64 {
        let Some(m) = m else { return 0.0 };
        let (Some(e), Some(scale)) = (Self::excess(req, m.value), scale(req)) else {
            return 0.0;
        };
        let noise = if m.std_err.is_finite() {
            z * m.std_err.max(0.0) / scale
        } else {
            return 0.0;
        };
        if e > noise {
            e - noise
        } else if e < -noise {
            e + noise
        } else {
            0.0
        }
    }

    /// Moves each requirement's `k` by one reading (see the module doc). A spec whose requirement count
    /// changed resets the state.
    pub fn update(&mut self, reqs: &[Requirement], reading: &Reading) {
        if self.tighten.len() != reqs.len() {
            self.tighten = vec![0.0; reqs.len()];
        }
        let c = &self.cfg;
        let short_fresh = reading.short_fresh.clamp(0.0, 1.0);
        for (i, req) in reqs.iter().enumerate() {
            let measured_short = reading.short.get(i).copied().flatten();
            let short = Self::confident(req, measured_short, c.tighten_z).max(0.0);
            // The window at or inside its target (or not measured): only then is anything given back.
            let window_inside = measured_short
                .and_then(|m| Self::excess(req, m.value))
                .is_none_or(|e| e <= 0.0);
            let long = Self::confident(req, reading.long.get(i).copied().flatten(), c.long_z);
            // The short window only ever tightens; the long measure only loosens, and only while
            // the short window is inside its target.
            let mut step = 0.0;
            if short > c.deadband {
                step += c.gain * short_fresh * short;
            }
            let binding = reading.binding.get(i).copied().unwrap_or(true);
            // Tightening is always given back once the long measure is inside; loosening past the
            // target only for a requirement that holds the plan back.
            if long < -c.deadband && window_inside && (binding || self.tighten[i] > 0.0) {
                step += c.gain * short_fresh * long;
            }
            if !binding && self.tighten[i] < 0.0 {
                step -= c.gain * short_fresh * self.tighten[i];
            }
            if reading.infeasible && self.tighten[i] > 0.0 {
                step = -c.gain * short_fresh * self.tighten[i];
            }
            let mut k = self.tighten[i] + step;
            if self.tighten[i] > 0.0 && !binding {
                // Given back tightening stops at the target when the requirement does not bind.
                k = k.max(0.0);
            }
            self.tighten[i] = if k.is_finite() {
                k.clamp(-c.max_loosen.max(0.0), c.max_tighten.max(0.0))
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
                    Comparator::AtMost if unit => (r.target * (1.0 - k)).min(1.0),
                    Comparator::AtMost => r.target * (1.0 - k),
                    Comparator::AtLeast if unit => (r.target * (1.0 + k)).clamp(0.0, 1.0),
                    Comparator::AtLeast => r.target * (1.0 + k),
                }
            })
            .collect()
    }
}

/// Each requirement's value for the mix `weights` on the set's own traffic to each model (its per-model
/// estimates of that traffic, decayed with the estimates' half-life; `own[i]` is model i's, `None`
/// when the set has sent it nothing): the long measure of [`Reading`]. Unlike the set's recent window,
/// it is the *current* mix's, so it does not lag behind a change of plan; unlike the plan's estimates,
/// it is the set's own traffic only, without other sets' or the catalog's. A mean's standard error is
/// the mix's (‖w∘s‖); a percentile's is half the distance between the mixture quantiles one standard
/// error of the mixture's CDF either side of it.
pub fn realised_long(reqs: &[Requirement], own: &[Option<&Estimate>], weights: &[f64]) -> Vec<Option<Measured>> {
    use super::histogram::mixture_quantile;
    reqs.iter()
        .map(|r| {
            let parts: Vec<(&super::estimate::DimEstimate, f64, f64)> = own
                .iter()
                .zip(weights)
                .filter(|(_, w)| **w > 0.0)
                .filter_map(|(e, &w)| {
                    let e = (*e)?;
                    let d = e.dim(&r.dimension).filter(|d| d.n_eff > 1.0)?;
                    Some((d, w * e.presence(&r.dimension), w))
                })
                .collect();
            // Every weighted model must be measured, or the mix is not.
            let weighted = weights.iter().filter(|w| **w > 0.0).count();
            if parts.is_empty() || parts.len() < weighted {
                return None;
            }
            let total: f64 = parts.iter().map(|p| p.1).sum();
            if !(total > 0.0) {
                return None;
            }
            match quantile_level(r.statistic).filter(|_| has_distribution(&r.dimension)) {
                Some(q) => {
                    let hists: Vec<(&super::histogram::Histogram, f64)> = parts
                        .iter()
                        .filter_map(|(d, pw, _)| Some((d.hist.as_ref()?, *pw)))
                        .collect();
                    let value = mixture_quantile(&hists, q)?;
                    // The mixture CDF at the value is about q; its variance from each model's sample.
                    let var: f64 = parts
                        .iter()
                        .map(|(d, pw, _)| {
                            let f = d.cdf(value).unwrap_or(q);
                            (pw / total).powi(2) * f * (1.0 - f) / d.n_eff
                        })
                        .sum();
                    let spread = var.sqrt();
                    let lo = mixture_quantile(&hists, (q - spread).max(0.0))?;
                    let hi = mixture_quantile(&hists, (q + spread).min(1.0))?;
                    Some(Measured {
                        value,
                        std_err: (hi - lo) / 2.0,
                    })
                }
                None => {
                    let value = parts.iter().map(|(d, pw, _)| pw * d.mean).sum::<f64>() / total;
                    let var: f64 = parts.iter().map(|(d, pw, _)| (pw / total * d.std_err()).powi(2)).sum();
                    Some(Measured {
                        value,
                        std_err: var.sqrt(),
                    })
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_set::Statistic;

    fn latency() -> Vec<Requirement> {
        vec![Requirement {
            dimension: Dimension::Latency,
            statistic: Statistic::Mean,
            comparator: Comparator::AtMost,
            target: 1000.0,
        }]
    }

    fn reading(short: f64, short_se: f64, long: f64, long_se: f64) -> Reading {
        Reading {
            short: vec![Some(Measured {
                value: short,
                std_err: short_se,
            })],
            short_fresh: 0.1,
            long: vec![Some(Measured {
                value: long,
                std_err: long_se,
            })],
            binding: vec![true],
            infeasible: false,
        }
    }

    #[test]
    fn tightens_while_over_and_gives_back_when_well_inside() {
        let reqs = latency();
        let mut f = Feedback::new(1, FeedbackConfig::default());
        // A short window confidently over (1,100 ± 10 ms): tightens.
        for _ in 0..30 {
            f.update(&reqs, &reading(1100.0, 10.0, 1000.0, 5.0));
        }
        let tight = f.targets(&reqs)[0];
        assert!((700.0..990.0).contains(&tight), "{tight}");
        // Over only by window noise (1,015 ± 10 ms, under 2 standard errors): nothing moves.
        let before = f.tighten[0];
        f.update(&reqs, &reading(1015.0, 10.0, 1000.0, 5.0));
        assert_eq!(f.tighten[0], before);
        // The long measure well inside (900 ± 5 ms) while the window is not over: gives back, and goes
        // on to plan above the target, up to the cap.
        for _ in 0..500 {
            f.update(&reqs, &reading(950.0, 10.0, 900.0, 5.0));
        }
        assert!(f.targets(&reqs)[0] > 1000.0, "{:?}", f.targets(&reqs));
        assert!(f.targets(&reqs)[0] <= 1300.0 + 1e-9);
        // Nothing measured: nothing moves.
        let before = f.tighten[0];
        f.update(&reqs, &Reading::default());
        assert_eq!(f.tighten[0], before);
    }

    #[test]
    fn a_step_is_corrected_by_the_share_of_fresh_data() {
        let reqs = latency();
        let mut once = Feedback::new(1, FeedbackConfig::default());
        once.update(
            &reqs,
            &Reading {
                short_fresh: 1.0,
                ..reading(1200.0, 1.0, 1000.0, 1.0)
            },
        );
        let mut tenths = Feedback::new(1, FeedbackConfig::default());
        for _ in 0..10 {
            tenths.update(&reqs, &reading(1200.0, 1.0, 1000.0, 1.0));
        }
        // A whole window of fresh data read once moves k as much as ten tenths of it: the re-plan
        // interval does not change the loop's gain.
        assert!(
            (once.tighten[0] - tenths.tighten[0]).abs() < 1e-9,
            "{once:?} {tenths:?}"
        );
    }
}
