//! The one log-bucket grid every histogram in the engine shares.
//!
//! Sharing one grid is what makes a mixture's CDF *exactly* the weighted sum of its models' CDFs: bucket k
//! means the same interval for every model, so a constraint like "p90 latency ≤ Y" becomes the linear
//! constraint Σ wᵢ·Fᵢ(Y) ≥ 0.9 on the mixture weights. Buckets grow by γ = 1.02, so a value is known to
//! within ±1 % (relative), and the span 1e-9 ..= 1e7 covers USD per request, milliseconds and tokens/s.

/// Ratio between consecutive bucket edges.
pub const GAMMA: f64 = 1.02;
/// ln γ, written out because `f64::ln` is not `const`.
pub const LN_GAMMA: f64 = 0.019_802_627_296_179_712;
/// Smallest value with its own log bucket; anything below (0 included) goes to the zero bucket 0.
pub const GRID_MIN: f64 = 1e-9;
/// Largest value with its own log bucket; anything at or above goes to the overflow bucket.
pub const GRID_MAX: f64 = 1e7;
/// Log buckets between `GRID_MIN` and `GRID_MAX`: ceil(ln(1e16) / ln γ).
pub const LOG_BUCKETS: usize = 1861;
/// Index of the overflow bucket (point mass at `GRID_MAX`).
pub const OVERFLOW: usize = LOG_BUCKETS + 1;
/// Total bucket count: zero bucket, log buckets, overflow bucket.
pub const BUCKETS: usize = LOG_BUCKETS + 2;

/// Continuous position of `v` on the grid in bucket units (0 at `GRID_MIN`), for `GRID_MIN <= v < GRID_MAX`.
#[inline]
fn position(v: f64) -> f64 {
    (v / GRID_MIN).ln() / LN_GAMMA
}

/// Bucket index of a value. Values below `GRID_MIN` (zero, negatives, NaN) map to bucket 0, which is
/// treated as a point mass at 0; values at or above `GRID_MAX` map to the overflow bucket.
#[inline]
pub fn bucket_of(v: f64) -> usize {
    if !(v >= GRID_MIN) {
        return 0;
    }
    if v >= GRID_MAX {
        return OVERFLOW;
    }
    let k = position(v).floor() as usize + 1;
    k.min(LOG_BUCKETS)
}

/// Where `y` falls: its bucket and the fraction of that bucket (in log space) lying at or below `y`.
/// For the point-mass buckets the fraction is 1 (the whole mass is at or below `y`).
#[inline]
pub fn locate(y: f64) -> (usize, f64) {
    if !(y >= GRID_MIN) {
        return (0, 1.0);
    }
    if y >= GRID_MAX {
        return (OVERFLOW, 1.0);
    }
    let x = position(y);
    let fl = x.floor();
    let k = (fl as usize + 1).min(LOG_BUCKETS);
    (k, (x - fl).clamp(0.0, 1.0))
}

/// The value at fraction `frac` (log-linear) through bucket `k`: inverse of [`locate`].
#[inline]
pub fn value_at(k: usize, frac: f64) -> f64 {
    match k {
        0 => 0.0,
        k if k >= OVERFLOW => GRID_MAX,
        k => GRID_MIN * ((k as f64 - 1.0 + frac.clamp(0.0, 1.0)) * LN_GAMMA).exp(),
    }
}

/// Lower edge of bucket `k`.
#[inline]
pub fn lower_edge(k: usize) -> f64 {
    value_at(k, 0.0)
}

/// Upper edge of bucket `k`.
#[inline]
pub fn upper_edge(k: usize) -> f64 {
    value_at(k, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_constants_are_consistent() {
        assert!((LN_GAMMA - GAMMA.ln()).abs() < 1e-15);
        assert!(upper_edge(LOG_BUCKETS) >= GRID_MAX * 0.999);
        assert!(lower_edge(LOG_BUCKETS) < GRID_MAX);
    }

    #[test]
    fn values_round_trip_within_one_percent() {
        for &v in &[1e-6, 0.00042, 1.0, 850.0, 12_345.0, 9.9e6] {
            let (k, f) = locate(v);
            assert_eq!(k, bucket_of(v));
            assert!((value_at(k, f) / v - 1.0).abs() < 1e-9);
            let mid = value_at(k, 0.5);
            assert!((mid / v - 1.0).abs() < 0.011, "v={v} mid={mid}");
        }
        assert_eq!(bucket_of(0.0), 0);
        assert_eq!(bucket_of(f64::NAN), 0);
        assert_eq!(bucket_of(1e9), OVERFLOW);
    }
}
