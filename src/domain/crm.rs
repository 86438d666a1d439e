//! CRM contacts in the Resharmonics v3 shape (API.md section 6): the stored contact as rendered,
//! the request bodies, and their parsing into drafts that are valid by construction.
//!
//! Parsing is pure: it checks everything that does not need stored data and reports every
//! violation at once with a camelCase JSON pointer. Two rules need the store and are finished there,
//! inside the write transaction: `propertyIds` must exist, and a national-format telephone without
//! a country of its own (or in the body) is parsed with the stored primary address's country
//! ([`TelephoneDraft::resolve`]).

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::crm_cursor::Cursor;
use super::crm_search::{SearchProblem, SearchQuery, MAX_QUERY_CHARS, MAX_WORDS};
use crate::validation::country::{check_postal_code, iso_alpha2};
use crate::validation::entity_tag::entity_tags;
use crate::validation::ids::{valid_id, ID_RULE, PROPERTY_ID_INVALID};
use crate::validation::phone::{check_phone, valid_extension};
use crate::validation::text::{check_text, is_valid_email, TextKind};
use crate::validation::{codes as common, ErrorKind, Errors, FieldError, Pointer};

/// Most items of each contact collection.
pub const MAX_ITEMS: usize = 20;
/// Most custom fields, property links and order references of one contact.
pub const MAX_LIST: usize = 100;
/// Longest note.
pub const MAX_NOTE_CHARS: usize = 10_000;
/// Longest custom field string value.
pub const MAX_VALUE_CHARS: usize = 1_000;
/// Default and largest page size of the contact list.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
pub const MAX_PAGE_SIZE: u32 = 500;
/// Pages past this one are served as this one (empty unless the tenant is huge); keeps offsets small.
const MAX_PAGE: i64 = 10_000_000;

/// Machine codes of CRM validation failures (in addition to [`crate::validation::codes`] and
/// [`crate::validation::ids::PROPERTY_ID_INVALID`]).
pub mod codes {
    /// None of firstName, lastName, companyName is given.
    pub const NAME_REQUIRED: &str = "name_required";
    /// Not one of the 19 contact types.
    pub const CONTACT_TYPE_INVALID: &str = "contact_type_invalid";
    /// Not MALE, FEMALE or OTHER.
    pub const GENDER_INVALID: &str = "gender_invalid";
    /// Not a BCP 47 style language tag.
    pub const LANGUAGE_INVALID: &str = "language_invalid";
    /// An `id` in a PUT body differs from the path id.
    pub const ID_MISMATCH: &str = "id_mismatch";
    /// More than one item of a collection is marked primary.
    pub const PRIMARY_DUPLICATED: &str = "primary_duplicated";
    /// The same value twice in a list that is a set.
    pub const DUPLICATE_ITEM: &str = "duplicate_item";
    /// No property with this id in the caller's tenant.
    pub const PROPERTY_UNKNOWN: &str = "property_unknown";
    /// A national-format number with no country to read it with.
    pub const PHONE_COUNTRY_UNKNOWN: &str = "phone_country_unknown";
    /// Not STRING, NUMBER, BOOLEAN or DATE.
    pub const CUSTOM_FIELD_TYPE_INVALID: &str = "custom_field_type_invalid";
    /// The value does not fit the custom field's type.
    pub const CUSTOM_FIELD_VALUE_INVALID: &str = "custom_field_value_invalid";
    /// `modifiedSince` is neither an RFC 3339 date-time nor a date.
    pub const DATE_TIME_INVALID: &str = "date_time_invalid";
    /// `page` or `size` is not an integer.
    pub const INVALID_QUERY_PARAMETER: &str = "invalid_query_parameter";
    /// `sort` names no sortable field or direction.
    pub const SORT_INVALID: &str = "sort_invalid";
}

/// Declares a closed set of upper-case wire values.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in documentation order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire value.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Case-insensitive; surrounding whitespace ignored.
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim();
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Prio's contact types; `CONTACT` when none is given.
    ContactType {
        Booker = "BOOKER", Contact = "CONTACT", Guest = "GUEST", Partner = "PARTNER", Staff = "STAFF",
        Cashier = "CASHIER", Payment = "PAYMENT", Agent = "AGENT", Emergency = "EMERGENCY",
        Guide = "GUIDE", Supplier = "SUPPLIER", Venue = "VENUE", Host = "HOST", Company = "COMPANY",
        Delivery = "DELIVERY", Manager = "MANAGER", Support = "SUPPORT", Instructor = "INSTRUCTOR",
        Other = "OTHER",
    }
);

wire_enum!(
    /// A contact's gender, when known.
    Gender { Male = "MALE", Female = "FEMALE", Other = "OTHER" }
);

wire_enum!(
    /// The type a custom field's value must have.
    CustomFieldType { String = "STRING", Number = "NUMBER", Boolean = "BOOLEAN", Date = "DATE" }
);

wire_enum!(
    /// The three contact collections with ids and a primary item.
    ItemKind { Address = "ADDRESS", Email = "EMAIL_ADDRESS", Telephone = "TELEPHONE" }
);

/// What a revision recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Replace,
    AddItem(ItemKind),
    UpdateItem(ItemKind),
    DeleteItem(ItemKind),
    SetPrimaryItem(ItemKind),
    AddNote,
    ReplaceCustomFields,
    /// On the primary of a merge.
    Merge,
    /// On the secondary of a merge, which is a tombstone from then on.
    MergedInto,
    /// A linked property was deleted, which removed it from `propertyIds`.
    UnlinkProperty,
}

impl Operation {
    /// The wire value, e.g. `ADD_TELEPHONE`.
    pub fn as_str(self) -> &'static str {
        use ItemKind::*;
        match self {
            Operation::Create => "CREATE",
            Operation::Replace => "REPLACE",
            Operation::AddItem(Address) => "ADD_ADDRESS",
            Operation::AddItem(Email) => "ADD_EMAIL_ADDRESS",
            Operation::AddItem(Telephone) => "ADD_TELEPHONE",
            Operation::UpdateItem(Address) => "UPDATE_ADDRESS",
            Operation::UpdateItem(Email) => "UPDATE_EMAIL_ADDRESS",
            Operation::UpdateItem(Telephone) => "UPDATE_TELEPHONE",
            Operation::DeleteItem(Address) => "DELETE_ADDRESS",
            Operation::DeleteItem(Email) => "DELETE_EMAIL_ADDRESS",
            Operation::DeleteItem(Telephone) => "DELETE_TELEPHONE",
            Operation::SetPrimaryItem(Address) => "SET_PRIMARY_ADDRESS",
            Operation::SetPrimaryItem(Email) => "SET_PRIMARY_EMAIL_ADDRESS",
            Operation::SetPrimaryItem(Telephone) => "SET_PRIMARY_TELEPHONE",
            Operation::AddNote => "ADD_NOTE",
            Operation::ReplaceCustomFields => "REPLACE_CUSTOM_FIELDS",
            Operation::Merge => "MERGE",
            Operation::MergedInto => "MERGED_INTO",
            Operation::UnlinkProperty => "UNLINK_PROPERTY",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stored contact, as rendered.
// ---------------------------------------------------------------------------------------------

/// A CRM contact as stored and rendered (camelCase; absent optionals are omitted).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub id: i64,
    pub contact_type: ContactType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The integration's own id of the contact, unique per tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub property_ids: Vec<String>,
    pub order_references: Vec<String>,
    pub email_addresses: Vec<EmailAddress>,
    pub telephones: Vec<Telephone>,
    pub addresses: Vec<Address>,
    pub custom_fields: Vec<CustomField>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Contact {
    /// What prefix search finds the contact by (`crm_contact_terms`): the folded words of its
    /// names, company and e-mail addresses, and the digits of its telephones.
    pub fn search_terms(&self) -> std::collections::BTreeSet<String> {
        let texts = [&self.first_name, &self.last_name, &self.company_name]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .chain(self.email_addresses.iter().map(|e| e.email_address.as_str()));
        let phones = self.telephones.iter().map(|t| (t.e164.as_str(), t.number.as_str()));
        super::crm_search::terms(texts, phones)
    }
}

/// One email address of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailAddress {
    pub id: i64,
    pub email_address: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub primary: bool,
}

/// One telephone of a contact: the number as sent and its E.164 form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Telephone {
    pub id: i64,
    pub number: String,
    pub e164: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// The country the number was sent with, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    pub primary: bool,
}

/// One postal address of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub id: i64,
    pub address_line1: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    pub city: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_province: Option<String>,
    pub country_code: String,
    pub primary: bool,
}

/// A typed custom field. `value` holds the canonical text; it is rendered as a JSON number for
/// NUMBER, a boolean for BOOLEAN and a string otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomField {
    pub name: String,
    pub field_type: CustomFieldType,
    pub value: String,
}

impl Serialize for CustomField {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            name: &'a str,
            #[serde(rename = "type")]
            field_type: CustomFieldType,
            value: Value,
        }
        let value = match self.field_type {
            CustomFieldType::Number => serde_json::from_str::<serde_json::Number>(&self.value)
                .map(Value::Number)
                .unwrap_or_else(|_| Value::String(self.value.clone())),
            CustomFieldType::Boolean => Value::Bool(self.value == "true"),
            CustomFieldType::String | CustomFieldType::Date => Value::String(self.value.clone()),
        };
        Wire { name: &self.name, field_type: self.field_type, value }.serialize(s)
    }
}

/// A note recorded against a contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Note {
    pub id: i64,
    pub content: String,
    pub author: String,
    pub tags: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// One version of a contact: what changed it, when, by whom, and the whole contact after it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    pub version: i64,
    pub operation: String,
    pub changed_at: DateTime<Utc>,
    pub changed_by: String,
    /// The contact as it was after this change: a snapshot, kept as the stored JSON text and passed
    /// through unparsed (a history page at the maxima is megabytes; a parsed tree of it, several times
    /// that).
    pub contact: Box<serde_json::value::RawValue>,
}

impl PartialEq for Revision {
    fn eq(&self, other: &Self) -> bool {
        (self.version, &self.operation, self.changed_at, &self.changed_by, self.contact.get())
            == (other.version, &other.operation, other.changed_at, &other.changed_by, other.contact.get())
    }
}

// ---------------------------------------------------------------------------------------------
// Drafts: validated writes.
// ---------------------------------------------------------------------------------------------

/// A validated create or overwrite. Scalars are always set (absent = null/default); a `None`
/// collection keeps what is stored (and is empty on create).
#[derive(Debug, Clone, PartialEq)]
pub struct ContactDraft {
    pub contact_type: ContactType,
    pub title: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub account_id: Option<String>,
    pub job_title: Option<String>,
    pub gender: Option<Gender>,
    pub language: Option<String>,
    pub external_id: Option<String>,
    pub property_ids: Option<Vec<String>>,
    pub order_references: Option<Vec<String>>,
    pub email_addresses: Option<Vec<EmailDraft>>,
    pub telephones: Option<Vec<TelephoneDraft>>,
    pub addresses: Option<Vec<AddressDraft>>,
    pub custom_fields: Option<Vec<CustomField>>,
}

/// A validated email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailDraft {
    pub email_address: String,
    pub kind: Option<String>,
    pub primary: bool,
}

/// A validated telephone. `e164` is `None` until a country is known to read a national number with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelephoneDraft {
    pub number: String,
    pub e164: Option<String>,
    pub kind: Option<String>,
    pub extension: Option<String>,
    pub country_code: Option<String>,
    pub primary: bool,
    /// Where `number` was in the request, for an error found later.
    pub pointer: String,
}

impl EmailDraft {
    /// The address as stored under `id`.
    pub fn stored(self, id: i64) -> EmailAddress {
        EmailAddress { id, email_address: self.email_address, kind: self.kind, primary: self.primary }
    }
}

impl AddressDraft {
    /// The address as stored under `id`.
    pub fn stored(self, id: i64) -> Address {
        Address {
            id,
            address_line1: self.address_line1,
            address_line2: self.address_line2,
            city: self.city,
            postcode: self.postcode,
            state_province: self.state_province,
            country_code: self.country_code,
            primary: self.primary,
        }
    }
}

impl TelephoneDraft {
    /// The telephone as stored under `id` (its E.164 form empty when it has none, as stored).
    pub fn stored(self, id: i64) -> Telephone {
        Telephone {
            id,
            number: self.number,
            e164: self.e164.unwrap_or_default(),
            kind: self.kind,
            extension: self.extension,
            country_code: self.country_code,
            primary: self.primary,
        }
    }

    /// Reads a still unresolved number with `fallback_country` (the stored primary address's).
    pub fn resolve(&mut self, fallback_country: Option<&str>) -> Result<(), FieldError> {
        if self.e164.is_some() {
            return Ok(());
        }
        match normalise_phone(&self.number, fallback_country) {
            Ok(e164) => {
                self.e164 = Some(e164);
                Ok(())
            }
            Err(PhoneProblem::NeedsCountry) => Err(FieldError::new(
                &self.pointer,
                ErrorKind::Invalid,
                codes::PHONE_COUNTRY_UNKNOWN,
                "a national number needs a countryCode on the telephone or a primary address",
            )),
            Err(PhoneProblem::Invalid) => Err(phone_invalid(&self.pointer)),
        }
    }
}

/// A validated postal address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressDraft {
    pub address_line1: String,
    pub address_line2: Option<String>,
    pub city: String,
    pub postcode: Option<String>,
    pub state_province: Option<String>,
    pub country_code: String,
    pub primary: bool,
}

/// One validated item of a contact collection (sub-resource writes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemDraft {
    Address(AddressDraft),
    Email(EmailDraft),
    Telephone(TelephoneDraft),
}

impl ItemDraft {
    /// Which collection the item belongs to.
    pub fn kind(&self) -> ItemKind {
        match self {
            ItemDraft::Address(_) => ItemKind::Address,
            ItemDraft::Email(_) => ItemKind::Email,
            ItemDraft::Telephone(_) => ItemKind::Telephone,
        }
    }

    /// Whether the request asked for the item to be the primary one.
    pub fn primary(&self) -> bool {
        match self {
            ItemDraft::Address(a) => a.primary,
            ItemDraft::Email(e) => e.primary,
            ItemDraft::Telephone(t) => t.primary,
        }
    }
}

/// A validated note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteDraft {
    pub content: String,
    pub author: String,
    pub tags: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Request bodies.
// ---------------------------------------------------------------------------------------------

/// Body of `POST /api/v3/contacts` and `PUT /api/v3/contacts/{id}`. Read-only members are accepted
/// (so a client can send back what it read) and ignored, except that a PUT's `id` must match.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactRequest {
    pub id: Option<i64>,
    pub contact_type: Option<String>,
    pub title: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company_name: Option<String>,
    pub account_id: Option<String>,
    pub job_title: Option<String>,
    pub gender: Option<String>,
    pub language: Option<String>,
    pub external_id: Option<String>,
    pub property_ids: Option<Vec<String>>,
    pub order_references: Option<Vec<String>>,
    pub email_addresses: Option<Vec<EmailRequest>>,
    pub telephones: Option<Vec<TelephoneRequest>>,
    pub addresses: Option<Vec<AddressRequest>>,
    pub custom_fields: Option<Vec<CustomFieldRequest>>,
    #[serde(rename = "version")]
    _version: Option<IgnoredAny>,
    #[serde(rename = "createdAt")]
    _created_at: Option<IgnoredAny>,
    #[serde(rename = "updatedAt")]
    _updated_at: Option<IgnoredAny>,
    #[serde(rename = "revisions")]
    _revisions: Option<IgnoredAny>,
}

/// An email address in a contact body or `POST/PUT .../emailAddresses`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailRequest {
    #[serde(rename = "id")]
    _id: Option<IgnoredAny>,
    pub email_address: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub primary: Option<bool>,
}

/// A telephone in a contact body or `POST/PUT .../telephones`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TelephoneRequest {
    #[serde(rename = "id")]
    _id: Option<IgnoredAny>,
    pub number: Option<String>,
    #[serde(rename = "e164")]
    _e164: Option<IgnoredAny>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub extension: Option<String>,
    /// ISO 3166-1 alpha-2 country to read a national number with.
    pub country_code: Option<String>,
    pub primary: Option<bool>,
}

/// An address in a contact body or `POST/PUT .../addresses`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressRequest {
    #[serde(rename = "id")]
    _id: Option<IgnoredAny>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub postcode: Option<String>,
    pub state_province: Option<String>,
    pub country_code: Option<String>,
    pub primary: Option<bool>,
}

/// One custom field as sent.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomFieldRequest {
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub field_type: Option<String>,
    pub value: Option<Value>,
}

/// Body of `POST /api/v3/contacts/{id}/notes`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoteRequest {
    pub content: Option<String>,
    pub author: Option<String>,
    pub tags: Option<Vec<String>>,
}

/// Body of `POST /api/v3/contacts/merge`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MergeRequest {
    pub primary_contact_id: i64,
    pub secondary_contact_id: i64,
}

// ---------------------------------------------------------------------------------------------
// Parsing.
// ---------------------------------------------------------------------------------------------

/// Trims; empty means absent.
fn clean(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// An optional one-line free-text member of at most `max` characters.
fn text(errors: &mut Errors, at: &Pointer, value: Option<String>, max: usize) -> Option<String> {
    text_of(TextKind::Line, errors, at, value, max)
}

/// An optional free-text member of `kind` and at most `max` characters.
fn text_of(
    kind: TextKind,
    errors: &mut Errors,
    at: &Pointer,
    value: Option<String>,
    max: usize,
) -> Option<String> {
    let value = clean(value)?;
    if value.chars().count() > max {
        errors.invalid(at, common::STRING_TOO_LONG, format!("at most {max} characters"));
    } else {
        errors.text(at, &value, kind);
    }
    Some(value)
}

/// A required one-line free-text member of at most `max` characters (empty string reported as
/// `required`).
fn required_text(errors: &mut Errors, at: &Pointer, value: Option<String>, max: usize) -> String {
    required_text_of(TextKind::Line, errors, at, value, max)
}

/// [`required_text`] for a member of `kind`.
fn required_text_of(
    kind: TextKind,
    errors: &mut Errors,
    at: &Pointer,
    value: Option<String>,
    max: usize,
) -> String {
    match text_of(kind, errors, at, value, max) {
        Some(v) => v,
        None => {
            errors.push(at, ErrorKind::Missing, common::REQUIRED, "required");
            String::new()
        }
    }
}

fn too_many(errors: &mut Errors, at: &Pointer, len: usize, max: usize) {
    if len > max {
        errors.invalid(at, common::TOO_MANY_ITEMS, format!("at most {max} items"));
    }
}

fn country(errors: &mut Errors, at: &Pointer, value: Option<String>, required: bool) -> Option<String> {
    match clean(value) {
        None => {
            if required {
                errors.push(at, ErrorKind::Missing, common::REQUIRED, "required");
            }
            None
        }
        Some(c) => match iso_alpha2(&c) {
            Some(c) => Some(c.to_owned()),
            None => {
                errors.invalid(at, common::COUNTRY_CODE_INVALID, "not an ISO 3166-1 alpha-2 code");
                None
            }
        },
    }
}

fn phone_invalid(at: &str) -> FieldError {
    FieldError::new(at, ErrorKind::Invalid, common::PHONE_INVALID, "not a valid telephone number")
}

/// Why a telephone number could not be normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhoneProblem {
    /// A national number and no country to read it with.
    NeedsCountry,
    /// Not a valid number.
    Invalid,
}

/// The E.164 form of `number`, read as a number of `country` unless it is international
/// (`+...` or `00...`). Formatting characters are allowed; validity is checked against
/// libphonenumber's metadata, whole-number matches only.
pub fn normalise_phone(number: &str, country: Option<&str>) -> Result<String, PhoneProblem> {
    let trimmed = number.trim();
    let international = if let Some(rest) = trimmed.strip_prefix("00") {
        Some(format!("+{rest}"))
    } else {
        trimmed.starts_with('+').then(|| trimmed.to_owned())
    };
    let region = country.and_then(|c| c.parse::<phonenumber::country::Id>().ok());
    let (input, region) = match (international, region) {
        (Some(i), _) => (i, None),
        (None, Some(r)) => (trimmed.to_owned(), Some(r)),
        (None, None) => return Err(PhoneProblem::NeedsCountry),
    };
    // Longer input cannot be a phone number and is not worth handing to the parser.
    if input.chars().count() > 40 {
        return Err(PhoneProblem::Invalid);
    }
    let parsed = phonenumber::parse(region, &input).map_err(|_| PhoneProblem::Invalid)?;
    let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
    check_phone(&e164, None).map_err(|_| PhoneProblem::Invalid)?;
    Ok(e164)
}

fn valid_language(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let first_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic()));
    first_ok
        && tag.len() <= 35
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Marks the first item primary when none is, and reports a second `primary: true`.
fn settle_primary(errors: &mut Errors, at: &Pointer, flags: &mut [bool]) {
    let marked: Vec<usize> = flags.iter().enumerate().filter(|(_, p)| **p).map(|(i, _)| i).collect();
    for &i in marked.iter().skip(1) {
        errors.invalid(
            at.index(i).key("primary"),
            codes::PRIMARY_DUPLICATED,
            "at most one item of a collection is primary",
        );
    }
    if marked.is_empty() {
        if let Some(first) = flags.first_mut() {
            *first = true;
        }
    }
}

/// A list of distinct strings, each checked by `check`.
fn string_set(
    errors: &mut Errors,
    at: &Pointer,
    values: Vec<String>,
    check: impl Fn(&str) -> Option<(&'static str, &'static str)>,
) -> Vec<String> {
    too_many(errors, at, values.len(), MAX_LIST);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(values.len());
    for (i, v) in values.into_iter().enumerate() {
        let v = v.trim().to_owned();
        // One error per item: the character rule first, then the list's own rule.
        if errors.text(at.index(i), &v, TextKind::Line) {
            if let Some((code, detail)) = check(&v) {
                errors.invalid(at.index(i), code, detail);
            } else if !seen.insert(v.clone()) {
                errors.invalid(at.index(i), codes::DUPLICATE_ITEM, "listed twice");
            }
        }
        out.push(v);
    }
    out
}

impl ContactRequest {
    /// Validates a create (`path_id` = `None`) or an overwrite of contact `path_id`.
    pub fn parse(self, path_id: Option<i64>) -> Result<ContactDraft, Vec<FieldError>> {
        let mut errors = Errors::new();
        let root = Pointer::root();
        if let (Some(path), Some(body)) = (path_id, self.id) {
            if path != body {
                errors.invalid(root.key("id"), codes::ID_MISMATCH, "must equal the id in the path");
            }
        }
        let contact_type = match clean(self.contact_type) {
            None => ContactType::Contact,
            Some(t) => ContactType::parse(&t).unwrap_or_else(|| {
                errors.invalid(root.key("contactType"), codes::CONTACT_TYPE_INVALID, "unknown contact type");
                ContactType::Contact
            }),
        };
        let title = text(&mut errors, &root.key("title"), self.title, 50);
        let first_name = text(&mut errors, &root.key("firstName"), self.first_name, 100);
        let last_name = text(&mut errors, &root.key("lastName"), self.last_name, 100);
        let company_name = text(&mut errors, &root.key("companyName"), self.company_name, 200);
        if first_name.is_none() && last_name.is_none() && company_name.is_none() {
            errors.push(
                root.key("firstName"),
                ErrorKind::Missing,
                codes::NAME_REQUIRED,
                "at least one of firstName, lastName and companyName is required",
            );
        }
        let account_id = text(&mut errors, &root.key("accountId"), self.account_id, 64);
        let job_title = text(&mut errors, &root.key("jobTitle"), self.job_title, 100);
        let external_id = text(&mut errors, &root.key("externalId"), self.external_id, 100);
        let gender = clean(self.gender).and_then(|g| {
            let parsed = Gender::parse(&g);
            if parsed.is_none() {
                errors.invalid(root.key("gender"), codes::GENDER_INVALID, "MALE, FEMALE or OTHER");
            }
            parsed
        });
        let language = clean(self.language).inspect(|l| {
            if !valid_language(l) {
                errors.invalid(
                    root.key("language"),
                    codes::LANGUAGE_INVALID,
                    "a language tag such as en or en-GB",
                );
            }
        });
        let property_ids = self.property_ids.map(|ids| {
            string_set(&mut errors, &root.key("propertyIds"), ids, |id| {
                (!valid_id(id)).then_some((PROPERTY_ID_INVALID, ID_RULE))
            })
        });
        let order_references = self.order_references.map(|refs| {
            string_set(&mut errors, &root.key("orderReferences"), refs, |r| {
                (r.is_empty() || r.chars().count() > 64)
                    .then_some((common::STRING_TOO_LONG, "1 to 64 characters"))
            })
        });
        // Addresses first: their primary country reads the telephones.
        let addresses = self.addresses.map(|items| {
            let at = root.key("addresses");
            too_many(&mut errors, &at, items.len(), MAX_ITEMS);
            let mut drafts: Vec<AddressDraft> =
                items.into_iter().enumerate().map(|(i, a)| a.parse_at(&mut errors, &at.index(i))).collect();
            let mut flags: Vec<bool> = drafts.iter().map(|d| d.primary).collect();
            settle_primary(&mut errors, &at, &mut flags);
            drafts.iter_mut().zip(flags).for_each(|(d, p)| d.primary = p);
            drafts
        });
        let fallback_country = addresses
            .as_ref()
            .and_then(|a| a.iter().find(|a| a.primary))
            .map(|a| a.country_code.clone())
            .filter(|c| !c.is_empty());
        let email_addresses = self.email_addresses.map(|items| {
            let at = root.key("emailAddresses");
            too_many(&mut errors, &at, items.len(), MAX_ITEMS);
            let mut drafts: Vec<EmailDraft> =
                items.into_iter().enumerate().map(|(i, e)| e.parse_at(&mut errors, &at.index(i))).collect();
            let mut flags: Vec<bool> = drafts.iter().map(|d| d.primary).collect();
            settle_primary(&mut errors, &at, &mut flags);
            drafts.iter_mut().zip(flags).for_each(|(d, p)| d.primary = p);
            drafts
        });
        let telephones = self.telephones.map(|items| {
            let at = root.key("telephones");
            too_many(&mut errors, &at, items.len(), MAX_ITEMS);
            let mut drafts: Vec<TelephoneDraft> = items
                .into_iter()
                .enumerate()
                .map(|(i, t)| t.parse_at(&mut errors, &at.index(i), fallback_country.as_deref()))
                .collect();
            let mut flags: Vec<bool> = drafts.iter().map(|d| d.primary).collect();
            settle_primary(&mut errors, &at, &mut flags);
            drafts.iter_mut().zip(flags).for_each(|(d, p)| d.primary = p);
            drafts
        });
        let custom_fields = self
            .custom_fields
            .map(|fields| parse_custom_fields_at(&mut errors, &root.key("customFields"), fields));
        errors.finish(ContactDraft {
            contact_type,
            title,
            first_name,
            last_name,
            company_name,
            account_id,
            job_title,
            gender,
            language,
            external_id,
            property_ids,
            order_references,
            email_addresses,
            telephones,
            addresses,
            custom_fields,
        })
    }
}

/// Kind-specific types for free-text `type` members (WORK, HOME, MOBILE...).
fn item_type(errors: &mut Errors, at: &Pointer, value: Option<String>) -> Option<String> {
    text(errors, at, value, 32)
}

impl EmailRequest {
    fn parse_at(self, errors: &mut Errors, at: &Pointer) -> EmailDraft {
        let email_address = match clean(self.email_address) {
            None => {
                errors.push(at.key("emailAddress"), ErrorKind::Missing, common::REQUIRED, "required");
                String::new()
            }
            Some(e) => {
                if errors.text(at.key("emailAddress"), &e, TextKind::Line) && !is_valid_email(&e) {
                    errors.push(
                        at.key("emailAddress"),
                        ErrorKind::InvalidEmail,
                        common::EMAIL_INVALID,
                        "not a valid email address",
                    );
                }
                e
            }
        };
        EmailDraft {
            email_address,
            kind: item_type(errors, &at.key("type"), self.kind),
            primary: self.primary.unwrap_or(false),
        }
    }

    /// Validates the body of `POST/PUT .../emailAddresses[/{emailId}]`.
    pub fn parse(self) -> Result<ItemDraft, Vec<FieldError>> {
        let mut errors = Errors::new();
        let draft = self.parse_at(&mut errors, &Pointer::root());
        errors.finish(ItemDraft::Email(draft))
    }
}

impl TelephoneRequest {
    fn parse_at(self, errors: &mut Errors, at: &Pointer, fallback_country: Option<&str>) -> TelephoneDraft {
        let own_country = country(errors, &at.key("countryCode"), self.country_code, false);
        let number_at = at.key("number");
        let number = required_text(errors, &number_at, self.number, 40);
        let mut e164 = None;
        // A number the length or character rule refused is not read as well.
        if !number.is_empty() && number.chars().count() <= 40 && check_text(&number, TextKind::Line).is_ok() {
            match normalise_phone(&number, own_country.as_deref().or(fallback_country)) {
                Ok(n) => e164 = Some(n),
                // Left for the store, which knows the stored primary address.
                Err(PhoneProblem::NeedsCountry) => {}
                Err(PhoneProblem::Invalid) => {
                    errors.invalid(&number_at, common::PHONE_INVALID, "not a valid telephone number")
                }
            }
        }
        let extension = clean(self.extension).inspect(|x| {
            if !valid_extension(x) {
                errors.invalid(at.key("extension"), common::EXTENSION_INVALID, "1 to 10 digits");
            }
        });
        TelephoneDraft {
            number,
            e164,
            kind: item_type(errors, &at.key("type"), self.kind),
            extension,
            country_code: own_country,
            primary: self.primary.unwrap_or(false),
            pointer: number_at.into(),
        }
    }

    /// Validates the body of `POST/PUT .../telephones[/{phoneId}]`.
    pub fn parse(self) -> Result<ItemDraft, Vec<FieldError>> {
        let mut errors = Errors::new();
        let draft = self.parse_at(&mut errors, &Pointer::root(), None);
        errors.finish(ItemDraft::Telephone(draft))
    }
}

impl AddressRequest {
    fn parse_at(self, errors: &mut Errors, at: &Pointer) -> AddressDraft {
        let address_line1 = required_text(errors, &at.key("addressLine1"), self.address_line1, 255);
        let address_line2 = text(errors, &at.key("addressLine2"), self.address_line2, 255);
        let city = required_text(errors, &at.key("city"), self.city, 100);
        let country_code =
            country(errors, &at.key("countryCode"), self.country_code, true).unwrap_or_default();
        let postcode = text(errors, &at.key("postcode"), self.postcode, 20).inspect(|p| {
            let readable = check_text(p, TextKind::Line).is_ok();
            if readable && !country_code.is_empty() && check_postal_code(&country_code, p).is_err() {
                errors.invalid(
                    at.key("postcode"),
                    common::POSTAL_CODE_INVALID,
                    "does not fit the country's postal-code format",
                );
            }
        });
        AddressDraft {
            address_line1,
            address_line2,
            city,
            postcode,
            state_province: text(errors, &at.key("stateProvince"), self.state_province, 100),
            country_code,
            primary: self.primary.unwrap_or(false),
        }
    }

    /// Validates the body of `POST/PUT .../addresses[/{addressId}]`.
    pub fn parse(self) -> Result<ItemDraft, Vec<FieldError>> {
        let mut errors = Errors::new();
        let draft = self.parse_at(&mut errors, &Pointer::root());
        errors.finish(ItemDraft::Address(draft))
    }
}

/// The canonical text of a custom field value, or why it does not fit `field_type`.
pub fn custom_field_value(field_type: CustomFieldType, value: &Value) -> Result<String, &'static str> {
    match (field_type, value) {
        (CustomFieldType::String, Value::String(s)) if s.chars().count() <= MAX_VALUE_CHARS => Ok(s.clone()),
        (CustomFieldType::String, _) => Err("a string of at most 1000 characters"),
        (CustomFieldType::Number, Value::Number(n)) => Ok(n.to_string()),
        (CustomFieldType::Number, Value::String(s)) => {
            s.trim().parse::<serde_json::Number>().map(|n| n.to_string()).map_err(|_| "a number")
        }
        (CustomFieldType::Number, _) => Err("a number"),
        (CustomFieldType::Boolean, Value::Bool(b)) => Ok(b.to_string()),
        (CustomFieldType::Boolean, Value::String(s)) if s == "true" || s == "false" => Ok(s.clone()),
        (CustomFieldType::Boolean, _) => Err("true or false"),
        (CustomFieldType::Date, Value::String(s)) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(|d| d.format("%Y-%m-%d").to_string())
            .map_err(|_| "a date as YYYY-MM-DD"),
        (CustomFieldType::Date, _) => Err("a date as YYYY-MM-DD"),
    }
}

fn parse_custom_fields_at(
    errors: &mut Errors,
    at: &Pointer,
    fields: Vec<CustomFieldRequest>,
) -> Vec<CustomField> {
    too_many(errors, at, fields.len(), MAX_LIST);
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(fields.len());
    for (i, f) in fields.into_iter().enumerate() {
        let at = at.index(i);
        let name = required_text(errors, &at.key("name"), f.name, 100);
        if !name.is_empty() && !seen.insert(name.clone()) {
            errors.invalid(at.key("name"), codes::DUPLICATE_ITEM, "two custom fields with this name");
        }
        let field_type = match clean(f.field_type) {
            None => {
                errors.push(at.key("type"), ErrorKind::Missing, common::REQUIRED, "required");
                None
            }
            Some(t) => {
                let parsed = CustomFieldType::parse(&t);
                if parsed.is_none() {
                    errors.invalid(
                        at.key("type"),
                        codes::CUSTOM_FIELD_TYPE_INVALID,
                        "STRING, NUMBER, BOOLEAN or DATE",
                    );
                }
                parsed
            }
        };
        let value = match (field_type, f.value) {
            (_, None | Some(Value::Null)) => {
                errors.push(at.key("value"), ErrorKind::Missing, common::REQUIRED, "required");
                None
            }
            (None, Some(_)) => None,
            (Some(t), Some(v)) => match custom_field_value(t, &v) {
                Ok(v) => errors.text(at.key("value"), &v, TextKind::Line).then_some(v),
                Err(expected) => {
                    errors.invalid(
                        at.key("value"),
                        codes::CUSTOM_FIELD_VALUE_INVALID,
                        format!("must be {expected}"),
                    );
                    None
                }
            },
        };
        if let (Some(field_type), Some(value)) = (field_type, value) {
            out.push(CustomField { name, field_type, value });
        }
    }
    out
}

/// Validates the body of `PUT /api/v3/contacts/{id}/customFields` (the whole list).
pub fn parse_custom_fields(fields: Vec<CustomFieldRequest>) -> Result<Vec<CustomField>, Vec<FieldError>> {
    let mut errors = Errors::new();
    let out = parse_custom_fields_at(&mut errors, &Pointer::root(), fields);
    errors.finish(out)
}

impl NoteRequest {
    /// Validates a note; `author` defaults to `default_author` (the API key's name).
    pub fn parse(self, default_author: &str) -> Result<NoteDraft, Vec<FieldError>> {
        let mut errors = Errors::new();
        let root = Pointer::root();
        // Note content is the one member that may span lines.
        let content = required_text_of(
            TextKind::Multiline,
            &mut errors,
            &root.key("content"),
            self.content,
            MAX_NOTE_CHARS,
        );
        let author = text(&mut errors, &root.key("author"), self.author, 100)
            .unwrap_or_else(|| default_author.to_owned());
        let tags = self.tags.unwrap_or_default();
        let tags_at = root.key("tags");
        too_many(&mut errors, &tags_at, tags.len(), MAX_ITEMS);
        let tags = tags
            .into_iter()
            .enumerate()
            .map(|(i, t)| required_text(&mut errors, &tags_at.index(i), Some(t), 50))
            .collect();
        errors.finish(NoteDraft { content, author, tags })
    }
}

// ---------------------------------------------------------------------------------------------
// Listing.
// ---------------------------------------------------------------------------------------------

/// The filters of `GET /api/v3/contacts`; all given ones must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactFilter {
    /// Case-insensitive equality with any of the contact's email addresses.
    pub email_address: Option<String>,
    /// Case-insensitive equality.
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// E.164 form of a telephone of the contact.
    pub telephone: Option<String>,
    pub account_id: Option<String>,
    pub contact_type: Option<ContactType>,
    pub property_id: Option<String>,
    /// `updatedAt >= modifiedSince`.
    pub modified_since: Option<DateTime<Utc>>,
    /// Exact `externalId`.
    pub external_id: Option<String>,
    /// `q`: every word prefixes a name, company, e-mail or telephone term.
    pub search: Option<SearchQuery>,
}

wire_enum!(
    /// Fields the list can be sorted by.
    SortField {
        Id = "id", FirstName = "firstName", LastName = "lastName", CompanyName = "companyName",
        AccountId = "accountId", ContactType = "contactType", CreatedAt = "createdAt", UpdatedAt = "updatedAt",
    }
);

/// `sort=field,asc|desc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field: SortField,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort { field: SortField::Id, descending: false }
    }
}

impl Sort {
    /// Parses `field[,asc|desc]`; the field must be one of [`SortField`] (exact case).
    pub fn parse(s: &str) -> Result<Sort, String> {
        let (field, dir) = match s.split_once(',') {
            Some((f, d)) => (f.trim(), d.trim()),
            None => (s.trim(), "asc"),
        };
        let field = SortField::ALL
            .iter()
            .copied()
            .find(|f| f.as_str() == field)
            .ok_or_else(|| format!("cannot sort by `{field}`; one of {}", sort_fields()))?;
        let descending = match dir.to_ascii_lowercase().as_str() {
            "asc" | "" => false,
            "desc" => true,
            _ => return Err("the direction is asc or desc".into()),
        };
        Ok(Sort { field, descending })
    }
}

fn sort_fields() -> String {
    SortField::ALL.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")
}

/// A validated list request: filters, 0-based page, page size and order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactQuery {
    pub filter: ContactFilter,
    pub page: u32,
    pub size: u32,
    pub sort: Sort,
    /// `after`: the page starts after this contact of the order (cursor paging; `page` is 0).
    pub after: Option<Cursor>,
}

impl ContactQuery {
    /// Rows to skip.
    pub fn offset(&self) -> i64 {
        if self.after.is_some() {
            return 0;
        }
        i64::from(self.page) * i64::from(self.size)
    }
}

/// Raw query string of `GET /api/v3/contacts`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListContactsQuery {
    pub email_address: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub telephone: Option<String>,
    pub account_id: Option<String>,
    pub contact_type: Option<String>,
    pub property_id: Option<String>,
    pub modified_since: Option<String>,
    pub external_id: Option<String>,
    pub q: Option<String>,
    pub after: Option<String>,
    /// Kept as text so an out-of-range number is clamped rather than refused.
    pub page: Option<String>,
    /// Kept as text so an out-of-range number is clamped rather than refused.
    pub size: Option<String>,
    pub sort: Option<String>,
}

/// An integer query parameter, saturating at the bounds of `i64` instead of failing; `None` when
/// it is not an integer at all.
fn saturating_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match (digits.parse::<i64>(), negative) {
        (Ok(n), true) => -n,
        (Ok(n), false) => n,
        (Err(_), true) => i64::MIN,
        (Err(_), false) => i64::MAX,
    })
}

impl ListContactsQuery {
    /// Validates the query; errors name the query parameter. `size` is clamped to 1..=500 and
    /// `page` to 0 and up, whatever the magnitude; only a non-integer is an error.
    pub fn parse(self) -> Result<ContactQuery, Vec<FieldError>> {
        let mut errors = Errors::new();
        let telephone = clean(self.telephone).and_then(|t| match normalise_phone(&t, None) {
            Ok(e164) => Some(e164),
            Err(_) => {
                errors.invalid(
                    "telephone",
                    common::PHONE_INVALID,
                    "an international number (+ and country code)",
                );
                None
            }
        });
        let contact_type = clean(self.contact_type).and_then(|t| {
            let parsed = ContactType::parse(&t);
            if parsed.is_none() {
                errors.invalid("contactType", codes::CONTACT_TYPE_INVALID, "unknown contact type");
            }
            parsed
        });
        let modified_since = clean(self.modified_since).and_then(|m| match parse_instant(&m) {
            Some(t) => Some(t),
            None => {
                errors.invalid("modifiedSince", codes::DATE_TIME_INVALID, "an RFC 3339 date-time or a date");
                None
            }
        });
        let mut int_param = |name: &str, value: Option<&str>| match value.map(str::trim) {
            None | Some("") => None,
            Some(v) => saturating_int(v).or_else(|| {
                errors.invalid(name, codes::INVALID_QUERY_PARAMETER, "an integer");
                None
            }),
        };
        let page = int_param("page", self.page.as_deref());
        let size = int_param("size", self.size.as_deref());
        let sort = match self.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Sort::default(),
            Some(s) => Sort::parse(s).unwrap_or_else(|detail| {
                errors.invalid("sort", codes::SORT_INVALID, detail);
                Sort::default()
            }),
        };
        let search = clean(self.q).and_then(|q| match SearchQuery::parse(&q) {
            Ok(s) => Some(s),
            Err(problem) => {
                let detail = match problem {
                    SearchProblem::Empty => "no letters or digits to search for".to_owned(),
                    SearchProblem::TooLong => format!("at most {MAX_QUERY_CHARS} characters"),
                    SearchProblem::TooManyWords => format!("at most {MAX_WORDS} words"),
                };
                errors.invalid("q", codes::INVALID_QUERY_PARAMETER, detail);
                None
            }
        });
        let after = clean(self.after).and_then(|a| {
            let cursor = Cursor::decode(&a);
            if cursor.is_none() {
                errors.invalid("after", codes::INVALID_QUERY_PARAMETER, "a `next` cursor of an earlier page");
            } else if sort.field != SortField::Id || (search.is_some() && sort.descending) {
                errors.invalid(
                    "after",
                    codes::INVALID_QUERY_PARAMETER,
                    "cursor paging follows sort=id (asc or desc; asc when searching with q)",
                );
            }
            cursor
        });
        let query = ContactQuery {
            filter: ContactFilter {
                email_address: clean(self.email_address),
                first_name: clean(self.first_name),
                last_name: clean(self.last_name),
                telephone,
                account_id: clean(self.account_id),
                contact_type,
                property_id: clean(self.property_id),
                modified_since,
                external_id: clean(self.external_id),
                search,
            },
            // Far pages are simply empty; the cap only keeps the offset arithmetic small. Both
            // clamps are lossless conversions: the bounds fit in u32.
            page: page.unwrap_or(0).clamp(0, MAX_PAGE) as u32,
            size: size.unwrap_or(i64::from(DEFAULT_PAGE_SIZE)).clamp(1, i64::from(MAX_PAGE_SIZE)) as u32,
            sort,
            after,
        };
        errors.finish(query)
    }
}

/// RFC 3339 date-time, or a plain date (midnight UTC).
fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc())
}

/// What identifies the state of everything a list request matched (all pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListStamp {
    pub total: i64,
    /// Newest `updatedAt` of what matched.
    pub last_modified: Option<DateTime<Utc>>,
    pub version_sum: i64,
    pub id_sum: i64,
}

impl ListStamp {
    /// A strong ETag for the page `query` asks for. Any write to a matched contact raises its
    /// version and the newest `updatedAt`; a contact entering or leaving the match changes the
    /// count or the sums; so the tag changes whenever the result could.
    pub fn etag(&self, query: &ContactQuery) -> String {
        use sha2::{Digest, Sha256};
        let material = format!(
            "{}|{}|{}|{}|{:?}|{}|{}|{:?}|{:?}",
            self.total,
            self.last_modified.map(|t| t.timestamp_micros()).unwrap_or(0),
            self.version_sum,
            self.id_sum,
            query.filter,
            query.page,
            query.size,
            query.sort,
            query.after,
        );
        let digest = Sha256::digest(material.as_bytes());
        format!("\"{}\"", hex::encode(&digest[..12]))
    }
}

// ---------------------------------------------------------------------------------------------
// Conditional requests.
// ---------------------------------------------------------------------------------------------

/// The strong ETag of a contact version.
pub fn contact_etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The strong ETag of a contact version rendered with its revisions (`?includeRevisions=true`),
/// another representation of the same version.
pub fn contact_with_revisions_etag(version: i64) -> String {
    format!("\"{version}{REVISIONS_ETAG_SUFFIX}\"")
}

/// What [`contact_with_revisions_etag`] appends to the version.
const REVISIONS_ETAG_SUFFIX: &str = "-r";

/// `If-Match` of a write, parsed by the one entity-tag parser (strong comparison, weak tags never
/// match, a malformed header is refused before a write starts).
pub use crate::validation::entity_tag::IfMatch;

impl IfMatch {
    /// Whether the contact at `version` satisfies the precondition: either representation's tag
    /// (`"<version>"`, `"<version>-r"`) names the same version.
    pub fn allows(&self, version: i64) -> bool {
        self.matches(&version.to_string()) || self.matches(&format!("{version}{REVISIONS_ETAG_SUFFIX}"))
    }
}

/// `If-None-Match` / `If-Modified-Since` of a read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditional {
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<DateTime<Utc>>,
}

impl Conditional {
    /// True when the client's copy is current: `If-None-Match` decides when present (RFC 9110
    /// 13.2.2), else `If-Modified-Since` compared at whole seconds.
    pub fn not_modified(&self, etag: &str, last_modified: Option<DateTime<Utc>>) -> bool {
        if let Some(inm) = &self.if_none_match {
            if inm.trim() == "*" {
                return true;
            }
            // If-None-Match compares weakly (RFC 9110 13.1.2); one that is not a list of entity
            // tags matches nothing, so the full answer is sent.
            let ours = etag.strip_prefix("W/").unwrap_or(etag).trim_matches('"');
            return entity_tags(inm.as_bytes()).is_ok_and(|tags| tags.iter().any(|t| t.opaque == ours));
        }
        match (self.if_modified_since, last_modified) {
            (Some(since), Some(modified)) => modified.timestamp() <= since.timestamp(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn contact_request(v: Value) -> ContactRequest {
        serde_json::from_value(v).unwrap()
    }

    fn pointers(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors.iter().map(|e| (e.pointer.as_str(), e.code)).collect()
    }

    #[test]
    fn minimal_contact_defaults() {
        let d = contact_request(json!({"lastName": "  Jansen "})).parse(None).unwrap();
        assert_eq!(d.contact_type, ContactType::Contact);
        assert_eq!(d.last_name.as_deref(), Some("Jansen"));
        assert_eq!(d.first_name, None);
        assert_eq!(d.email_addresses, None);
        assert_eq!(d.property_ids, None);
    }

    #[test]
    fn all_errors_are_reported_with_camel_case_pointers() {
        let errors = contact_request(json!({
            "id": 7,
            "contactType": "VILLAIN",
            "firstName": "",
            "gender": "x",
            "language": "english!",
            "propertyIds": ["ok", "not ok", "ok"],
            "emailAddresses": [{"emailAddress": "nope"}, {"emailAddress": "a@b.example", "primary": true}, {"emailAddress": "c@d.example", "primary": true}],
            "telephones": [{"number": "020 123 4567"}, {"number": "+1"}, {"number": "+31201234567", "extension": "x1"}],
            "addresses": [{"addressLine1": "Damrak 1", "countryCode": "XX"}],
            "customFields": [{"name": "n", "type": "NUMBER", "value": "abc"}, {"name": "n", "type": "COLOUR", "value": 1}, {"name": "d", "type": "DATE"}]
        }))
        .parse(Some(8))
        .unwrap_err();
        assert_eq!(
            pointers(&errors),
            vec![
                ("/id", codes::ID_MISMATCH),
                ("/contactType", codes::CONTACT_TYPE_INVALID),
                ("/firstName", codes::NAME_REQUIRED),
                ("/gender", codes::GENDER_INVALID),
                ("/language", codes::LANGUAGE_INVALID),
                ("/propertyIds/1", PROPERTY_ID_INVALID),
                ("/propertyIds/2", codes::DUPLICATE_ITEM),
                ("/addresses/0/city", common::REQUIRED),
                ("/addresses/0/countryCode", common::COUNTRY_CODE_INVALID),
                ("/emailAddresses/0/emailAddress", common::EMAIL_INVALID),
                ("/emailAddresses/2/primary", codes::PRIMARY_DUPLICATED),
                ("/telephones/1/number", common::PHONE_INVALID),
                ("/telephones/2/extension", common::EXTENSION_INVALID),
                ("/customFields/0/value", codes::CUSTOM_FIELD_VALUE_INVALID),
                ("/customFields/1/name", codes::DUPLICATE_ITEM),
                ("/customFields/1/type", codes::CUSTOM_FIELD_TYPE_INVALID),
                ("/customFields/2/value", common::REQUIRED),
            ]
        );
    }

    #[test]
    fn first_item_becomes_primary_and_phones_use_the_primary_address_country() {
        let d = contact_request(json!({
            "companyName": "Acme",
            "addresses": [
                {"addressLine1": "1 High St", "city": "London", "countryCode": "gb", "postcode": "SW1A 1AA"},
                {"addressLine1": "Damrak 1", "city": "Amsterdam", "countryCode": "NL", "primary": true}
            ],
            "telephones": [{"number": "020 123 4567"}, {"number": "+44 20 7183 8750", "countryCode": "NL"}],
            "emailAddresses": [{"emailAddress": "a@b.example"}, {"emailAddress": "c@d.example"}]
        }))
        .parse(None)
        .unwrap();
        let addresses = d.addresses.unwrap();
        assert_eq!(addresses[0].country_code, "GB");
        assert!(!addresses[0].primary && addresses[1].primary);
        let phones = d.telephones.unwrap();
        assert_eq!(phones[0].e164.as_deref(), Some("+31201234567"));
        assert_eq!(phones[1].e164.as_deref(), Some("+442071838750"));
        assert!(phones[0].primary && !phones[1].primary);
        let emails = d.email_addresses.unwrap();
        assert!(emails[0].primary && !emails[1].primary);
    }

    #[test]
    fn national_number_without_country_is_left_for_the_store() {
        let ItemDraft::Telephone(mut t) =
            TelephoneRequest { number: Some("020 123 4567".into()), ..Default::default() }.parse().unwrap()
        else {
            panic!("not a telephone")
        };
        assert_eq!(t.e164, None);
        assert_eq!(t.clone().resolve(None).unwrap_err().code, codes::PHONE_COUNTRY_UNKNOWN);
        t.resolve(Some("NL")).unwrap();
        assert_eq!(t.e164.as_deref(), Some("+31201234567"));
    }

    #[test]
    fn phone_normalisation() {
        assert_eq!(normalise_phone("+31 20 123 4567", None), Ok("+31201234567".into()));
        assert_eq!(normalise_phone("0031201234567", None), Ok("+31201234567".into()));
        assert_eq!(normalise_phone("(020) 123-4567", Some("NL")), Ok("+31201234567".into()));
        assert_eq!(normalise_phone("020 123 4567", None), Err(PhoneProblem::NeedsCountry));
        assert_eq!(normalise_phone("+97233142764978", None), Err(PhoneProblem::Invalid));
        assert_eq!(normalise_phone("hello", Some("NL")), Err(PhoneProblem::Invalid));
    }

    #[test]
    fn custom_field_values_follow_their_type() {
        use CustomFieldType::*;
        assert_eq!(custom_field_value(Number, &json!(1.5)), Ok("1.5".into()));
        assert_eq!(custom_field_value(Number, &json!(" 42 ")), Ok("42".into()));
        assert!(custom_field_value(Number, &json!(true)).is_err());
        assert_eq!(custom_field_value(Boolean, &json!(false)), Ok("false".into()));
        assert!(custom_field_value(Boolean, &json!("yes")).is_err());
        assert_eq!(custom_field_value(Date, &json!("2024-02-29")), Ok("2024-02-29".into()));
        assert!(custom_field_value(Date, &json!("2023-02-29")).is_err());
        assert!(custom_field_value(String, &json!(3)).is_err());
        let rendered =
            serde_json::to_value(CustomField { name: "n".into(), field_type: Number, value: "42".into() })
                .unwrap();
        assert_eq!(rendered, json!({"name": "n", "type": "NUMBER", "value": 42}));
    }

    #[test]
    fn list_query_parsing() {
        let q = ListContactsQuery {
            size: Some("9999".into()),
            sort: Some("lastName,DESC".into()),
            ..Default::default()
        }
        .parse()
        .unwrap();
        assert_eq!(q.size, MAX_PAGE_SIZE);
        assert_eq!(q.sort, Sort { field: SortField::LastName, descending: true });
        let q = ListContactsQuery { size: Some("0".into()), ..Default::default() }.parse().unwrap();
        assert_eq!((q.size, q.page, q.sort), (1, 0, Sort::default()));
        let q = ListContactsQuery {
            size: Some("99999999999999999999999".into()),
            page: Some("-7".into()),
            ..Default::default()
        }
        .parse()
        .unwrap();
        assert_eq!((q.size, q.page), (MAX_PAGE_SIZE, 0));
        let q = ListContactsQuery { page: Some("99999999999".into()), ..Default::default() }.parse().unwrap();
        assert_eq!(q.page, 10_000_000);
        for bad in ["abc", "1.5", "-", "1e3"] {
            let errors =
                ListContactsQuery { size: Some(bad.into()), page: Some(bad.into()), ..Default::default() }
                    .parse()
                    .unwrap_err();
            let params: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
            assert_eq!(params, ["page", "size"], "{bad}");
        }
        let errors = ListContactsQuery {
            sort: Some("password,asc".into()),
            contact_type: Some("nope".into()),
            telephone: Some("0201234567".into()),
            modified_since: Some("yesterday".into()),
            ..Default::default()
        }
        .parse()
        .unwrap_err();
        let params: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(params, ["telephone", "contactType", "modifiedSince", "sort"]);
        let q = ListContactsQuery {
            telephone: Some("+31 20 123 4567".into()),
            modified_since: Some("2024-01-02".into()),
            ..Default::default()
        }
        .parse()
        .unwrap();
        assert_eq!(q.filter.telephone.as_deref(), Some("+31201234567"));
        assert_eq!(q.filter.modified_since.unwrap().to_rfc3339(), "2024-01-02T00:00:00+00:00");
    }

    #[test]
    fn conditionals() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let modified = Some(t("2024-01-01T10:00:00.900Z"));
        let etag = contact_etag(3);
        let inm = |v: &str| Conditional { if_none_match: Some(v.into()), if_modified_since: None };
        assert!(inm("\"3\"").not_modified(&etag, modified));
        assert!(inm("W/\"3\", \"4\"").not_modified(&etag, modified));
        assert!(inm("*").not_modified(&etag, modified));
        assert!(!inm("\"2\"").not_modified(&etag, modified));
        let ims = |s: &str| Conditional { if_none_match: None, if_modified_since: Some(t(s)) };
        assert!(ims("2024-01-01T10:00:00Z").not_modified(&etag, modified), "second precision");
        assert!(!ims("2024-01-01T09:59:59Z").not_modified(&etag, modified));
        // If-None-Match wins over If-Modified-Since.
        let both = Conditional {
            if_none_match: Some("\"2\"".into()),
            if_modified_since: Some(t("2030-01-01T00:00:00Z")),
        };
        assert!(!both.not_modified(&etag, modified));
        assert!(IfMatch::parse("\"3\"").unwrap().allows(3));
        assert!(!IfMatch::parse("\"2\", \"4\"").unwrap().allows(3));
        assert!(IfMatch::parse("*").unwrap().allows(3));
        assert!(IfMatch::parse("\"2\", \"3-r\"").unwrap().allows(3));
        // Strong comparison: a weak tag, or another spelling of the number, never matches.
        assert!(!IfMatch::parse("W/\"3\"").unwrap().allows(3));
        assert!(!IfMatch::parse("\"03\", \"+3\"").unwrap().allows(3));
    }

    #[test]
    fn list_etag_changes_with_state_and_page() {
        let q = ListContactsQuery::default().parse().unwrap();
        let s = ListStamp { total: 2, last_modified: None, version_sum: 3, id_sum: 3 };
        let a = s.etag(&q);
        assert_eq!(a, s.etag(&q));
        assert_ne!(a, ListStamp { version_sum: 4, ..s }.etag(&q));
        assert_ne!(a, s.etag(&ContactQuery { page: 1, ..q.clone() }));
    }
}
