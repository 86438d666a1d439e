//! Booking.com's 17 job titles (BCJT), the table behind `domain::contact_set::JobTitle`.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Booking's exact display strings, in its (alphabetical) order. `JobTitle`'s variants follow this
/// order, so a variant's discriminant is its position here.
pub const BOOKING_JOB_TITLES: [&str; 17] = [
    "Administration Employee",
    "Director of Business Development",
    "E-Commerce Manager",
    "Finance Manager",
    "Front Office Employee",
    "Front Office Manager",
    "General Manager",
    "Marketing Manager",
    "Owner",
    "Reservations Employee",
    "Reservations Manager",
    "Revenue Manager",
    "Rooms Division Manager",
    "Sales & Marketing Manager",
    "Sales Executive",
    "Sales Manager",
    "Unknown",
];

static BY_LOWERCASE: LazyLock<HashMap<String, usize>> =
    LazyLock::new(|| BOOKING_JOB_TITLES.iter().enumerate().map(|(i, t)| (t.to_lowercase(), i)).collect());

/// The position in [`BOOKING_JOB_TITLES`] of `title` (any case), if it is one.
pub fn booking_job_title(title: &str) -> Option<usize> {
    BY_LOWERCASE.get(&title.to_lowercase()).copied()
}

/// Builds the lookup table now rather than on the first request.
pub fn warm_up() {
    LazyLock::force(&BY_LOWERCASE);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_case_finds_the_position() {
        warm_up();
        assert_eq!(booking_job_title("Administration Employee"), Some(0));
        assert_eq!(booking_job_title("sales & MARKETING manager"), Some(13));
        assert_eq!(booking_job_title("unknown"), Some(16));
        for bad in ["CEO", "", "General  Manager", " Owner"] {
            assert_eq!(booking_job_title(bad), None, "{bad}");
        }
        for (i, t) in BOOKING_JOB_TITLES.iter().enumerate() {
            assert_eq!(booking_job_title(t), Some(i));
        }
    }
}
