//! How a contact set is stored in rows and read back: the one statement that reads a whole set,
//! the row it returns, and the history row types.

use chrono::{DateTime, Utc};

use crate::domain::contact_set::{
    Address, Contact, ContactPerson, ContactSet, Phone, PhoneTechType, ProfileType,
};
use crate::store::error::StoreError;

/// One row of `property_contacts` LEFT JOINed to its property: all contact columns are null for a
/// property without contacts.
pub struct ContactRow {
    pub(crate) contact_set_revision: i64,
    /// When the property was last written (its set or its registry entry): `Last-Modified`. Read
    /// from the first row only (it repeats on every row, and SQLite parses it from text).
    pub(crate) updated_at: Option<DateTime<Utc>>,
    position: Option<i32>,
    profiles: Option<String>,
    person_name: Option<String>,
    person_gender: Option<String>,
    person_job_title: Option<String>,
    person_language: Option<String>,
    email: Option<String>,
    address_line: Option<String>,
    city_name: Option<String>,
    postal_code: Option<String>,
    country_code: Option<String>,
    address_language: Option<String>,
    state_prov_code: Option<String>,
    phone_number: Option<String>,
    tech_type: Option<i32>,
    extension: Option<String>,
}

/// Typed access to a result row by position, over each backend's row type.
pub trait Columns {
    type Error;
    fn int8(&self, i: usize) -> Result<i64, Self::Error>;
    fn int4(&self, i: usize) -> Result<Option<i32>, Self::Error>;
    fn text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn timestamp(&self, i: usize) -> Result<DateTime<Utc>, Self::Error>;
}

impl ContactRow {
    /// Decodes by position (`first`: the set's first row), in [`CONTACT_SET_SELECT`]'s column order: the hottest read of the service,
    /// and looking 17 columns up by name per row was a sixth of its row-decoding time.
    pub(crate) fn decode<C: Columns>(row: &C, first: bool) -> Result<Self, C::Error> {
        Ok(ContactRow {
            contact_set_revision: row.int8(0)?,
            position: row.int4(1)?,
            profiles: row.text(2)?,
            person_name: row.text(3)?,
            person_gender: row.text(4)?,
            person_job_title: row.text(5)?,
            person_language: row.text(6)?,
            email: row.text(7)?,
            address_line: row.text(8)?,
            city_name: row.text(9)?,
            postal_code: row.text(10)?,
            country_code: row.text(11)?,
            address_language: row.text(12)?,
            state_prov_code: row.text(13)?,
            phone_number: row.text(14)?,
            tech_type: row.int4(15)?,
            extension: row.text(16)?,
            updated_at: if first { Some(row.timestamp(17)?) } else { None },
        })
    }
}

/// The whole current set in ONE statement, so it is one consistent snapshot even while a replace
/// commits (two queries could pair the contacts of one revision with the phones of the next): one
/// row per phone, contacts repeated, ordered by contact then phone position. [`ContactRow`] decodes
/// the columns by position: keep the two in the same order.
pub(crate) const CONTACT_SET_SELECT: &str = "SELECT p.contact_set_revision, c.position, c.profiles, \
     c.person_name, c.person_gender, c.person_job_title, c.person_language, c.email, c.address_line, \
     c.city_name, c.postal_code, c.country_code, c.address_language, c.state_prov_code, \
     ph.phone_number, ph.tech_type, ph.extension, p.updated_at \
     FROM properties p \
     LEFT JOIN property_contacts c ON c.tenant_id = p.tenant_id AND c.property_id = p.id \
     LEFT JOIN property_contact_phones ph ON ph.tenant_id = c.tenant_id AND ph.property_id = c.property_id \
       AND ph.contact_position = c.position \
     WHERE p.tenant_id = $1 AND p.id = $2 ORDER BY c.position, ph.position";

/// Stored values were canonical when written; failing to read one back means a broken database.
fn stored<T>(what: &str, value: Option<T>) -> Result<T, StoreError> {
    value.ok_or_else(|| StoreError::Other(format!("stored contact lacks {what}")))
}

fn parse_stored<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, StoreError> {
    value.parse().map_err(|_| StoreError::Other(format!("stored {what} `{value}` is not valid")))
}

/// Rebuilds a contact set from the rows of [`CONTACT_SET_SELECT`].
pub(crate) fn assemble_contact_set(rows: Vec<ContactRow>) -> Result<ContactSet, StoreError> {
    let mut contacts: Vec<Contact> = Vec::new();
    let mut current = None;
    for mut r in rows {
        let Some(position) = r.position else { continue };
        let phone = match (r.phone_number.take(), r.tech_type) {
            (Some(phone_number), Some(code)) => Some(Phone {
                phone_number,
                tech_type: u64::try_from(code)
                    .ok()
                    .and_then(PhoneTechType::from_code)
                    .ok_or_else(|| StoreError::Other(format!("stored tech type {code}")))?,
                extension: r.extension.take(),
            }),
            _ => None,
        };
        if current != Some(position) {
            contacts.push(contact_from_row(r)?);
            current = Some(position);
        }
        if let (Some(phone), Some(contact)) = (phone, contacts.last_mut()) {
            contact.phones.push(phone);
        }
    }
    Ok(ContactSet { contacts })
}

/// The contact columns of one row (phones are added by the caller).
fn contact_from_row(r: ContactRow) -> Result<Contact, StoreError> {
    let profiles = stored("profiles", r.profiles)?
        .split(',')
        .map(|p| parse_stored::<ProfileType>("profile type", p))
        .collect::<Result<Vec<_>, _>>()?;
    let address = match r.country_code {
        None => None,
        Some(country) => Some(Address {
            address_line: stored("address_line", r.address_line)?,
            city_name: stored("city_name", r.city_name)?,
            postal_code: stored("postal_code", r.postal_code)?,
            country_code: parse_stored("country", &country)?,
            language_code: parse_stored("language", &stored("address_language", r.address_language)?)?,
            state_prov_code: r.state_prov_code,
        }),
    };
    let language = stored("person_language", r.person_language)?;
    Ok(Contact {
        profiles,
        person: ContactPerson {
            name: stored("person_name", r.person_name)?,
            gender: r.person_gender.as_deref().map(|g| parse_stored("gender", g)).transpose()?,
            job_title: parse_stored("job title", &stored("person_job_title", r.person_job_title)?)?,
            language_code: crate::domain::contact_set::LanguageCode::parse_spoken(&language)
                .map_err(|_| StoreError::Other(format!("stored language `{language}`")))?,
        },
        phones: Vec::new(),
        email: stored("email", r.email)?,
        address,
    })
}

pub(crate) fn profiles_column(profiles: &[ProfileType]) -> String {
    profiles.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(",")
}

#[derive(sqlx::FromRow)]
pub(crate) struct RevisionRow {
    pub(crate) revision: Option<i64>,
    pub(crate) created_at: Option<DateTime<Utc>>,
    pub(crate) created_by: Option<String>,
    pub(crate) contact_count: Option<i32>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct RevisionSnapshotRow {
    pub(crate) revision: i64,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) created_by: String,
    pub(crate) contact_count: i32,
    pub(crate) contacts: sqlx::types::Json<Vec<Contact>>,
}
