//! Weighted histogram on the shared log grid ([`crate::engine::grid`]).
//!
//! Stored as a dense run of buckets from `offset`: a latency distribution spans a few hundred buckets, so
//! 50 models × a handful of dimensions stay small, and scanning a run is faster than a sparse map.
//! Within a log bucket the CDF is linear in log(value); because every histogram uses the same grid and the
//! same interpolation, the CDF of a weighted mixture equals the weighted sum of the CDFs exactly.

use serde::{Deserialize, Serialize};

use super::grid::{self, BUCKETS};

/// Weights per grid bucket. `counts[i]` is the weight of bucket `offset + i`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Histogram {
    offset: u32,
    counts: Vec<f64>,
    total: f64,
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Self::default()
    }

    /// Total weight.
    pub fn total(&self) -> f64 {
        self.total
    }

    /// True when there is no (positive) weight.
    pub fn is_empty(&self) -> bool {
        !(self.total > 0.0)
    }

    /// First bucket index held.
    pub fn first_bucket(&self) -> usize {
        self.offset as usize
    }

    /// One past the last bucket index held.
    pub fn end_bucket(&self) -> usize {
        self.offset as usize + self.counts.len()
    }

    /// Weight of bucket `k` (0 outside the held run).
    #[inline]
    pub fn bucket(&self, k: usize) -> f64 {
        let off = self.offset as usize;
        if k < off {
            return 0.0;
        }
        self.counts.get(k - off).copied().unwrap_or(0.0)
    }

    /// Makes room for bucket `k` and returns its slot.
    fn slot(&mut self, k: usize) -> &mut f64 {
        let k = k.min(BUCKETS - 1);
        if self.counts.is_empty() {
            self.offset = k as u32;
            self.counts.push(0.0);
        }
        let off = self.offset as usize;
        if k < off {
            // Grow at the front; leave headroom so a slowly widening distribution does not shift every time.
            let grow = (off - k).max(8).min(off);
            let mut v = vec![0.0; grow];
            v.extend_from_slice(&self.counts);
            self.counts = v;
            self.offset = (off - grow) as u32;
        }
        let off = self.offset as usize;
        if k >= off + self.counts.len() {
            let new_len = (k - off + 1).max(self.counts.len() + 8).min(BUCKETS - off);
            self.counts.resize(new_len, 0.0);
        }
        &mut self.counts[k - off]
    }

    /// Adds `weight` at `value`. Non-finite or non-positive weights are ignored; a NaN value is ignored.
    pub fn add(&mut self, value: f64, weight: f64) {
        if value.is_nan() || !(weight > 0.0) || !weight.is_finite() {
            return;
        }
        self.add_to_bucket(grid::bucket_of(value), weight);
    }

    /// Adds `weight` to bucket `k` directly (used to build histograms from a known distribution).
    pub fn add_to_bucket(&mut self, k: usize, weight: f64) {
        if !(weight > 0.0) || !weight.is_finite() {
            return;
        }
        *self.slot(k) += weight;
        self.total += weight;
    }

    /// Multiplies every weight by `factor` (decay, normalisation). A non-finite or negative factor empties it.
    pub fn scale(&mut self, factor: f64) {
        if !(factor >= 0.0) || !factor.is_finite() {
            self.clear();
            return;
        }
        for c in &mut self.counts {
            *c *= factor;
        }
        self.total *= factor;
    }

    /// Removes all weight.
    pub fn clear(&mut self) {
        self.counts.clear();
        self.offset = 0;
        self.total = 0.0;
    }

    /// Adds `factor` × `other` into `self` (merging data, or building a mixture).
    pub fn merge_scaled(&mut self, other: &Histogram, factor: f64) {
        if other.is_empty() || !(factor > 0.0) || !factor.is_finite() {
            return;
        }
        // Ensure both ends exist once, then add bucket by bucket.
        let _ = self.slot(other.first_bucket());
        let _ = self.slot(other.end_bucket() - 1);
        let off = self.offset as usize;
        let start = other.first_bucket() - off;
        for (i, &c) in other.counts.iter().enumerate() {
            self.counts[start + i] += c * factor;
        }
        self.total += other.total * factor;
    }

    /// Drops leading and trailing buckets holding less than `rel` of the total, to keep snapshots compact.
    pub fn trim(&mut self, rel: f64) {
        if self.is_empty() {
            self.clear();
            return;
        }
        let eps = self.total * rel.max(0.0);
        let first = self.counts.iter().position(|&c| c > eps);
        let last = self.counts.iter().rposition(|&c| c > eps);
        if let (Some(a), Some(b)) = (first, last) {
            let removed: f64 = self.counts[..a].iter().chain(&self.counts[b + 1..]).sum();
            self.counts = self.counts[a..=b].to_vec();
            self.offset += a as u32;
            self.total -= removed;
        }
    }

    /// Weight at or below `y` (not normalised).
    pub fn weight_below(&self, y: f64) -> f64 {
        if self.is_empty() || y < 0.0 || y.is_nan() {
            return 0.0;
        }
        let (k, frac) = grid::locate(y);
        let off = self.offset as usize;
        if k < off {
            return 0.0;
        }
        let idx = k - off;
        if idx >= self.counts.len() {
            return self.total;
        }
        let below: f64 = self.counts[..idx].iter().sum();
        below + self.counts[idx] * frac
    }

    /// P(X ≤ y), or `None` when empty.
    pub fn cdf(&self, y: f64) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        Some((self.weight_below(y) / self.total).clamp(0.0, 1.0))
    }

    /// The `p`-quantile (0 ≤ p ≤ 1), or `None` when empty or `p` is not a probability.
    pub fn quantile(&self, p: f64) -> Option<f64> {
        if self.is_empty() || !(0.0..=1.0).contains(&p) {
            return None;
        }
        let target = p * self.total;
        let off = self.offset as usize;
        let mut cum = 0.0;
        let mut last_nonzero = None;
        for (i, &c) in self.counts.iter().enumerate() {
            if c <= 0.0 {
                continue;
            }
            last_nonzero = Some(i);
            if cum + c >= target {
                let frac = if c > 0.0 { (target - cum) / c } else { 0.0 };
                return Some(grid::value_at(off + i, frac));
            }
            cum += c;
        }
        last_nonzero.map(|i| grid::value_at(off + i, 1.0))
    }

    /// Mean computed from bucket midpoints (about 1 % relative error); estimators keep exact means instead.
    pub fn approx_mean(&self) -> Option<f64> {
        if self.is_empty() {
            return None;
        }
        let off = self.offset as usize;
        let s: f64 = self
            .counts
            .iter()
            .enumerate()
            .map(|(i, &c)| c * grid::value_at(off + i, 0.5))
            .sum();
        Some(s / self.total)
    }
}

/// The `p`-quantile of the mixture Σ wᵢ·(hᵢ / totalᵢ): the value y where Σ wᵢ·Fᵢ(y) / Σ wᵢ = p, exact on the
/// shared grid. Components with zero weight or empty histograms are skipped; `None` when nothing remains.
pub fn mixture_quantile(parts: &[(&Histogram, f64)], p: f64) -> Option<f64> {
    if !(0.0..=1.0).contains(&p) {
        return None;
    }
    let mut lo = usize::MAX;
    let mut hi = 0;
    let mut wsum = 0.0;
    for (h, w) in parts {
        if h.is_empty() || !(*w > 0.0) {
            continue;
        }
        lo = lo.min(h.first_bucket());
        hi = hi.max(h.end_bucket());
        wsum += w;
    }
    if !(wsum > 0.0) || lo >= hi {
        return None;
    }
    let target = p * wsum;
    let mut cum = 0.0;
    let mut last = lo;
    for k in lo..hi {
        let c: f64 = parts
            .iter()
            .filter(|(h, w)| *w > 0.0 && !h.is_empty())
            .map(|(h, w)| h.bucket(k) * w / h.total())
            .sum();
        if c <= 0.0 {
            continue;
        }
        last = k;
        if cum + c >= target {
            return Some(grid::value_at(k, (target - cum) / c));
        }
        cum += c;
    }
    Some(grid::value_at(last, 1.0))
}

/// Σ wᵢ·Fᵢ(y) / Σ wᵢ over non-empty components.
pub fn mixture_cdf(parts: &[(&Histogram, f64)], y: f64) -> Option<f64> {
    let mut wsum = 0.0;
    let mut acc = 0.0;
    for (h, w) in parts {
        if let Some(f) = h.cdf(y) {
            if *w > 0.0 {
                acc += w * f;
                wsum += w;
            }
        }
    }
    (wsum > 0.0).then(|| acc / wsum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_and_cdf_agree() {
        let mut h = Histogram::new();
        for i in 1..=1000 {
            h.add(i as f64, 1.0);
        }
        let q = h.quantile(0.9).unwrap_or(f64::NAN);
        assert!((q / 900.0 - 1.0).abs() < 0.02, "{q}");
        let f = h.cdf(q).unwrap_or(f64::NAN);
        assert!((f - 0.9).abs() < 1e-9, "{f}");
        assert_eq!(Histogram::new().quantile(0.5), None);
    }

    #[test]
    fn mixture_cdf_is_weighted_sum() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        for i in 1..200 {
            a.add(i as f64, 1.0);
            b.add(10.0 * i as f64, 2.0);
        }
        let parts = [(&a, 0.3), (&b, 0.7)];
        let q = mixture_quantile(&parts, 0.75).unwrap_or(f64::NAN);
        let f = 0.3 * a.cdf(q).unwrap_or(0.0) + 0.7 * b.cdf(q).unwrap_or(0.0);
        assert!((f - 0.75).abs() < 1e-9, "{f}");
        assert!((mixture_cdf(&parts, q).unwrap_or(0.0) - 0.75).abs() < 1e-9);
    }

    #[test]
    fn merge_trim_and_zero_bucket() {
        let mut a = Histogram::new();
        a.add(0.0, 1.0);
        a.add(5.0, 1.0);
        let mut b = Histogram::new();
        b.add(1e6, 2.0);
        a.merge_scaled(&b, 0.5);
        assert!((a.total() - 3.0).abs() < 1e-12);
        assert_eq!(a.cdf(0.0), Some(1.0 / 3.0));
        a.scale(2.0);
        a.trim(0.0);
        assert!((a.total() - 6.0).abs() < 1e-12);
    }
}
