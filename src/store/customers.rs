//! Storage of customer billing/service contacts (API.md section 7).
//!
//! A customer is created by its first contact write and holds at most one contact per type. The
//! SQL is shared by both backends; see [`super::customers_sql`].

use std::future::Future;

use chrono::{DateTime, Utc};

use super::{StoreResult, Written};
use crate::domain::customer::{ContactUpdates, CustomerContact, CustomerId};

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
    /// (types not sent are kept). One transaction of two statements: the customer upsert, which
    /// also takes the customer's row lock, and one batched contact upsert.
    fn upsert_customer_contacts(
        &self,
        tenant: &str,
        customer_id: &CustomerId,
        contacts: &ContactUpdates,
    ) -> impl Future<Output = StoreResult<Written>> + Send;

    /// The customer and its contacts in one query; `None` when the tenant has no such customer.
    fn get_customer_contacts(
        &self,
        tenant: &str,
        customer_id: &CustomerId,
    ) -> impl Future<Output = StoreResult<Option<StoredCustomer>>> + Send;
}
