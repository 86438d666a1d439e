//! Pure validation (no I/O): the error vocabulary, the collector, and the rule tables of API.md.
//!
//! - [`errors`]: [`FieldError`] (an RFC 6901 [`Pointer`], a stable machine [`code`](codes), a detail
//!   and an [`ErrorKind`] each route maps to its own dialect: Booking `320`, `321`, `394`, `450`; SU
//!   `244`, `320`, `321`, `584`) and [`Errors`], the collector every parser reports through.
//! - [`codes`]: the codes shared by several families; a family's own codes sit next to its
//!   domain type.
//! - Rules more than one family uses, and every rule table (built once in statics): [`ids`],
//!   [`phone`], [`country`] (countries, postal codes), [`text`] (the one character rule every
//!   string obeys, CJK, email, languages), [`job_title`], [`entity_tag`] (`If-Match`). A table-free rule of one family lives next to its domain type in
//!   `crate::domain`.
//! - [`ParseOptions`] and [`PhoneLimits`]: where the Booking and SU contact-set routes differ.
//!
//! Nothing here knows the domain types; they are built on these rules, never the other way round.

pub mod codes;
pub mod country;
pub mod entity_tag;
pub mod errors;
pub mod ids;
pub mod job_title;
pub mod phone;
pub mod pointer;
pub mod text;

pub use errors::{ErrorKind, Errors, FieldError};
pub use pointer::{escape_token, unescape_token, Pointer};

/// Builds every static table (phone metadata, postal formats, language and job-title lists)
/// so the first request does not pay for it. Call once at start-up.
pub fn warm_up() {
    phone::warm_up();
    country::warm_up();
    let _ = text::booking_language("en-gb");
    let _ = text::spoken_language("en-gb");
    job_title::warm_up();
}

/// Per-contact maximum number of phones of each tech type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhoneLimits {
    /// `phone_tech_type` 1.
    pub voice: usize,
    /// `phone_tech_type` 3.
    pub fax: usize,
    /// `phone_tech_type` 5.
    pub mobile: usize,
}

impl PhoneLimits {
    /// Booking's OpenAPI: voice <= 3, fax <= 1, mobile <= 1.
    pub const BOOKING: Self = PhoneLimits { voice: 3, fax: 1, mobile: 1 };
    /// The SU wrapper's documentation: voice <= 1, fax <= 3, mobile <= 1.
    pub const SU: Self = PhoneLimits { voice: 1, fax: 3, mobile: 1 };
}

/// How one route wants a contact-set body parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Phone cardinality limits of the route (the two source documents disagree).
    pub phone_limits: PhoneLimits,
    /// root members the caller handles itself (SU: hotel_id, channel_hotel_id)
    pub extra_root_members: &'static [&'static str],
}

impl ParseOptions {
    /// The Booking-compatible route (`PUT /contacts-api/...`).
    pub const BOOKING: Self = ParseOptions { phone_limits: PhoneLimits::BOOKING, extra_root_members: &[] };
    /// The SU-compatible route (`POST /SUAPI/.../contact/set`).
    pub const SU: Self =
        ParseOptions { phone_limits: PhoneLimits::SU, extra_root_members: &["hotel_id", "channel_hotel_id"] };
}

/// Renders an offending value for a `detail`, cut short so a huge input cannot bloat the response.
pub(crate) fn quote(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head:?}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_builds_tables() {
        warm_up();
        assert_eq!(text::booking_language("NL"), Some("nl"));
    }

    #[test]
    fn quote_truncates() {
        assert_eq!(quote("ab"), "\"ab\"");
        let long = "x".repeat(100);
        assert!(quote(&long).ends_with("..."));
        assert!(quote(&long).len() < 80);
    }
}
