//! The audit log's vocabulary: who did what to which resource, in which request. Never contact data.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;

use super::change::{Change, ChangeData, Cursor};

/// What one audited operation did: an operation name (`contact.updated`, `privacy.erasure`, ...),
/// the kind and id of the resource it acted on, and ids or counts that say more (never contact data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditAction {
    pub operation: &'static str,
    pub resource_type: &'static str,
    pub resource_id: String,
    pub detail: Option<serde_json::Value>,
}

impl AuditAction {
    /// An entry with no detail.
    pub fn new(operation: &'static str, resource_type: &'static str, resource_id: impl Into<String>) -> Self {
        AuditAction { operation, resource_type, resource_id: resource_id.into(), detail: None }
    }

    /// The entry of a committed write, taken from the change it records: writes and the feed name
    /// operations alike.
    pub fn of_change(change: &Change) -> Self {
        let operation = change.kind.as_str();
        let (resource_type, resource_id, detail) = match &change.data {
            ChangeData::Property { property_id } => ("property", property_id.clone(), None),
            ChangeData::ContactSet { property_id, revision } => {
                ("contact_set", property_id.clone(), Some(serde_json::json!({ "revision": revision })))
            }
            ChangeData::Contact { contact_id, version } => {
                ("contact", contact_id.to_string(), Some(serde_json::json!({ "version": version })))
            }
            ChangeData::Merge { contact_id, merged_id, version } => (
                "contact",
                contact_id.to_string(),
                Some(serde_json::json!({ "merged_id": merged_id, "version": version })),
            ),
            ChangeData::CustomerContacts { customer_id, types } => {
                ("customer", customer_id.clone(), Some(serde_json::json!({ "types": types })))
            }
        };
        AuditAction { operation, resource_type, resource_id, detail }
    }
}

/// An audit entry as `GET /api/v1/audit` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: Cursor,
    pub occurred_at: DateTime<Utc>,
    pub key_id: String,
    pub key_name: String,
    pub operation: String,
    pub resource_type: String,
    pub resource_id: String,
    pub request_id: String,
    /// Stored JSON, passed through as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Box<RawValue>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::change::ChangeType;

    #[test]
    fn changes_name_their_resource() {
        let a = AuditAction::of_change(&Change::contact(ChangeType::ContactUpdated, 42, 3));
        assert_eq!(
            (a.operation, a.resource_type, a.resource_id.as_str()),
            ("contact.updated", "contact", "42")
        );
        let a = AuditAction::of_change(&Change::contact_set("p-1", 7));
        assert_eq!((a.resource_type, a.resource_id.as_str()), ("contact_set", "p-1"));
        assert_eq!(a.detail, Some(serde_json::json!({"revision": 7})));
    }
}
