//! Counters of what requests did (as opposed to the per-request metrics of [`crate::observability`]).
//!
//! A leaf, so that error rendering can count without depending on the app state or the middleware.

use crate::validation::FieldError;

/// Counts validation failures by machine code (`validation_failures_total{code}`).
pub fn count_validation_failures(errors: &[FieldError]) {
    for e in errors {
        metrics::counter!("validation_failures_total", "code" => e.code).increment(1);
    }
}
