//! When a failed event is tried again: exponential backoff from a base delay, with jitter, until
//! the retry window since the event happened has closed.
//!
//! The window counts from the event, not from its first failed attempt: events wait behind a
//! failing one (delivery keeps feed order), and counted from their own first attempt, a receiver
//! that stayed down would cost each waiting event a whole window, so the subscription would fall
//! further behind every day until its events were pruned before it reached them.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;

use crate::store::webhooks::AfterFailure;

/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// The retry rule of a process.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub window: Duration,
}

impl RetryPolicy {
    /// After the attempt at `now` of an event that occurred at `occurred_at` failed, with
    /// `attempts` failures before it and the first one at `first_failed_at` (none: this is the
    /// first): retry after `base * 2^attempts` (capped, ±20% jitter so that receivers coming back
    /// are not hit by every subscription at once), but no later than the end of the window, so the
    /// last attempt comes when the window closes; once it is closed, give up. An event is always
    /// tried twice: one already past its window when it first fails is retried once, at once.
    pub fn after_failure(
        &self,
        now: DateTime<Utc>,
        occurred_at: DateTime<Utc>,
        attempts: u32,
        first_failed_at: Option<DateTime<Utc>>,
    ) -> AfterFailure {
        // The earlier of the two: the database's clock may run ahead of this process's.
        let first = occurred_at.min(first_failed_at.unwrap_or(now));
        let window_end = first + TimeDelta::from_std(self.window).unwrap_or(TimeDelta::MAX);
        if first_failed_at.is_some() && now >= window_end {
            return AfterFailure::Abandon;
        }
        let delay = self.base.saturating_mul(1u32 << attempts.min(20)).min(MAX_DELAY);
        let jittered = delay.mul_f64(rand::thread_rng().gen_range(0.8..1.2));
        let next = now + TimeDelta::from_std(jittered).unwrap_or(TimeDelta::MAX);
        AfterFailure::RetryAt(next.min(window_end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(
        policy: &RetryPolicy,
        now: DateTime<Utc>,
        attempts: u32,
        first: Option<DateTime<Utc>>,
    ) -> TimeDelta {
        // An event that just happened: its window counts from its first failure.
        match policy.after_failure(now, first.unwrap_or(now), attempts, first) {
            AfterFailure::RetryAt(next) => next - now,
            AfterFailure::Abandon => panic!("abandoned"),
        }
    }

    #[test]
    fn backs_off_exponentially_then_gives_up() {
        let p = RetryPolicy { base: Duration::from_secs(1), window: Duration::from_secs(24 * 3600) };
        let now = Utc::now();
        let first = at(&p, now, 0, None);
        assert!(first >= TimeDelta::milliseconds(800) && first <= TimeDelta::milliseconds(1200), "{first}");
        let fourth = at(&p, now, 3, Some(now));
        assert!(fourth >= TimeDelta::milliseconds(6400) && fourth <= TimeDelta::milliseconds(9600));
        let capped = at(&p, now, 40, Some(now));
        assert!(capped <= TimeDelta::seconds(4320));
        // Near the end of the window the retry comes at its end, and after it there is none.
        let first_failed = now - TimeDelta::hours(24) + TimeDelta::milliseconds(100);
        assert!(at(&p, now, 10, Some(first_failed)) <= TimeDelta::milliseconds(100));
        let later = now + TimeDelta::milliseconds(100);
        assert!(matches!(
            p.after_failure(later, first_failed, 11, Some(first_failed)),
            AfterFailure::Abandon
        ));
    }

    #[test]
    fn the_window_counts_from_the_event() {
        let p = RetryPolicy { base: Duration::from_secs(1), window: Duration::from_secs(24 * 3600) };
        let now = Utc::now();
        // An event that waited 23 h behind a failing one has an hour of retries left, not 24.
        let waited = now - TimeDelta::hours(23);
        match p.after_failure(now, waited, 0, None) {
            AfterFailure::RetryAt(next) => assert!(next - now <= TimeDelta::milliseconds(1200)),
            AfterFailure::Abandon => panic!("abandoned on its first failure"),
        }
        let late = now + TimeDelta::minutes(61);
        assert!(matches!(p.after_failure(late, waited, 12, Some(now)), AfterFailure::Abandon));
        // One that waited past its window is retried once, at once, then given up.
        let stale = now - TimeDelta::hours(30);
        match p.after_failure(now, stale, 0, None) {
            AfterFailure::RetryAt(next) => assert!(next <= now),
            AfterFailure::Abandon => panic!("abandoned without a retry"),
        }
        assert!(matches!(p.after_failure(now, stale, 1, Some(now)), AfterFailure::Abandon));
    }
}
