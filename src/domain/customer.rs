//! Customer billing and service contacts (API.md section 7, seed 002): the request, parsed into
//! types that are valid by construction.
//!
//! Parsing is pure and walks the whole body, so one answer lists every violation. Violations are the
//! shared [`FieldError`]s: an RFC 6901 pointer into the body (`""` for the whole body), or the name
//! of the path parameter or header at fault. The route shows each one the way the seed's clients
//! read a field, `contacts[1].work_phone` ([`field_path`]).
//!
//! Decisions where API.md is silent (also in `openapi.yaml`):
//! - `customer_id`: 1 to 64 of `A-Z a-z 0-9 _ -` (the seed's eZpay ids are 15 digits).
//! - Phones: spaces, `-`, `.`, `(`, `)`, `[` and `]` are stripped; one leading `+` is allowed and
//!   kept; what remains must be 4 to 20 digits. Stored normalised (`+44 (20) 7946-0018` ->
//!   `+442079460018`).
//! - `work_phone_extension`: 1 to 10 ASCII digits, and only next to a `work_phone`.
//! - Optional strings that are empty or blank count as absent, as `null` does; every string is
//!   trimmed. `name` and `organization_name` hold at most 200 characters.
//! - `type` is matched in any case and stored lowercase.
//! - `request_tracking_id` (header or body): 1 to 128 printable ASCII characters, since it is
//!   echoed in a response header.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::validation::ids::{valid_id, ID_MAX_CHARS};
use crate::validation::phone::{valid_extension, EXTENSION_MAX_DIGITS};
use crate::validation::text::{check_text, is_valid_email, TextKind};
use crate::validation::{codes as common, unescape_token, ErrorKind, Errors, FieldError, Pointer};

/// Longest `customer_id`.
pub const CUSTOMER_ID_MAX_CHARS: usize = ID_MAX_CHARS;
/// Longest tracking id.
pub const TRACKING_ID_MAX_CHARS: usize = 128;
/// Longest `name` and `organization_name`.
pub const NAME_MAX_CHARS: usize = 200;
/// Digits a phone number must have, after stripping separators.
pub const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 4..=20;
/// At most one contact per type, so at most this many per request.
pub const MAX_CONTACTS: usize = 2;
/// Name of the header that carries the tracking id in and out.
pub const TRACKING_ID_HEADER: &str = "Request-Tracking-Id";

/// Machine codes of customer validation failures (in addition to [`crate::validation::codes`]).
pub mod codes {
    /// `customer_id` is not 1 to 64 of `A-Z a-z 0-9 _ -`.
    pub const CUSTOMER_ID_INVALID: &str = "customer_id_invalid";
    /// A tracking id is not 1 to 128 printable ASCII characters.
    pub const TRACKING_ID_INVALID: &str = "tracking_id_invalid";
    /// `type` is not `billing` or `service`.
    pub const CONTACT_TYPE_INVALID: &str = "contact_type_invalid";
    /// A second contact of the same type in one request.
    pub const CONTACT_TYPE_REPEATED: &str = "contact_type_repeated";
    /// A phone holds something other than digits, separators and a leading `+`.
    pub const PHONE_CHARACTERS: &str = "phone_characters";
    /// A phone has fewer than 4 or more than 20 digits.
    pub const PHONE_LENGTH: &str = "phone_length";
    /// `work_phone_extension` without a `work_phone`.
    pub const EXTENSION_WITHOUT_PHONE: &str = "extension_without_phone";
    /// The body is not valid JSON.
    pub const MALFORMED_JSON: &str = "malformed_json";
}

/// A body that is not JSON at all.
pub fn malformed_json(detail: impl fmt::Display) -> FieldError {
    FieldError::new("", ErrorKind::Invalid, codes::MALFORMED_JSON, format!("malformed JSON: {detail}"))
}

/// A violation's location as this API's clients read it: `contacts[1].work_phone` for the pointer
/// `/contacts/1/work_phone`, `body` for the whole body. A name that is not a pointer (the path
/// parameter, a header) is shown as it is.
pub fn field_path(pointer: &str) -> String {
    let Some(tokens) = pointer.strip_prefix('/') else {
        return if pointer.is_empty() { "body".to_owned() } else { pointer.to_owned() };
    };
    let mut path = String::new();
    for (depth, token) in tokens.split('/').enumerate() {
        let name = unescape_token(token);
        // Only `contacts` holds an array, so only the token after it is an index: a member named
        // `0` anywhere else stays a name.
        if depth == 1 && path == "contacts" {
            path.push('[');
            path.push_str(&name);
            path.push(']');
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&name);
        }
    }
    if path.is_empty() {
        "body".to_owned()
    } else {
        path
    }
}

/// A customer id: 1 to 64 of `A-Z a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomerId(String);

impl CustomerId {
    pub fn parse(raw: &str) -> Result<CustomerId, FieldError> {
        // The id rule refuses these too; the character rule names what is wrong more precisely.
        check_text(raw, TextKind::Line).map_err(|bad| bad.at("customer_id"))?;
        if valid_id(raw) {
            Ok(CustomerId(raw.to_owned()))
        } else {
            Err(FieldError::new(
                "customer_id",
                ErrorKind::Invalid,
                codes::CUSTOMER_ID_INVALID,
                format!("must be 1 to {CUSTOMER_ID_MAX_CHARS} letters, digits, '_' or '-'"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A request tracking id: 1 to 128 printable ASCII characters, so it fits a response header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingId(String);

impl TrackingId {
    fn parse(raw: &str) -> Option<TrackingId> {
        let t = raw.trim();
        let ok =
            (1..=TRACKING_ID_MAX_CHARS).contains(&t.len()) && t.bytes().all(|b| (0x20..0x7f).contains(&b));
        ok.then(|| TrackingId(t.to_owned()))
    }

    /// A fresh id (a UUID) for a request that brought none.
    pub fn generate() -> TrackingId {
        TrackingId(uuid::Uuid::new_v4().to_string())
    }

    /// The id in the `Request-Tracking-Id` header: `Ok(None)` when absent or blank.
    pub fn from_header(raw: Option<&[u8]>) -> Result<Option<TrackingId>, FieldError> {
        let Some(raw) = raw else { return Ok(None) };
        let text = std::str::from_utf8(raw).unwrap_or("\u{0}");
        if text.trim().is_empty() {
            return Ok(None);
        }
        TrackingId::parse(text).map(Some).ok_or_else(|| {
            FieldError::new(
                TRACKING_ID_HEADER,
                ErrorKind::Invalid,
                codes::TRACKING_ID_INVALID,
                tracking_id_rule(),
            )
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn tracking_id_rule() -> String {
    format!("must be 1 to {TRACKING_ID_MAX_CHARS} printable ASCII characters")
}

/// The two kinds of customer contact; billing sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContactType {
    Billing,
    Service,
}

impl ContactType {
    pub const ALL: [ContactType; 2] = [ContactType::Billing, ContactType::Service];

    pub fn as_str(self) -> &'static str {
        match self {
            ContactType::Billing => "billing",
            ContactType::Service => "service",
        }
    }

    /// Any case, surrounding blanks ignored.
    pub fn parse(s: &str) -> Option<ContactType> {
        let s = s.trim();
        ContactType::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

/// One validated contact; phones are normalised (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CustomerContact {
    #[serde(rename = "type", serialize_with = "serialize_type")]
    pub contact_type: ContactType,
    pub name: String,
    pub work_phone: Option<String>,
    pub work_phone_extension: Option<String>,
    pub mobile_phone: Option<String>,
    pub fax: Option<String>,
    pub email: Option<String>,
    pub organization_name: Option<String>,
}

fn serialize_type<S: serde::Serializer>(t: &ContactType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.as_str())
}

/// The contacts of one write: 1 or 2, at most one per type, ordered billing first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactUpdates(Vec<CustomerContact>);

impl ContactUpdates {
    pub fn contacts(&self) -> &[CustomerContact] {
        &self.0
    }
}

/// A valid `POST .../contacts` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactsRequest {
    pub request_tracking_id: Option<TrackingId>,
    pub contacts: ContactUpdates,
}

/// An invalid body: every violation, and the body's tracking id when that one was itself valid
/// (so the failure can still echo it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRequest {
    pub errors: Vec<FieldError>,
    pub request_tracking_id: Option<TrackingId>,
}

const BODY_MEMBERS: &[&str] = &["request_tracking_id", "contacts"];
const CONTACT_MEMBERS: &[&str] = &[
    "type",
    "name",
    "work_phone",
    "work_phone_extension",
    "mobile_phone",
    "fax",
    "email",
    "organization_name",
];

impl ContactsRequest {
    /// Parses a request body, collecting every violation.
    pub fn parse(body: &Value) -> Result<ContactsRequest, InvalidRequest> {
        let mut errors = Errors::new();
        let root = Pointer::root();
        let Some(obj) = body.as_object() else {
            errors.invalid(&root, common::INVALID_TYPE, "must be a JSON object");
            return Err(InvalidRequest { errors: errors.into_vec(), request_tracking_id: None });
        };
        unknown_members(&mut errors, obj, BODY_MEMBERS, &root);

        let at = root.key("request_tracking_id");
        let request_tracking_id =
            optional_string(&mut errors, obj, "request_tracking_id", &at).and_then(|raw| {
                let id = TrackingId::parse(&raw);
                if id.is_none() {
                    errors.invalid(&at, codes::TRACKING_ID_INVALID, tracking_id_rule());
                }
                id
            });

        let at = root.key("contacts");
        let mut contacts = Vec::new();
        match obj.get("contacts") {
            None | Some(Value::Null) => errors.push(&at, ErrorKind::Missing, common::REQUIRED, "is required"),
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    errors.invalid(&at, common::TOO_FEW_ITEMS, "must have 1 or 2 items");
                } else if items.len() > MAX_CONTACTS {
                    errors.invalid(&at, common::TOO_MANY_ITEMS, "must have 1 or 2 items");
                }
                let mut seen: BTreeMap<ContactType, usize> = BTreeMap::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(c) = parse_contact(&mut errors, item, &at.index(i), &mut seen, i) {
                        contacts.push(c);
                    }
                }
            }
            Some(_) => errors.invalid(&at, common::INVALID_TYPE, "must be an array"),
        }

        match errors.finish(contacts) {
            Ok(mut contacts) => {
                contacts.sort_by_key(|c| c.contact_type);
                Ok(ContactsRequest { request_tracking_id, contacts: ContactUpdates(contacts) })
            }
            Err(errors) => Err(InvalidRequest { errors, request_tracking_id }),
        }
    }
}

fn unknown_members(errors: &mut Errors, obj: &Map<String, Value>, known: &[&str], at: &Pointer) {
    errors.unknown_members(obj, at, known, |_| "unknown member".to_owned());
}

/// A trimmed string member; `None` when absent, `null`, blank, or not a string or refused by the
/// character rule (both reported). Every string member but `type` (a closed table) is read here.
fn optional_string(
    errors: &mut Errors,
    obj: &Map<String, Value>,
    name: &str,
    at: &Pointer,
) -> Option<String> {
    match obj.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(s.trim()).filter(|s| !s.is_empty() && errors.text(at, s, TextKind::Line)).map(str::to_owned)
        }
        Some(_) => {
            errors.invalid(at, common::INVALID_TYPE, "must be a string");
            None
        }
    }
}

fn check_length(errors: &mut Errors, value: Option<String>, at: &Pointer) -> Option<String> {
    let value = value?;
    if value.chars().count() > NAME_MAX_CHARS {
        errors.invalid(at, common::STRING_TOO_LONG, format!("must be at most {NAME_MAX_CHARS} characters"));
        return None;
    }
    Some(value)
}

fn parse_contact(
    errors: &mut Errors,
    item: &Value,
    at: &Pointer,
    seen: &mut BTreeMap<ContactType, usize>,
    index: usize,
) -> Option<CustomerContact> {
    let Some(obj) = item.as_object() else {
        errors.invalid(at, common::INVALID_TYPE, "must be an object");
        return None;
    };
    let before = errors.len();
    unknown_members(errors, obj, CONTACT_MEMBERS, at);

    let type_at = at.key("type");
    let contact_type = match obj.get("type") {
        None | Some(Value::Null) => {
            errors.push(&type_at, ErrorKind::Missing, common::REQUIRED, "is required");
            None
        }
        Some(Value::String(s)) => match ContactType::parse(s) {
            Some(t) => match seen.get(&t) {
                Some(first) => {
                    errors.invalid(
                        &type_at,
                        codes::CONTACT_TYPE_REPEATED,
                        format!("{} is already given by contacts[{first}]; one contact per type", t.as_str()),
                    );
                    None
                }
                None => {
                    seen.insert(t, index);
                    Some(t)
                }
            },
            None => {
                errors.invalid(&type_at, codes::CONTACT_TYPE_INVALID, "must be \"billing\" or \"service\"");
                None
            }
        },
        Some(_) => {
            errors.invalid(&type_at, common::INVALID_TYPE, "must be a string");
            None
        }
    };

    let name_at = at.key("name");
    let name = match obj.get("name") {
        None | Some(Value::Null) => {
            errors.push(&name_at, ErrorKind::Missing, common::REQUIRED, "is required");
            None
        }
        Some(Value::String(s)) if s.trim().is_empty() => {
            errors.invalid(&name_at, common::EMPTY, "must not be blank");
            None
        }
        Some(_) => {
            let raw = optional_string(errors, obj, "name", &name_at);
            check_length(errors, raw, &name_at)
        }
    };

    let work_phone = phone(errors, obj, "work_phone", at);
    let ext_at = at.key("work_phone_extension");
    let work_phone_extension =
        optional_string(errors, obj, "work_phone_extension", &ext_at).and_then(|ext| {
            if !valid_extension(&ext) {
                errors.invalid(
                    &ext_at,
                    common::EXTENSION_INVALID,
                    format!("must be 1 to {EXTENSION_MAX_DIGITS} digits"),
                );
                return None;
            }
            if work_phone.is_none() && !has_value(obj, "work_phone") {
                errors.invalid(&ext_at, codes::EXTENSION_WITHOUT_PHONE, "needs a work_phone");
                return None;
            }
            Some(ext)
        });
    let mobile_phone = phone(errors, obj, "mobile_phone", at);
    let fax = phone(errors, obj, "fax", at);

    let email_at = at.key("email");
    let email = optional_string(errors, obj, "email", &email_at).and_then(|e| {
        if is_valid_email(&e) {
            Some(e)
        } else {
            errors.push(
                &email_at,
                ErrorKind::InvalidEmail,
                common::EMAIL_INVALID,
                "must be a valid email address",
            );
            None
        }
    });

    let org_at = at.key("organization_name");
    let organization_name = optional_string(errors, obj, "organization_name", &org_at);
    let organization_name = check_length(errors, organization_name, &org_at);

    if errors.len() > before {
        return None;
    }
    Some(CustomerContact {
        contact_type: contact_type?,
        name: name?,
        work_phone,
        work_phone_extension,
        mobile_phone,
        fax,
        email,
        organization_name,
    })
}

/// True when the member holds a non-blank string (valid or not), so a bad `work_phone` does not
/// also make its extension "lonely".
fn has_value(obj: &Map<String, Value>, name: &str) -> bool {
    match obj.get(name) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

fn phone(errors: &mut Errors, obj: &Map<String, Value>, name: &str, parent: &Pointer) -> Option<String> {
    let at = parent.key(name);
    let raw = optional_string(errors, obj, name, &at)?;
    match normalise_phone(&raw) {
        Ok(p) => Some(p),
        Err((code, message)) => {
            errors.invalid(&at, code, message);
            None
        }
    }
}

/// Strips spaces, dashes, dots and brackets; keeps one leading `+`; requires 4 to 20 digits.
pub fn normalise_phone(raw: &str) -> Result<String, (&'static str, String)> {
    let (plus, rest) = match raw.trim().strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, raw.trim()),
    };
    let mut digits = String::with_capacity(rest.len() + 1);
    if plus {
        digits.push('+');
    }
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '[' | ']' => {}
            _ => {
                return Err((
                    codes::PHONE_CHARACTERS,
                    "may only hold digits, spaces, dashes, dots, brackets and a leading +".to_owned(),
                ))
            }
        }
    }
    let count = digits.len() - usize::from(plus);
    if PHONE_DIGITS.contains(&count) {
        Ok(digits)
    } else {
        Err((
            codes::PHONE_LENGTH,
            format!("must have {} to {} digits", PHONE_DIGITS.start(), PHONE_DIGITS.end()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A violation as the route shows it.
    fn message(e: &FieldError) -> String {
        format!("{}: {}", field_path(&e.pointer), e.detail)
    }

    fn messages(body: Value) -> Vec<String> {
        ContactsRequest::parse(&body).unwrap_err().errors.iter().map(message).collect()
    }

    /// The sample request of seed 002.
    fn seed() -> Value {
        json!({"contacts": [{
            "type": "billing", "work_phone": "9147212006", "work_phone_extension": "2006",
            "organization_name": "APPLE BANK FOR SAVINGS", "email": "IDZAFEROVIC@APPLE-BANK.COM",
            "name": "John Smith", "mobile_phone": "9147212006", "fax": "9147212006"
        }, {
            "type": "service", "work_phone": "9147212006", "work_phone_extension": "2006",
            "organization_name": "APPLE BANK FOR SAVINGS", "name": "John Smith",
            "mobile_phone": "9147212006", "fax": "9147212006"
        }]})
    }

    #[test]
    fn seed_sample_parses() {
        let r = ContactsRequest::parse(&seed()).unwrap();
        assert_eq!(r.request_tracking_id, None);
        let c = r.contacts.contacts();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].contact_type, ContactType::Billing);
        assert_eq!(c[0].email.as_deref(), Some("IDZAFEROVIC@APPLE-BANK.COM"));
        assert_eq!(c[1].contact_type, ContactType::Service);
        assert_eq!(c[1].email, None);
        assert_eq!(c[1].work_phone_extension.as_deref(), Some("2006"));
    }

    #[test]
    fn types_any_case_sorted_billing_first() {
        let r = ContactsRequest::parse(&json!({"request_tracking_id": " 42 ", "contacts": [
            {"type": "SERVICE", "name": "S"}, {"type": " Billing", "name": "B"}
        ]}))
        .unwrap();
        let types: Vec<_> = r.contacts.contacts().iter().map(|c| c.contact_type).collect();
        assert_eq!(types, [ContactType::Billing, ContactType::Service]);
        assert_eq!(r.request_tracking_id.unwrap().as_str(), "42");
    }

    #[test]
    fn phones_are_normalised() {
        assert_eq!(normalise_phone("(914) 721-2006").unwrap(), "9147212006");
        assert_eq!(normalise_phone("+44 20.7946 [0018]").unwrap(), "+442079460018");
        assert_eq!(normalise_phone("1234").unwrap(), "1234");
        assert_eq!(normalise_phone("12 3").unwrap_err().0, codes::PHONE_LENGTH);
        assert_eq!(normalise_phone("123456789012345678901").unwrap_err().0, codes::PHONE_LENGTH);
        assert_eq!(normalise_phone("+").unwrap_err().0, codes::PHONE_LENGTH);
        assert_eq!(normalise_phone("914x721").unwrap_err().0, codes::PHONE_CHARACTERS);
        assert_eq!(normalise_phone("++1234").unwrap_err().0, codes::PHONE_CHARACTERS);
        assert_eq!(normalise_phone("12+34").unwrap_err().0, codes::PHONE_CHARACTERS);
    }

    #[test]
    fn blank_optionals_are_absent() {
        let r = ContactsRequest::parse(&json!({"contacts": [
            {"type": "billing", "name": "B", "fax": " ", "email": "", "work_phone": null}
        ]}))
        .unwrap();
        let c = &r.contacts.contacts()[0];
        assert_eq!((c.fax.as_deref(), c.email.as_deref(), c.work_phone.as_deref()), (None, None, None));
    }

    #[test]
    fn every_violation_is_reported_at_once() {
        let got = messages(json!({
            "request_tracking_id": 7,
            "extra": true,
            "contacts": [
                {"type": "billing", "name": " ", "work_phone": "12", "work_phone_extension": "12a",
                 "mobile_phone": "abc", "fax": 12345, "email": "nope", "organization_name": "x".repeat(201),
                 "colour": "red"},
                {"type": "BILLING", "name": "Dup", "work_phone_extension": "1"},
                {"type": "shipping"},
                "oops"
            ]
        }));
        let expected = [
            "extra: unknown member",
            "request_tracking_id: must be a string",
            "contacts: must have 1 or 2 items",
            "contacts[0].colour: unknown member",
            "contacts[0].name: must not be blank",
            "contacts[0].work_phone: must have 4 to 20 digits",
            "contacts[0].work_phone_extension: must be 1 to 10 digits",
            "contacts[0].mobile_phone: may only hold digits, spaces, dashes, dots, brackets and a leading +",
            "contacts[0].fax: must be a string",
            "contacts[0].email: must be a valid email address",
            "contacts[0].organization_name: must be at most 200 characters",
            "contacts[1].type: billing is already given by contacts[0]; one contact per type",
            "contacts[1].work_phone_extension: needs a work_phone",
            "contacts[2].type: must be \"billing\" or \"service\"",
            "contacts[2].name: is required",
            "contacts[3]: must be an object",
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn contacts_shape() {
        assert_eq!(messages(json!({})), ["contacts: is required"]);
        assert_eq!(messages(json!({"contacts": []})), ["contacts: must have 1 or 2 items"]);
        assert_eq!(messages(json!({"contacts": {}})), ["contacts: must be an array"]);
        assert_eq!(messages(json!([])), ["body: must be a JSON object"]);
        assert_eq!(messages(json!({"contacts": [{"name": "N"}]})), ["contacts[0].type: is required"]);
        assert_eq!(
            messages(
                json!({"contacts": [{"type": "billing", "name": "N", "work_phone_extension": "12345678901", "work_phone": "1234"}]})
            ),
            ["contacts[0].work_phone_extension: must be 1 to 10 digits"]
        );
    }

    #[test]
    fn invalid_body_keeps_a_valid_tracking_id() {
        let e = ContactsRequest::parse(&json!({"request_tracking_id": "abc", "contacts": []})).unwrap_err();
        assert_eq!(e.request_tracking_id.unwrap().as_str(), "abc");
        let e =
            ContactsRequest::parse(&json!({"request_tracking_id": "\u{e9}", "contacts": []})).unwrap_err();
        assert_eq!(e.request_tracking_id, None);
        assert_eq!(message(&e.errors[0]), "request_tracking_id: must be 1 to 128 printable ASCII characters");
        assert_eq!(e.errors[0].pointer, "/request_tracking_id");
    }

    #[test]
    fn customer_ids() {
        assert_eq!(CustomerId::parse("000010000005008").unwrap().as_str(), "000010000005008");
        assert!(CustomerId::parse("a_B-9").is_ok());
        assert!(CustomerId::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "a b", "x/y", "é", &"a".repeat(65)] {
            let v = CustomerId::parse(bad).unwrap_err();
            assert_eq!(message(&v), "customer_id: must be 1 to 64 letters, digits, '_' or '-'");
        }
    }

    #[test]
    fn tracking_id_header() {
        assert_eq!(TrackingId::from_header(None), Ok(None));
        assert_eq!(TrackingId::from_header(Some(b"  ")), Ok(None));
        assert_eq!(TrackingId::from_header(Some(b"67865456")).unwrap().unwrap().as_str(), "67865456");
        let v = TrackingId::from_header(Some("x".repeat(129).as_bytes())).unwrap_err();
        assert_eq!(message(&v), "Request-Tracking-Id: must be 1 to 128 printable ASCII characters");
        assert!(TrackingId::from_header(Some(&[0xff, 0x41])).is_err());
        assert_ne!(TrackingId::generate(), TrackingId::generate());
    }

    #[test]
    fn violations_are_field_errors_with_pointers() {
        let e =
            ContactsRequest::parse(&json!({"contacts": [{"type": "billing", "name": "N", "email": "x"}]}))
                .unwrap_err();
        let f = &e.errors[0];
        assert_eq!(
            (f.pointer.as_str(), f.code, f.kind),
            ("/contacts/0/email", common::EMAIL_INVALID, ErrorKind::InvalidEmail)
        );
        let m = malformed_json("EOF");
        assert_eq!((m.pointer.as_str(), m.code), ("", codes::MALFORMED_JSON));
        assert_eq!(message(&m), "body: malformed JSON: EOF");
    }

    #[test]
    fn field_paths_read_like_the_seed() {
        for (pointer, path) in [
            ("", "body"),
            ("/", "body"),
            ("/extra", "extra"),
            ("/a~1b~0c", "a/b~c"),
            ("/contacts", "contacts"),
            ("/contacts/1/work_phone", "contacts[1].work_phone"),
            ("/contacts/0/0", "contacts[0].0"),
            ("/contacts/0/", "contacts[0]."),
            ("customer_id", "customer_id"),
            ("Request-Tracking-Id", "Request-Tracking-Id"),
        ] {
            assert_eq!(field_path(pointer), path, "{pointer}");
        }
        // Unknown members are named, never indexed, whatever they are called.
        assert_eq!(
            messages(json!({"7": 1, "contacts": [{"type": "billing", "name": "N", "0": 1}]})),
            ["7: unknown member", "contacts[0].0: unknown member"]
        );
    }
}
