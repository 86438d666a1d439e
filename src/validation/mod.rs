//! Pure validation (no I/O) of the rules in API.md §4 and §5.
//!
//! Everything here reports problems as [`FieldError`]s: an RFC 6901 pointer, a stable machine
//! [`code`](codes) and an [`ErrorKind`] that each route maps to its own dialect (Booking `320`,
//! `321`, `394`, `450`; SU `244`, `320`, `321`, `584`). The list of codes is in [`codes`].
//!
//! The contact-set walker itself is `ContactSet::parse` in `crate::domain::contact_set`; the tables
//! it relies on (countries, postal codes, languages, job titles, phone metadata) live in the sibling
//! modules and are built once in statics. Nothing here knows the domain types: they are built on
//! these rules, never the other way round.

pub mod codes;
pub mod country;
pub mod job_title;
pub mod phone;
pub mod text;

use std::borrow::Cow;
use std::fmt;

/// Builds every static table (phone metadata, postal formats, language and job-title lists)
/// so the first request does not pay for it. Call once at start-up.
pub fn warm_up() {
    phone::warm_up();
    country::warm_up();
    let _ = text::booking_language("en-gb");
    let _ = text::spoken_language("en-gb");
    job_title::warm_up();
}

/// What went wrong, in the terms each API dialect maps to its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Booking 321 / SU 321: a required member is absent or null.
    Missing,
    /// Booking 320 / SU 320: a value is wrong (type, format, range, duplicate...).
    Invalid,
    /// Booking 394: a JSON member we do not know.
    UnknownMember,
    /// Booking 450: e.g. contact_profiles type "contract".
    Unprocessable,
    /// Booking 320, SU 584: unknown contact_profiles type.
    InvalidProfileType,
    /// Booking 320, SU 244.
    InvalidEmail,
}

impl ErrorKind {
    /// The OTA error code Booking's Contacts API uses for this kind.
    pub const fn booking_code(self) -> &'static str {
        match self {
            ErrorKind::Missing => "321",
            ErrorKind::Invalid | ErrorKind::InvalidProfileType | ErrorKind::InvalidEmail => "320",
            ErrorKind::UnknownMember => "394",
            ErrorKind::Unprocessable => "450",
        }
    }

    /// The error code the SU wrapper uses for this kind.
    ///
    /// SU documents no codes for unknown members or `contract`, so those fall back to the
    /// generic invalid-value code.
    pub const fn su_code(self) -> &'static str {
        match self {
            ErrorKind::Missing => "321",
            ErrorKind::InvalidProfileType => "584",
            ErrorKind::InvalidEmail => "244",
            ErrorKind::Invalid | ErrorKind::UnknownMember | ErrorKind::Unprocessable => "320",
        }
    }
}

/// One violation found in a request body or query string.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// RFC 6901 JSON pointer into the body (`/contacts/0/phones/1/phone_number`), or a query parameter name.
    pub pointer: String,
    /// Stable snake_case machine code, e.g. `phone_invalid_for_country`.
    pub code: &'static str,
    /// Human-readable explanation, never echoing more than the offending value.
    pub detail: String,
    #[serde(skip)]
    pub kind: ErrorKind,
}

impl FieldError {
    /// One violation at `pointer`.
    pub fn new(pointer: &str, kind: ErrorKind, code: &'static str, detail: impl Into<String>) -> Self {
        FieldError { pointer: pointer.to_owned(), code, detail: detail.into(), kind }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.pointer, self.code, self.detail)
    }
}

/// An RFC 6901 JSON pointer, built one reference token at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Pointer(String);

impl Pointer {
    /// The whole document (the empty pointer).
    pub fn root() -> Self {
        Pointer(String::new())
    }

    /// The pointer to member `name` of the object this pointer designates.
    pub fn key(&self, name: &str) -> Self {
        let escaped = escape_token(name);
        let mut s = String::with_capacity(self.0.len() + 1 + escaped.len());
        s.push_str(&self.0);
        s.push('/');
        s.push_str(&escaped);
        Pointer(s)
    }

    /// The pointer to item `index` of the array this pointer designates.
    pub fn index(&self, index: usize) -> Self {
        Pointer(format!("{}/{}", self.0, index))
    }

    /// The pointer as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Pointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Pointer> for String {
    fn from(p: Pointer) -> String {
        p.0
    }
}

impl From<&Pointer> for String {
    fn from(p: &Pointer) -> String {
        p.0.clone()
    }
}

/// Escapes one reference token per RFC 6901 §3 (`~` -> `~0`, then `/` -> `~1`).
pub fn escape_token(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Collects every violation of one request, in the order they are found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Errors {
    items: Vec<FieldError>,
}

impl Errors {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one violation.
    pub fn push(
        &mut self,
        pointer: impl Into<String>,
        kind: ErrorKind,
        code: &'static str,
        detail: impl Into<String>,
    ) {
        self.items.push(FieldError { pointer: pointer.into(), code, detail: detail.into(), kind });
    }

    /// Records one violation at position `index`, for set-wide rules that are only decided
    /// after the walk but belong before the errors of the items they summarise.
    pub fn insert(
        &mut self,
        index: usize,
        pointer: impl Into<String>,
        kind: ErrorKind,
        code: &'static str,
        detail: impl Into<String>,
    ) {
        let index = index.min(self.items.len());
        self.items.insert(index, FieldError { pointer: pointer.into(), code, detail: detail.into(), kind });
    }

    /// Number of violations so far.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The violations recorded so far.
    pub fn as_slice(&self) -> &[FieldError] {
        &self.items
    }

    /// `Ok(value)` when nothing was recorded, else every violation.
    pub fn into_result<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.items.is_empty() {
            Ok(value)
        } else {
            Err(self.items)
        }
    }

    /// The violations, in order.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.items
    }
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
    fn pointer_escapes_tilde_before_slash() {
        let p = Pointer::root().key("contacts").index(0).key("a/b~c");
        assert_eq!(p.as_str(), "/contacts/0/a~1b~0c");
        // `~1` in the input must not turn into `/` when read back, so `~` is escaped first.
        assert_eq!(Pointer::root().key("~1").as_str(), "/~01");
        assert_eq!(Pointer::root().as_str(), "");
        assert_eq!(Pointer::root().key("").as_str(), "/");
    }

    #[test]
    fn errors_collect_in_order_and_insert() {
        let mut e = Errors::new();
        assert!(e.is_empty());
        e.push("/a", ErrorKind::Invalid, codes::INVALID_TYPE, "x");
        e.push("/c", ErrorKind::Invalid, codes::EMPTY, "y");
        e.insert(1, "/b", ErrorKind::Missing, codes::REQUIRED, "z");
        assert_eq!(e.len(), 3);
        let v = e.clone().into_result(()).unwrap_err();
        let ptrs: Vec<_> = v.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(ptrs, ["/a", "/b", "/c"]);
        assert_eq!(Errors::new().into_result(5), Ok(5));
    }

    #[test]
    fn field_error_serializes_without_kind() {
        let fe = FieldError {
            pointer: "/email".into(),
            code: codes::EMAIL_INVALID,
            detail: "bad".into(),
            kind: ErrorKind::InvalidEmail,
        };
        assert_eq!(
            serde_json::to_value(&fe).unwrap(),
            serde_json::json!({"pointer": "/email", "code": "email_invalid", "detail": "bad"})
        );
    }

    #[test]
    fn dialect_codes() {
        assert_eq!(ErrorKind::Missing.booking_code(), "321");
        assert_eq!(ErrorKind::UnknownMember.booking_code(), "394");
        assert_eq!(ErrorKind::Unprocessable.booking_code(), "450");
        assert_eq!(ErrorKind::InvalidProfileType.booking_code(), "320");
        assert_eq!(ErrorKind::InvalidProfileType.su_code(), "584");
        assert_eq!(ErrorKind::InvalidEmail.su_code(), "244");
    }

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
