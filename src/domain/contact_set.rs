//! A property's contact set in Booking.com's Contacts API shape (API.md §4, §5).
//!
//! The enums and newtypes here are valid by construction; the structs have public fields so the
//! store can rebuild them from rows it wrote. Request bodies go through [`ContactSet::parse`],
//! which reports every violation at once; `Deserialize` is only for trusted snapshots.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::validation::country::{self, PostalError};
use crate::validation::job_title::{booking_job_title, BOOKING_JOB_TITLES};
use crate::validation::phone::{self, PhoneError, EXTENSION_MAX_DIGITS};
use crate::validation::text::TextKind;
use crate::validation::{
    codes, quote, text, ErrorKind, Errors, FieldError, ParseOptions, PhoneLimits, Pointer,
};

/// Most contacts one set may hold.
pub const MAX_CONTACTS: usize = 100;
/// Most phones one contact may hold.
pub const MAX_PHONES: usize = 10;
/// Longest `contact_person.name`, `address_line`, `city_name` and `state_prov_code`.
pub const MAX_TEXT_CHARS: usize = 255;

/// A value outside a closed set of codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownValue {
    /// What kind of value was expected, e.g. `"gender"`.
    pub what: &'static str,
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {}", self.what)
    }
}

impl std::error::Error for UnknownValue {}

/// Why a `contact_profiles` type was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileTypeError {
    /// The legacy XML type `contract`, which Booking answers with 450.
    Contract,
    /// Anything else outside the eight types.
    Unknown,
}

impl fmt::Display for ProfileTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileTypeError::Contract => f.write_str("profile type contract is not supported"),
            ProfileTypeError::Unknown => f.write_str("unknown profile type"),
        }
    }
}

impl std::error::Error for ProfileTypeError {}

/// Serializes through `as_str()` and deserializes through `FromStr`.
macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A Booking contact profile type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProfileType {
    /// Primary point of contact; exactly one per set.
    General,
    /// Reservations.
    Reservations,
    /// Accounts payable.
    Invoices,
    /// Availability questions.
    Availability,
    /// Photos, descriptions and other website content.
    SiteContent,
    /// Pricing and rates.
    Parity,
    /// Special requests.
    Requests,
    /// Reservations managed centrally or from another location.
    CentralReservations,
}

impl ProfileType {
    /// All eight types in Booking's order.
    pub const ALL: [ProfileType; 8] = [
        ProfileType::General,
        ProfileType::Reservations,
        ProfileType::Invoices,
        ProfileType::Availability,
        ProfileType::SiteContent,
        ProfileType::Parity,
        ProfileType::Requests,
        ProfileType::CentralReservations,
    ];

    /// The lowercase wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProfileType::General => "general",
            ProfileType::Reservations => "reservations",
            ProfileType::Invoices => "invoices",
            ProfileType::Availability => "availability",
            ProfileType::SiteContent => "site_content",
            ProfileType::Parity => "parity",
            ProfileType::Requests => "requests",
            ProfileType::CentralReservations => "central_reservations",
        }
    }

    /// Case-insensitive; `contract` is told apart so it can be answered with 450.
    pub fn parse(s: &str) -> Result<Self, ProfileTypeError> {
        let s = s.trim();
        if let Some(t) = Self::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s)) {
            Ok(t)
        } else if s.eq_ignore_ascii_case("contract") {
            Err(ProfileTypeError::Contract)
        } else {
            Err(ProfileTypeError::Unknown)
        }
    }
}

impl FromStr for ProfileType {
    type Err = ProfileTypeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

string_serde!(ProfileType);

/// OTA Phone Technology Type, restricted to the three codes Booking implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhoneTechType {
    /// Landline.
    Voice = 1,
    /// Fax.
    Fax = 3,
    /// Mobile.
    Mobile = 5,
}

impl PhoneTechType {
    /// The type for an OTA code, if Booking implements it.
    pub const fn from_code(code: u64) -> Option<Self> {
        match code {
            1 => Some(PhoneTechType::Voice),
            3 => Some(PhoneTechType::Fax),
            5 => Some(PhoneTechType::Mobile),
            _ => None,
        }
    }

    /// The OTA code, as serialized.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The OTA code as text (`"1"`, `"3"`, `"5"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            PhoneTechType::Voice => "1",
            PhoneTechType::Fax => "3",
            PhoneTechType::Mobile => "5",
        }
    }

    /// The per-contact maximum for this type under `limits`.
    pub const fn limit(self, limits: &PhoneLimits) -> usize {
        match self {
            PhoneTechType::Voice => limits.voice,
            PhoneTechType::Fax => limits.fax,
            PhoneTechType::Mobile => limits.mobile,
        }
    }

    /// Parses a numeric string such as `"1"` (the SU dialect sends strings).
    pub fn parse(s: &str) -> Result<Self, UnknownValue> {
        let err = UnknownValue { what: "phone_tech_type" };
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err);
        }
        s.parse::<u64>().ok().and_then(Self::from_code).ok_or(err)
    }
}

impl FromStr for PhoneTechType {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for PhoneTechType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for PhoneTechType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Code(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Code(c) => Self::from_code(c)
                .ok_or_else(|| serde::de::Error::custom(UnknownValue { what: "phone_tech_type" })),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl fmt::Display for PhoneTechType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A contact person's gender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    /// `male`.
    Male,
    /// `female`.
    Female,
}

impl Gender {
    /// The lowercase wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
        }
    }

    /// Case-insensitive, so SU's `Male`/`Female` work too.
    pub fn parse(s: &str) -> Result<Self, UnknownValue> {
        match s.trim().to_ascii_lowercase().as_str() {
            "male" => Ok(Gender::Male),
            "female" => Ok(Gender::Female),
            _ => Err(UnknownValue { what: "gender" }),
        }
    }
}

impl FromStr for Gender {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

string_serde!(Gender);

/// One of the 17 Booking.com job titles (BCJT), in the order of [`BOOKING_JOB_TITLES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JobTitle {
    /// `Administration Employee`.
    AdministrationEmployee,
    /// `Director of Business Development`.
    DirectorOfBusinessDevelopment,
    /// `E-Commerce Manager`.
    ECommerceManager,
    /// `Finance Manager`.
    FinanceManager,
    /// `Front Office Employee`.
    FrontOfficeEmployee,
    /// `Front Office Manager`.
    FrontOfficeManager,
    /// `General Manager`.
    GeneralManager,
    /// `Marketing Manager`.
    MarketingManager,
    /// `Owner`.
    Owner,
    /// `Reservations Employee`.
    ReservationsEmployee,
    /// `Reservations Manager`.
    ReservationsManager,
    /// `Revenue Manager`.
    RevenueManager,
    /// `Rooms Division Manager`.
    RoomsDivisionManager,
    /// `Sales & Marketing Manager`.
    SalesAndMarketingManager,
    /// `Sales Executive`.
    SalesExecutive,
    /// `Sales Manager`.
    SalesManager,
    /// `Unknown`, also what an absent job title means.
    #[default]
    Unknown,
}

impl JobTitle {
    /// All 17 titles in Booking's (alphabetical) order.
    pub const ALL: [JobTitle; 17] = [
        JobTitle::AdministrationEmployee,
        JobTitle::DirectorOfBusinessDevelopment,
        JobTitle::ECommerceManager,
        JobTitle::FinanceManager,
        JobTitle::FrontOfficeEmployee,
        JobTitle::FrontOfficeManager,
        JobTitle::GeneralManager,
        JobTitle::MarketingManager,
        JobTitle::Owner,
        JobTitle::ReservationsEmployee,
        JobTitle::ReservationsManager,
        JobTitle::RevenueManager,
        JobTitle::RoomsDivisionManager,
        JobTitle::SalesAndMarketingManager,
        JobTitle::SalesExecutive,
        JobTitle::SalesManager,
        JobTitle::Unknown,
    ];

    /// Booking's exact display string.
    pub const fn as_str(self) -> &'static str {
        BOOKING_JOB_TITLES[self as usize]
    }

    /// Case-insensitive match on the display string.
    pub fn parse(s: &str) -> Result<Self, UnknownValue> {
        booking_job_title(s.trim()).map(|i| Self::ALL[i]).ok_or(UnknownValue { what: "job title" })
    }
}

impl FromStr for JobTitle {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

string_serde!(JobTitle);

/// A Booking.com language code (BCL), canonical lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LanguageCode(&'static str);

impl LanguageCode {
    /// A code from Booking's main table (valid for addresses and people).
    pub fn parse(s: &str) -> Result<Self, UnknownValue> {
        text::booking_language(s.trim()).map(LanguageCode).ok_or(UnknownValue { what: "language code" })
    }

    /// A spoken-language code: the main table plus `br, cm, cn, gn, jv`.
    pub fn parse_spoken(s: &str) -> Result<Self, UnknownValue> {
        text::spoken_language(s.trim()).map(LanguageCode).ok_or(UnknownValue { what: "language code" })
    }

    /// The lowercase code.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl FromStr for LanguageCode {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for LanguageCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

/// Snapshots hold both address and spoken codes in this one type, so the wider list applies.
impl<'de> Deserialize<'de> for LanguageCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse_spoken(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for LanguageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountryCode(&'static str);

impl CountryCode {
    /// Case-insensitive; only two-letter codes ISO 3166-1 assigns.
    pub fn parse(s: &str) -> Result<Self, UnknownValue> {
        country::iso_alpha2(s.trim()).map(CountryCode).ok_or(UnknownValue { what: "country code" })
    }

    /// The upper-case code.
    pub const fn as_str(self) -> &'static str {
        self.0
    }
}

impl FromStr for CountryCode {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

string_serde!(CountryCode);

/// A property's whole contact set: `{"contacts": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactSet {
    /// The contacts, in request order.
    pub contacts: Vec<Contact>,
}

/// A set as a replace stores it: its contacts as the history row's JSON, serialised once, and
/// their fingerprint.
#[derive(Debug)]
pub struct StoredForm {
    pub contacts: Box<serde_json::value::RawValue>,
    /// SHA-256 (hex) of `contacts`: equal sets, and only they, have equal fingerprints, so the
    /// store recognises an identical re-send without reading the stored set back. Order counts: the
    /// same contacts in another order are another set (a read returns them in the new order).
    pub fingerprint: String,
}

impl ContactSet {
    pub fn stored_form(&self) -> StoredForm {
        use sha2::{Digest, Sha256};
        let contacts = serde_json::value::to_raw_value(&self.contacts).expect("a contact set serialises");
        let fingerprint = hex::encode(Sha256::digest(contacts.get()));
        StoredForm { contacts, fingerprint }
    }
}

/// One contact: a person serving one or more profile types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// The types this contact serves; no type twice.
    #[serde(rename = "contact_profiles", with = "profile_entries")]
    pub profiles: Vec<ProfileType>,
    /// Who the contact is.
    #[serde(rename = "contact_person")]
    pub person: ContactPerson,
    /// At least one phone.
    pub phones: Vec<Phone>,
    /// Trimmed email address.
    pub email: String,
    /// Optional postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

/// `contact_person`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPerson {
    /// Trimmed full name.
    pub name: String,
    /// Omitted from JSON when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
    /// `Unknown` when the request had none.
    #[serde(default)]
    pub job_title: JobTitle,
    /// The language the person speaks.
    pub language_code: LanguageCode,
}

/// One entry of `phones`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    /// E.164, `+` and digits.
    pub phone_number: String,
    /// Voice, fax or mobile.
    #[serde(rename = "phone_tech_type")]
    pub tech_type: PhoneTechType,
    /// Digits; only on voice phones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
}

/// `address`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Street address, 1..=255 characters, no CJK ideographs.
    pub address_line: String,
    /// No CJK ideographs.
    pub city_name: String,
    /// Fits the country's format where one is known.
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country_code: CountryCode,
    /// Language the address is written in.
    pub language_code: LanguageCode,
    /// Omitted from JSON when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_prov_code: Option<String>,
}

/// `[{"type": "general"}]` on the wire, `Vec<ProfileType>` in memory.
mod profile_entries {
    use super::ProfileType;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Entry {
        #[serde(rename = "type")]
        ty: ProfileType,
    }

    pub fn serialize<S: Serializer>(v: &[ProfileType], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|&ty| Entry { ty }))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ProfileType>, D::Error> {
        Ok(Vec::<Entry>::deserialize(d)?.into_iter().map(|e| e.ty).collect())
    }
}

const ROOT_MEMBERS: &[&str] = &["contacts"];
const CONTACT_MEMBERS: &[&str] = &["contact_profiles", "contact_person", "phones", "email", "address"];
const PROFILE_MEMBERS: &[&str] = &["type"];
const PERSON_MEMBERS: &[&str] = &["name", "gender", "job_title", "language_code"];
const PHONE_MEMBERS: &[&str] = &["phone_number", "phone_tech_type", "extension"];
const ADDRESS_MEMBERS: &[&str] =
    &["address_line", "city_name", "postal_code", "country_code", "language_code", "state_prov_code"];

impl ContactSet {
    /// Parses and validates a request body against API.md §4, reporting every violation.
    ///
    /// Members are visited in Booking's schema order (the order of the JSON shape this type
    /// serializes to), not the order of the request text, because `serde_json::Map` may not
    /// keep the latter; within each object, unknown members are reported first. So errors come
    /// out in a stable, document-like order whatever order the client wrote its keys in.
    pub fn parse(body: &Value, opts: &ParseOptions) -> Result<ContactSet, Vec<FieldError>> {
        let mut walker = Walker { errs: Errors::new(), opts };
        let set = walker.root(body);
        walker.errs.finish_some(set)
    }
}

/// What the walk learnt about `general` across the set.
#[derive(Default)]
struct GeneralSeen {
    /// Some contact carries `general`.
    seen: bool,
    /// Some profile entry could not be read at all, so it might have been `general`;
    /// reporting `general_missing` then would only repeat that error.
    unreadable: bool,
}

/// Walks a request body; every method returns `None` only after recording why.
struct Walker<'o> {
    errs: Errors,
    opts: &'o ParseOptions,
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Absent and `null` both mean "not given" for optional members.
fn optional<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// The address country, looked up quietly so phones (which precede the address) can use it.
fn peek_country(contact: &Map<String, Value>) -> Option<CountryCode> {
    optional(contact, "address")?
        .as_object()?
        .get("country_code")?
        .as_str()
        .and_then(|s| CountryCode::parse(s).ok())
}

impl Walker<'_> {
    fn invalid(&mut self, at: &Pointer, code: &'static str, detail: impl Into<String>) {
        self.errs.invalid(at, code, detail);
    }

    fn invalid_type(&mut self, at: &Pointer, expected: &str, found: &Value) {
        self.invalid(at, codes::INVALID_TYPE, format!("expected {expected}, found {}", json_type(found)));
    }

    fn object<'v>(
        &mut self,
        v: &'v Value,
        at: &Pointer,
        known: &[&str],
        extra: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Value::Object(map) = v else {
            self.invalid_type(at, "an object", v);
            return None;
        };
        // Only the SU root has extra members, so only it pays for the combined list.
        let known: Cow<'_, [&str]> =
            if extra.is_empty() { Cow::Borrowed(known) } else { Cow::Owned([known, extra].concat()) };
        self.errs.unknown_members(map, at, &known, |key| format!("unknown member {}", quote(key)));
        Some(map)
    }

    fn required<'v>(&mut self, map: &'v Map<String, Value>, key: &str, at: &Pointer) -> Option<&'v Value> {
        let v = optional(map, key);
        if v.is_none() {
            self.errs.push(at.key(key), ErrorKind::Missing, codes::REQUIRED, format!("{key} is required"));
        }
        v
    }

    /// A string member; every one obeys the one-line character rule (judged as it would be kept,
    /// trimmed), so no member needs to remember it.
    fn string<'v>(&mut self, v: &'v Value, at: &Pointer) -> Option<&'v str> {
        match v {
            Value::String(s) => self.errs.text(at, s.trim(), TextKind::Line).then_some(s.as_str()),
            other => {
                self.invalid_type(at, "a string", other);
                None
            }
        }
    }

    /// A trimmed, non-empty string of at most `max` characters.
    fn text(&mut self, v: &Value, at: &Pointer, max: usize) -> Option<String> {
        let s = self.string(v, at)?.trim();
        let len = s.chars().count();
        if len == 0 {
            self.invalid(at, codes::EMPTY, "must not be empty");
            None
        } else if len > max {
            self.invalid(
                at,
                codes::STRING_TOO_LONG,
                format!("must be at most {max} characters, found {len}"),
            );
            None
        } else {
            Some(s.to_owned())
        }
    }

    /// An array; a wrong length is reported but the items are still returned for checking.
    fn array<'v>(&mut self, v: &'v Value, at: &Pointer, min: usize, max: usize) -> Option<&'v [Value]> {
        let Value::Array(items) = v else {
            self.invalid_type(at, "an array", v);
            return None;
        };
        if items.len() < min {
            self.invalid(
                at,
                codes::TOO_FEW_ITEMS,
                format!("must have at least {min} item(s), found {}", items.len()),
            );
        } else if items.len() > max {
            self.invalid(
                at,
                codes::TOO_MANY_ITEMS,
                format!("must have at most {max} items, found {}", items.len()),
            );
        }
        Some(items)
    }

    fn root(&mut self, body: &Value) -> Option<ContactSet> {
        let at = Pointer::root();
        let map = self.object(body, &at, ROOT_MEMBERS, self.opts.extra_root_members)?;
        let list = self.required(map, "contacts", &at)?;
        let list_at = at.key("contacts");
        let items = self.array(list, &list_at, 1, MAX_CONTACTS)?;
        // general_missing is only known after the walk but describes /contacts itself.
        let mark = self.errs.len();
        let mut general = GeneralSeen::default();
        let mut contacts = Some(Vec::with_capacity(items.len()));
        for (i, item) in items.iter().enumerate() {
            let contact = self.contact(item, &list_at.index(i), &mut general);
            contacts = contacts.zip(contact).map(|(mut all, c)| {
                all.push(c);
                all
            });
        }
        // An empty list already has too_few_items; general_missing would repeat it.
        if !general.seen && !general.unreadable && !items.is_empty() {
            self.errs.insert(
                mark,
                &list_at,
                ErrorKind::Missing,
                codes::GENERAL_MISSING,
                "exactly one contact must have the general profile type",
            );
        }
        Some(ContactSet { contacts: contacts? })
    }

    fn contact(&mut self, v: &Value, at: &Pointer, general: &mut GeneralSeen) -> Option<Contact> {
        let Some(map) = self.object(v, at, CONTACT_MEMBERS, &[]) else {
            general.unreadable = true;
            return None;
        };
        let profiles = self.profiles(map, at, general);
        let person = self.person(map, at);
        let phones = self.phones(map, at, peek_country(map));
        let email = self.email(map, at);
        let address = self.address(map, at);
        Some(Contact {
            profiles: profiles?,
            person: person?,
            phones: phones?,
            email: email?,
            address: address?,
        })
    }

    fn profiles(
        &mut self,
        contact: &Map<String, Value>,
        at: &Pointer,
        general: &mut GeneralSeen,
    ) -> Option<Vec<ProfileType>> {
        let list_at = at.key("contact_profiles");
        let items = self
            .required(contact, "contact_profiles", at)
            .and_then(|list| self.array(list, &list_at, 1, usize::MAX));
        let Some(items) = items else {
            general.unreadable = true;
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = !items.is_empty();
        for (j, item) in items.iter().enumerate() {
            let item_at = list_at.index(j);
            let ty = self
                .object(item, &item_at, PROFILE_MEMBERS, &[])
                .and_then(|m| self.required(m, "type", &item_at));
            let ty_at = item_at.key("type");
            let Some(raw) = ty.and_then(|v| self.string(v, &ty_at)) else {
                ok = false;
                general.unreadable = true;
                continue;
            };
            match ProfileType::parse(raw) {
                Err(ProfileTypeError::Contract) => {
                    ok = false;
                    self.errs.push(
                        &ty_at,
                        ErrorKind::Unprocessable,
                        codes::PROFILE_TYPE_CONTRACT,
                        "profile type contract is not supported by the Contacts API",
                    );
                }
                Err(ProfileTypeError::Unknown) => {
                    ok = false;
                    self.errs.push(
                        &ty_at,
                        ErrorKind::InvalidProfileType,
                        codes::PROFILE_TYPE_INVALID,
                        format!("{} is not a contact profile type", quote(raw)),
                    );
                }
                Ok(t) if out.contains(&t) => {
                    ok = false;
                    self.invalid(
                        &ty_at,
                        codes::PROFILE_TYPE_REPEATED,
                        format!("profile type {t} appears twice in this contact"),
                    );
                }
                Ok(t) => {
                    if t == ProfileType::General {
                        if general.seen {
                            ok = false;
                            self.invalid(
                                &ty_at,
                                codes::GENERAL_DUPLICATED,
                                "only one contact may have the general profile type",
                            );
                        }
                        general.seen = true;
                    }
                    out.push(t);
                }
            }
        }
        ok.then_some(out)
    }

    fn person(&mut self, contact: &Map<String, Value>, at: &Pointer) -> Option<ContactPerson> {
        let v = self.required(contact, "contact_person", at)?;
        let at = at.key("contact_person");
        let map = self.object(v, &at, PERSON_MEMBERS, &[])?;

        let name =
            self.required(map, "name", &at).and_then(|v| self.text(v, &at.key("name"), MAX_TEXT_CHARS));

        let gender = match optional(map, "gender") {
            None => Some(None),
            Some(v) => {
                let g_at = at.key("gender");
                self.string(v, &g_at)
                    .and_then(|s| match Gender::parse(s) {
                        Ok(g) => Some(g),
                        Err(_) => {
                            self.invalid(
                                &g_at,
                                codes::GENDER_INVALID,
                                format!("{} is not male or female", quote(s)),
                            );
                            None
                        }
                    })
                    .map(Some)
            }
        };

        let job_title = match optional(map, "job_title") {
            None => Some(JobTitle::Unknown),
            Some(v) => {
                let j_at = at.key("job_title");
                self.string(v, &j_at).and_then(|s| match JobTitle::parse(s) {
                    Ok(t) => Some(t),
                    Err(_) => {
                        self.invalid(
                            &j_at,
                            codes::JOB_TITLE_INVALID,
                            format!("{} is not a Booking.com job title", quote(s)),
                        );
                        None
                    }
                })
            }
        };

        let language_code = self.language(map, &at, LanguageCode::parse_spoken);

        Some(ContactPerson {
            name: name?,
            gender: gender?,
            job_title: job_title?,
            language_code: language_code?,
        })
    }

    fn language(
        &mut self,
        map: &Map<String, Value>,
        at: &Pointer,
        parse: fn(&str) -> Result<LanguageCode, UnknownValue>,
    ) -> Option<LanguageCode> {
        let v = self.required(map, "language_code", at)?;
        let at = at.key("language_code");
        let s = self.string(v, &at)?;
        match parse(s) {
            Ok(l) => Some(l),
            Err(_) => {
                self.invalid(
                    &at,
                    codes::LANGUAGE_CODE_INVALID,
                    format!("{} is not a Booking.com language code", quote(s)),
                );
                None
            }
        }
    }

    fn phones(
        &mut self,
        contact: &Map<String, Value>,
        at: &Pointer,
        country: Option<CountryCode>,
    ) -> Option<Vec<Phone>> {
        let list = self.required(contact, "phones", at)?;
        let list_at = at.key("phones");
        let items = self.array(list, &list_at, 1, MAX_PHONES)?;
        let limits = self.opts.phone_limits;
        let mut counts: HashMap<PhoneTechType, usize> = HashMap::new();
        let mut out = Some(Vec::with_capacity(items.len()));
        for (j, item) in items.iter().enumerate() {
            let (phone, tech_type) = self.phone(item, &list_at.index(j), country);
            // Counted even when the rest of the phone is wrong, so the limit error is not
            // hidden behind (or shifted by) unrelated mistakes.
            if let Some(t) = tech_type {
                let n = counts.entry(t).or_default();
                *n += 1;
                let max = t.limit(&limits);
                // One error per type, at the first phone over the limit.
                if *n == max + 1 {
                    self.invalid(
                        &list_at.index(j).key("phone_tech_type"),
                        codes::PHONE_TECH_TYPE_LIMIT,
                        format!("at most {max} phone(s) of phone_tech_type {t} per contact"),
                    );
                }
            }
            out = out.zip(phone).map(|(mut all, p)| {
                all.push(p);
                all
            });
        }
        if items.is_empty() {
            return None;
        }
        out
    }

    /// The phone if valid, and its tech type whenever that alone is valid.
    fn phone(
        &mut self,
        v: &Value,
        at: &Pointer,
        country: Option<CountryCode>,
    ) -> (Option<Phone>, Option<PhoneTechType>) {
        let Some(map) = self.object(v, at, PHONE_MEMBERS, &[]) else {
            return (None, None);
        };

        let number_at = at.key("phone_number");
        let number = self
            .required(map, "phone_number", at)
            .and_then(|v| self.string(v, &number_at))
            .map(str::trim)
            .and_then(|n| {
                let result = phone::check_phone(n, country.map(CountryCode::as_str));
                let (code, detail) = match result {
                    Ok(()) => return Some(n.to_owned()),
                    Err(PhoneError::Pattern) => {
                        (codes::PHONE_PATTERN, format!("{} must match ^\\+[0-9]+$", quote(n)))
                    }
                    Err(PhoneError::InvalidForCountry) => (
                        codes::PHONE_INVALID_FOR_COUNTRY,
                        format!(
                            "{} is not a valid phone number for country {}",
                            quote(n),
                            country.map_or("?", CountryCode::as_str)
                        ),
                    ),
                    Err(PhoneError::Invalid) => (
                        codes::PHONE_INVALID,
                        format!("{} is not a valid international phone number", quote(n)),
                    ),
                };
                self.invalid(&number_at, code, detail);
                None
            });

        let tech_at = at.key("phone_tech_type");
        let tech_type = self.required(map, "phone_tech_type", at).and_then(|v| self.tech_type(v, &tech_at));

        let extension = match optional(map, "extension") {
            None => Some(None),
            Some(v) => {
                let ext_at = at.key("extension");
                self.string(v, &ext_at)
                    .map(str::trim)
                    .and_then(|ext| {
                        if tech_type.is_some_and(|t| t != PhoneTechType::Voice) {
                            self.invalid(
                                &ext_at,
                                codes::EXTENSION_NOT_ALLOWED,
                                "extension is only allowed on phone_tech_type 1 (voice)",
                            );
                            None
                        } else if !phone::valid_extension(ext) {
                            self.invalid(
                                &ext_at,
                                codes::EXTENSION_INVALID,
                                format!("extension must be 1 to {EXTENSION_MAX_DIGITS} digits"),
                            );
                            None
                        } else {
                            Some(ext.to_owned())
                        }
                    })
                    .map(Some)
            }
        };

        let phone = match (number, tech_type, extension) {
            (Some(phone_number), Some(tech_type), Some(extension)) => {
                Some(Phone { phone_number, tech_type, extension })
            }
            _ => None,
        };
        (phone, tech_type)
    }

    fn tech_type(&mut self, v: &Value, at: &Pointer) -> Option<PhoneTechType> {
        let parsed = match v {
            Value::Number(n) => n.as_u64().and_then(PhoneTechType::from_code),
            Value::String(s) => PhoneTechType::parse(s).ok(),
            other => {
                self.invalid_type(at, "an integer or a numeric string", other);
                return None;
            }
        };
        if parsed.is_none() {
            self.invalid(
                at,
                codes::PHONE_TECH_TYPE_INVALID,
                "phone_tech_type must be 1 (voice), 3 (fax) or 5 (mobile)",
            );
        }
        parsed
    }

    fn email(&mut self, contact: &Map<String, Value>, at: &Pointer) -> Option<String> {
        let v = self.required(contact, "email", at)?;
        let at = at.key("email");
        let email = self.string(v, &at)?.trim();
        if text::is_valid_email(email) {
            Some(email.to_owned())
        } else {
            self.errs.push(
                &at,
                ErrorKind::InvalidEmail,
                codes::EMAIL_INVALID,
                format!("{} is not a valid email address", quote(email)),
            );
            None
        }
    }

    /// `Some(None)` when there is no address, `None` when it is invalid.
    fn address(&mut self, contact: &Map<String, Value>, at: &Pointer) -> Option<Option<Address>> {
        let Some(v) = optional(contact, "address") else {
            return Some(None);
        };
        let at = at.key("address");
        let map = self.object(v, &at, ADDRESS_MEMBERS, &[])?;
        let country =
            map.get("country_code").and_then(Value::as_str).and_then(|s| CountryCode::parse(s).ok());

        let address_line = self.free_text(map, "address_line", &at);
        let city_name = self.free_text(map, "city_name", &at);

        let postal_at = at.key("postal_code");
        let postal_code = self
            .required(map, "postal_code", &at)
            .and_then(|v| self.text(v, &postal_at, usize::MAX))
            .and_then(|code| {
                let Some(c) = country else {
                    return Some(code);
                };
                match country::check_postal_code(c.as_str(), &code) {
                    Ok(()) => Some(code),
                    Err(PostalError::Format) => {
                        self.invalid(
                            &postal_at,
                            codes::POSTAL_CODE_INVALID,
                            format!("{} is not a valid postal code for {c}", quote(&code)),
                        );
                        None
                    }
                    Err(PostalError::TooLong) => {
                        self.invalid(
                            &postal_at,
                            codes::STRING_TOO_LONG,
                            format!("must be at most {} characters", country::POSTAL_CODE_MAX_CHARS),
                        );
                        None
                    }
                }
            });

        let country_at = at.key("country_code");
        let country_code = self
            .required(map, "country_code", &at)
            .and_then(|v| self.string(v, &country_at))
            .and_then(|s| match CountryCode::parse(s) {
                Ok(c) => Some(c),
                Err(_) => {
                    self.invalid(
                        &country_at,
                        codes::COUNTRY_CODE_INVALID,
                        format!("{} is not an ISO 3166-1 alpha-2 country code", quote(s)),
                    );
                    None
                }
            });

        let language_code = self.language(map, &at, LanguageCode::parse);

        let state_prov_code = match optional(map, "state_prov_code") {
            None => Some(None),
            Some(v) => self.text(v, &at.key("state_prov_code"), MAX_TEXT_CHARS).map(Some),
        };

        Some(Some(Address {
            address_line: address_line?,
            city_name: city_name?,
            postal_code: postal_code?,
            country_code: country_code?,
            language_code: language_code?,
            state_prov_code: state_prov_code?,
        }))
    }

    /// `address_line` / `city_name`: required text without CJK ideographs.
    fn free_text(&mut self, map: &Map<String, Value>, key: &str, at: &Pointer) -> Option<String> {
        let v = self.required(map, key, at)?;
        let at = at.key(key);
        let s = self.text(v, &at, MAX_TEXT_CHARS)?;
        if text::contains_cjk(&s) {
            self.invalid(&at, codes::CJK_NOT_ALLOWED, "CJK ideographs are not allowed; use a romanised form");
            return None;
        }
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALL_BUT_GENERAL: [&str; 7] = [
        "reservations",
        "invoices",
        "availability",
        "site_content",
        "parity",
        "requests",
        "central_reservations",
    ];

    fn contact(types: &[&str], name: &str, job: &str, phone: &str, email: &str) -> Value {
        json!({
            "contact_profiles": types.iter().map(|t| json!({"type": t})).collect::<Vec<_>>(),
            "contact_person": {
                "name": name,
                "gender": "female",
                "job_title": job,
                "language_code": "en-gb"
            },
            "phones": [{"phone_number": phone, "phone_tech_type": 1, "extension": "12"}],
            "email": email,
            "address": {
                "address_line": "Herengracht 1",
                "city_name": "Amsterdam",
                "postal_code": "1015 BA",
                "country_code": "NL",
                "language_code": "nl"
            }
        })
    }

    fn sarah() -> Value {
        contact(&["general"], "Sarah Jansen", "General Manager", "+31201234567", "sarah@hotel.example")
    }
    fn john(types: &[&str]) -> Value {
        contact(types, "John Smith", "Front Office Manager", "+31201234568", "john@hotel.example")
    }
    fn jane(types: &[&str]) -> Value {
        contact(types, "Jane Doe", "Revenue Manager", "+31612345678", "jane@hotel.example")
    }
    fn paul() -> Value {
        contact(
            &["reservations"],
            "Paul de Vries",
            "Reservations Manager",
            "+31201234569",
            "paul@hotel.example",
        )
    }
    fn peter() -> Value {
        contact(
            &["reservations"],
            "Peter Bakker",
            "Reservations Manager",
            "+31201234570",
            "peter@hotel.example",
        )
    }
    fn clare() -> Value {
        contact(&["requests"], "Clare Visser", "Front Office Employee", "+31201234571", "clare@hotel.example")
    }
    fn set(contacts: Vec<Value>) -> Value {
        json!({ "contacts": contacts })
    }

    fn booking(body: &Value) -> Result<ContactSet, Vec<FieldError>> {
        ContactSet::parse(body, &ParseOptions::BOOKING)
    }

    fn assert_round_trip(body: &Value, opts: &ParseOptions) -> ContactSet {
        let parsed = ContactSet::parse(body, opts).unwrap_or_else(|e| panic!("{e:#?}"));
        assert_eq!(&serde_json::to_value(&parsed).unwrap(), body);
        let back: ContactSet = serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
        assert_eq!(back, parsed);
        parsed
    }

    /// (code, kind, pointer) of every error, in order.
    fn errors(body: &Value, opts: &ParseOptions) -> Vec<(&'static str, ErrorKind, String)> {
        ContactSet::parse(body, opts)
            .expect_err("expected validation errors")
            .into_iter()
            .map(|e| (e.code, e.kind, e.pointer))
            .collect()
    }

    fn one_error(body: &Value) -> (&'static str, ErrorKind, String) {
        let errs = errors(body, &ParseOptions::BOOKING);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        errs.into_iter().next().unwrap()
    }

    fn e(code: &'static str, kind: ErrorKind, pointer: &str) -> (&'static str, ErrorKind, String) {
        (code, kind, pointer.to_owned())
    }

    /// The valid single-contact set with `pointer` set to `value` (`None` removes it).
    fn with(pointer: &str, value: Option<Value>) -> Value {
        let mut body = set(vec![sarah()]);
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = body.pointer_mut(parent).unwrap();
        match (target, value) {
            (Value::Object(m), Some(v)) => {
                m.insert(key.to_owned(), v);
            }
            (Value::Object(m), None) => {
                m.remove(key);
            }
            (Value::Array(a), Some(v)) => a[key.parse::<usize>().unwrap()] = v,
            (Value::Array(a), None) => {
                a.remove(key.parse::<usize>().unwrap());
            }
            _ => panic!("bad pointer {pointer}"),
        }
        body
    }

    fn check(pointer: &str, value: Option<Value>, code: &'static str, kind: ErrorKind) {
        assert_eq!(one_error(&with(pointer, value)), e(code, kind, pointer), "{pointer}");
    }

    use ErrorKind::*;

    // Seed 000 scenarios.

    #[test]
    fn scenario_1_sarah_general_john_everything_else() {
        let parsed = assert_round_trip(&set(vec![sarah(), john(&ALL_BUT_GENERAL)]), &ParseOptions::BOOKING);
        assert_eq!(parsed.contacts[1].profiles.len(), 7);
        assert_eq!(parsed.contacts[0].person.job_title, JobTitle::GeneralManager);
    }

    #[test]
    fn scenario_2_jane_replaces_john() {
        assert_round_trip(&set(vec![sarah(), jane(&ALL_BUT_GENERAL)]), &ParseOptions::BOOKING);
    }

    #[test]
    fn scenario_3_paul_takes_reservations() {
        let jane_types = &ALL_BUT_GENERAL[1..];
        assert_round_trip(&set(vec![sarah(), jane(jane_types), paul()]), &ParseOptions::BOOKING);
    }

    #[test]
    fn scenario_4_clare_takes_requests() {
        let jane_types = ["invoices", "availability", "site_content", "parity", "central_reservations"];
        assert_round_trip(&set(vec![sarah(), jane(&jane_types), paul(), clare()]), &ParseOptions::BOOKING);
    }

    #[test]
    fn scenario_5_paul_and_peter_both_reservations() {
        let jane_types = ["invoices", "availability", "site_content", "parity", "central_reservations"];
        let parsed = assert_round_trip(
            &set(vec![sarah(), jane(&jane_types), paul(), peter(), clare()]),
            &ParseOptions::BOOKING,
        );
        assert_eq!(parsed.contacts[2].profiles, [ProfileType::Reservations]);
        assert_eq!(parsed.contacts[3].profiles, [ProfileType::Reservations]);
    }

    #[test]
    fn minimal_contact_round_trips_without_optional_members() {
        let body = json!({"contacts": [{
            "contact_profiles": [{"type": "general"}],
            "contact_person": {"name": "Sarah", "job_title": "Unknown", "language_code": "cm"},
            "phones": [{"phone_number": "+442071838750", "phone_tech_type": 5}],
            "email": "s@example.com"
        }]});
        let parsed = assert_round_trip(&body, &ParseOptions::BOOKING);
        assert_eq!(parsed.contacts[0].address, None);
        assert_eq!(parsed.contacts[0].person.gender, None);
    }

    #[test]
    fn su_sample_request_parses() {
        let body = json!({
           "hotel_id": "NT7",
           "channel_hotel_id": "12837615",
           "contacts": [
               {
                   "contact_profiles": [{"type": "invoices"}],
                   "address": {
                       "city_name": "Amsterdam",
                       "country_code": "NL",
                       "postal_code": "1011 DL",
                       "address_line": "New Straat 123",
                       "language_code": "en-gb"
                   },
                   "contact_person": {
                       "gender": "female",
                       "name": "Waddington Bloem",
                       "job_title": "Administration Employee",
                       "language_code": "en-gb"
                   },
                   "phones": [{"phone_number": "+31243611111", "phone_tech_type": "1", "extension": "1"}],
                   "email": "test@booking.com"
               },
               {
                   "contact_profiles": [{"type": "general"}],
                   "address": {
                       "city_name": "Amsterdam",
                       "country_code": "NL",
                       "postal_code": "1011 DL",
                       "address_line": "New Straat 456",
                       "language_code": "en-gb"
                   },
                   "contact_person": {
                       "gender": "male",
                       "name": "Bensen Clay",
                       "job_title": "Administration Employee",
                       "language_code": "en-gb"
                   },
                   "phones": [{"phone_number": "+31243611111", "phone_tech_type": "1", "extension": "1"}],
                   "email": "tests@booking.com"
               }
           ]
        });
        let opts = ParseOptions {
            phone_limits: PhoneLimits::SU,
            extra_root_members: &["hotel_id", "channel_hotel_id"],
        };
        assert_eq!(opts, ParseOptions::SU);
        let parsed = ContactSet::parse(&body, &opts).unwrap_or_else(|e| panic!("{e:#?}"));
        assert_eq!(parsed.contacts.len(), 2);
        let out = serde_json::to_value(&parsed).unwrap();
        assert_eq!(
            out["contacts"][0]["phones"][0],
            json!({"phone_number": "+31243611111", "phone_tech_type": 1, "extension": "1"})
        );
        assert_eq!(out["contacts"][1]["contact_profiles"], json!([{"type": "general"}]));
        assert!(out.get("hotel_id").is_none());

        // The Booking route does not know SU's identity members.
        assert_eq!(
            errors(&body, &ParseOptions::BOOKING),
            [
                e(codes::UNKNOWN_MEMBER, UnknownMember, "/channel_hotel_id"),
                e(codes::UNKNOWN_MEMBER, UnknownMember, "/hotel_id"),
            ]
        );
    }

    #[test]
    fn case_insensitive_inputs_are_normalised() {
        let body = json!({"contacts": [{
            "contact_profiles": [{"type": "General"}, {"type": "SITE_CONTENT"}],
            "contact_person": {
                "name": "  Sarah Jansen ",
                "gender": "Female",
                "job_title": "sales & MARKETING manager",
                "language_code": "EN-GB"
            },
            "phones": [
                {"phone_number": "+31201234567", "phone_tech_type": "1", "extension": " 42 "},
                {"phone_number": "+31612345678", "phone_tech_type": "5", "extension": null}
            ],
            "email": "  Sarah@Hotel.example ",
            "address": {
                "address_line": " Herengracht 1 ",
                "city_name": "Amsterdam",
                "postal_code": "1015ba",
                "country_code": "nl",
                "language_code": "NL",
                "state_prov_code": "NH"
            }
        }]});
        let parsed = booking(&body).unwrap_or_else(|e| panic!("{e:#?}"));
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            json!({"contacts": [{
                "contact_profiles": [{"type": "general"}, {"type": "site_content"}],
                "contact_person": {
                    "name": "Sarah Jansen",
                    "gender": "female",
                    "job_title": "Sales & Marketing Manager",
                    "language_code": "en-gb"
                },
                "phones": [
                    {"phone_number": "+31201234567", "phone_tech_type": 1, "extension": "42"},
                    {"phone_number": "+31612345678", "phone_tech_type": 5}
                ],
                "email": "Sarah@Hotel.example",
                "address": {
                    "address_line": "Herengracht 1",
                    "city_name": "Amsterdam",
                    "postal_code": "1015ba",
                    "country_code": "NL",
                    "language_code": "nl",
                    "state_prov_code": "NH"
                }
            }]})
        );
    }

    #[test]
    fn null_optionals_mean_absent() {
        let mut body = set(vec![sarah()]);
        body["contacts"][0]["contact_person"]["gender"] = Value::Null;
        body["contacts"][0]["contact_person"]["job_title"] = Value::Null;
        body["contacts"][0]["address"]["state_prov_code"] = Value::Null;
        let parsed = booking(&body).unwrap();
        assert_eq!(parsed.contacts[0].person.gender, None);
        assert_eq!(parsed.contacts[0].person.job_title, JobTitle::Unknown);
        body["contacts"][0]["address"] = Value::Null;
        assert_eq!(booking(&body).unwrap().contacts[0].address, None);
    }

    // Root and contacts.

    #[test]
    fn root_rules() {
        assert_eq!(one_error(&json!([])), e(codes::INVALID_TYPE, Invalid, ""));
        assert_eq!(one_error(&json!({})), e(codes::REQUIRED, Missing, "/contacts"));
        assert_eq!(one_error(&json!({"contacts": null})), e(codes::REQUIRED, Missing, "/contacts"));
        assert_eq!(one_error(&json!({"contacts": {}})), e(codes::INVALID_TYPE, Invalid, "/contacts"));
        assert_eq!(one_error(&json!({"contacts": []})), e(codes::TOO_FEW_ITEMS, Invalid, "/contacts"));
        let mut body = set(vec![sarah()]);
        body["a/b~c"] = json!(1);
        assert_eq!(one_error(&body), e(codes::UNKNOWN_MEMBER, UnknownMember, "/a~1b~0c"));
        check("/contacts/0", Some(json!("x")), codes::INVALID_TYPE, Invalid);
    }

    #[test]
    fn at_most_100_contacts() {
        let mut contacts = vec![sarah()];
        contacts.extend((0..99).map(|_| paul()));
        assert!(booking(&set(contacts.clone())).is_ok());
        contacts.push(peter());
        assert_eq!(one_error(&set(contacts)), e(codes::TOO_MANY_ITEMS, Invalid, "/contacts"));
    }

    #[test]
    fn general_missing() {
        let (code, kind, ptr) = one_error(&set(vec![paul(), peter()]));
        assert_eq!((code, kind, ptr.as_str()), (codes::GENERAL_MISSING, Missing, "/contacts"));
    }

    #[test]
    fn general_duplicated_points_at_each_extra() {
        let body = set(vec![sarah(), paul(), john(&["parity", "general"]), sarah()]);
        assert_eq!(
            errors(&body, &ParseOptions::BOOKING),
            [
                e(codes::GENERAL_DUPLICATED, Invalid, "/contacts/2/contact_profiles/1/type"),
                e(codes::GENERAL_DUPLICATED, Invalid, "/contacts/3/contact_profiles/0/type"),
            ]
        );
    }

    #[test]
    fn profile_rules() {
        let repeated = set(vec![john(&["general", "parity", "Parity"])]);
        assert_eq!(
            one_error(&repeated),
            e(codes::PROFILE_TYPE_REPEATED, Invalid, "/contacts/0/contact_profiles/2/type")
        );
        let general_twice = set(vec![john(&["general", "GENERAL"])]);
        assert_eq!(
            one_error(&general_twice),
            e(codes::PROFILE_TYPE_REPEATED, Invalid, "/contacts/0/contact_profiles/1/type")
        );
        let contract = set(vec![sarah(), john(&["Contract"])]);
        assert_eq!(
            one_error(&contract),
            e(codes::PROFILE_TYPE_CONTRACT, Unprocessable, "/contacts/1/contact_profiles/0/type")
        );
        let photos = set(vec![sarah(), john(&["photos"])]);
        assert_eq!(
            one_error(&photos),
            e(codes::PROFILE_TYPE_INVALID, InvalidProfileType, "/contacts/1/contact_profiles/0/type")
        );
        check("/contacts/0/contact_profiles", None, codes::REQUIRED, Missing);
        check("/contacts/0/contact_profiles/0/type", Some(json!(1)), codes::INVALID_TYPE, Invalid);
        check("/contacts/0/contact_profiles/0/type", None, codes::REQUIRED, Missing);
        check("/contacts/0/contact_profiles/0/kind", Some(json!("x")), codes::UNKNOWN_MEMBER, UnknownMember);
        check("/contacts/0/contact_profiles/0", Some(json!("general")), codes::INVALID_TYPE, Invalid);
        // An empty profile list also leaves the set without a general contact.
        assert_eq!(
            errors(&with("/contacts/0/contact_profiles", Some(json!([]))), &ParseOptions::BOOKING),
            [
                e(codes::GENERAL_MISSING, Missing, "/contacts"),
                e(codes::TOO_FEW_ITEMS, Invalid, "/contacts/0/contact_profiles"),
            ]
        );
    }

    #[test]
    fn person_rules() {
        let p = "/contacts/0/contact_person";
        check(p, None, codes::REQUIRED, Missing);
        check(p, Some(json!([])), codes::INVALID_TYPE, Invalid);
        check(&format!("{p}/name"), None, codes::REQUIRED, Missing);
        check(&format!("{p}/name"), Some(Value::Null), codes::REQUIRED, Missing);
        check(&format!("{p}/name"), Some(json!("   ")), codes::EMPTY, Invalid);
        check(&format!("{p}/name"), Some(json!(42)), codes::INVALID_TYPE, Invalid);
        check(&format!("{p}/name"), Some(json!("é".repeat(256))), codes::STRING_TOO_LONG, Invalid);
        assert!(booking(&with(&format!("{p}/name"), Some(json!("é".repeat(255))))).is_ok());
        check(&format!("{p}/gender"), Some(json!("other")), codes::GENDER_INVALID, Invalid);
        check(&format!("{p}/gender"), Some(json!("")), codes::GENDER_INVALID, Invalid);
        check(&format!("{p}/job_title"), Some(json!("CEO")), codes::JOB_TITLE_INVALID, Invalid);
        check(&format!("{p}/language_code"), None, codes::REQUIRED, Missing);
        check(&format!("{p}/language_code"), Some(json!("en")), codes::LANGUAGE_CODE_INVALID, Invalid);
        check(&format!("{p}/language_code"), Some(json!("pt")), codes::LANGUAGE_CODE_INVALID, Invalid);
        check(&format!("{p}/nickname"), Some(json!("S")), codes::UNKNOWN_MEMBER, UnknownMember);
        // Spoken-only codes are fine for a person but not for an address.
        assert!(booking(&with(&format!("{p}/language_code"), Some(json!("JV")))).is_ok());
        check("/contacts/0/address/language_code", Some(json!("jv")), codes::LANGUAGE_CODE_INVALID, Invalid);
    }

    #[test]
    fn phone_shape_rules() {
        let ph = "/contacts/0/phones";
        check(ph, None, codes::REQUIRED, Missing);
        check(ph, Some(json!([])), codes::TOO_FEW_ITEMS, Invalid);
        check(ph, Some(json!("+31201234567")), codes::INVALID_TYPE, Invalid);
        check(&format!("{ph}/0/phone_number"), None, codes::REQUIRED, Missing);
        check(&format!("{ph}/0/phone_number"), Some(json!(31201234567u64)), codes::INVALID_TYPE, Invalid);
        check(&format!("{ph}/0/phone_number"), Some(json!("0031201234567")), codes::PHONE_PATTERN, Invalid);
        check(&format!("{ph}/0/phone_number"), Some(json!("+31 20 123 4567")), codes::PHONE_PATTERN, Invalid);
        check(&format!("{ph}/0/phone_tech_type"), None, codes::REQUIRED, Missing);
        check(&format!("{ph}/0/phone_tech_type"), Some(json!(2)), codes::PHONE_TECH_TYPE_INVALID, Invalid);
        check(
            &format!("{ph}/0/phone_tech_type"),
            Some(json!("voice")),
            codes::PHONE_TECH_TYPE_INVALID,
            Invalid,
        );
        check(&format!("{ph}/0/phone_tech_type"), Some(json!(1.5)), codes::PHONE_TECH_TYPE_INVALID, Invalid);
        check(&format!("{ph}/0/phone_tech_type"), Some(json!(true)), codes::INVALID_TYPE, Invalid);
        check(&format!("{ph}/0/extension"), Some(json!("12a")), codes::EXTENSION_INVALID, Invalid);
        check(&format!("{ph}/0/extension"), Some(json!("12345678901")), codes::EXTENSION_INVALID, Invalid);
        check(&format!("{ph}/0/extension"), Some(json!(12)), codes::INVALID_TYPE, Invalid);
        check(&format!("{ph}/0/fax"), Some(json!(true)), codes::UNKNOWN_MEMBER, UnknownMember);
        let mut fax_ext = set(vec![sarah()]);
        fax_ext["contacts"][0]["phones"][0]["phone_tech_type"] = json!("3");
        assert_eq!(
            one_error(&fax_ext),
            e(codes::EXTENSION_NOT_ALLOWED, Invalid, "/contacts/0/phones/0/extension")
        );
    }

    #[test]
    fn phone_numbers_against_address_country() {
        let num = "/contacts/0/phones/0/phone_number";
        // GB and DE numbers at an NL address.
        check(num, Some(json!("+442071838750")), codes::PHONE_INVALID_FOR_COUNTRY, Invalid);
        check(num, Some(json!("+4930123456")), codes::PHONE_INVALID_FOR_COUNTRY, Invalid);
        check(num, Some(json!("+97233142764978")), codes::PHONE_INVALID_FOR_COUNTRY, Invalid);
        check(num, Some(json!("+3120123456")), codes::PHONE_INVALID_FOR_COUNTRY, Invalid);

        // Without an address any valid international number is fine, invalid ones are not.
        let mut body = set(vec![sarah()]);
        body["contacts"][0].as_object_mut().unwrap().remove("address");
        for ok in ["+442071838750", "+4930123456", "+12125551234", "+31201234567"] {
            body["contacts"][0]["phones"][0]["phone_number"] = json!(ok);
            assert!(booking(&body).is_ok(), "{ok}");
        }
        body["contacts"][0]["phones"][0]["phone_number"] = json!("+97233142764978");
        assert_eq!(one_error(&body), e(codes::PHONE_INVALID, Invalid, num));

        // GB, US and DE addresses with their own and foreign numbers.
        for (country, postal, good, bad) in [
            ("GB", "SW1A 1AA", "+442071838750", "+31201234567"),
            ("US", "10001", "+12125551234", "+14165550123"),
            ("DE", "10115", "+4930123456", "+442071838750"),
        ] {
            let mut body = set(vec![sarah()]);
            body["contacts"][0]["address"]["country_code"] = json!(country);
            body["contacts"][0]["address"]["postal_code"] = json!(postal);
            body["contacts"][0]["phones"][0]["phone_number"] = json!(good);
            assert!(booking(&body).is_ok(), "{country} {good}");
            body["contacts"][0]["phones"][0]["phone_number"] = json!(bad);
            assert_eq!(one_error(&body), e(codes::PHONE_INVALID_FOR_COUNTRY, Invalid, num), "{country}");
        }

        // An invalid address country cannot be used, so the number is checked internationally.
        let body = with("/contacts/0/address/country_code", Some(json!("XX")));
        assert_eq!(
            one_error(&body),
            e(codes::COUNTRY_CODE_INVALID, Invalid, "/contacts/0/address/country_code")
        );
    }

    fn phones(types: &[Value]) -> Value {
        let numbers = ["+31201234567", "+31201234568", "+31201234569", "+31201234570", "+31201234571"];
        let list: Vec<Value> = types
            .iter()
            .zip(numbers)
            .map(|(t, n)| json!({"phone_number": n, "phone_tech_type": t}))
            .collect();
        with("/contacts/0/phones", Some(Value::Array(list)))
    }

    #[test]
    fn phone_limits_per_route() {
        let three_voice = phones(&[json!(1), json!("1"), json!(1)]);
        assert!(booking(&three_voice).is_ok());
        assert_eq!(
            errors(&three_voice, &ParseOptions::SU),
            [e(codes::PHONE_TECH_TYPE_LIMIT, Invalid, "/contacts/0/phones/1/phone_tech_type")]
        );
        let four_voice = phones(&[json!(1), json!(1), json!(5), json!(1), json!(1)]);
        assert_eq!(
            one_error(&four_voice),
            e(codes::PHONE_TECH_TYPE_LIMIT, Invalid, "/contacts/0/phones/4/phone_tech_type")
        );
        let two_fax = phones(&[json!(3), json!("3")]);
        assert!(ContactSet::parse(&two_fax, &ParseOptions::SU).is_ok());
        assert_eq!(
            one_error(&two_fax),
            e(codes::PHONE_TECH_TYPE_LIMIT, Invalid, "/contacts/0/phones/1/phone_tech_type")
        );
        let two_mobile = phones(&[json!(5), json!(1), json!(5)]);
        assert_eq!(
            errors(&two_mobile, &ParseOptions::SU),
            [e(codes::PHONE_TECH_TYPE_LIMIT, Invalid, "/contacts/0/phones/2/phone_tech_type")]
        );
    }

    #[test]
    fn at_most_10_phones() {
        let list: Vec<Value> = (0..11)
            .map(|i| json!({"phone_number": format!("+312012345{i:02}"), "phone_tech_type": 1}))
            .collect();
        let body = with("/contacts/0/phones", Some(Value::Array(list)));
        let errs = errors(&body, &ParseOptions::BOOKING);
        assert_eq!(errs[0], e(codes::TOO_MANY_ITEMS, Invalid, "/contacts/0/phones"));
        assert_eq!(errs[1], e(codes::PHONE_TECH_TYPE_LIMIT, Invalid, "/contacts/0/phones/3/phone_tech_type"));
        assert_eq!(errs.len(), 2);
    }

    #[test]
    fn email_rules() {
        check("/contacts/0/email", None, codes::REQUIRED, Missing);
        check("/contacts/0/email", Some(json!("not-an-email")), codes::EMAIL_INVALID, InvalidEmail);
        check("/contacts/0/email", Some(json!("")), codes::EMAIL_INVALID, InvalidEmail);
        check("/contacts/0/email", Some(json!(["a@b.c"])), codes::INVALID_TYPE, Invalid);
        let long = format!("{}@{}.example", "a".repeat(60), "b".repeat(190));
        check("/contacts/0/email", Some(json!(long)), codes::EMAIL_INVALID, InvalidEmail);
    }

    #[test]
    fn address_rules() {
        let a = "/contacts/0/address";
        check(a, Some(json!("Herengracht 1")), codes::INVALID_TYPE, Invalid);
        for member in ["address_line", "city_name", "postal_code", "country_code", "language_code"] {
            check(&format!("{a}/{member}"), None, codes::REQUIRED, Missing);
        }
        check(&format!("{a}/address_line"), Some(json!("")), codes::EMPTY, Invalid);
        check(&format!("{a}/address_line"), Some(json!("x".repeat(256))), codes::STRING_TOO_LONG, Invalid);
        check(&format!("{a}/address_line"), Some(json!("東京都千代田区1")), codes::CJK_NOT_ALLOWED, Invalid);
        check(&format!("{a}/city_name"), Some(json!("北京")), codes::CJK_NOT_ALLOWED, Invalid);
        check(&format!("{a}/country_code"), Some(json!("UK")), codes::COUNTRY_CODE_INVALID, Invalid);
        check(&format!("{a}/country_code"), Some(json!("NLD")), codes::COUNTRY_CODE_INVALID, Invalid);
        check(&format!("{a}/postal_code"), Some(json!("ABC 123")), codes::POSTAL_CODE_INVALID, Invalid);
        check(&format!("{a}/state_prov_code"), Some(json!(7)), codes::INVALID_TYPE, Invalid);
        check(&format!("{a}/street"), Some(json!("x")), codes::UNKNOWN_MEMBER, UnknownMember);
        assert!(booking(&with(&format!("{a}/address_line"), Some(json!("x".repeat(255))))).is_ok());

        // A country without a known postal format accepts up to 20 characters.
        let mut body = set(vec![sarah()]);
        body["contacts"][0]["address"]["country_code"] = json!("ae");
        body["contacts"][0]["phones"][0]["phone_number"] = json!("+97143123456");
        body["contacts"][0]["address"]["postal_code"] = json!("P.O. Box 12345");
        assert!(booking(&body).is_ok());
        body["contacts"][0]["address"]["postal_code"] = json!("1".repeat(21));
        assert_eq!(one_error(&body), e(codes::STRING_TOO_LONG, Invalid, "/contacts/0/address/postal_code"));
    }

    #[test]
    fn every_error_is_reported_at_once_in_order() {
        let body = json!({
            "contacts": [
                {
                    "contact_profiles": [{"type": "reservations"}, {"type": "contract"}],
                    "contact_person": {"name": "", "gender": "x", "language_code": "zz"},
                    "phones": [
                        {"phone_number": "12345", "phone_tech_type": 3, "extension": "9"},
                        {"phone_number": "+31201234567", "phone_tech_type": 3}
                    ],
                    "email": "nope",
                    "address": {
                        "address_line": "Main St 1",
                        "city_name": "上海",
                        "postal_code": "1011",
                        "country_code": "NL",
                        "language_code": "en-gb",
                        "extra": 1
                    }
                },
                {"contact_profiles": [{"type": "bogus"}], "phones": [], "email": 5, "note": "x"}
            ],
            "property_id": 1
        });
        assert_eq!(
            errors(&body, &ParseOptions::BOOKING),
            [
                e(codes::UNKNOWN_MEMBER, UnknownMember, "/property_id"),
                e(codes::GENERAL_MISSING, Missing, "/contacts"),
                e(codes::PROFILE_TYPE_CONTRACT, Unprocessable, "/contacts/0/contact_profiles/1/type"),
                e(codes::EMPTY, Invalid, "/contacts/0/contact_person/name"),
                e(codes::GENDER_INVALID, Invalid, "/contacts/0/contact_person/gender"),
                e(codes::LANGUAGE_CODE_INVALID, Invalid, "/contacts/0/contact_person/language_code"),
                e(codes::PHONE_PATTERN, Invalid, "/contacts/0/phones/0/phone_number"),
                e(codes::EXTENSION_NOT_ALLOWED, Invalid, "/contacts/0/phones/0/extension"),
                e(codes::PHONE_TECH_TYPE_LIMIT, Invalid, "/contacts/0/phones/1/phone_tech_type"),
                e(codes::EMAIL_INVALID, InvalidEmail, "/contacts/0/email"),
                e(codes::UNKNOWN_MEMBER, UnknownMember, "/contacts/0/address/extra"),
                e(codes::CJK_NOT_ALLOWED, Invalid, "/contacts/0/address/city_name"),
                e(codes::POSTAL_CODE_INVALID, Invalid, "/contacts/0/address/postal_code"),
                e(codes::UNKNOWN_MEMBER, UnknownMember, "/contacts/1/note"),
                e(codes::PROFILE_TYPE_INVALID, InvalidProfileType, "/contacts/1/contact_profiles/0/type"),
                e(codes::REQUIRED, Missing, "/contacts/1/contact_person"),
                e(codes::TOO_FEW_ITEMS, Invalid, "/contacts/1/phones"),
                e(codes::INVALID_TYPE, Invalid, "/contacts/1/email"),
            ]
        );
        // Details name the problem without dumping the body.
        let errs = booking(&body).unwrap_err();
        assert!(errs.iter().all(|e| !e.detail.is_empty() && e.detail.len() < 200));
    }

    #[test]
    fn enum_parsing_and_canonical_output() {
        assert_eq!(ProfileType::parse("Central_Reservations"), Ok(ProfileType::CentralReservations));
        assert_eq!(ProfileType::parse("CONTRACT"), Err(ProfileTypeError::Contract));
        assert_eq!(ProfileType::parse("photos"), Err(ProfileTypeError::Unknown));
        assert_eq!("fax".parse::<PhoneTechType>().ok(), None);
        assert_eq!("5".parse::<PhoneTechType>(), Ok(PhoneTechType::Mobile));
        assert_eq!(PhoneTechType::Fax.code(), 3);
        assert_eq!(Gender::parse("MALE"), Ok(Gender::Male));
        assert_eq!(JobTitle::parse("e-commerce manager"), Ok(JobTitle::ECommerceManager));
        assert_eq!(
            JobTitle::parse("director of business development").unwrap().as_str(),
            "Director of Business Development"
        );
        assert_eq!(JobTitle::default(), JobTitle::Unknown);
        assert_eq!(JobTitle::ALL.len(), 17);
        for (i, t) in JobTitle::ALL.into_iter().enumerate() {
            // The variants follow the table's order, which `as_str` and `parse` rely on.
            assert_eq!(t as usize, i);
            assert_eq!(JobTitle::parse(t.as_str()), Ok(t));
        }
        assert_eq!(JobTitle::SalesAndMarketingManager.as_str(), "Sales & Marketing Manager");
        assert_eq!(LanguageCode::parse("ZH-TW").unwrap().as_str(), "zh-tw");
        assert!(LanguageCode::parse("zh").is_err());
        assert!(LanguageCode::parse("cn").is_err());
        assert_eq!(LanguageCode::parse_spoken("cn").unwrap().as_str(), "cn");
        assert_eq!(CountryCode::parse("de").unwrap().as_str(), "DE");
        assert!(CountryCode::parse("Germany").is_err());
    }

    #[test]
    fn snapshot_deserialize_accepts_stored_shape() {
        let stored = json!({"contacts": [{
            "contact_profiles": [{"type": "general"}],
            "contact_person": {"name": "S", "job_title": "Owner", "language_code": "de"},
            "phones": [{"phone_number": "+4930123456", "phone_tech_type": "1"}],
            "email": "s@example.com"
        }]});
        let set: ContactSet = serde_json::from_value(stored).unwrap();
        assert_eq!(set.contacts[0].phones[0].tech_type, PhoneTechType::Voice);
        assert!(serde_json::from_value::<ContactSet>(json!({"contacts": [{
            "contact_profiles": [{"type": "contract"}],
            "contact_person": {"name": "S", "language_code": "de"},
            "phones": [], "email": "s@example.com"
        }]}))
        .is_err());
    }
}
