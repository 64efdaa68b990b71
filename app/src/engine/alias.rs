//! Vose alias table: O(1) weighted draws from published plan weights.
//!
//! The engine has no RNG: the caller passes a uniformly random `u64` per draw (the server uses its own
//! generator; tests use a seeded one). The high 32 bits pick a column (multiply-shift, no modulo bias worth
//! mentioning at n ≤ 2³²), the low 32 bits decide between the column and its alias.

use serde::{Deserialize, Serialize};

/// Why an alias table could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AliasError {
    #[error("no weights")]
    Empty,
    #[error("weights must be finite, non-negative and not all zero")]
    InvalidWeights,
}

/// A built alias table over `n` outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasTable {
    /// Acceptance threshold per column, scaled to 2³² (2³² = always keep the column).
    threshold: Vec<u64>,
    alias: Vec<u32>,
}

const SCALE: f64 = 4_294_967_296.0; // 2^32

impl AliasTable {
    /// Builds the table from weights (normalised internally). Zero-weight outcomes are never drawn.
    pub fn new(weights: &[f64]) -> Result<Self, AliasError> {
        let n = weights.len();
        if n == 0 {
            return Err(AliasError::Empty);
        }
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
            return Err(AliasError::InvalidWeights);
        }
        let total: f64 = weights.iter().sum();
        if !(total > 0.0) || n > u32::MAX as usize {
            return Err(AliasError::InvalidWeights);
        }
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut small = Vec::with_capacity(n);
        let mut large = Vec::with_capacity(n);
        for (i, &p) in scaled.iter().enumerate() {
            if p < 1.0 {
                small.push(i);
            } else {
                large.push(i);
            }
        }
        let mut threshold = vec![SCALE as u64; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            threshold[s] = (scaled[s] * SCALE).round().clamp(0.0, SCALE) as u64;
            alias[s] = l as u32;
            scaled[l] = (scaled[l] + scaled[s]) - 1.0;
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Leftovers (round-off) keep their own column. A zero-weight column left over would still be drawable,
        // so point it at a positive-weight outcome instead.
        let fallback = weights.iter().position(|w| *w > 0.0).unwrap_or(0) as u32;
        for i in small.into_iter().chain(large) {
            if weights[i] > 0.0 {
                threshold[i] = SCALE as u64;
            } else {
                threshold[i] = 0;
                alias[i] = fallback;
            }
        }
        Ok(AliasTable { threshold, alias })
    }

    /// Number of outcomes.
    pub fn len(&self) -> usize {
        self.threshold.len()
    }

    /// Always false for a built table (kept for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.threshold.is_empty()
    }

    /// Draws an outcome from one uniformly random `u64`, in O(1).
    #[inline]
    pub fn draw(&self, u: u64) -> usize {
        let n = self.threshold.len() as u64;
        let col = (((u >> 32) * n) >> 32) as usize;
        if (u & 0xFFFF_FFFF) < self.threshold[col] {
            col
        } else {
            self.alias[col] as usize
        }
    }

    /// Draws an outcome that `allowed` accepts (e.g. circuit breaker closed): redraws up to 8 times with
    /// bits derived from `u` (expected O(1) while blocked outcomes carry little weight), then takes the first
    /// allowed outcome. `None` if nothing is allowed.
    pub fn draw_where(&self, u: u64, mut allowed: impl FnMut(usize) -> bool) -> Option<usize> {
        let mut x = u;
        for _ in 0..8 {
            let i = self.draw(x);
            if allowed(i) {
                return Some(i);
            }
            x = splitmix64(x);
        }
        (0..self.len())
            .find(|&i| self.threshold[i] > 0 && allowed(i))
            .or_else(|| (0..self.len()).find(|&i| allowed(i)))
    }
}

/// SplitMix64 step: turns one random word into another, well mixed.
#[inline]
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_weights_and_skips_zero_weights() {
        assert_eq!(AliasTable::new(&[]), Err(AliasError::Empty));
        assert_eq!(AliasTable::new(&[0.0, 0.0]), Err(AliasError::InvalidWeights));
        assert_eq!(AliasTable::new(&[1.0, f64::NAN]), Err(AliasError::InvalidWeights));
        let t = AliasTable::new(&[0.0, 1.0, 0.0, 3.0]);
        assert!(t.is_ok());
        if let Ok(t) = t {
            let mut x = 1u64;
            for _ in 0..10_000 {
                x = splitmix64(x);
                let i = t.draw(x);
                assert!(i == 1 || i == 3);
            }
            assert_eq!(t.draw_where(x, |i| i != 3 && i != 1), Some(0));
            assert_eq!(t.draw_where(x, |_| false), None);
        }
    }
}
