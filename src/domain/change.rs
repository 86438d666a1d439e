//! The change feed's vocabulary: what a committed write says happened, and where in the feed it is.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;

/// The kinds of event, as the feed and webhooks name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeType {
    PropertyCreated,
    PropertyUpdated,
    PropertyDeleted,
    ContactSetReplaced,
    ContactCreated,
    ContactUpdated,
    ContactDeleted,
    ContactMerged,
    CustomerContactsReplaced,
}

impl ChangeType {
    pub const ALL: [ChangeType; 9] = [
        ChangeType::PropertyCreated,
        ChangeType::PropertyUpdated,
        ChangeType::PropertyDeleted,
        ChangeType::ContactSetReplaced,
        ChangeType::ContactCreated,
        ChangeType::ContactUpdated,
        ChangeType::ContactDeleted,
        ChangeType::ContactMerged,
        ChangeType::CustomerContactsReplaced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::PropertyCreated => "property.created",
            ChangeType::PropertyUpdated => "property.updated",
            ChangeType::PropertyDeleted => "property.deleted",
            ChangeType::ContactSetReplaced => "contact_set.replaced",
            ChangeType::ContactCreated => "contact.created",
            ChangeType::ContactUpdated => "contact.updated",
            ChangeType::ContactDeleted => "contact.deleted",
            ChangeType::ContactMerged => "contact.merged",
            ChangeType::CustomerContactsReplaced => "customer_contacts.replaced",
        }
    }
}

impl fmt::Display for ChangeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChangeType {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        ChangeType::ALL.into_iter().find(|t| t.as_str() == s).ok_or(())
    }
}

/// Parses a comma-separated list of event types (`types=` of the feed and of a webhook); the
/// unknown names are returned as the error.
pub fn parse_types<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<ChangeType>, Vec<String>> {
    let mut types = Vec::new();
    let mut unknown = Vec::new();
    for name in names.into_iter().map(str::trim).filter(|n| !n.is_empty()) {
        match name.parse::<ChangeType>() {
            Ok(t) if !types.contains(&t) => types.push(t),
            Ok(_) => {}
            Err(()) => unknown.push(name.to_owned()),
        }
    }
    if unknown.is_empty() {
        Ok(types)
    } else {
        Err(unknown)
    }
}

/// What one committed write changed: its type and the event's `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeType,
    pub data: ChangeData,
}

/// The `data` of an event, per kind of subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ChangeData {
    Property { property_id: String },
    ContactSet { property_id: String, revision: i64 },
    Contact { contact_id: i64, version: i64 },
    Merge { contact_id: i64, merged_id: i64, version: i64 },
    CustomerContacts { customer_id: String, types: Vec<String> },
}

impl Change {
    pub fn property(kind: ChangeType, property_id: &str) -> Self {
        Change { kind, data: ChangeData::Property { property_id: property_id.to_owned() } }
    }

    pub fn contact_set(property_id: &str, revision: i64) -> Self {
        Change {
            kind: ChangeType::ContactSetReplaced,
            data: ChangeData::ContactSet { property_id: property_id.to_owned(), revision },
        }
    }

    pub fn contact(kind: ChangeType, contact_id: i64, version: i64) -> Self {
        Change { kind, data: ChangeData::Contact { contact_id, version } }
    }

    pub fn merge(primary: i64, merged_id: i64, version: i64) -> Self {
        Change {
            kind: ChangeType::ContactMerged,
            data: ChangeData::Merge { contact_id: primary, merged_id, version },
        }
    }

    pub fn customer_contacts(customer_id: &str, types: Vec<String>) -> Self {
        Change {
            kind: ChangeType::CustomerContactsReplaced,
            data: ChangeData::CustomerContacts { customer_id: customer_id.to_owned(), types },
        }
    }
}

/// A position in the feed: the event's writing transaction, then its id (see the events
/// migration for why not the id alone). Shown to clients as one opaque token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    pub tx: i64,
    pub id: i64,
}

impl Cursor {
    /// Before every event.
    pub const START: Cursor = Cursor { tx: 0, id: 0 };
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.tx, self.id)
    }
}

impl FromStr for Cursor {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (tx, id) = s.split_once('-').ok_or(())?;
        let number = |n: &str| -> Result<i64, ()> {
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            n.parse().map_err(|_| ())
        };
        Ok(Cursor { tx: number(tx)?, id: number(id)? })
    }
}

impl Serialize for Cursor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An event as the feed and webhooks send it.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: Cursor,
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    /// Stored JSON, passed through as it is.
    pub data: Box<RawValue>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_junk() {
        let c = Cursor { tx: 7421, id: 9 };
        assert_eq!(c.to_string().parse::<Cursor>(), Ok(c));
        for junk in ["", "7", "-1-2", "1--2", "a-1", "1-", "1-2-3", "+1-2", "99999999999999999999-1"] {
            assert_eq!(junk.parse::<Cursor>(), Err(()), "{junk}");
        }
        assert!(Cursor { tx: 1, id: 9 } < Cursor { tx: 2, id: 1 });
    }

    #[test]
    fn types_parse_by_name() {
        assert_eq!(
            parse_types("contact.merged, property.deleted,contact.merged".split(',')),
            Ok(vec![ChangeType::ContactMerged, ChangeType::PropertyDeleted])
        );
        assert_eq!(parse_types(["contact.exploded"]), Err(vec!["contact.exploded".to_owned()]));
        for t in ChangeType::ALL {
            assert_eq!(t.as_str().parse::<ChangeType>(), Ok(t));
        }
    }

    #[test]
    fn data_serialises_flat() {
        let json = serde_json::to_value(Change::merge(3, 4, 7).data).unwrap();
        assert_eq!(json, serde_json::json!({"contact_id": 3, "merged_id": 4, "version": 7}));
    }
}
