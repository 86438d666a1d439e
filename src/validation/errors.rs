//! The one error vocabulary of every parser ([`FieldError`], [`ErrorKind`]) and the one way of
//! collecting violations ([`Errors`]).
//!
//! Every family (contact sets, CRM, customers, properties) walks its whole input, pushes each
//! violation into an [`Errors`] at its [`Pointer`](super::Pointer), and ends with
//! [`Errors::finish`], so one answer lists everything wrong in the order it was found. Each route
//! renders the resulting `Vec<FieldError>` in its own envelope.

use std::fmt;

use serde_json::{Map, Value};

use super::text::{check_text, TextKind};
use super::{codes, Pointer};

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

/// One violation found in a request body, a path parameter, a header or a query string.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// RFC 6901 JSON pointer into the body (`/contacts/0/phones/1/phone_number`; `""` is the whole
    /// body), or the name of a query parameter, path parameter or header.
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

    /// Records one [`ErrorKind::Invalid`] violation, the most common kind.
    pub fn invalid(&mut self, pointer: impl Into<String>, code: &'static str, detail: impl Into<String>) {
        self.push(pointer, ErrorKind::Invalid, code, detail);
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

    /// Applies the one character rule ([`check_text`]) to `value`, recording its violation at
    /// `pointer`; true when `value` passed.
    pub fn text(&mut self, pointer: impl Into<String>, value: &str, kind: TextKind) -> bool {
        match check_text(value, kind) {
            Ok(()) => true,
            Err(bad) => {
                let pointer: String = pointer.into();
                self.items.push(bad.at(&pointer));
                false
            }
        }
    }

    /// Reports every member of `object` not in `known` as `unknown_member`, in the object's order.
    /// `detail` words the message for one member name (the dialects word it differently).
    pub fn unknown_members(
        &mut self,
        object: &Map<String, Value>,
        at: &Pointer,
        known: &[&str],
        detail: impl Fn(&str) -> String,
    ) {
        for name in object.keys().filter(|k| !known.contains(&k.as_str())) {
            self.push(at.key(name), ErrorKind::UnknownMember, codes::UNKNOWN_MEMBER, detail(name));
        }
    }

    /// Number of violations so far; also a mark for [`insert`](Self::insert).
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
    pub fn finish<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.items.is_empty() {
            Ok(value)
        } else {
            Err(self.items)
        }
    }

    /// [`finish`](Self::finish) for a walk that builds its value only when its part was valid:
    /// `None` must come with at least one violation.
    pub fn finish_some<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        debug_assert!(value.is_some() || !self.items.is_empty(), "a walk gave up without saying why");
        match value {
            Some(value) if self.items.is_empty() => Ok(value),
            _ => Err(self.items),
        }
    }

    /// The violations, in order.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.items
    }
}

/// Adds violations found elsewhere (another parser, a header check) in order.
impl Extend<FieldError> for Errors {
    fn extend<I: IntoIterator<Item = FieldError>>(&mut self, iter: I) {
        self.items.extend(iter);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pointers(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|f| f.pointer.as_str()).collect()
    }

    #[test]
    fn collect_in_order_and_insert_at_a_mark() {
        let mut e = Errors::new();
        assert!(e.is_empty());
        e.push("/a", ErrorKind::Invalid, codes::INVALID_TYPE, "x");
        let mark = e.len();
        e.invalid("/c", codes::EMPTY, "y");
        e.insert(mark, "/b", ErrorKind::Missing, codes::REQUIRED, "z");
        e.insert(99, "/d", ErrorKind::Missing, codes::REQUIRED, "past the end appends");
        assert_eq!(e.len(), 4);
        assert_eq!(e.as_slice()[2].kind, ErrorKind::Invalid);
        let v = e.finish(()).unwrap_err();
        assert_eq!(pointers(&v), ["/a", "/b", "/c", "/d"]);
        assert_eq!(Errors::new().finish(5), Ok(5));
    }

    #[test]
    fn text_records_the_character_rule() {
        let mut e = Errors::new();
        assert!(e.text("/a", "fine", TextKind::Line));
        assert!(e.text("/b", "two\nlines", TextKind::Multiline));
        assert!(!e.text("/c", "two\nlines", TextKind::Line));
        assert!(!e.text("/d", "nul\0", TextKind::Multiline));
        let v = e.into_vec();
        assert_eq!(pointers(&v), ["/c", "/d"]);
        assert_eq!((v[0].code, v[1].code), (codes::CONTROL_CHARACTER, codes::NUL_CHARACTER));
    }

    #[test]
    fn finish_some_needs_a_value_and_no_errors() {
        assert_eq!(Errors::new().finish_some(Some(1)), Ok(1));
        let mut e = Errors::new();
        e.invalid("/x", codes::EMPTY, "y");
        assert_eq!(pointers(&e.clone().finish_some(Some(1)).unwrap_err()), ["/x"]);
        assert_eq!(pointers(&e.finish_some(None::<i32>).unwrap_err()), ["/x"]);
    }

    #[test]
    fn extend_appends_errors_from_elsewhere() {
        let mut e = Errors::new();
        e.invalid("/a", codes::EMPTY, "y");
        e.extend([FieldError::new("header", ErrorKind::Invalid, codes::INVALID_TYPE, "z")]);
        assert_eq!(pointers(e.as_slice()), ["/a", "header"]);
        assert_eq!(e.into_vec().len(), 2);
    }

    #[test]
    fn unknown_members_are_escaped_and_worded_by_the_caller() {
        let object = json!({"a": 1, "x/y": 2, "b": 3});
        let mut e = Errors::new();
        e.unknown_members(object.as_object().unwrap(), &Pointer::root().key("c"), &["a", "b"], |name| {
            format!("what is {name}?")
        });
        let v = e.into_vec();
        assert_eq!(
            v,
            [FieldError::new("/c/x~1y", ErrorKind::UnknownMember, codes::UNKNOWN_MEMBER, "what is x/y?")]
        );
    }

    #[test]
    fn field_error_serializes_without_kind() {
        let fe = FieldError::new("/email", ErrorKind::InvalidEmail, codes::EMAIL_INVALID, "bad");
        assert_eq!(
            serde_json::to_value(&fe).unwrap(),
            json!({"pointer": "/email", "code": "email_invalid", "detail": "bad"})
        );
        assert_eq!(fe.to_string(), "/email (email_invalid): bad");
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
}
