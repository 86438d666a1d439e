//! Per-key request rate limiting (GCRA, via `governor`), checked once a key is authenticated.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

/// A request over its key's allowance. The limiter's own answer, which the caller renders (as
/// `ApiError::RateLimited`), so limiting does not depend on the error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Whole seconds until the key may send again, rounded up.
    pub retry_after_secs: u64,
}

/// Requests per second and burst allowed to each API key.
#[derive(Clone)]
pub struct RateLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl RateLimiter {
    /// `None` when `per_second` is 0 (limiting off).
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        let quota = Quota::per_second(rate).allow_burst(burst);
        Some(RateLimiter {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(quota)),
            clock: DefaultClock::default(),
        })
    }

    /// Takes one request from `key_id`'s allowance, or says how long to wait.
    pub fn check(&self, key_id: &str) -> Result<(), Refused> {
        self.limiter.check_key(&key_id.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            Refused { retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) }
        })
    }

    /// Forgets keys that have been idle long enough to be back at full allowance.
    pub fn forget_idle_keys(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Runs [`Self::forget_idle_keys`] every `every`, for as long as the process lives.
    pub fn spawn_janitor(&self, every: Duration) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                this.forget_idle_keys();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refusal_with_retry_after_per_key() {
        let limiter = RateLimiter::new(1, 2).unwrap();
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        match limiter.check("a") {
            Err(Refused { retry_after_secs }) => assert!((1..=2).contains(&retry_after_secs)),
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another key has its own allowance.
        assert!(limiter.check("b").is_ok());
        assert!(RateLimiter::new(0, 5).is_none());
    }
}
