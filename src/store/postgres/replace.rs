//! The contact-set replace on Postgres: one transaction of six statements sent together, one round
//! trip in all.
//!
//! Sent one after the other (as sqlx does), the replace cost eight round trips with the release ping,
//! each one a wake-up of the service and of its Postgres backend: on this machine's two cores the
//! service reached 0.6 of pgbench's rate running the same statements. Pipelined, the backend runs the
//! whole transaction in one wake-up and holds the property's row lock for no client round trip.
//!
//! The statements: `BEGIN`; bump the revision, record the new set in the history and record the
//! `contact_set.replaced` event and its audit entry (one statement: the bump's `RETURNING` feeds the
//! history row, whose `RETURNING` feeds the event and the audit entry); delete the old contacts (their phones go by `ON
//! DELETE CASCADE`); insert the contacts, then their phones, each as one statement over arrays
//! (`unnest`), so the text is the same for every set and prepared once per connection; `COMMIT`.
//!
//! Nothing waits for the bump before the rest is sent, so a bump that matches no row (no such
//! property, `If-Match` stale, or a set equal to the stored one by fingerprint) must stop the
//! transaction by itself: the history row then takes a
//! null revision, which its `NOT NULL` rejects, and every later statement fails as "transaction
//! aborted", so the `COMMIT` ends in a rollback. That one error is read back as "not bumped".
//!
//! Cancellation: tokio-postgres sends a request when its future is first polled, and all six are
//! polled before this function first waits, so a replace dropped mid-flight (client gone, request
//! timeout) has already sent its `COMMIT` or `ROLLBACK`: the connection never goes back to the pool
//! inside a transaction.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;

use deadpool_postgres::ClientWrapper;
use futures_util::future::{join_all, maybe_done};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::Row;

use super::client::client_error;
use crate::domain::contact_set::{Address, ContactSet, ProfileType, StoredForm};
use crate::store::audit::Origin;
use crate::store::contact_sets::rows::profiles_column;
use crate::store::contact_sets::{why_not_bumped, ReplaceOutcome};
use crate::store::error::{StoreError, StoreResult};

const BEGIN: &str = "BEGIN";

/// Bumps the revision (taking the property's row lock, so replaces of one property serialise; the
/// `If-Match` and identical-set checks are in the same `WHERE`), records the new set under the
/// bumped revision and records the event and the audit entry.
const BUMP_AND_RECORD: &str = "WITH bumped AS (\
       UPDATE properties SET contact_set_revision = contact_set_revision + 1, updated_at = now(), \
         contact_set_hash = $7 \
       WHERE tenant_id = $1 AND id = $2 AND ($3::int8 IS NULL OR contact_set_revision = $3) \
         AND contact_set_hash IS DISTINCT FROM $7 \
       RETURNING contact_set_revision), \
     recorded AS (INSERT INTO contact_set_revisions \
       (tenant_id, property_id, revision, created_at, created_by, contact_count, contacts) \
       VALUES ($1, $2, (SELECT contact_set_revision FROM bumped), now(), $4, $5, $6) \
       RETURNING revision), \
     audited AS (INSERT INTO audit_entries (tenant_id, occurred_at, key_id, key_name, operation, \
       resource_type, resource_id, request_id, detail) \
       SELECT $1, now(), $8::text, $9::text, 'contact_set.replaced', 'contact_set', $2, $10::text, \
         jsonb_build_object('revision', revision) FROM recorded) \
     INSERT INTO events (tenant_id, type, occurred_at, actor, data) \
     SELECT $1, 'contact_set.replaced', now(), $4, \
       jsonb_build_object('property_id', $2::text, 'revision', revision) FROM recorded \
     RETURNING (data->>'revision')::int8";

const DELETE_CONTACTS: &str = "DELETE FROM property_contacts WHERE tenant_id = $1 AND property_id = $2";

const INSERT_CONTACTS: &str = "INSERT INTO property_contacts (tenant_id, property_id, position, \
       profiles, is_general, person_name, person_gender, person_job_title, person_language, email, \
       address_line, city_name, postal_code, country_code, address_language, state_prov_code) \
     SELECT $1::text, $2::text, c.* FROM unnest($3::int4[], $4::text[], $5::bool[], $6::text[], \
       $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], \
       $14::text[], $15::text[], $16::text[]) AS c";

const INSERT_PHONES: &str = "INSERT INTO property_contact_phones (tenant_id, property_id, \
       contact_position, position, phone_number, tech_type, extension) \
     SELECT $1::text, $2::text, p.* FROM unnest($3::int4[], $4::int4[], $5::text[], $6::int4[], \
       $7::text[]) AS p";

/// Where [`BUMP_AND_RECORD`] is in the pipeline.
const BUMP_STEP: usize = 1;

const COMMIT: &str = "COMMIT";
const ROLLBACK: &str = "ROLLBACK";

const CURRENT_REVISION: &str =
    "SELECT contact_set_revision, contact_set_hash FROM properties WHERE tenant_id = $1 AND id = $2";

/// How often a replace runs again when another replace of the property committed between its bump
/// matching nothing and the read of why.
const MAX_ATTEMPTS: usize = 3;

type Param<'a> = &'a (dyn ToSql + Sync);

/// What a replace needs, owned: it runs on a task of its own (see `pipeline.rs`).
pub(super) struct Job {
    pub(super) tenant: String,
    pub(super) property_id: String,
    pub(super) set: ContactSet,
    pub(super) expected_revision: Option<i64>,
    pub(super) author: String,
    /// Who asked, for the audit entry (the job runs outside the request's task).
    pub(super) origin: Origin,
    /// End in `ROLLBACK` whatever happens (see `store::dry_run`).
    pub(super) dry_run: bool,
}

/// How a hot path failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// The connection was gone before anything of the work ran on the server: safe to run again.
    Dead(String),
    Store(StoreError),
}

impl Failure {
    /// A read's error: a connection that is gone is `Dead` (a read may always run again).
    pub(super) fn classify(e: &tokio_postgres::Error) -> Failure {
        if connection_gone(e) {
            Failure::Dead(e.to_string())
        } else {
            Failure::Store(client_error(e))
        }
    }

    pub(super) fn into_store(self) -> StoreError {
        match self {
            Failure::Dead(e) => StoreError::Unavailable(format!("database connection: {e}")),
            Failure::Store(e) => e,
        }
    }
}

/// Closed, or ended by the server (SQLSTATE classes 57 and 08).
fn connection_gone(e: &tokio_postgres::Error) -> bool {
    e.is_closed() || matches!(client_error(e), StoreError::Unavailable(_))
}

/// Replaces the set on `client`, a connection of the pipeline pool that no one else is using.
pub(super) async fn replace(client: &ClientWrapper, job: &Job) -> Result<ReplaceOutcome, Failure> {
    let stored = job.set.stored_form();
    for _ in 0..MAX_ATTEMPTS {
        if let Some(outcome) = replace_once(client, job, &stored).await? {
            return Ok(outcome);
        }
    }
    Err(Failure::Store(StoreError::Other("the contact set kept changing during the replace".into())))
}

/// One pipelined replace; `None` when its bump matched nothing for no reason still true after it.
async fn replace_once(
    client: &ClientWrapper,
    job: &Job,
    stored: &StoredForm,
) -> Result<Option<ReplaceOutcome>, Failure> {
    let Job { tenant, property_id, set, expected_revision, author, origin, .. } = job;
    let (tenant, property_id, author) = (tenant.as_str(), property_id.as_str(), author.as_str());
    // Nothing is sent before the pipeline but these prepares: a dead connection failing one is `Dead`.
    let prepare = |sql: &'static str| async move {
        client.prepare_cached(sql).await.map_err(|e| Failure::classify(&e))
    };
    let steps = [
        prepare(BEGIN).await?,
        prepare(BUMP_AND_RECORD).await?,
        prepare(DELETE_CONTACTS).await?,
        prepare(INSERT_CONTACTS).await?,
        prepare(INSERT_PHONES).await?,
    ];
    // Both ends are prepared before anything is sent: once the pipeline has started, nothing may wait
    // before its end is sent (see the module comment on cancellation).
    let (commit, rollback) = (prepare(COMMIT).await?, prepare(ROLLBACK).await?);

    let contact_count = i32::try_from(set.contacts.len()).unwrap_or(i32::MAX);
    let (history, fingerprint) = (Json(&stored.contacts), stored.fingerprint.as_str());
    let contacts = ContactColumns::new(set);
    let phones = PhoneColumns::new(set);
    let key: [Param; 2] = [&tenant, &property_id];
    let (key_id, key_name, request_id) = (&origin.key_id, &origin.key_name, &origin.request_id);
    let bump: [Param; 10] = [
        &tenant,
        &property_id,
        expected_revision,
        &author,
        &contact_count,
        &history,
        &fingerprint,
        key_id,
        key_name,
        request_id,
    ];
    let contact_params = contacts.params(&key);
    let phone_params = phones.params(&key);
    let params: [&[Param]; 5] = [&[], &bump, &key, &contact_params, &phone_params];

    let mut pipeline: Vec<_> = steps
        .iter()
        .zip(params)
        .map(|(statement, params)| maybe_done(Box::pin(client.query(statement, params))))
        .collect();
    // The first poll sends each statement. One that failed already may not have been sent (a
    // closed connection; a parameter that does not encode): then end in ROLLBACK, whatever the rest.
    poll_fn(|cx| {
        for step in &mut pipeline {
            let _ = Pin::new(step).poll(cx);
        }
        Poll::Ready(())
    })
    .await;
    let all_sent = !pipeline.iter_mut().any(|step| matches!(Pin::new(step).output_mut(), Some(Err(_))));
    pipeline.push(maybe_done(Box::pin(
        client.query(if all_sent && !job.dry_run { &commit } else { &rollback }, &[]),
    )));
    join_all(pipeline.iter_mut()).await;

    let mut revision = None;
    for (i, step) in pipeline.iter_mut().enumerate() {
        match Pin::new(step).take_output().expect("every step finished") {
            Ok(rows) if i == BUMP_STEP => revision = Some(bumped_revision(&rows).map_err(Failure::Store)?),
            Ok(_) => {}
            Err(e) if i == BUMP_STEP && not_bumped(&e) => {
                return current_outcome(client, tenant, property_id, *expected_revision, fingerprint)
                    .await
                    .map_err(Failure::Store);
            }
            // `BEGIN` itself never ran: the connection was gone before the pipeline reached the server.
            Err(e) if i == 0 && connection_gone(&e) => return Err(Failure::Dead(e.to_string())),
            // The first error is the cause; the statements after it only report the aborted transaction.
            Err(e) => return Err(Failure::Store(client_error(&e))),
        }
    }
    let revision =
        revision.ok_or_else(|| Failure::Store(StoreError::Other("the bump returned nothing".into())))?;
    Ok(Some(ReplaceOutcome::Replaced { revision }))
}

fn bumped_revision(rows: &[Row]) -> StoreResult<i64> {
    let row = rows.first().ok_or_else(|| StoreError::Other("the bump returned no row".into()))?;
    row.try_get(0).map_err(|e| StoreError::Other(format!("decoding the bumped revision: {e}")))
}

/// The error [`BUMP_AND_RECORD`] raises when it bumped nothing (see the module comment).
fn not_bumped(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        *db.code() == SqlState::NOT_NULL_VIOLATION
            && db.table() == Some("contact_set_revisions")
            && db.column() == Some("revision")
    })
}

/// Why nothing was bumped (see [`why_not_bumped`]).
async fn current_outcome(
    client: &ClientWrapper,
    tenant: &str,
    property_id: &str,
    expected_revision: Option<i64>,
    fingerprint: &str,
) -> StoreResult<Option<ReplaceOutcome>> {
    let statement = client.prepare_cached(CURRENT_REVISION).await.map_err(|e| client_error(&e))?;
    let row = client.query_opt(&statement, &[&tenant, &property_id]).await.map_err(|e| client_error(&e))?;
    let decode = |e: tokio_postgres::Error| StoreError::Other(format!("decoding a revision: {e}"));
    let current = match row {
        None => None,
        Some(row) => Some((row.try_get(0).map_err(decode)?, row.try_get(1).map_err(decode)?)),
    };
    Ok(why_not_bumped(current, expected_revision, fingerprint))
}

/// The contacts as one array per column, in [`INSERT_CONTACTS`]' order.
struct ContactColumns<'a> {
    position: Vec<i32>,
    profiles: Vec<String>,
    is_general: Vec<bool>,
    name: Vec<&'a str>,
    gender: Vec<Option<&'static str>>,
    job_title: Vec<&'a str>,
    language: Vec<&'a str>,
    email: Vec<&'a str>,
    address_line: Vec<Option<&'a str>>,
    city_name: Vec<Option<&'a str>>,
    postal_code: Vec<Option<&'a str>>,
    country_code: Vec<Option<&'a str>>,
    address_language: Vec<Option<&'a str>>,
    state_prov_code: Vec<Option<&'a str>>,
}

impl<'a> ContactColumns<'a> {
    fn new(set: &'a ContactSet) -> Self {
        let contacts = &set.contacts;
        let address = |field: fn(&'a Address) -> Option<&'a str>| {
            contacts.iter().map(|c| c.address.as_ref().and_then(field)).collect::<Vec<_>>()
        };
        ContactColumns {
            position: (0..).take(contacts.len()).collect(),
            profiles: contacts.iter().map(|c| profiles_column(&c.profiles)).collect(),
            is_general: contacts.iter().map(|c| c.profiles.contains(&ProfileType::General)).collect(),
            name: contacts.iter().map(|c| c.person.name.as_str()).collect(),
            gender: contacts.iter().map(|c| c.person.gender.map(|g| g.as_str())).collect(),
            job_title: contacts.iter().map(|c| c.person.job_title.as_str()).collect(),
            language: contacts.iter().map(|c| c.person.language_code.as_str()).collect(),
            email: contacts.iter().map(|c| c.email.as_str()).collect(),
            address_line: address(|a| Some(a.address_line.as_str())),
            city_name: address(|a| Some(a.city_name.as_str())),
            postal_code: address(|a| Some(a.postal_code.as_str())),
            country_code: address(|a| Some(a.country_code.as_str())),
            address_language: address(|a| Some(a.language_code.as_str())),
            state_prov_code: address(|a| a.state_prov_code.as_deref()),
        }
    }

    fn params<'p>(&'p self, key: &[Param<'p>; 2]) -> [Param<'p>; 16] {
        [
            key[0],
            key[1],
            &self.position,
            &self.profiles,
            &self.is_general,
            &self.name,
            &self.gender,
            &self.job_title,
            &self.language,
            &self.email,
            &self.address_line,
            &self.city_name,
            &self.postal_code,
            &self.country_code,
            &self.address_language,
            &self.state_prov_code,
        ]
    }
}

/// Every phone of the set as one array per column, in [`INSERT_PHONES`]' order.
#[derive(Default)]
struct PhoneColumns<'a> {
    contact_position: Vec<i32>,
    position: Vec<i32>,
    number: Vec<&'a str>,
    tech_type: Vec<i32>,
    extension: Vec<Option<&'a str>>,
}

impl<'a> PhoneColumns<'a> {
    fn new(set: &'a ContactSet) -> Self {
        let mut columns = PhoneColumns::default();
        for (i, contact) in (0..).zip(&set.contacts) {
            for (j, phone) in (0..).zip(&contact.phones) {
                columns.contact_position.push(i);
                columns.position.push(j);
                columns.number.push(phone.phone_number.as_str());
                columns.tech_type.push(i32::from(phone.tech_type.code()));
                columns.extension.push(phone.extension.as_deref());
            }
        }
        columns
    }

    fn params<'p>(&'p self, key: &[Param<'p>; 2]) -> [Param<'p>; 7] {
        [
            key[0],
            key[1],
            &self.contact_position,
            &self.position,
            &self.number,
            &self.tech_type,
            &self.extension,
        ]
    }
}
