//! The rows of the CRM tables and how they join into contacts.
//!
//! Statement counts: a read of one contact is one query, the row with its collections (emails,
//! telephones, addresses, property links, custom fields) as JSON columns ([`children_columns`]);
//! a list page is one aggregate query plus, unless the client's copy is current, one page query
//! and one query of the page's collections (`contact_id IN (...)`). A write is the row lock, its
//! own statements (batch inserts for collections), the version bump, the one-query reload and the
//! revision insert, in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::types::Json;

use crate::domain::crm::{
    Address, Contact, ContactType, CustomField, CustomFieldType, EmailAddress, Gender, ItemKind, Note,
    Revision, SortField, Telephone,
};
use crate::store::error::StoreError;
use crate::store::query::SqlConn;

/// The table holding a collection.
pub(crate) fn item_table(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Address => "crm_contact_addresses",
        ItemKind::Email => "crm_contact_emails",
        ItemKind::Telephone => "crm_contact_telephones",
    }
}

/// The API name of an item, for 404 details.
pub(crate) fn item_name(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Address => "address",
        ItemKind::Email => "email address",
        ItemKind::Telephone => "telephone",
    }
}

/// The ORDER BY of a list sort; `c.id` breaks ties so pages never overlap.
pub(crate) fn order_by(field: SortField, descending: bool) -> String {
    let dir = if descending { "DESC" } else { "ASC" };
    let expr = match field {
        SortField::Id => return format!("c.id {dir}"),
        SortField::FirstName => "lower(c.first_name)",
        SortField::LastName => "lower(c.last_name)",
        SortField::CompanyName => "lower(c.company_name)",
        SortField::AccountId => "c.account_id",
        SortField::ContactType => "c.contact_type",
        SortField::CreatedAt => "c.created_at",
        SortField::UpdatedAt => "c.updated_at",
    };
    // NULLS LAST on both backends (their defaults differ).
    format!("{expr} {dir} NULLS LAST, c.id {dir}")
}

pub(crate) const CONTACT_COLUMNS: &str = "c.id, c.contact_type, c.title, c.first_name, c.last_name, \
     c.company_name, c.account_id, c.job_title, c.gender, c.language, c.order_references, c.version, \
     c.created_at, c.updated_at, c.merged_into, c.external_id";

#[derive(sqlx::FromRow)]
pub(crate) struct ContactRow {
    pub(crate) id: i64,
    contact_type: String,
    title: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company_name: Option<String>,
    account_id: Option<String>,
    job_title: Option<String>,
    gender: Option<String>,
    language: Option<String>,
    pub(crate) order_references: Json<Vec<String>>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    pub(crate) merged_into: Option<i64>,
    external_id: Option<String>,
}

/// A collection as [`SqlConn::JSON_ROWS`] lists it: its table, the JSON object of a row (the keys
/// are the row struct's fields) and the order of its rows.
struct Collection {
    table: &'static str,
    fields: &'static str,
    order: &'static str,
    column: &'static str,
}

const COLLECTIONS: [Collection; 5] = [
    Collection {
        table: "crm_contact_emails",
        fields: "'id', x.id, 'contact_id', x.contact_id, 'email_address', x.email_address, 'kind', x.type, \
                 'is_primary', x.is_primary",
        order: "x.contact_id, x.id",
        column: "emails",
    },
    Collection {
        table: "crm_contact_telephones",
        fields: "'id', x.id, 'contact_id', x.contact_id, 'number', x.number, 'e164', x.e164, 'kind', x.type, \
                 'extension', x.extension, 'country_code', x.country_code, 'is_primary', x.is_primary",
        order: "x.contact_id, x.id",
        column: "telephones",
    },
    Collection {
        table: "crm_contact_addresses",
        fields: "'id', x.id, 'contact_id', x.contact_id, 'address_line1', x.address_line1, \
                 'address_line2', x.address_line2, 'city', x.city, 'postcode', x.postcode, \
                 'state_province', x.state_province, 'country_code', x.country_code, 'is_primary', x.is_primary",
        order: "x.contact_id, x.id",
        column: "addresses",
    },
    Collection {
        table: "crm_contact_properties",
        fields: "'contact_id', x.contact_id, 'property_id', x.property_id",
        order: "x.contact_id, x.property_id",
        column: "properties",
    },
    Collection {
        table: "crm_contact_custom_fields",
        fields: "'contact_id', x.contact_id, 'name', x.name, 'field_type', x.field_type, 'value', x.value",
        order: "x.contact_id, x.id",
        column: "custom_fields",
    },
];

/// The five collection columns of [`ChildrenRow`], each a subquery over the rows matching `on`
/// (`x.contact_id = c.id` beside a contact row, or `x.contact_id IN (...)`): one statement reads
/// a contact whole, where one query per collection took five more round trips.
pub(crate) fn children_columns<C: SqlConn>(on: &str) -> String {
    COLLECTIONS
        .iter()
        .map(|c| {
            let rows = C::JSON_ROWS.replace("{fields}", c.fields).replace("{order}", c.order);
            format!("(SELECT {rows} FROM {} x WHERE {on}) AS {}", c.table, c.column)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLite has no boolean type: its JSON holds the stored 0 or 1.
fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Int(i64),
    }
    Ok(match Flag::deserialize(d)? {
        Flag::Bool(b) => b,
        Flag::Int(i) => i != 0,
    })
}

#[derive(Deserialize)]
pub(crate) struct EmailRow {
    id: i64,
    contact_id: i64,
    email_address: String,
    kind: Option<String>,
    #[serde(deserialize_with = "flag")]
    is_primary: bool,
}

#[derive(Deserialize)]
pub(crate) struct TelephoneRow {
    id: i64,
    contact_id: i64,
    number: String,
    e164: String,
    kind: Option<String>,
    extension: Option<String>,
    country_code: Option<String>,
    #[serde(deserialize_with = "flag")]
    is_primary: bool,
}

#[derive(Deserialize)]
pub(crate) struct AddressRow {
    id: i64,
    contact_id: i64,
    address_line1: String,
    address_line2: Option<String>,
    city: String,
    postcode: Option<String>,
    state_province: Option<String>,
    country_code: String,
    #[serde(deserialize_with = "flag")]
    is_primary: bool,
}

#[derive(Deserialize)]
pub(crate) struct PropertyRow {
    contact_id: i64,
    property_id: String,
}

#[derive(Deserialize)]
pub(crate) struct CustomFieldRow {
    contact_id: i64,
    name: String,
    field_type: String,
    value: String,
}

/// The collection columns of [`children_columns`], as the database wrote them.
#[derive(sqlx::FromRow)]
pub(crate) struct ChildrenRow {
    emails: Option<String>,
    telephones: Option<String>,
    addresses: Option<String>,
    properties: Option<String>,
    custom_fields: Option<String>,
}

impl ChildrenRow {
    /// Adds this row's collections to `to`.
    pub(crate) fn parse_into(self, to: &mut Children) -> Result<(), StoreError> {
        fn rows<R: serde::de::DeserializeOwned>(
            json: Option<String>,
            to: &mut Vec<R>,
        ) -> Result<(), StoreError> {
            let Some(json) = json else { return Ok(()) };
            let parsed: Vec<R> = serde_json::from_str(&json)
                .map_err(|e| StoreError::Other(format!("decoding a contact's collection: {e}")))?;
            to.extend(parsed);
            Ok(())
        }
        rows(self.emails, &mut to.emails)?;
        rows(self.telephones, &mut to.telephones)?;
        rows(self.addresses, &mut to.addresses)?;
        rows(self.properties, &mut to.properties)?;
        rows(self.custom_fields, &mut to.custom_fields)
    }
}

/// A contact row with its collections (see [`children_columns`]).
#[derive(sqlx::FromRow)]
pub(crate) struct ContactTreeRow {
    #[sqlx(flatten)]
    pub(crate) contact: ContactRow,
    #[sqlx(flatten)]
    pub(crate) children: ChildrenRow,
}

pub(crate) const NOTE_COLUMNS: &str = "id, content, author, tags, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct NoteRow {
    id: i64,
    content: String,
    author: String,
    tags: Json<Vec<String>>,
    created_at: DateTime<Utc>,
}

impl From<NoteRow> for Note {
    fn from(r: NoteRow) -> Note {
        Note { id: r.id, content: r.content, author: r.author, tags: r.tags.0, created_at: r.created_at }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RevisionRow {
    version: i64,
    operation: String,
    changed_at: DateTime<Utc>,
    changed_by: String,
    contact: Json<Box<serde_json::value::RawValue>>,
}

impl From<RevisionRow> for Revision {
    fn from(r: RevisionRow) -> Revision {
        Revision {
            version: r.version,
            operation: r.operation,
            changed_at: r.changed_at,
            changed_by: r.changed_by,
            contact: r.contact.0,
        }
    }
}

/// The aggregate row of a list request.
#[derive(sqlx::FromRow)]
pub(crate) struct StampRow {
    pub(crate) total: i64,
    pub(crate) last_modified: Option<DateTime<Utc>>,
    pub(crate) version_sum: i64,
    pub(crate) id_sum: i64,
}

/// The collections of a set of contacts, each ordered by contact and then by age.
#[derive(Default)]
pub(crate) struct Children {
    pub(crate) emails: Vec<EmailRow>,
    pub(crate) telephones: Vec<TelephoneRow>,
    pub(crate) addresses: Vec<AddressRow>,
    pub(crate) properties: Vec<PropertyRow>,
    pub(crate) custom_fields: Vec<CustomFieldRow>,
}

fn group<R>(rows: Vec<R>, key: impl Fn(&R) -> i64) -> HashMap<i64, Vec<R>> {
    let mut out: HashMap<i64, Vec<R>> = HashMap::new();
    for r in rows {
        out.entry(key(&r)).or_default().push(r);
    }
    out
}

fn stored<T>(what: &str, value: &str, parsed: Option<T>) -> Result<T, StoreError> {
    parsed.ok_or_else(|| StoreError::Other(format!("stored {what} `{value}` is not valid")))
}

/// Joins contact rows with their collections, keeping the rows' order. Returns each contact with
/// the contact it was merged into, if any.
pub(crate) fn assemble(
    rows: Vec<ContactRow>,
    children: Children,
) -> Result<Vec<(Contact, Option<i64>)>, StoreError> {
    let mut emails = group(children.emails, |r| r.contact_id);
    let mut telephones = group(children.telephones, |r| r.contact_id);
    let mut addresses = group(children.addresses, |r| r.contact_id);
    let mut properties = group(children.properties, |r| r.contact_id);
    let mut custom_fields = group(children.custom_fields, |r| r.contact_id);
    rows.into_iter()
        .map(|r| {
            let id = r.id;
            let custom_fields = custom_fields
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|f| {
                    Ok(CustomField {
                        field_type: stored(
                            "custom field type",
                            &f.field_type,
                            CustomFieldType::parse(&f.field_type),
                        )?,
                        name: f.name,
                        value: f.value,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let contact = Contact {
                id,
                contact_type: stored("contact type", &r.contact_type, ContactType::parse(&r.contact_type))?,
                title: r.title,
                first_name: r.first_name,
                last_name: r.last_name,
                company_name: r.company_name,
                account_id: r.account_id,
                job_title: r.job_title,
                gender: match r.gender {
                    Some(g) => Some(stored("gender", &g, Gender::parse(&g))?),
                    None => None,
                },
                language: r.language,
                external_id: r.external_id,
                property_ids: properties
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| p.property_id)
                    .collect(),
                order_references: r.order_references.0,
                email_addresses: emails
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| EmailAddress {
                        id: e.id,
                        email_address: e.email_address,
                        kind: e.kind,
                        primary: e.is_primary,
                    })
                    .collect(),
                telephones: telephones
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| Telephone {
                        id: t.id,
                        number: t.number,
                        e164: t.e164,
                        kind: t.kind,
                        extension: t.extension,
                        country_code: t.country_code,
                        primary: t.is_primary,
                    })
                    .collect(),
                addresses: addresses
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| Address {
                        id: a.id,
                        address_line1: a.address_line1,
                        address_line2: a.address_line2,
                        city: a.city,
                        postcode: a.postcode,
                        state_province: a.state_province,
                        country_code: a.country_code,
                        primary: a.is_primary,
                    })
                    .collect(),
                custom_fields,
                version: r.version,
                created_at: r.created_at,
                updated_at: r.updated_at,
            };
            Ok((contact, r.merged_into))
        })
        .collect()
}
