//! The SQL of [`super::CrmStore`], shared by both backends the same way [`super::sql`] is: a macro
//! that expands to concrete code per backend. What differs is passed in: the row-lock suffix
//! (`FOR UPDATE` on Postgres; SQLite already holds the database write lock from `BEGIN IMMEDIATE`),
//! the statement that opens a consistent read snapshot, and the EXPLAIN dialect.
//!
//! Statement counts: a read of one contact is six queries (the row and one per collection:
//! emails, telephones, addresses, property links, custom fields) in one snapshot; a list page is
//! one aggregate query plus, unless the client's copy is current, one page query and those five
//! collection queries for the whole page (`contact_id IN (...)`). A write is the row lock, its own
//! statements (batch inserts for collections), the version bump, the six-query reload and the
//! revision insert, in one transaction.

use std::collections::HashMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::StoreError;
use crate::domain::crm::{
    Address, Contact, ContactType, CustomField, CustomFieldType, EmailAddress, Gender, ItemKind, Note,
    Revision, SortField, Telephone,
};

/// Timestamps are cut to microseconds, which both backends store exactly, so what a write returns
/// equals what a later read returns.
pub(super) fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(now)
}

/// `changedBy` of the revisions a property delete records on the contacts that linked it.
pub(super) const PROPERTY_DELETED_AUTHOR: &str = "property-deleted";

/// The table holding a collection.
pub(super) fn item_table(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Address => "crm_contact_addresses",
        ItemKind::Email => "crm_contact_emails",
        ItemKind::Telephone => "crm_contact_telephones",
    }
}

/// The API name of an item, for 404 details.
pub(super) fn item_name(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Address => "address",
        ItemKind::Email => "email address",
        ItemKind::Telephone => "telephone",
    }
}

/// The ORDER BY of a list sort; `c.id` breaks ties so pages never overlap.
pub(super) fn order_by(field: SortField, descending: bool) -> String {
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

pub(super) const CONTACT_COLUMNS: &str = "c.id, c.contact_type, c.title, c.first_name, c.last_name, \
     c.company_name, c.account_id, c.job_title, c.gender, c.language, c.order_references, c.version, \
     c.created_at, c.updated_at, c.merged_into";

#[derive(sqlx::FromRow)]
pub(super) struct ContactRow {
    pub(super) id: i64,
    contact_type: String,
    title: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company_name: Option<String>,
    account_id: Option<String>,
    job_title: Option<String>,
    gender: Option<String>,
    language: Option<String>,
    pub(super) order_references: Json<Vec<String>>,
    version: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    pub(super) merged_into: Option<i64>,
}

pub(super) const EMAIL_SELECT: &str =
    "SELECT id, contact_id, email_address, type AS kind, is_primary FROM crm_contact_emails";

#[derive(sqlx::FromRow)]
pub(super) struct EmailRow {
    id: i64,
    contact_id: i64,
    email_address: String,
    kind: Option<String>,
    is_primary: bool,
}

pub(super) const TELEPHONE_SELECT: &str = "SELECT id, contact_id, number, e164, type AS kind, extension, \
     country_code, is_primary FROM crm_contact_telephones";

#[derive(sqlx::FromRow)]
pub(super) struct TelephoneRow {
    id: i64,
    contact_id: i64,
    number: String,
    e164: String,
    kind: Option<String>,
    extension: Option<String>,
    country_code: Option<String>,
    is_primary: bool,
}

pub(super) const ADDRESS_SELECT: &str =
    "SELECT id, contact_id, address_line1, address_line2, city, postcode, \
     state_province, country_code, is_primary FROM crm_contact_addresses";

#[derive(sqlx::FromRow)]
pub(super) struct AddressRow {
    id: i64,
    contact_id: i64,
    address_line1: String,
    address_line2: Option<String>,
    city: String,
    postcode: Option<String>,
    state_province: Option<String>,
    country_code: String,
    is_primary: bool,
}

pub(super) const PROPERTY_SELECT: &str = "SELECT contact_id, property_id FROM crm_contact_properties";

#[derive(sqlx::FromRow)]
pub(super) struct PropertyRow {
    contact_id: i64,
    property_id: String,
}

pub(super) const CUSTOM_FIELD_SELECT: &str =
    "SELECT contact_id, name, field_type, value FROM crm_contact_custom_fields";

#[derive(sqlx::FromRow)]
pub(super) struct CustomFieldRow {
    contact_id: i64,
    name: String,
    field_type: String,
    value: String,
}

pub(super) const NOTE_COLUMNS: &str = "id, content, author, tags, created_at";

#[derive(sqlx::FromRow)]
pub(super) struct NoteRow {
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
pub(super) struct RevisionRow {
    version: i64,
    operation: String,
    changed_at: DateTime<Utc>,
    changed_by: String,
    contact: Json<Value>,
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
pub(super) struct StampRow {
    pub(super) total: i64,
    pub(super) last_modified: Option<DateTime<Utc>>,
    pub(super) version_sum: i64,
    pub(super) id_sum: i64,
}

/// The collections of a set of contacts, each ordered by contact and then by age.
#[derive(Default)]
pub(super) struct Children {
    pub(super) emails: Vec<EmailRow>,
    pub(super) telephones: Vec<TelephoneRow>,
    pub(super) addresses: Vec<AddressRow>,
    pub(super) properties: Vec<PropertyRow>,
    pub(super) custom_fields: Vec<CustomFieldRow>,
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
pub(super) fn assemble(
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

/// Turns a refusal into an early `Ok(Err(..))` return; the open transaction rolls back on drop.
macro_rules! refuse_on {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(refusal) => return Ok(Err(refusal)),
        }
    };
}
pub(super) use refuse_on;

/// Implements [`super::CrmStore`] for `$store` (a struct in the invoking module with a
/// `pool: sqlx::Pool<$db>` field and the `begin_write` helper of [`super::sql`]).
macro_rules! impl_crm_store {
    ($store:ident, $db:ty, lock_row = $lock:literal, begin_read = $begin_read:literal, explain = $explain:literal) => {
        mod crm_impl {
            use sqlx::types::Json;
            use sqlx::{QueryBuilder, Row};

            use super::$store as Backend;
            use $crate::domain::crm::{
                AddressDraft, Conditional, Contact, ContactDraft, ContactFilter, ContactQuery, CustomField,
                EmailDraft, IfMatch, ItemDraft, ItemKind, ListStamp, Note, NoteDraft, Operation, Revision,
                TelephoneDraft, MAX_ITEMS, MAX_LIST,
            };
            use $crate::store::crm::{ContactPage, CrmResult, CrmStore, MergeOutcome, Refusal};
            use $crate::store::crm_sql::{
                assemble, item_name, item_table, now, order_by, refuse_on, AddressRow, Children, ContactRow,
                CustomFieldRow, EmailRow, NoteRow, PropertyRow, RevisionRow, StampRow, TelephoneRow,
                ADDRESS_SELECT, CONTACT_COLUMNS, CUSTOM_FIELD_SELECT, EMAIL_SELECT, NOTE_COLUMNS,
                PROPERTY_SELECT, TELEPHONE_SELECT,
            };
            use $crate::store::{StoreError, StoreResult};
            use $crate::validation::{codes, ErrorKind, FieldError};

            type Db = $db;
            type Conn = <$db as sqlx::Database>::Connection;
            type Tx = sqlx::Transaction<'static, $db>;

            impl Backend {
                async fn begin_read(&self) -> StoreResult<Tx> {
                    Ok(self.pool.begin_with($begin_read).await?)
                }

                /// The query plans of a list request (aggregate, page, and the five collection
                /// queries for a 20-contact page), one text per query. For the index tests.
                #[doc(hidden)]
                pub async fn explain_contact_list(
                    &self,
                    tenant: &str,
                    query: &ContactQuery,
                ) -> StoreResult<Vec<String>> {
                    let mut conn = self.pool.acquire().await?;
                    let ids: Vec<i64> = (1..=20).collect();
                    let mut builders = vec![
                        stamp_query(concat!($explain, " "), tenant, &query.filter),
                        page_query(concat!($explain, " "), tenant, query),
                    ];
                    for select in [EMAIL_SELECT, TELEPHONE_SELECT, ADDRESS_SELECT, PROPERTY_SELECT, CUSTOM_FIELD_SELECT] {
                        builders.push(children_query(&format!("{} {select}", $explain), &ids, "contact_id"));
                    }
                    let mut plans = Vec::new();
                    for mut b in builders {
                        let rows = b.build().fetch_all(&mut *conn).await?;
                        let lines: Vec<String> = rows
                            .iter()
                            .map(|r| r.try_get::<String, _>(r.len() - 1).unwrap_or_default())
                            .collect();
                        plans.push(lines.join("\n"));
                    }
                    Ok(plans)
                }
            }

            /// Appends the WHERE clause of a list request; every filter has an index led by tenant.
            fn push_filter<'a>(qb: &mut QueryBuilder<'a, Db>, tenant: &'a str, f: &'a ContactFilter) {
                qb.push(" WHERE c.tenant_id = ").push_bind(tenant).push(" AND c.merged_into IS NULL");
                if let Some(email) = &f.email_address {
                    qb.push(
                        " AND EXISTS (SELECT 1 FROM crm_contact_emails x WHERE x.contact_id = c.id AND x.tenant_id = ",
                    )
                    .push_bind(tenant)
                    .push(" AND lower(x.email_address) = lower(")
                    .push_bind(email.as_str())
                    .push("))");
                }
                if let Some(name) = &f.first_name {
                    qb.push(" AND lower(c.first_name) = lower(").push_bind(name.as_str()).push(")");
                }
                if let Some(name) = &f.last_name {
                    qb.push(" AND lower(c.last_name) = lower(").push_bind(name.as_str()).push(")");
                }
                if let Some(e164) = &f.telephone {
                    qb.push(
                        " AND EXISTS (SELECT 1 FROM crm_contact_telephones x WHERE x.contact_id = c.id AND x.tenant_id = ",
                    )
                    .push_bind(tenant)
                    .push(" AND x.e164 = ")
                    .push_bind(e164.as_str())
                    .push(")");
                }
                if let Some(account) = &f.account_id {
                    qb.push(" AND c.account_id = ").push_bind(account.as_str());
                }
                if let Some(t) = f.contact_type {
                    qb.push(" AND c.contact_type = ").push_bind(t.as_str());
                }
                if let Some(p) = &f.property_id {
                    qb.push(
                        " AND EXISTS (SELECT 1 FROM crm_contact_properties x WHERE x.contact_id = c.id AND x.tenant_id = ",
                    )
                    .push_bind(tenant)
                    .push(" AND x.property_id = ")
                    .push_bind(p.as_str())
                    .push(")");
                }
                if let Some(since) = f.modified_since {
                    qb.push(" AND c.updated_at >= ").push_bind(since);
                }
            }

            fn stamp_query<'a>(prefix: &str, tenant: &'a str, f: &'a ContactFilter) -> QueryBuilder<'a, Db> {
                let mut qb = QueryBuilder::new(prefix);
                qb.push(
                    "SELECT COUNT(*) AS total, MAX(c.updated_at) AS last_modified, \
                     CAST(COALESCE(SUM(c.version), 0) AS BIGINT) AS version_sum, \
                     CAST(COALESCE(SUM(c.id), 0) AS BIGINT) AS id_sum FROM crm_contacts c",
                );
                push_filter(&mut qb, tenant, f);
                qb
            }

            fn page_query<'a>(prefix: &str, tenant: &'a str, q: &'a ContactQuery) -> QueryBuilder<'a, Db> {
                let mut qb = QueryBuilder::new(prefix);
                qb.push(format!("SELECT {CONTACT_COLUMNS} FROM crm_contacts c"));
                push_filter(&mut qb, tenant, &q.filter);
                qb.push(format!(" ORDER BY {} LIMIT ", order_by(q.sort.field, q.sort.descending)))
                    .push_bind(i64::from(q.size))
                    .push(" OFFSET ")
                    .push_bind(q.offset());
                qb
            }

            /// `select` restricted to `ids`, ordered by contact and then by `order`.
            fn children_query<'a>(select: &str, ids: &'a [i64], order: &str) -> QueryBuilder<'a, Db> {
                let mut qb = QueryBuilder::new(select);
                qb.push(" WHERE contact_id IN (");
                let mut list = qb.separated(", ");
                for id in ids {
                    list.push_bind(*id);
                }
                qb.push(format!(") ORDER BY contact_id, {order}"));
                qb
            }

            /// The five collection queries for `ids`.
            async fn fetch_children(conn: &mut Conn, ids: &[i64]) -> StoreResult<Children> {
                if ids.is_empty() {
                    return Ok(Children::default());
                }
                Ok(Children {
                    emails: children_query(EMAIL_SELECT, ids, "id").build_query_as::<EmailRow>().fetch_all(&mut *conn).await?,
                    telephones: children_query(TELEPHONE_SELECT, ids, "id")
                        .build_query_as::<TelephoneRow>()
                        .fetch_all(&mut *conn)
                        .await?,
                    addresses: children_query(ADDRESS_SELECT, ids, "id")
                        .build_query_as::<AddressRow>()
                        .fetch_all(&mut *conn)
                        .await?,
                    properties: children_query(PROPERTY_SELECT, ids, "property_id")
                        .build_query_as::<PropertyRow>()
                        .fetch_all(&mut *conn)
                        .await?,
                    custom_fields: children_query(CUSTOM_FIELD_SELECT, ids, "id")
                        .build_query_as::<CustomFieldRow>()
                        .fetch_all(&mut *conn)
                        .await?,
                })
            }

            /// Contacts by id (tombstones included), in id order, whole: six queries.
            async fn fetch_contacts(
                conn: &mut Conn,
                tenant: &str,
                ids: &[i64],
            ) -> StoreResult<Vec<(Contact, Option<i64>)>> {
                let mut qb = QueryBuilder::<Db>::new(format!("SELECT {CONTACT_COLUMNS} FROM crm_contacts c WHERE c.tenant_id = "));
                qb.push_bind(tenant).push(" AND c.id IN (");
                let mut list = qb.separated(", ");
                for id in ids {
                    list.push_bind(*id);
                }
                qb.push(") ORDER BY c.id");
                let rows: Vec<ContactRow> = qb.build_query_as().fetch_all(&mut *conn).await?;
                let found: Vec<i64> = rows.iter().map(|r| r.id).collect();
                let children = fetch_children(conn, &found).await?;
                assemble(rows, children)
            }

            /// One live contact, whole.
            async fn load_contact(conn: &mut Conn, tenant: &str, id: i64) -> CrmResult<Contact> {
                let mut found = fetch_contacts(conn, tenant, &[id]).await?;
                Ok(match found.pop() {
                    None => Err(Refusal::NotFound),
                    Some((_, Some(merged_into))) => Err(Refusal::Gone { merged_into }),
                    Some((contact, None)) => Ok(contact),
                })
            }

            /// Checks a live contact exists without loading it (reads of notes and revisions).
            async fn check_live(conn: &mut Conn, tenant: &str, id: i64) -> CrmResult<()> {
                let row: Option<(Option<i64>,)> =
                    sqlx::query_as("SELECT merged_into FROM crm_contacts WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant)
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await?;
                Ok(match row {
                    None => Err(Refusal::NotFound),
                    Some((Some(merged_into),)) => Err(Refusal::Gone { merged_into }),
                    Some((None,)) => Ok(()),
                })
            }

            /// Locks the contact row for the rest of the transaction and checks `If-Match`.
            async fn lock(conn: &mut Conn, tenant: &str, id: i64, if_match: Option<&IfMatch>) -> CrmResult<i64> {
                let row: Option<(i64, Option<i64>)> = sqlx::query_as(concat!(
                    "SELECT version, merged_into FROM crm_contacts WHERE tenant_id = $1 AND id = $2",
                    $lock
                ))
                .bind(tenant)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
                Ok(match row {
                    None => Err(Refusal::NotFound),
                    Some((_, Some(merged_into))) => Err(Refusal::Gone { merged_into }),
                    Some((version, None)) => match if_match {
                        Some(m) if !m.allows(version) => Err(Refusal::VersionMismatch { current: version }),
                        _ => Ok(version),
                    },
                })
            }

            /// Bumps the version, reloads the contact and appends its revision.
            async fn finish(
                conn: &mut Conn,
                tenant: &str,
                id: i64,
                op: Operation,
                author: &str,
            ) -> CrmResult<Contact> {
                sqlx::query(
                    "UPDATE crm_contacts SET version = version + 1, updated_at = $3 WHERE tenant_id = $1 AND id = $2",
                )
                .bind(tenant)
                .bind(id)
                .bind(now())
                .execute(&mut *conn)
                .await?;
                record(conn, tenant, id, op, author).await
            }

            /// Reloads the contact and appends its current version as a revision.
            async fn record(conn: &mut Conn, tenant: &str, id: i64, op: Operation, author: &str) -> CrmResult<Contact> {
                let contact = refuse_on!(load_contact(conn, tenant, id).await?);
                insert_revisions(conn, tenant, &[(&contact, op)], author).await?;
                Ok(Ok(contact))
            }

            async fn insert_revisions(
                conn: &mut Conn,
                tenant: &str,
                revisions: &[(&Contact, Operation)],
                author: &str,
            ) -> StoreResult<()> {
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO crm_contact_revisions \
                     (tenant_id, contact_id, version, operation, changed_at, changed_by, contact) ",
                );
                qb.push_values(revisions, |mut row, (c, op)| {
                    row.push_bind(tenant)
                        .push_bind(c.id)
                        .push_bind(c.version)
                        .push_bind(op.as_str())
                        .push_bind(c.updated_at)
                        .push_bind(author)
                        .push_bind(Json(*c));
                });
                qb.build().execute(&mut *conn).await?;
                Ok(())
            }

            /// Contacts loaded and revisions inserted per statement when a property delete unlinks
            /// many contacts; keeps every statement well under the backends' bind-parameter limits.
            const UNLINK_BATCH: usize = 1000;

            /// Runs in the transaction of a property delete, before the property row goes: removes
            /// every link to the property, bumps `version` and `updatedAt` of each live contact that
            /// had one and records an `UNLINK_PROPERTY` revision of it (as it is after the unlink)
            /// by `author`, so conditional reads see the change.
            ///
            /// Locks in the order contact writes do (contacts, then the property), so the two
            /// cannot deadlock over the contacts already linked: first the linked contacts in id
            /// order, then the property row, which stops new links to it (their check takes
            /// [`PROPERTY_KEY_LOCK`]); the bump then re-reads the links, catching any committed
            /// in between. Statements: two locks, the bump, the unlink, and per
            /// [`UNLINK_BATCH`] contacts the six-query load and one revision insert.
            pub(super) async fn unlink_property(
                conn: &mut Conn,
                tenant: &str,
                property_id: &str,
                author: &str,
            ) -> StoreResult<()> {
                sqlx::query(concat!(
                    "SELECT id FROM crm_contacts WHERE tenant_id = $1 AND merged_into IS NULL AND id IN \
                     (SELECT contact_id FROM crm_contact_properties WHERE tenant_id = $1 AND property_id = $2) \
                     ORDER BY id",
                    $lock
                ))
                .bind(tenant)
                .bind(property_id)
                .fetch_all(&mut *conn)
                .await?;
                sqlx::query(concat!("SELECT id FROM properties WHERE tenant_id = $1 AND id = $2", $lock))
                    .bind(tenant)
                    .bind(property_id)
                    .fetch_optional(&mut *conn)
                    .await?;
                let bumped: Vec<(i64,)> = sqlx::query_as(
                    "UPDATE crm_contacts SET version = version + 1, updated_at = $3 \
                     WHERE tenant_id = $1 AND merged_into IS NULL AND id IN \
                     (SELECT contact_id FROM crm_contact_properties WHERE tenant_id = $1 AND property_id = $2) \
                     RETURNING id",
                )
                .bind(tenant)
                .bind(property_id)
                .bind(now())
                .fetch_all(&mut *conn)
                .await?;
                sqlx::query("DELETE FROM crm_contact_properties WHERE tenant_id = $1 AND property_id = $2")
                    .bind(tenant)
                    .bind(property_id)
                    .execute(&mut *conn)
                    .await?;
                let mut ids: Vec<i64> = bumped.into_iter().map(|(id,)| id).collect();
                ids.sort_unstable();
                for batch in ids.chunks(UNLINK_BATCH) {
                    let contacts = fetch_contacts(conn, tenant, batch).await?;
                    let revisions: Vec<_> =
                        contacts.iter().map(|(c, _)| (c, Operation::UnlinkProperty)).collect();
                    if !revisions.is_empty() {
                        insert_revisions(conn, tenant, &revisions, author).await?;
                    }
                }
                Ok(())
            }

            /// The country of the stored primary address, which reads national telephone numbers.
            async fn primary_country(conn: &mut Conn, id: i64) -> StoreResult<Option<String>> {
                let row: Option<(String,)> = sqlx::query_as(
                    "SELECT country_code FROM crm_contact_addresses WHERE contact_id = $1 AND is_primary",
                )
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
                Ok(row.map(|(c,)| c))
            }

            /// The lock [`check_stored_rules`] takes on the properties it finds, so none can be
            /// deleted before the links to it are inserted (which would break their foreign key):
            /// `FOR KEY SHARE` on Postgres, the lock foreign-key checks take themselves, which only
            /// conflicts with deletes and key changes. SQLite needs none: the transaction holds the
            /// database write lock, which a property delete needs too.
            const PROPERTY_KEY_LOCK: &str = if $lock.is_empty() { "" } else { " FOR KEY SHARE" };

            /// The rules that need stored data: `propertyIds` exist in the tenant (locking them for
            /// the transaction, see [`PROPERTY_KEY_LOCK`]), and national telephone numbers can be
            /// read with a country (`stored_country` unless the body replaces the addresses).
            /// Reports every violation.
            async fn check_stored_rules(
                conn: &mut Conn,
                tenant: &str,
                property_ids: Option<&[String]>,
                telephones: &mut [TelephoneDraft],
                stored_country: Option<String>,
            ) -> StoreResult<Result<(), Refusal>> {
                let mut errors = Vec::new();
                if let Some(ids) = property_ids.filter(|ids| !ids.is_empty()) {
                    let mut qb = QueryBuilder::<Db>::new("SELECT id FROM properties WHERE tenant_id = ");
                    qb.push_bind(tenant).push(" AND id IN (");
                    let mut list = qb.separated(", ");
                    for id in ids {
                        list.push_bind(id.as_str());
                    }
                    qb.push(")").push(PROPERTY_KEY_LOCK);
                    let known: Vec<(String,)> = qb.build_query_as().fetch_all(&mut *conn).await?;
                    for (i, id) in ids.iter().enumerate() {
                        if !known.iter().any(|(k,)| k == id) {
                            errors.push(FieldError::new(
                                &format!("/propertyIds/{i}"),
                                ErrorKind::Invalid,
                                $crate::domain::crm::codes::PROPERTY_UNKNOWN,
                                "no property with this id",
                            ));
                        }
                    }
                }
                for t in telephones.iter_mut() {
                    if let Err(e) = t.resolve(stored_country.as_deref()) {
                        errors.push(e);
                    }
                }
                Ok(if errors.is_empty() { Ok(()) } else { Err(Refusal::Invalid(errors)) })
            }

            async fn insert_emails(conn: &mut Conn, tenant: &str, id: i64, items: &[EmailDraft]) -> StoreResult<()> {
                if items.is_empty() {
                    return Ok(());
                }
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO crm_contact_emails (tenant_id, contact_id, email_address, type, is_primary) ",
                );
                qb.push_values(items, |mut row, e| {
                    row.push_bind(tenant)
                        .push_bind(id)
                        .push_bind(e.email_address.as_str())
                        .push_bind(e.kind.as_deref())
                        .push_bind(e.primary);
                });
                qb.build().execute(&mut *conn).await?;
                Ok(())
            }

            async fn insert_telephones(
                conn: &mut Conn,
                tenant: &str,
                id: i64,
                items: &[TelephoneDraft],
            ) -> StoreResult<()> {
                if items.is_empty() {
                    return Ok(());
                }
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO crm_contact_telephones \
                     (tenant_id, contact_id, number, e164, type, extension, country_code, is_primary) ",
                );
                qb.push_values(items, |mut row, t| {
                    row.push_bind(tenant)
                        .push_bind(id)
                        .push_bind(t.number.as_str())
                        .push_bind(t.e164.as_deref().unwrap_or_default())
                        .push_bind(t.kind.as_deref())
                        .push_bind(t.extension.as_deref())
                        .push_bind(t.country_code.as_deref())
                        .push_bind(t.primary);
                });
                qb.build().execute(&mut *conn).await?;
                Ok(())
            }

            async fn insert_addresses(
                conn: &mut Conn,
                tenant: &str,
                id: i64,
                items: &[AddressDraft],
            ) -> StoreResult<()> {
                if items.is_empty() {
                    return Ok(());
                }
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO crm_contact_addresses (tenant_id, contact_id, address_line1, address_line2, \
                     city, postcode, state_province, country_code, is_primary) ",
                );
                qb.push_values(items, |mut row, a| {
                    row.push_bind(tenant)
                        .push_bind(id)
                        .push_bind(a.address_line1.as_str())
                        .push_bind(a.address_line2.as_deref())
                        .push_bind(a.city.as_str())
                        .push_bind(a.postcode.as_deref())
                        .push_bind(a.state_province.as_deref())
                        .push_bind(a.country_code.as_str())
                        .push_bind(a.primary);
                });
                qb.build().execute(&mut *conn).await?;
                Ok(())
            }

            async fn insert_properties(conn: &mut Conn, tenant: &str, id: i64, items: &[String]) -> StoreResult<()> {
                if items.is_empty() {
                    return Ok(());
                }
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO crm_contact_properties (tenant_id, contact_id, property_id) ",
                );
                qb.push_values(items, |mut row, p| {
                    row.push_bind(tenant).push_bind(id).push_bind(p.as_str());
                });
                qb.build().execute(&mut *conn).await?;
                Ok(())
            }

            async fn insert_custom_fields(
                conn: &mut Conn,
                tenant: &str,
                id: i64,
                items: &[CustomField],
            ) -> StoreResult<()> {
                if items.is_empty() {
                    return Ok(());
                }
                let mut qb = QueryBuilder::<Db>::new(
                    "INSERT INTO crm_contact_custom_fields (tenant_id, contact_id, name, field_type, value) ",
                );
                qb.push_values(items, |mut row, f| {
                    row.push_bind(tenant)
                        .push_bind(id)
                        .push_bind(f.name.as_str())
                        .push_bind(f.field_type.as_str())
                        .push_bind(f.value.as_str());
                });
                qb.build().execute(&mut *conn).await?;
                Ok(())
            }

            async fn clear_collection(conn: &mut Conn, table: &str, id: i64) -> StoreResult<()> {
                sqlx::query(&format!("DELETE FROM {table} WHERE contact_id = $1"))
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            /// Writes the collections a draft carries, replacing what is stored.
            async fn write_collections(conn: &mut Conn, tenant: &str, id: i64, d: &ContactDraft) -> StoreResult<()> {
                if let Some(items) = &d.email_addresses {
                    clear_collection(conn, "crm_contact_emails", id).await?;
                    insert_emails(conn, tenant, id, items).await?;
                }
                if let Some(items) = &d.telephones {
                    clear_collection(conn, "crm_contact_telephones", id).await?;
                    insert_telephones(conn, tenant, id, items).await?;
                }
                if let Some(items) = &d.addresses {
                    clear_collection(conn, "crm_contact_addresses", id).await?;
                    insert_addresses(conn, tenant, id, items).await?;
                }
                if let Some(items) = &d.property_ids {
                    clear_collection(conn, "crm_contact_properties", id).await?;
                    insert_properties(conn, tenant, id, items).await?;
                }
                if let Some(items) = &d.custom_fields {
                    clear_collection(conn, "crm_contact_custom_fields", id).await?;
                    insert_custom_fields(conn, tenant, id, items).await?;
                }
                Ok(())
            }

            /// Makes the oldest item primary when a non-empty collection has none.
            async fn promote_oldest(conn: &mut Conn, table: &str, id: i64) -> StoreResult<()> {
                sqlx::query(&format!(
                    "UPDATE {table} SET is_primary = TRUE \
                     WHERE id = (SELECT MIN(id) FROM {table} WHERE contact_id = $1) \
                       AND NOT EXISTS (SELECT 1 FROM {table} WHERE contact_id = $1 AND is_primary)"
                ))
                .bind(id)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            /// Clears the collection's primary flag, except on `keep`. Runs before a flag is set,
            /// so the one-primary index holds after every statement.
            async fn clear_primary(conn: &mut Conn, table: &str, id: i64, keep: i64) -> StoreResult<()> {
                sqlx::query(&format!(
                    "UPDATE {table} SET is_primary = FALSE WHERE contact_id = $1 AND is_primary AND id <> $2"
                ))
                .bind(id)
                .bind(keep)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            async fn item_exists(conn: &mut Conn, table: &str, id: i64, item_id: i64) -> StoreResult<bool> {
                let row: Option<(i64,)> =
                    sqlx::query_as(&format!("SELECT id FROM {table} WHERE id = $1 AND contact_id = $2"))
                        .bind(item_id)
                        .bind(id)
                        .fetch_optional(&mut *conn)
                        .await?;
                Ok(row.is_some())
            }

            /// The stored-data rules of one item: a telephone's national number needs a country.
            async fn resolve_item(conn: &mut Conn, id: i64, item: &mut ItemDraft) -> StoreResult<Result<(), Refusal>> {
                if let ItemDraft::Telephone(t) = item {
                    if t.e164.is_none() {
                        let country = primary_country(conn, id).await?;
                        if let Err(e) = t.resolve(country.as_deref()) {
                            return Ok(Err(Refusal::Invalid(vec![e])));
                        }
                    }
                }
                Ok(Ok(()))
            }

            /// Moves the secondary's rows of `table` to the primary unless an equal row (`same`,
            /// comparing `p` with the row being moved) is there already; drops the rest.
            async fn move_rows(
                conn: &mut Conn,
                table: &str,
                set_extra: &str,
                same: &str,
                primary: i64,
                secondary: i64,
            ) -> StoreResult<()> {
                sqlx::query(&format!(
                    "UPDATE {table} SET contact_id = $1{set_extra} WHERE contact_id = $2 AND NOT EXISTS \
                     (SELECT 1 FROM {table} p WHERE p.contact_id = $1 AND {same})"
                ))
                .bind(primary)
                .bind(secondary)
                .execute(&mut *conn)
                .await?;
                clear_collection(conn, table, secondary).await
            }

            /// Why the merged primary `id` breaks a per-contact maximum, if it does: at most
            /// [`MAX_ITEMS`] addresses, emails and telephones, [`MAX_LIST`] custom fields, property
            /// links and order references (`order_references` of them after the merge). One query.
            async fn over_cap(conn: &mut Conn, id: i64, order_references: usize) -> StoreResult<Option<String>> {
                let counts: (i64, i64, i64, i64, i64) = sqlx::query_as(
                    "SELECT (SELECT COUNT(*) FROM crm_contact_emails WHERE contact_id = $1), \
                     (SELECT COUNT(*) FROM crm_contact_telephones WHERE contact_id = $1), \
                     (SELECT COUNT(*) FROM crm_contact_addresses WHERE contact_id = $1), \
                     (SELECT COUNT(*) FROM crm_contact_custom_fields WHERE contact_id = $1), \
                     (SELECT COUNT(*) FROM crm_contact_properties WHERE contact_id = $1)",
                )
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
                let checks = [
                    ("emailAddresses", counts.0, MAX_ITEMS),
                    ("telephones", counts.1, MAX_ITEMS),
                    ("addresses", counts.2, MAX_ITEMS),
                    ("customFields", counts.3, MAX_LIST),
                    ("propertyIds", counts.4, MAX_LIST),
                    ("orderReferences", i64::try_from(order_references).unwrap_or(i64::MAX), MAX_LIST),
                ];
                Ok(checks.into_iter().find(|(_, n, max)| *n > *max as i64).map(|(what, n, max)| {
                    format!(
                        "the merged contact {id} would have {n} {what}, more than the {max} allowed; \
                         nothing was changed"
                    )
                }))
            }

            /// Ends a transaction: commit when the use case succeeded, else roll back right away.
            /// (A dropped transaction only queues its ROLLBACK until the connection is next used,
            /// leaving it idle in transaction and holding its locks meanwhile.)
            async fn settle<T>(tx: Tx, result: CrmResult<T>) -> CrmResult<T> {
                if matches!(result, Ok(Ok(_))) {
                    tx.commit().await?;
                } else {
                    // The refusal or error is what the caller needs; a failed rollback closes the
                    // connection anyway.
                    let _ = tx.rollback().await;
                }
                result
            }

            /// [`settle`] for use cases that cannot be refused.
            async fn settle_plain<T>(tx: Tx, result: StoreResult<T>) -> StoreResult<T> {
                match result {
                    Ok(value) => {
                        tx.commit().await?;
                        Ok(value)
                    }
                    Err(e) => {
                        let _ = tx.rollback().await;
                        Err(e)
                    }
                }
            }

            fn stamp_of(row: StampRow) -> ListStamp {
                ListStamp {
                    total: row.total,
                    last_modified: row.last_modified,
                    version_sum: row.version_sum,
                    id_sum: row.id_sum,
                }
            }

            impl CrmStore for Backend {
                #[tracing::instrument(skip_all)]
                async fn create_contact(&self, tenant: &str, mut draft: ContactDraft, author: &str) -> CrmResult<Contact> {
                    let mut tx = self.begin_write().await?;
                    let result: CrmResult<_> = async {
                        let mut phones = draft.telephones.take().unwrap_or_default();
                        refuse_on!(check_stored_rules(&mut tx, tenant, draft.property_ids.as_deref(), &mut phones, None).await?);
                        draft.telephones = Some(phones);
                        let at = now();
                        let (id,): (i64,) = sqlx::query_as(
                            "INSERT INTO crm_contacts (tenant_id, contact_type, title, first_name, last_name, company_name, \
                             account_id, job_title, gender, language, order_references, version, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $12) RETURNING id",
                        )
                        .bind(tenant)
                        .bind(draft.contact_type.as_str())
                        .bind(draft.title.as_deref())
                        .bind(draft.first_name.as_deref())
                        .bind(draft.last_name.as_deref())
                        .bind(draft.company_name.as_deref())
                        .bind(draft.account_id.as_deref())
                        .bind(draft.job_title.as_deref())
                        .bind(draft.gender.map(|g| g.as_str()))
                        .bind(draft.language.as_deref())
                        .bind(Json(draft.order_references.clone().unwrap_or_default()))
                        .bind(at)
                        .fetch_one(&mut *tx)
                        .await?;
                        write_collections(&mut tx, tenant, id, &draft).await?;
                        let contact = refuse_on!(record(&mut tx, tenant, id, Operation::Create, author).await?);
                        Ok(Ok(contact))
                    }
                    .await;
                    settle(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(contact_id = id))]
                async fn get_contact(
                    &self,
                    tenant: &str,
                    id: i64,
                    include_revisions: bool,
                ) -> CrmResult<(Contact, Option<Vec<Revision>>)> {
                    let mut tx = self.begin_read().await?;
                    let result: CrmResult<_> = async {
                        let contact = refuse_on!(load_contact(&mut tx, tenant, id).await?);
                        let revisions = if include_revisions {
                            let rows: Vec<RevisionRow> = sqlx::query_as(
                                "SELECT version, operation, changed_at, changed_by, contact FROM crm_contact_revisions \
                                 WHERE tenant_id = $1 AND contact_id = $2 ORDER BY version",
                            )
                            .bind(tenant)
                            .bind(id)
                            .fetch_all(&mut *tx)
                            .await?;
                            Some(rows.into_iter().map(Revision::from).collect())
                        } else {
                            None
                        };
                        Ok(Ok((contact, revisions)))
                    }
                    .await;
                    settle(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(page = query.page, size = query.size))]
                async fn list_contacts(
                    &self,
                    tenant: &str,
                    query: &ContactQuery,
                    cond: &Conditional,
                ) -> StoreResult<ContactPage> {
                    let mut tx = self.begin_read().await?;
                    let result: StoreResult<_> = async {
                        let stamp: StampRow = stamp_query("", tenant, &query.filter).build_query_as().fetch_one(&mut *tx).await?;
                        let stamp = stamp_of(stamp);
                        let etag = stamp.etag(query);
                        if cond.not_modified(&etag, stamp.last_modified) {
                            return Ok(ContactPage { stamp, etag, contacts: None });
                        }
                        let rows: Vec<ContactRow> = if stamp.total > query.offset() {
                            page_query("", tenant, query).build_query_as().fetch_all(&mut *tx).await?
                        } else {
                            Vec::new()
                        };
                        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                        let children = fetch_children(&mut tx, &ids).await?;
                        let contacts = assemble(rows, children)?.into_iter().map(|(c, _)| c).collect();
                        Ok(ContactPage { stamp, etag, contacts: Some(contacts) })
                    }
                    .await;
                    settle_plain(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(contact_id = id))]
                async fn replace_contact(
                    &self,
                    tenant: &str,
                    id: i64,
                    mut draft: ContactDraft,
                    if_match: Option<&IfMatch>,
                    author: &str,
                ) -> CrmResult<Contact> {
                    let mut tx = self.begin_write().await?;
                    let result: CrmResult<_> = async {
                        refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
                        // Telephones sent without addresses are read with the stored primary address.
                        let stored_country =
                            if draft.addresses.is_none() { primary_country(&mut tx, id).await? } else { None };
                        let mut phones = draft.telephones.take();
                        refuse_on!(
                            check_stored_rules(
                                &mut tx,
                                tenant,
                                draft.property_ids.as_deref(),
                                phones.as_deref_mut().unwrap_or_default(),
                                stored_country,
                            )
                            .await?
                        );
                        draft.telephones = phones;
                        sqlx::query(
                            "UPDATE crm_contacts SET contact_type = $3, title = $4, first_name = $5, last_name = $6, \
                             company_name = $7, account_id = $8, job_title = $9, gender = $10, language = $11, \
                             order_references = COALESCE($12, order_references) WHERE tenant_id = $1 AND id = $2",
                        )
                        .bind(tenant)
                        .bind(id)
                        .bind(draft.contact_type.as_str())
                        .bind(draft.title.as_deref())
                        .bind(draft.first_name.as_deref())
                        .bind(draft.last_name.as_deref())
                        .bind(draft.company_name.as_deref())
                        .bind(draft.account_id.as_deref())
                        .bind(draft.job_title.as_deref())
                        .bind(draft.gender.map(|g| g.as_str()))
                        .bind(draft.language.as_deref())
                        .bind(draft.order_references.as_ref().map(Json))
                        .execute(&mut *tx)
                        .await?;
                        write_collections(&mut tx, tenant, id, &draft).await?;
                        let contact = refuse_on!(finish(&mut tx, tenant, id, Operation::Replace, author).await?);
                        Ok(Ok(contact))
                    }
                    .await;
                    settle(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(contact_id = id))]
                async fn delete_contact(&self, tenant: &str, id: i64, if_match: Option<&IfMatch>) -> CrmResult<()> {
                    let mut tx = self.begin_write().await?;
                    let result: CrmResult<_> = async {
                        refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
                        sqlx::query("DELETE FROM crm_contacts WHERE tenant_id = $1 AND id = $2")
                            .bind(tenant)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        Ok(Ok(()))
                    }
                    .await;
                    settle(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(contact_id = id, kind = %item.kind()))]
                async fn add_contact_item(
                    &self,
                    tenant: &str,
                    id: i64,
                    mut item: ItemDraft,
                    if_match: Option<&IfMatch>,
                    author: &str,
                ) -> CrmResult<(Contact, i64)> {
                    let kind = item.kind();
                    let table = item_table(kind);
                    let mut tx = self.begin_write().await?;
                    let result: CrmResult<_> = async {
                        refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
                        refuse_on!(resolve_item(&mut tx, id, &mut item).await?);
                        let (count,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table} WHERE contact_id = $1"))
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await?;
                        if count >= MAX_ITEMS as i64 {
                            return Ok(Err(Refusal::Invalid(vec![FieldError::new(
                                "",
                                ErrorKind::Invalid,
                                codes::TOO_MANY_ITEMS,
                                format!("a contact has at most {MAX_ITEMS} of these"),
                            )])));
                        }
                        if item.primary() {
                            clear_primary(&mut tx, table, id, 0).await?;
                        }
                        let (item_id,): (i64,) = match &item {
                            ItemDraft::Email(e) => sqlx::query_as(
                                "INSERT INTO crm_contact_emails (tenant_id, contact_id, email_address, type, is_primary) \
                                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                            )
                            .bind(tenant)
                            .bind(id)
                            .bind(e.email_address.as_str())
                            .bind(e.kind.as_deref())
                            .bind(e.primary),
                            ItemDraft::Telephone(t) => sqlx::query_as(
                                "INSERT INTO crm_contact_telephones (tenant_id, contact_id, number, e164, type, extension, \
                                 country_code, is_primary) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                            )
                            .bind(tenant)
                            .bind(id)
                            .bind(t.number.as_str())
                            .bind(t.e164.as_deref().unwrap_or_default())
                            .bind(t.kind.as_deref())
                            .bind(t.extension.as_deref())
                            .bind(t.country_code.as_deref())
                            .bind(t.primary),
                            ItemDraft::Address(a) => sqlx::query_as(
                                "INSERT INTO crm_contact_addresses (tenant_id, contact_id, address_line1, address_line2, \
                                 city, postcode, state_province, country_code, is_primary) \
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                            )
                            .bind(tenant)
                            .bind(id)
                            .bind(a.address_line1.as_str())
                            .bind(a.address_line2.as_deref())
                            .bind(a.city.as_str())
                            .bind(a.postcode.as_deref())
                            .bind(a.state_province.as_deref())
                            .bind(a.country_code.as_str())
                            .bind(a.primary),
                        }
                        .fetch_one(&mut *tx)
                        .await?;
                        promote_oldest(&mut tx, table, id).await?;
                        let contact = refuse_on!(finish(&mut tx, tenant, id, Operation::AddItem(kind), author).await?);
                        Ok(Ok((contact, item_id)))
                    }
                    .await;
                    settle(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(contact_id = id, item_id, kind = %item.kind()))]
                async fn update_contact_item(
                    &self,
                    tenant: &str,
                    id: i64,
                    item_id: i64,
                    mut item: ItemDraft,
                    if_match: Option<&IfMatch>,
                    author: &str,
                ) -> CrmResult<Contact> {
                    let kind = item.kind();
                    let table = item_table(kind);
                    let mut tx = self.begin_write().await?;
                    let result: CrmResult<_> = async {
                        refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
                        if !item_exists(&mut tx, table, id, item_id).await? {
                            return Ok(Err(Refusal::ItemNotFound(item_name(kind))));
                        }
                        refuse_on!(resolve_item(&mut tx, id, &mut item).await?);
                        if item.primary() {
                            clear_primary(&mut tx, table, id, item_id).await?;
                        }
                        // `primary: false` never demotes: a collection keeps its primary until another
                        // item is made primary or it is deleted.
                        match &item {
                            ItemDraft::Email(e) => sqlx::query(
                                "UPDATE crm_contact_emails SET email_address = $3, type = $4, \
                                 is_primary = (is_primary OR $5) WHERE id = $1 AND contact_id = $2",
                            )
                            .bind(item_id)
                            .bind(id)
                            .bind(e.email_address.as_str())
                            .bind(e.kind.as_deref())
                            .bind(e.primary),
                            ItemDraft::Telephone(t) => sqlx::query(
                                "UPDATE crm_contact_telephones SET number = $3, e164 = $4, type = $5, extension = $6, \
                                 country_code = $7, is_primary = (is_primary OR $8) WHERE id = $1 AND contact_id = $2",
                            )
                            .bind(item_id)
                            .bind(id)
                            .bind(t.number.as_str())
                            .bind(t.e164.as_deref().unwrap_or_default())
                            .bind(t.kind.as_deref())
                            .bind(t.extension.as_deref())
                            .bind(t.country_code.as_deref())
                            .bind(t.primary),
                            ItemDraft::Address(a) => sqlx::query(
                                "UPDATE crm_contact_addresses SET address_line1 = $3, address_line2 = $4, city = $5, \
                                 postcode = $6, state_province = $7, country_code = $8, \
                                 is_primary = (is_primary OR $9) WHERE id = $1 AND contact_id = $2",
                            )
                            .bind(item_id)
                            .bind(id)
                            .bind(a.address_line1.as_str())
                            .bind(a.address_line2.as_deref())
                            .bind(a.city.as_str())
                            .bind(a.postcode.as_deref())
                            .bind(a.state_province.as_deref())
                            .bind(a.country_code.as_str())
                            .bind(a.primary),
                        }
                        .execute(&mut *tx)
                        .await?;
                        let contact = refuse_on!(finish(&mut tx, tenant, id, Operation::UpdateItem(kind), author).await?);
                        Ok(Ok(contact))
                    }
                    .await;
                    settle(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(contact_id = id, item_id, kind = %kind))]
                async fn delete_contact_item(
                    &self,
                    tenant: &str,
                    id: i64,
                    kind: ItemKind,
                    item_id: i64,
                    if_match: Option<&IfMatch>,
                    author: &str,
                ) -> CrmResult<Contact> {
                    let table = item_table(kind);
                    let mut tx = self.begin_write().await?;
                    let result: CrmResult<_> = async {
                        refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
                        let done = sqlx::query(&format!("DELETE FROM {table} WHERE id = $1 AND contact_id = $2"))
                            .bind(item_id)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        if done.rows_affected() == 0 {
                            return Ok(Err(Refusal::ItemNotFound(item_name(kind))));
                        }
                        promote_oldest(&mut tx, table, id).await?;
                        let contact = refuse_on!(finish(&mut tx, tenant, id, Operation::DeleteItem(kind), author).await?);
                        Ok(Ok(contact))
                    }
                    .await;
                    settle(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(contact_id = id, item_id, kind = %kind))]
                async fn set_primary_contact_item(
                    &self,
                    tenant: &str,
                    id: i64,
                    kind: ItemKind,
                    item_id: i64,
                    if_match: Option<&IfMatch>,
                    author: &str,
                ) -> CrmResult<Contact> {
                    let table = item_table(kind);
                    let mut tx = self.begin_write().await?;
                    let result: CrmResult<_> = async {
                        refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
                        if !item_exists(&mut tx, table, id, item_id).await? {
                            return Ok(Err(Refusal::ItemNotFound(item_name(kind))));
                        }
                        clear_primary(&mut tx, table, id, item_id).await?;
                        sqlx::query(&format!("UPDATE {table} SET is_primary = TRUE WHERE id = $1 AND contact_id = $2"))
                            .bind(item_id)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        let contact = refuse_on!(finish(&mut tx, tenant, id, Operation::SetPrimaryItem(kind), author).await?);
                        Ok(Ok(contact))
                    }
                    .await;
                    settle(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(contact_id = id))]
                async fn add_note(
                    &self,
                    tenant: &str,
                    id: i64,
                    note: NoteDraft,
                    if_match: Option<&IfMatch>,
                    author: &str,
                ) -> CrmResult<(Contact, Note)> {
                    let mut tx = self.begin_write().await?;
                    let result: CrmResult<_> = async {
                        refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
                        let row: NoteRow = sqlx::query_as(&format!(
                            "INSERT INTO crm_contact_notes (tenant_id, contact_id, content, author, tags, created_at) \
                             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {NOTE_COLUMNS}"
                        ))
                        .bind(tenant)
                        .bind(id)
                        .bind(note.content.as_str())
                        .bind(note.author.as_str())
                        .bind(Json(&note.tags))
                        .bind(now())
                        .fetch_one(&mut *tx)
                        .await?;
                        let contact = refuse_on!(finish(&mut tx, tenant, id, Operation::AddNote, author).await?);
                        Ok(Ok((contact, row.into())))
                    }
                    .await;
                    settle(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(contact_id = id))]
                async fn list_notes(&self, tenant: &str, id: i64, note_id: Option<i64>) -> CrmResult<Vec<Note>> {
                    let mut tx = self.begin_read().await?;
                    let result: CrmResult<_> = async {
                        refuse_on!(check_live(&mut tx, tenant, id).await?);
                        let rows: Vec<NoteRow> = sqlx::query_as(&format!(
                            "SELECT {NOTE_COLUMNS} FROM crm_contact_notes \
                             WHERE contact_id = $1 AND ($2 IS NULL OR id = $2) ORDER BY id"
                        ))
                        .bind(id)
                        .bind(note_id)
                        .fetch_all(&mut *tx)
                        .await?;
                        if note_id.is_some() && rows.is_empty() {
                            return Ok(Err(Refusal::ItemNotFound("note")));
                        }
                        Ok(Ok(rows.into_iter().map(Note::from).collect()))
                    }
                    .await;
                    settle(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(contact_id = id))]
                async fn replace_custom_fields(
                    &self,
                    tenant: &str,
                    id: i64,
                    fields: Vec<CustomField>,
                    if_match: Option<&IfMatch>,
                    author: &str,
                ) -> CrmResult<Contact> {
                    let mut tx = self.begin_write().await?;
                    let result: CrmResult<_> = async {
                        refuse_on!(lock(&mut tx, tenant, id, if_match).await?);
                        clear_collection(&mut tx, "crm_contact_custom_fields", id).await?;
                        insert_custom_fields(&mut tx, tenant, id, &fields).await?;
                        let contact = refuse_on!(finish(&mut tx, tenant, id, Operation::ReplaceCustomFields, author).await?);
                        Ok(Ok(contact))
                    }
                    .await;
                    settle(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(contact_id = id))]
                async fn list_contact_revisions(&self, tenant: &str, id: i64) -> CrmResult<Vec<Revision>> {
                    let mut tx = self.begin_read().await?;
                    let result: CrmResult<_> = async {
                        refuse_on!(check_live(&mut tx, tenant, id).await?);
                        let rows: Vec<RevisionRow> = sqlx::query_as(
                            "SELECT version, operation, changed_at, changed_by, contact FROM crm_contact_revisions \
                             WHERE tenant_id = $1 AND contact_id = $2 ORDER BY version",
                        )
                        .bind(tenant)
                        .bind(id)
                        .fetch_all(&mut *tx)
                        .await?;
                        Ok(Ok(rows.into_iter().map(Revision::from).collect()))
                    }
                    .await;
                    settle(tx, result).await
                }

                #[tracing::instrument(skip_all, fields(primary, secondary))]
                async fn merge_contacts(
                    &self,
                    tenant: &str,
                    primary: i64,
                    secondary: i64,
                    author: &str,
                ) -> StoreResult<MergeOutcome> {
                    if primary == secondary {
                        return Ok(MergeOutcome::NoOp { message: "a contact cannot be merged into itself".into() });
                    }
                    let mut tx = self.begin_write().await?;
                    let result: StoreResult<_> = async {
                        // Both rows, locked in id order so two opposite merges cannot deadlock.
                        let rows: Vec<(i64, Option<i64>, Json<Vec<String>>)> = sqlx::query_as(concat!(
                            "SELECT id, merged_into, order_references FROM crm_contacts \
                             WHERE tenant_id = $1 AND id IN ($2, $3) ORDER BY id",
                            $lock
                        ))
                        .bind(tenant)
                        .bind(primary)
                        .bind(secondary)
                        .fetch_all(&mut *tx)
                        .await?;
                        let find = |id: i64| rows.iter().find(|r| r.0 == id);
                        let (Some(p), Some(s)) = (find(primary), find(secondary)) else {
                            let missing = if find(primary).is_none() { primary } else { secondary };
                            return Ok(MergeOutcome::NoOp { message: format!("contact {missing} does not exist") });
                        };
                        for (id, merged_into, _) in [p, s] {
                            if merged_into.is_some() {
                                return Ok(MergeOutcome::NoOp { message: format!("contact {id} is already merged") });
                            }
                        }
                        let mut order_references = p.2 .0.clone();
                        for r in &s.2 .0 {
                            if !order_references.contains(r) {
                                order_references.push(r.clone());
                            }
                        }
                        // Exact duplicates stay behind and are dropped; moved items are never primary,
                        // so the primary keeps its primaries.
                        move_rows(
                            &mut tx,
                            "crm_contact_emails",
                            ", is_primary = FALSE",
                            "p.email_address = crm_contact_emails.email_address \
                             AND p.type IS NOT DISTINCT FROM crm_contact_emails.type",
                            primary,
                            secondary,
                        )
                        .await?;
                        move_rows(
                            &mut tx,
                            "crm_contact_telephones",
                            ", is_primary = FALSE",
                            "p.e164 = crm_contact_telephones.e164 AND p.type IS NOT DISTINCT FROM crm_contact_telephones.type \
                             AND p.extension IS NOT DISTINCT FROM crm_contact_telephones.extension",
                            primary,
                            secondary,
                        )
                        .await?;
                        move_rows(
                            &mut tx,
                            "crm_contact_addresses",
                            ", is_primary = FALSE",
                            "p.address_line1 = crm_contact_addresses.address_line1 \
                             AND p.address_line2 IS NOT DISTINCT FROM crm_contact_addresses.address_line2 \
                             AND p.city = crm_contact_addresses.city \
                             AND p.postcode IS NOT DISTINCT FROM crm_contact_addresses.postcode \
                             AND p.state_province IS NOT DISTINCT FROM crm_contact_addresses.state_province \
                             AND p.country_code = crm_contact_addresses.country_code",
                            primary,
                            secondary,
                        )
                        .await?;
                        move_rows(
                            &mut tx,
                            "crm_contact_custom_fields",
                            "",
                            "p.name = crm_contact_custom_fields.name",
                            primary,
                            secondary,
                        )
                        .await?;
                        move_rows(
                            &mut tx,
                            "crm_contact_properties",
                            "",
                            "p.property_id = crm_contact_properties.property_id",
                            primary,
                            secondary,
                        )
                        .await?;
                        sqlx::query("UPDATE crm_contact_notes SET contact_id = $1 WHERE contact_id = $2")
                            .bind(primary)
                            .bind(secondary)
                            .execute(&mut *tx)
                            .await?;
                        // The merged collections must respect the per-contact maximums; if one would
                        // not, the merge is refused and rolled back (see below).
                        if let Some(message) = over_cap(&mut tx, primary, order_references.len()).await? {
                            return Ok(MergeOutcome::NoOp { message });
                        }
                        // A primary that had none of a collection gets the oldest moved item as primary.
                        for table in ["crm_contact_emails", "crm_contact_telephones", "crm_contact_addresses"] {
                            promote_oldest(&mut tx, table, primary).await?;
                        }
                        let at = now();
                        sqlx::query(
                            "UPDATE crm_contacts SET order_references = $3, version = version + 1, updated_at = $4 \
                             WHERE tenant_id = $1 AND id = $2",
                        )
                        .bind(tenant)
                        .bind(primary)
                        .bind(Json(&order_references))
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "UPDATE crm_contacts SET merged_into = $3, order_references = $4, version = version + 1, \
                             updated_at = $5 WHERE tenant_id = $1 AND id = $2",
                        )
                        .bind(tenant)
                        .bind(secondary)
                        .bind(primary)
                        .bind(Json(Vec::<String>::new()))
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                        let both = fetch_contacts(&mut tx, tenant, &[primary, secondary]).await?;
                        let get = |id: i64| {
                            both.iter()
                                .find(|(c, _)| c.id == id)
                                .map(|(c, _)| c)
                                .ok_or_else(|| StoreError::Other("merged contact vanished".into()))
                        };
                        let (p, s) = (get(primary)?, get(secondary)?);
                        insert_revisions(&mut tx, tenant, &[(p, Operation::Merge), (s, Operation::MergedInto)], author).await?;
                        let primary_contact = p.clone();
                        Ok(MergeOutcome::Merged {
                            primary: Box::new(primary_contact),
                            message: format!("contact {secondary} was merged into contact {primary}"),
                        })
                    }
                    .await;
                    match result {
                        // A refused merge changes nothing, even when refused after moving rows.
                        Ok(outcome @ MergeOutcome::NoOp { .. }) => {
                            let _ = tx.rollback().await;
                            Ok(outcome)
                        }
                        other => settle_plain(tx, other).await,
                    }
                }
            }
        }
    };
}

pub(super) use impl_crm_store;
