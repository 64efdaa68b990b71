//! Login throttling: a token bucket per username and one per client address (`governor`),
//! so neither guessing one account's password nor spraying many accounts from one
//! address gets far. Every attempt counts, successful or not.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::LoginLimits;

pub struct LoginLimiter {
    by_username: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        LoginLimiter {
            by_username: RateLimiter::keyed(per_minute(limits.per_username_per_minute)),
            by_address: RateLimiter::keyed(per_minute(limits.per_address_per_minute)),
        }
    }

    /// Counts an attempt; `Err(seconds)` says how long until the next one is allowed.
    pub fn check(&self, username: Option<&str>, address: IpAddr) -> Result<(), u64> {
        self.by_address.check_key(&address).map_err(retry_after_secs)?;
        if let Some(username) = username {
            self.by_username
                .check_key(&username.to_string())
                .map_err(retry_after_secs)?;
        }
        Ok(())
    }

    /// Forgets buckets that have refilled; run periodically so memory stays bounded.
    pub fn forget_idle(&self) {
        self.by_username.retain_recent();
        self.by_address.retain_recent();
    }
}

/// Whole seconds (rounded up) until a refused bucket admits again: what `Retry-After` and
/// the "try again in N s" messages say. Shared by every rate limiter.
pub fn retry_after_secs(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> u64 {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_username_and_per_address() {
        let limiter = LoginLimiter::new(LoginLimits {
            per_username_per_minute: 2,
            per_address_per_minute: 3,
        });
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let b: IpAddr = "10.0.0.2".parse().expect("ip");
        assert!(limiter.check(Some("alice"), a).is_ok());
        assert!(limiter.check(Some("alice"), b).is_ok());
        let wait = limiter
            .check(Some("alice"), b)
            .expect_err("third try on alice is throttled");
        assert!((1..=60).contains(&wait), "{wait}");
        // Another user from `a` still works until `a`'s own budget (3) runs out.
        assert!(limiter.check(Some("bob"), a).is_ok());
        assert!(limiter.check(Some("carol"), a).is_ok());
        assert!(limiter.check(Some("dave"), a).is_err());
    }
}
