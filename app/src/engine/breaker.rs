//! Pure circuit breaker per model: time is passed in, so the server, the simulator and tests share it.
//!
//! Closed: failures and requests are counted with a short exponential memory, in time (`window_secs`) and in
//! requests (`window_requests`, so that at high traffic a burst of failures is not diluted by many older
//! successes; at low traffic the time memory forgets old failures). When at least
//! `min_requests` (decayed) were seen and the failure share reaches `trip_error_rate`, it opens. Open: no
//! traffic until `cooldown_secs` have passed, then half-open: exactly one probe is let through; success
//! closes it, failure re-opens it with the cool-down doubled (up to `max_cooldown_secs`).

use serde::{Deserialize, Serialize};

/// Thresholds of a [`Breaker`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerConfig {
    /// Time constant of the failure memory, seconds.
    pub window_secs: f64,
    /// Request-count constant of the failure memory (each new result multiplies older ones by e^{-1/this}).
    pub window_requests: f64,
    /// Decayed requests needed before the breaker may trip (one failure alone never trips it).
    pub min_requests: f64,
    /// Failure share that trips it.
    pub trip_error_rate: f64,
    /// First cool-down, seconds.
    pub cooldown_secs: f64,
    /// Longest cool-down after repeated failed probes, seconds.
    pub max_cooldown_secs: f64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            window_secs: 30.0,
            window_requests: 20.0,
            min_requests: 5.0,
            trip_error_rate: 0.5,
            cooldown_secs: 15.0,
            max_cooldown_secs: 300.0,
        }
    }
}

/// Breaker state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum BreakerState {
    /// Traffic flows; failures are being counted.
    Closed,
    /// No traffic until `until`.
    Open { until: f64 },
    /// One probe is in flight (`probe_sent`) or may be sent.
    HalfOpen { probe_sent: bool },
}

/// One model's circuit breaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breaker {
    cfg: BreakerConfig,
    state: BreakerState,
    requests: f64,
    failures: f64,
    last: f64,
    cooldown: f64,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(cfg: BreakerConfig) -> Self {
        let cooldown = cfg.cooldown_secs.max(0.0);
        Breaker {
            cfg,
            state: BreakerState::Closed,
            requests: 0.0,
            failures: 0.0,
            last: f64::NAN,
            cooldown,
        }
    }

    /// Current state (after any time-driven transition at the last call).
    pub fn state(&self) -> BreakerState {
        self.state
    }

    fn decay_to(&mut self, now: f64) {
        if self.last.is_finite() && now > self.last && self.cfg.window_secs > 0.0 {
            let f = (-(now - self.last) / self.cfg.window_secs).exp();
            self.requests *= f;
            self.failures *= f;
        }
        if now.is_finite() && (!self.last.is_finite() || now > self.last) {
            self.last = now;
        }
    }

    /// May a request be sent to this model now? Does not change state: call [`Breaker::on_send`] when one is.
    pub fn allows(&self, now: f64) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open { until } => now >= until,
            BreakerState::HalfOpen { probe_sent } => !probe_sent,
        }
    }

    /// True when the breaker is open and its cool-down has passed: the caller should send the next request
    /// to this model as a probe (a model at zero planned weight would otherwise never be probed).
    pub fn wants_probe(&self, now: f64) -> bool {
        matches!(self.state, BreakerState::Open { until } if now >= until)
    }

    /// Records that a request was sent now (turns an expired Open into a half-open probe).
    pub fn on_send(&mut self, now: f64) {
        match self.state {
            BreakerState::Open { until } if now >= until => self.state = BreakerState::HalfOpen { probe_sent: true },
            BreakerState::HalfOpen { .. } => self.state = BreakerState::HalfOpen { probe_sent: true },
            _ => {}
        }
    }

    /// Records a request's outcome.
    pub fn on_result(&mut self, ok: bool, now: f64) {
        match self.state {
            BreakerState::Closed => {
                self.decay_to(now);
                if self.cfg.window_requests > 0.0 {
                    let f = (-1.0 / self.cfg.window_requests).exp();
                    self.requests *= f;
                    self.failures *= f;
                }
                self.requests += 1.0;
                if !ok {
                    self.failures += 1.0;
                }
                if self.requests >= self.cfg.min_requests && self.failures >= self.cfg.trip_error_rate * self.requests {
                    self.cooldown = self.cfg.cooldown_secs.max(0.0);
                    self.state = BreakerState::Open {
                        until: now + self.cooldown,
                    };
                }
            }
            BreakerState::HalfOpen { .. } => {
                if ok {
                    self.state = BreakerState::Closed;
                    self.requests = 0.0;
                    self.failures = 0.0;
                    self.last = now;
                } else {
                    self.cooldown = (self.cooldown * 2.0)
                        .clamp(self.cfg.cooldown_secs.max(0.0), self.cfg.max_cooldown_secs.max(0.0));
                    self.state = BreakerState::Open {
                        until: now + self.cooldown,
                    };
                }
            }
            // Late results of requests sent before it opened change nothing.
            BreakerState::Open { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_probes_and_recovers() {
        let mut b = Breaker::new(BreakerConfig::default());
        for i in 0..20 {
            b.on_result(i % 10 != 0, i as f64);
        }
        assert_eq!(b.state(), BreakerState::Closed);
        let mut t = 100.0;
        while b.state() == BreakerState::Closed {
            b.on_result(false, t);
            t += 0.1;
            assert!(t < 110.0, "never tripped");
        }
        assert!(!b.allows(t));
        t += 16.0;
        assert!(b.allows(t));
        b.on_send(t);
        assert!(!b.allows(t), "one probe only");
        b.on_result(false, t);
        assert!(matches!(b.state(), BreakerState::Open { until } if until >= t + 29.0));
        t += 31.0;
        b.on_send(t);
        b.on_result(true, t);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allows(t));
    }
}
