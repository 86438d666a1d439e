//! Storage of customer billing/service contacts (API.md section 7).
//!
//! A customer is created by its first contact write and holds at most one contact per type.
//!
//! Statement counts: a write is `BEGIN`, one statement and `COMMIT` on Postgres: the customer
//! upsert (`INSERT ... ON CONFLICT DO UPDATE`, which creates the customer or takes its row lock),
//! one batched contact upsert (`INSERT ... VALUES (..), (..) ON CONFLICT (tenant_id, customer_id,
//! type) DO UPDATE`), the change event and the audit entry, as writable CTEs. On SQLite the same
//! statements are one text in one group-commit member. A read is one `LEFT JOIN` query.
//!
//! Why not the statement alone, without `BEGIN` and `COMMIT` (one round trip, 1.4 to 1.7 times
//! the rate in pgbench): sending it would be sending its commit, and a server that freezes with it
//! queued commits it when it wakes, after the request was answered 503. In a transaction the
//! `COMMIT` goes out only once the statement has answered.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::backend::{Backend, SqlStore};
use super::changes;
use super::error::{StoreError, StoreResult};
use super::query::{query, Driver};
use super::write::{now, Written};
use crate::domain::change::Change;
use crate::domain::customer::{ContactType, ContactUpdates, CustomerContact, CustomerId};

/// A stored contact and when it was last replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCustomerContact {
    pub contact: CustomerContact,
    pub updated_at: DateTime<Utc>,
}

/// A customer with its contacts, billing first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCustomer {
    pub customer_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub contacts: Vec<StoredCustomerContact>,
}

/// Customer-contact use cases; one method is one use case and one transaction.
pub trait CustomerStore: Send + Sync {
    /// Creates the customer if it is new, then replaces its contact of each type in `contacts`
    /// (types not sent are kept), in one transaction: the customer upsert, which also takes the
    /// customer's row lock, one batched contact upsert, the change and its audit entry.
    fn upsert_customer_contacts(
        &self,
        tenant: &str,
        customer_id: &CustomerId,
        contacts: &ContactUpdates,
        actor: &str,
    ) -> impl Future<Output = StoreResult<Written>> + Send;

    /// The customer and its contacts in one query; `None` when the tenant has no such customer.
    fn get_customer_contacts(
        &self,
        tenant: &str,
        customer_id: &CustomerId,
    ) -> impl Future<Output = StoreResult<Option<StoredCustomer>>> + Send;
}

/// The customer upsert: creates the customer or takes its row lock. Its `created_at` equals the
/// `now` bound when this write created the row.
const UPSERT_CUSTOMER: &str = "INSERT INTO customers (tenant_id, id, created_at, updated_at) \
     VALUES ($1, $2, $3, $3) \
     ON CONFLICT (tenant_id, id) DO UPDATE SET updated_at = excluded.updated_at";

const INSERT_CONTACTS: &str = "INSERT INTO customer_contacts (tenant_id, customer_id, type, name, \
     work_phone, work_phone_extension, mobile_phone, fax, email, organization_name, updated_at) ";

/// Appended to the batched insert: a contact sent replaces the stored one of its type whole.
const ON_CONFLICT_REPLACE: &str = " ON CONFLICT (tenant_id, customer_id, type) DO UPDATE SET \
     name = excluded.name, work_phone = excluded.work_phone, \
     work_phone_extension = excluded.work_phone_extension, mobile_phone = excluded.mobile_phone, \
     fax = excluded.fax, email = excluded.email, organization_name = excluded.organization_name, \
     updated_at = excluded.updated_at";

/// The customer with its contacts (none only if a contact-less customer ever existed), billing
/// first: `'billing' < 'service'` in every collation.
const SELECT_CUSTOMER: &str = "SELECT c.id AS customer_id, c.created_at, c.updated_at, \
     cc.type AS contact_type, cc.name, cc.work_phone, cc.work_phone_extension, cc.mobile_phone, cc.fax, \
     cc.email, cc.organization_name, cc.updated_at AS contact_updated_at \
     FROM customers c \
     LEFT JOIN customer_contacts cc ON cc.tenant_id = c.tenant_id AND cc.customer_id = c.id \
     WHERE c.tenant_id = $1 AND c.id = $2 \
     ORDER BY cc.type";

#[derive(sqlx::FromRow)]
struct CustomerRow {
    customer_id: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    contact_type: Option<String>,
    name: Option<String>,
    work_phone: Option<String>,
    work_phone_extension: Option<String>,
    mobile_phone: Option<String>,
    fax: Option<String>,
    email: Option<String>,
    organization_name: Option<String>,
    contact_updated_at: Option<DateTime<Utc>>,
}

/// Folds the joined rows of one customer; `None` when there are none (no such customer).
fn assemble_customer(rows: Vec<CustomerRow>) -> Result<Option<StoredCustomer>, StoreError> {
    let Some(first) = rows.first() else { return Ok(None) };
    let mut customer = StoredCustomer {
        customer_id: first.customer_id.clone(),
        created_at: first.created_at,
        updated_at: first.updated_at,
        contacts: Vec::with_capacity(rows.len()),
    };
    for r in rows {
        // The LEFT JOIN's one row of a customer without contacts.
        let Some(raw_type) = r.contact_type else { continue };
        let contact_type = ContactType::parse(&raw_type).ok_or_else(|| {
            StoreError::Other(format!("stored customer contact type `{raw_type}` is not valid"))
        })?;
        let (Some(name), Some(updated_at)) = (r.name, r.contact_updated_at) else {
            return Err(StoreError::Other("stored customer contact lacks its name or updated_at".into()));
        };
        customer.contacts.push(StoredCustomerContact {
            contact: CustomerContact {
                contact_type,
                name,
                work_phone: r.work_phone,
                work_phone_extension: r.work_phone_extension,
                mobile_phone: r.mobile_phone,
                fax: r.fax,
                email: r.email,
                organization_name: r.organization_name,
            },
            updated_at,
        });
    }
    Ok(Some(customer))
}

impl<B: Backend> CustomerStore for SqlStore<B> {
    #[tracing::instrument(skip_all, fields(customer_id = customer_id.as_str()))]
    async fn upsert_customer_contacts(
        &self,
        tenant: &str,
        customer_id: &CustomerId,
        contacts: &ContactUpdates,
        actor: &str,
    ) -> StoreResult<Written> {
        let now = now();
        let cte = <B::Db as Driver>::WRITABLE_CTE;
        // One statement on Postgres (CTEs), one text on SQLite; the customer's `created_at` last.
        let mut sql = if cte {
            query(format!(
                "WITH customer AS ({UPSERT_CUSTOMER} RETURNING created_at), contacts AS ({INSERT_CONTACTS}"
            ))
        } else {
            query(format!("{UPSERT_CUSTOMER}; {INSERT_CONTACTS}"))
        }
        .bind(tenant)
        .bind(customer_id.as_str())
        .bind(now);
        // `ContactUpdates` is never empty, so the batch always has a VALUES row.
        sql.push_values(contacts.contacts(), |row, c: &CustomerContact| {
            row.push_bind(tenant)
                .push_bind(customer_id.as_str())
                .push_bind(c.contact_type.as_str())
                .push_bind(c.name.as_str())
                .push_bind(c.work_phone.as_deref())
                .push_bind(c.work_phone_extension.as_deref())
                .push_bind(c.mobile_phone.as_deref())
                .push_bind(c.fax.as_deref())
                .push_bind(c.email.as_deref())
                .push_bind(c.organization_name.as_deref())
                .push_bind(now);
        });
        sql.push(ON_CONFLICT_REPLACE);
        if cte {
            sql.push(")");
        }
        let types = contacts.contacts().iter().map(|c| c.contact_type.as_str().to_owned()).collect();
        let change = Change::customer_contacts(customer_id.as_str(), types);
        changes::push_record(&mut sql, cte, tenant, actor, now, &change);
        sql.push(if cte {
            " SELECT created_at FROM customer"
        } else {
            "; SELECT created_at FROM customers WHERE tenant_id = $1 AND id = $2"
        });
        let mut tx = self.backend.begin_write().await?;
        // Every row is read, so every statement of the SQLite text runs.
        let rows: StoreResult<Vec<(DateTime<Utc>,)>> = sql.fetch_all(&mut tx).await.map_err(StoreError::from);
        let Some(&(created_at,)) = Self::settle(tx, rows, |_| true).await?.first() else {
            return Err(StoreError::Other("the customer write answered no row".into()));
        };
        Ok(if created_at == now { Written::Created } else { Written::Updated })
    }

    #[tracing::instrument(skip_all, fields(customer_id = customer_id.as_str()))]
    async fn get_customer_contacts(
        &self,
        tenant: &str,
        customer_id: &CustomerId,
    ) -> StoreResult<Option<StoredCustomer>> {
        let mut conn = self.backend.acquire().await?;
        let rows: Vec<CustomerRow> =
            query(SELECT_CUSTOMER).bind(tenant).bind(customer_id.as_str()).fetch_all(&mut conn).await?;
        assemble_customer(rows)
    }
}
