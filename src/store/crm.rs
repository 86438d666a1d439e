//! Storage of CRM contacts (API.md section 6): to be filled by the CRM work.

/// CRM contact use cases; one method is one use case and one transaction.
pub trait CrmStore: Send + Sync {}
