//! What every write shares: its clock and whether it created what it wrote.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Whether a write created the row or changed an existing one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Updated,
}

/// Timestamps are cut to microseconds, which both backends store exactly, so what a write returns
/// equals what a later read returns.
pub(crate) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(now)
}
