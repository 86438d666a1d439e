//! Privacy use cases (GDPR articles 15 and 17): everything the tenant holds about one person
//! ([`PrivacyStore::export_subject`]) and its erasure ([`PrivacyStore::erase_subject`]), each one
//! transaction that also writes its audit entry.
//!
//! Finding the person: a [`Subject`] gives e-mail addresses and E.164 phones (a CRM contact id gives
//! that contact's own). They match
//! - CRM contacts holding one of them now, or in any past revision, and every tombstone merged
//!   (directly or in a chain) into one of those;
//! - customer contacts with that e-mail, or with a phone whose digits are the E.164 digits;
//! - contacts inside contact-set revisions (current or past) with that e-mail or phone.
//!
//! Erasure deletes the CRM contacts (their revisions, notes, custom fields, links and tombstones go
//! by `ON DELETE CASCADE`) and the customer contacts, redacts the matching contacts inside the
//! stored contact-set revisions, and deletes every kept idempotency answer whose body names the
//! person. A property's current set is not rewritten: the channel manager owns it, so the answer
//! names it as needing a new PUT. The feed and the webhook delivery log hold ids only (see
//! [`crate::domain::change`]); the erasure adds `contact.deleted` and `customer_contacts.replaced`
//! events so that followers drop their copies.

use std::collections::BTreeSet;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::types::Json;

use super::backend::{Backend, SqlStore};
use super::crm::queries::fetch_contacts;
use super::error::StoreResult;
use super::query::{query, Sql, SqlConn};
use super::write::now;
use super::{audit, changes};
use crate::domain::audit::AuditAction;
use crate::domain::change::{Change, ChangeType};
use crate::domain::contact_set::Contact as SetContact;
use crate::domain::crm::Contact;
use crate::domain::privacy::Subject;

/// What replaces a redacted value inside a contact-set revision.
pub const REDACTED: &str = "[erased]";
/// What replaces a redacted phone number: still `+` and digits, as readers of the history expect,
/// and no one's number.
pub const REDACTED_PHONE: &str = "+0";

/// Privacy use cases.
pub trait PrivacyStore: Send + Sync {
    /// Everything the tenant holds about `subject`, audited as `privacy.export` by `actor`.
    fn export_subject(
        &self,
        tenant: &str,
        subject: &Subject,
        actor: &str,
    ) -> impl Future<Output = StoreResult<SubjectExport>> + Send;

    /// Erases `subject` (or, with `dry_run`, only says what would go), audited as
    /// `privacy.erasure` (`privacy.erasure.dry_run`) by `actor`.
    fn erase_subject(
        &self,
        tenant: &str,
        subject: &Subject,
        dry_run: bool,
        actor: &str,
    ) -> impl Future<Output = StoreResult<Erasure>> + Send;
}

/// A subject export: every record that names the person.
#[derive(Debug, Serialize)]
pub struct SubjectExport {
    pub crm_contacts: Vec<ExportedContact>,
    pub merged_tombstones: Vec<ExportedContact>,
    pub customer_contacts: Vec<CustomerContactRecord>,
    pub contact_set_revisions: Vec<SetRevisionRecord>,
    /// Properties whose current set names the person (even when its history copy was redacted).
    pub current_contact_sets: Vec<SetRevisionRef>,
}

/// A CRM contact in its v3 shape, with its history and notes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedContact {
    #[serde(flatten)]
    pub contact: Contact,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<i64>,
    pub revisions: Vec<RevisionRecord>,
    pub notes: Vec<NoteRecord>,
}

/// One stored version of a CRM contact, as `GET .../revisions` shows it.
#[derive(Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct RevisionRecord {
    #[serde(skip)]
    contact_id: i64,
    pub version: i64,
    pub operation: String,
    pub changed_at: DateTime<Utc>,
    pub changed_by: String,
    pub contact: Json<Box<RawValue>>,
}

/// One note of a CRM contact.
#[derive(Debug, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct NoteRecord {
    #[serde(skip)]
    contact_id: i64,
    pub id: i64,
    pub content: String,
    pub author: String,
    pub tags: Json<Vec<String>>,
    pub created_at: DateTime<Utc>,
}

/// One billing or service contact of a customer.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct CustomerContactRecord {
    pub customer_id: String,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub contact_type: String,
    pub name: String,
    pub work_phone: Option<String>,
    pub work_phone_extension: Option<String>,
    pub mobile_phone: Option<String>,
    pub fax: Option<String>,
    pub email: Option<String>,
    pub organization_name: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A contact-set revision naming the person, with only the contacts that do.
#[derive(Debug, Serialize)]
pub struct SetRevisionRecord {
    pub property_id: String,
    pub revision: i64,
    /// The property's current set: an erasure leaves it for the channel manager to replace.
    pub current: bool,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub contacts: Vec<SetContact>,
}

/// What an erasure removed (or, in a dry run, would remove).
#[derive(Debug, Default, Serialize)]
pub struct Erasure {
    pub dry_run: bool,
    pub erased: Erased,
    /// Current contact sets that still name the person: each needs a new PUT without them.
    pub needs_new_put: Vec<SetRevisionRef>,
}

/// The erased records, by id; counts where the records have no id of their own.
#[derive(Debug, Default, Serialize)]
pub struct Erased {
    pub crm_contacts: Vec<i64>,
    pub merged_tombstones: Vec<i64>,
    pub crm_revisions: u64,
    pub notes: u64,
    pub custom_fields: u64,
    pub customer_contacts: Vec<CustomerContactRef>,
    /// Revisions whose matching contacts were redacted (the history copy of a current set too).
    pub contact_set_revisions: Vec<SetRevisionRef>,
    pub idempotency_answers: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerContactRef {
    pub customer_id: String,
    #[serde(rename = "type")]
    pub contact_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetRevisionRef {
    pub property_id: String,
    pub revision: i64,
}

impl Erasure {
    /// The audit entry's detail: how many records of each kind, never whose.
    fn counts(&self) -> serde_json::Value {
        let e = &self.erased;
        serde_json::json!({
            "crm_contacts": e.crm_contacts.len(),
            "merged_tombstones": e.merged_tombstones.len(),
            "crm_revisions": e.crm_revisions,
            "notes": e.notes,
            "custom_fields": e.custom_fields,
            "customer_contacts": e.customer_contacts.len(),
            "contact_set_revisions": e.contact_set_revisions.len(),
            "idempotency_answers": e.idempotency_answers,
            "needs_new_put": self.needs_new_put.len(),
        })
    }
}

/// The e-mail addresses (lowercase) and E.164 phones that identify the person.
#[derive(Debug, Default)]
struct Identifiers {
    emails: BTreeSet<String>,
    phones: BTreeSet<String>,
}

impl Identifiers {
    fn is_empty(&self) -> bool {
        self.emails.is_empty() && self.phones.is_empty()
    }

    fn names_set_contact(&self, c: &SetContact) -> bool {
        self.emails.contains(&c.email.to_lowercase())
            || c.phones.iter().any(|p| self.phones.contains(&p.phone_number))
    }

    /// Customer phones are stored normalised, as digits with or without a leading `+`.
    fn customer_phones(&self) -> Vec<String> {
        self.phones.iter().flat_map(|p| [p.clone(), p.trim_start_matches('+').to_owned()]).collect()
    }

    /// `(lower(column) LIKE '%email%' OR column LIKE '%phone%' ...)` over a JSON or text column.
    fn push_mentioned_in(&self, sql: &mut Sql<'_>, column: &str) {
        // E-mails compare without case (ASCII, which both backends' `lower` agree on).
        let emails = self.emails.iter().map(|e| (format!("lower(CAST({column} AS TEXT))"), e));
        let phones = self.phones.iter().map(|p| (format!("CAST({column} AS TEXT)"), p));
        sql.push("(");
        for (i, (text, value)) in emails.chain(phones).enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            sql.push(text).push(" LIKE ").push_bind(like_pattern(value)).push(" ESCAPE '\\'");
        }
        sql.push(")");
    }
}

/// `%value%` with LIKE's wildcards in `value` escaped.
fn like_pattern(value: &str) -> String {
    let mut p = String::with_capacity(value.len() + 2);
    p.push('%');
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Everything found about one person, read in the use case's transaction.
#[derive(Default)]
struct Found {
    contacts: Vec<(Contact, Option<i64>)>,
    customer_contacts: Vec<CustomerContactRecord>,
    /// Every matching revision, whole, with the positions of the contacts that name the person.
    revisions: Vec<(SetRevisionRecord, Vec<SetContact>, Vec<usize>)>,
    /// Properties whose current set (the served rows, not its history copy) names the person.
    current_sets: Vec<SetRevisionRef>,
}

impl Found {
    fn contact_ids(&self) -> Vec<i64> {
        self.contacts.iter().map(|(c, _)| c.id).collect()
    }

    /// Every value that names the person, as a JSON string literal (`"anna@example.com"`): what a
    /// kept answer body holds when it names them.
    fn needles(&self, ids: &Identifiers) -> BTreeSet<String> {
        let mut values: Vec<&str> = Vec::new();
        values.extend(ids.emails.iter().map(String::as_str));
        values.extend(ids.phones.iter().map(String::as_str));
        for (c, _) in &self.contacts {
            values.extend([&c.first_name, &c.last_name].into_iter().flatten().map(String::as_str));
            values.extend(c.email_addresses.iter().map(|e| e.email_address.as_str()));
            values.extend(c.telephones.iter().flat_map(|t| [t.number.as_str(), t.e164.as_str()]));
            values.extend(c.addresses.iter().map(|a| a.address_line1.as_str()));
        }
        for c in &self.customer_contacts {
            values.push(c.name.as_str());
            values.extend(
                [&c.email, &c.work_phone, &c.mobile_phone, &c.fax].into_iter().flatten().map(String::as_str),
            );
        }
        for (_, contacts, matched) in &self.revisions {
            for c in matched.iter().map(|&i| &contacts[i]) {
                values.extend([c.person.name.as_str(), c.email.as_str()]);
                values.extend(c.phones.iter().map(|p| p.phone_number.as_str()));
            }
        }
        values
            .into_iter()
            .filter(|v| !v.trim().is_empty())
            .map(|v| serde_json::Value::String(v.to_owned()).to_string())
            .collect()
    }
}

/// The identifiers `subject` gives: a contact id gives its contact's current e-mails and phones.
async fn identifiers<C: SqlConn>(conn: &mut C, tenant: &str, subject: &Subject) -> StoreResult<Identifiers> {
    let mut ids = Identifiers::default();
    match subject {
        Subject::Email(e) => {
            ids.emails.insert(e.to_lowercase());
        }
        Subject::Phone(p) => {
            ids.phones.insert(p.clone());
        }
        Subject::ContactId(id) => {
            for (c, _) in fetch_contacts(conn, tenant, &[*id]).await? {
                ids.emails.extend(c.email_addresses.iter().map(|e| e.email_address.to_lowercase()));
                ids.phones.extend(c.telephones.iter().map(|t| t.e164.clone()));
            }
        }
    }
    Ok(ids)
}

/// Ids of the CRM contacts that name the person now or in their history, with every tombstone
/// merged into one of them.
async fn crm_contact_ids<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    subject: &Subject,
    ids: &Identifiers,
) -> StoreResult<BTreeSet<i64>> {
    let mut found: BTreeSet<i64> = BTreeSet::new();
    if let Subject::ContactId(id) = subject {
        let exists: Option<(i64,)> = query("SELECT id FROM crm_contacts WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(*id)
            .fetch_optional(&mut *conn)
            .await?;
        found.extend(exists.map(|r| r.0));
    }
    if !ids.is_empty() {
        let mut sql = query("SELECT contact_id FROM crm_contact_revisions WHERE tenant_id = ");
        sql.push_bind(tenant).push(" AND ");
        ids.push_mentioned_in(&mut sql, "contact");
        if !ids.emails.is_empty() {
            sql.push(" UNION SELECT contact_id FROM crm_contact_emails WHERE tenant_id = ").push_bind(tenant);
            sql.push(" AND lower(email_address) IN (").push_bind_list(ids.emails.iter().map(String::as_str));
            sql.push(")");
        }
        if !ids.phones.is_empty() {
            sql.push(" UNION SELECT contact_id FROM crm_contact_telephones WHERE tenant_id = ")
                .push_bind(tenant);
            sql.push(" AND e164 IN (").push_bind_list(ids.phones.iter().map(String::as_str)).push(")");
        }
        let rows: Vec<(i64,)> = sql.fetch_all(&mut *conn).await?;
        found.extend(rows.into_iter().map(|r| r.0));
    }
    // Tombstones merged into a match are the same person; chains are followed to their end.
    let mut frontier: Vec<i64> = found.iter().copied().collect();
    while !frontier.is_empty() {
        let mut sql = query("SELECT id FROM crm_contacts WHERE tenant_id = ");
        sql.push_bind(tenant)
            .push(" AND merged_into IN (")
            .push_bind_list(frontier.iter().copied())
            .push(")");
        let rows: Vec<(i64,)> = sql.fetch_all(&mut *conn).await?;
        frontier = rows.into_iter().map(|r| r.0).filter(|id| found.insert(*id)).collect();
    }
    Ok(found)
}

async fn find<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    subject: &Subject,
) -> StoreResult<(Identifiers, Found)> {
    let ids = identifiers(&mut *conn, tenant, subject).await?;
    let contact_ids: Vec<i64> =
        crm_contact_ids(&mut *conn, tenant, subject, &ids).await?.into_iter().collect();
    let mut found = Found::default();
    if !contact_ids.is_empty() {
        found.contacts = fetch_contacts(&mut *conn, tenant, &contact_ids).await?;
    }
    if ids.is_empty() {
        return Ok((ids, found));
    }

    let mut sql = query(
        "SELECT customer_id, type, name, work_phone, work_phone_extension, mobile_phone, fax, email, \
         organization_name, updated_at FROM customer_contacts WHERE tenant_id = ",
    );
    sql.push_bind(tenant).push(" AND (");
    let mut any = false;
    if !ids.emails.is_empty() {
        sql.push("lower(email) IN (").push_bind_list(ids.emails.iter().map(String::as_str)).push(")");
        any = true;
    }
    let digits = ids.customer_phones();
    for column in ["work_phone", "mobile_phone", "fax"] {
        if !digits.is_empty() {
            sql.push(if any { " OR " } else { "" });
            sql.push(format!("{column} IN (")).push_bind_list(digits.iter().cloned()).push(")");
            any = true;
        }
    }
    sql.push(") ORDER BY customer_id, type");
    found.customer_contacts = sql.fetch_all(&mut *conn).await?;

    let mut sql = query("SELECT p.id, p.contact_set_revision FROM properties p WHERE p.tenant_id = ");
    sql.push_bind(tenant).push(" AND (");
    let mut any = false;
    if !ids.emails.is_empty() {
        sql.push(
            "EXISTS (SELECT 1 FROM property_contacts c WHERE c.tenant_id = p.tenant_id \
             AND c.property_id = p.id AND lower(c.email) IN (",
        );
        sql.push_bind_list(ids.emails.iter().map(String::as_str)).push("))");
        any = true;
    }
    if !ids.phones.is_empty() {
        sql.push(if any { " OR " } else { "" });
        sql.push(
            "EXISTS (SELECT 1 FROM property_contact_phones f WHERE f.tenant_id = p.tenant_id \
             AND f.property_id = p.id AND f.phone_number IN (",
        );
        sql.push_bind_list(ids.phones.iter().map(String::as_str)).push("))");
    }
    sql.push(") ORDER BY p.id");
    let rows: Vec<(String, i64)> = sql.fetch_all(&mut *conn).await?;
    found.current_sets =
        rows.into_iter().map(|(property_id, revision)| SetRevisionRef { property_id, revision }).collect();

    // The text match finds candidates; the parsed contacts decide.
    let mut sql = query(
        "SELECT r.property_id, r.revision, r.created_at, r.created_by, r.contacts, p.contact_set_revision \
         FROM contact_set_revisions r JOIN properties p ON p.tenant_id = r.tenant_id AND p.id = r.property_id \
         WHERE r.tenant_id = ",
    );
    sql.push_bind(tenant).push(" AND ");
    ids.push_mentioned_in(&mut sql, "r.contacts");
    sql.push(" ORDER BY r.property_id, r.revision");
    let rows: Vec<SetRevisionRow> = sql.fetch_all(&mut *conn).await?;
    for r in rows {
        let contacts = r.contacts.0;
        let matched: Vec<usize> =
            (0..contacts.len()).filter(|&i| ids.names_set_contact(&contacts[i])).collect();
        if matched.is_empty() {
            continue;
        }
        let record = SetRevisionRecord {
            property_id: r.property_id,
            revision: r.revision,
            current: r.revision == r.contact_set_revision,
            created_at: r.created_at,
            created_by: r.created_by,
            contacts: matched.iter().map(|&i| contacts[i].clone()).collect(),
        };
        found.revisions.push((record, contacts, matched));
    }
    Ok((ids, found))
}

#[derive(sqlx::FromRow)]
struct SetRevisionRow {
    property_id: String,
    revision: i64,
    created_at: DateTime<Utc>,
    created_by: String,
    contacts: Json<Vec<SetContact>>,
    contact_set_revision: i64,
}

/// The contact with everything that names its person replaced; the shape stays readable.
fn redact(c: &mut SetContact) {
    c.person.name = REDACTED.to_owned();
    c.person.gender = None;
    c.email = REDACTED.to_owned();
    for p in &mut c.phones {
        p.phone_number = REDACTED_PHONE.to_owned();
        p.extension = None;
    }
    if let Some(a) = &mut c.address {
        a.address_line = REDACTED.to_owned();
        a.city_name = REDACTED.to_owned();
        a.postal_code = REDACTED.to_owned();
        a.state_prov_code = None;
    }
}

/// `DELETE` or `SELECT count(*)` of the kept answers whose body holds one of `needles`.
fn answers_naming<'q, C: SqlConn>(head: &str, tenant: &'q str, needles: &'q BTreeSet<String>) -> Sql<'q> {
    let mut sql = query(format!("{head} FROM idempotency_keys WHERE tenant_id = "));
    sql.push_bind(tenant).push(" AND state = 'done' AND (");
    let contains = C::BYTES_CONTAINS.replace("{haystack}", "body");
    let (before, after) = contains.split_once("{needle}").expect("the template names its needle");
    for (i, needle) in needles.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        sql.push(before).push_bind(needle.as_bytes()).push(after);
    }
    sql.push(")");
    sql
}

async fn count<C: SqlConn>(conn: &mut C, table: &str, tenant: &str, ids: &[i64]) -> StoreResult<u64> {
    let mut sql = query(format!("SELECT count(*) FROM {table} WHERE tenant_id = "));
    sql.push_bind(tenant).push(" AND contact_id IN (").push_bind_list(ids.iter().copied()).push(")");
    let (n,): (i64,) = sql.fetch_one(conn).await?;
    Ok(u64::try_from(n).unwrap_or_default())
}

async fn erase<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    subject: &Subject,
    dry_run: bool,
    actor: &str,
) -> StoreResult<Erasure> {
    let (ids, found) = find(&mut *conn, tenant, subject).await?;
    let at = now();
    let mut out = Erasure { dry_run, ..Erasure::default() };
    let contact_ids = found.contact_ids();
    for (c, merged_into) in &found.contacts {
        match merged_into {
            Some(_) => out.erased.merged_tombstones.push(c.id),
            None => out.erased.crm_contacts.push(c.id),
        }
    }
    if !contact_ids.is_empty() {
        out.erased.crm_revisions = count(&mut *conn, "crm_contact_revisions", tenant, &contact_ids).await?;
        out.erased.notes = count(&mut *conn, "crm_contact_notes", tenant, &contact_ids).await?;
        out.erased.custom_fields =
            count(&mut *conn, "crm_contact_custom_fields", tenant, &contact_ids).await?;
    }
    out.erased.customer_contacts = found
        .customer_contacts
        .iter()
        .map(|c| CustomerContactRef {
            customer_id: c.customer_id.clone(),
            contact_type: c.contact_type.clone(),
        })
        .collect();
    for (r, _, _) in &found.revisions {
        out.erased
            .contact_set_revisions
            .push(SetRevisionRef { property_id: r.property_id.clone(), revision: r.revision });
    }
    out.needs_new_put = found.current_sets.clone();
    let needles = found.needles(&ids);
    if !needles.is_empty() {
        let (n,): (i64,) =
            answers_naming::<C>("SELECT count(*)", tenant, &needles).fetch_one(&mut *conn).await?;
        out.erased.idempotency_answers = u64::try_from(n).unwrap_or_default();
    }

    if !dry_run {
        if !contact_ids.is_empty() {
            let mut sql = query("DELETE FROM crm_contacts WHERE tenant_id = ");
            sql.push_bind(tenant).push(" AND id IN (").push_bind_list(contact_ids.iter().copied()).push(")");
            sql.execute(&mut *conn).await?;
            for (c, merged_into) in &found.contacts {
                if merged_into.is_none() {
                    let change = Change::contact(ChangeType::ContactDeleted, c.id, c.version);
                    changes::record(&mut *conn, tenant, actor, at, &change).await?;
                }
            }
        }
        for c in &found.customer_contacts {
            query("DELETE FROM customer_contacts WHERE tenant_id = $1 AND customer_id = $2 AND type = $3")
                .bind(tenant)
                .bind(c.customer_id.as_str())
                .bind(c.contact_type.as_str())
                .execute(&mut *conn)
                .await?;
            let change = Change::customer_contacts(&c.customer_id, vec![c.contact_type.clone()]);
            changes::record(&mut *conn, tenant, actor, at, &change).await?;
        }
        // One statement per revision: each holds its own redacted set.
        for (r, contacts, matched) in &found.revisions {
            let mut contacts = contacts.clone();
            matched.iter().for_each(|&i| redact(&mut contacts[i]));
            query("UPDATE contact_set_revisions SET contacts = $4 WHERE tenant_id = $1 AND property_id = $2 AND revision = $3")
                .bind(tenant)
                .bind(r.property_id.as_str())
                .bind(r.revision)
                .bind(Json(&contacts))
                .execute(&mut *conn)
                .await?;
        }
        if !needles.is_empty() {
            answers_naming::<C>("DELETE", tenant, &needles).execute(&mut *conn).await?;
        }
    }
    let operation = if dry_run { "privacy.erasure.dry_run" } else { "privacy.erasure" };
    let mut action = AuditAction::new(operation, "subject", subject.kind());
    action.detail = Some(out.counts());
    audit::record(conn, tenant, actor, at, &action).await?;
    Ok(out)
}

async fn export<C: SqlConn>(
    conn: &mut C,
    tenant: &str,
    subject: &Subject,
    actor: &str,
) -> StoreResult<SubjectExport> {
    let (_, found) = find(&mut *conn, tenant, subject).await?;
    let ids = found.contact_ids();
    let (mut revisions, mut notes): (Vec<RevisionRecord>, Vec<NoteRecord>) = (Vec::new(), Vec::new());
    if !ids.is_empty() {
        let mut sql = query(
            "SELECT contact_id, version, operation, changed_at, changed_by, contact FROM crm_contact_revisions \
             WHERE tenant_id = ",
        );
        sql.push_bind(tenant).push(" AND contact_id IN (").push_bind_list(ids.iter().copied());
        sql.push(") ORDER BY contact_id, version");
        revisions = sql.fetch_all(&mut *conn).await?;
        let mut sql =
            query("SELECT contact_id, id, content, author, tags, created_at FROM crm_contact_notes WHERE tenant_id = ");
        sql.push_bind(tenant).push(" AND contact_id IN (").push_bind_list(ids.iter().copied());
        sql.push(") ORDER BY contact_id, id");
        notes = sql.fetch_all(&mut *conn).await?;
    }
    let mut out = SubjectExport {
        crm_contacts: Vec::new(),
        merged_tombstones: Vec::new(),
        customer_contacts: found.customer_contacts,
        contact_set_revisions: found.revisions.into_iter().map(|(r, _, _)| r).collect(),
        current_contact_sets: found.current_sets,
    };
    for (contact, merged_into) in found.contacts {
        let id = contact.id;
        let exported = ExportedContact {
            contact,
            merged_into,
            revisions: take_where(&mut revisions, |r| r.contact_id == id),
            notes: take_where(&mut notes, |n| n.contact_id == id),
        };
        match merged_into {
            Some(_) => out.merged_tombstones.push(exported),
            None => out.crm_contacts.push(exported),
        }
    }
    let mut action = AuditAction::new("privacy.export", "subject", subject.kind());
    action.detail = Some(serde_json::json!({
        "crm_contacts": out.crm_contacts.len(),
        "merged_tombstones": out.merged_tombstones.len(),
        "customer_contacts": out.customer_contacts.len(),
        "contact_set_revisions": out.contact_set_revisions.len(),
        "current_contact_sets": out.current_contact_sets.len(),
    }));
    audit::record(conn, tenant, actor, now(), &action).await?;
    Ok(out)
}

fn take_where<T>(items: &mut Vec<T>, pred: impl Fn(&T) -> bool) -> Vec<T> {
    let (taken, kept) = std::mem::take(items).into_iter().partition(pred);
    *items = kept;
    taken
}

impl<B: Backend> PrivacyStore for SqlStore<B> {
    #[tracing::instrument(skip_all, fields(subject = subject.kind()))]
    async fn export_subject(
        &self,
        tenant: &str,
        subject: &Subject,
        actor: &str,
    ) -> StoreResult<SubjectExport> {
        // A write transaction: the export's audit entry commits with the snapshot it describes.
        let mut tx = self.backend.begin_write().await?;
        let result = export(&mut tx, tenant, subject, actor).await;
        Self::settle(tx, result, |_| true).await
    }

    #[tracing::instrument(skip_all, fields(subject = subject.kind(), dry_run = dry_run))]
    async fn erase_subject(
        &self,
        tenant: &str,
        subject: &Subject,
        dry_run: bool,
        actor: &str,
    ) -> StoreResult<Erasure> {
        let mut tx = self.backend.begin_write().await?;
        let result = erase(&mut tx, tenant, subject, dry_run, actor).await;
        Self::settle(tx, result, |_| true).await
    }
}
