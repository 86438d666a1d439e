//! What the time-ordered logs (events, audit entries) share for pruning.

/// The rows of `table` (events or audit entries) before its first row that occurred at or after
/// `$1`. Ids follow time (each row is stamped as it is inserted), so this is what occurred before
/// `$1`, to within the milliseconds two concurrent writers may differ by. It needs no index on
/// `occurred_at`, which every write would pay for: the id order scan stops at the first row kept.
pub(super) fn older_than(table: &str) -> String {
    format!(
        "id < COALESCE((SELECT k.id FROM {table} k WHERE k.occurred_at >= $1 ORDER BY k.id LIMIT 1), \
         9223372036854775807)"
    )
}
