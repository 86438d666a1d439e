//! Storage of customer billing/service contacts (API.md section 7): to be filled by the CRM work.

/// Customer-contact use cases; one method is one use case and one transaction.
pub trait CustomerStore: Send + Sync {}
