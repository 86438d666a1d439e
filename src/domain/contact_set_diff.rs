//! What changed between two contact sets, contact by contact and field by field.
//!
//! Contacts are matched by who they are, not where they sit: first by person name and e-mail
//! (case-insensitive), then what is left by e-mail alone, then by name alone. So a reordered set
//! shows moves, not a rewrite, and a person whose job title or phone changed shows as that one
//! change. Fields are compared as JSON leaves under RFC 6901 pointers relative to the contact
//! (`/contact_person/job_title`); the lists `contact_profiles` (as a set) and `phones` compare
//! whole, since their items have no identity of their own.

use serde::Serialize;
use serde_json::{Map, Value};

use super::contact_set::{Contact, ContactSet};
use crate::validation::Pointer;

/// One contact's difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ContactChange {
    /// In the newer set only.
    Added { to_index: usize, contact: Contact },
    /// In the older set only.
    Removed { from_index: usize, contact: Contact },
    /// In both; `fields` lists what differs (empty when only the position did).
    Changed { from_index: usize, to_index: usize, fields: Vec<FieldChange> },
}

/// One field of a matched contact that differs; `from`/`to` are absent when the field is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Value>,
}

/// What two contacts must share to be taken for the same one: `(name, e-mail)`, lowercased, a
/// part left empty when that pass ignores it.
type MatchKey = fn(&Contact) -> (String, String);

/// The differences from `older` to `newer`: changed and removed contacts in the older set's order,
/// then added ones in the newer set's. Contacts equal in content and position are left out.
pub fn diff(older: &ContactSet, newer: &ContactSet) -> Vec<ContactChange> {
    let (a, b) = (&older.contacts, &newer.contacts);
    let mut partner: Vec<Option<usize>> = vec![None; a.len()];
    let mut taken = vec![false; b.len()];
    let keys: [MatchKey; 3] = [
        |c| (c.person.name.to_lowercase(), c.email.to_lowercase()),
        |c| (String::new(), c.email.to_lowercase()),
        |c| (c.person.name.to_lowercase(), String::new()),
    ];
    for key in keys {
        for (i, old) in a.iter().enumerate() {
            if partner[i].is_some() {
                continue;
            }
            let wanted = key(old);
            // An identical contact first, so equal duplicates pair with each other.
            let found = (0..b.len())
                .filter(|&j| !taken[j] && key(&b[j]) == wanted)
                .min_by_key(|&j| (b[j] != *old, j.abs_diff(i)));
            if let Some(j) = found {
                partner[i] = Some(j);
                taken[j] = true;
            }
        }
    }
    let mut out = Vec::new();
    for (i, old) in a.iter().enumerate() {
        match partner[i] {
            None => out.push(ContactChange::Removed { from_index: i, contact: old.clone() }),
            Some(j) => {
                let fields = field_changes(old, &b[j]);
                if !fields.is_empty() || i != j {
                    out.push(ContactChange::Changed { from_index: i, to_index: j, fields });
                }
            }
        }
    }
    for (j, new) in b.iter().enumerate().filter(|(j, _)| !taken[*j]) {
        out.push(ContactChange::Added { to_index: j, contact: new.clone() });
    }
    out
}

fn field_changes(old: &Contact, new: &Contact) -> Vec<FieldChange> {
    let (mut from, mut to) = (Map::new(), Map::new());
    leaves(&serde_json::to_value(old).expect("serialises"), &Pointer::root(), &mut from);
    leaves(&serde_json::to_value(new).expect("serialises"), &Pointer::root(), &mut to);
    let mut fields: Vec<&String> = from.keys().chain(to.keys().filter(|k| !from.contains_key(*k))).collect();
    fields.sort();
    let mut out = Vec::new();
    for field in fields {
        let (f, t) = (from.get(field), to.get(field));
        let same = match field.as_str() {
            "/contact_profiles" => as_set(f) == as_set(t),
            _ => f == t,
        };
        if !same {
            out.push(FieldChange { field: field.clone(), from: f.cloned(), to: t.cloned() });
        }
    }
    out
}

/// Object members flattened to pointers; arrays and scalars are leaves.
fn leaves(v: &Value, at: &Pointer, out: &mut Map<String, Value>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                leaves(v, &at.key(k), out);
            }
        }
        other => {
            out.insert(at.to_string(), other.clone());
        }
    }
}

fn as_set(v: Option<&Value>) -> Vec<String> {
    let mut items: Vec<String> =
        v.and_then(Value::as_array).into_iter().flatten().map(|i| i.to_string()).collect();
    items.sort();
    items
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::validation::ParseOptions;

    fn contact(types: &[&str], name: &str, job: &str, email: &str) -> Value {
        json!({
            "contact_profiles": types.iter().map(|t| json!({"type": t})).collect::<Vec<_>>(),
            "contact_person": {"name": name, "job_title": job, "language_code": "en-gb"},
            "phones": [{"phone_number": "+31201234567", "phone_tech_type": 1}],
            "email": email,
        })
    }

    fn set(contacts: Vec<Value>) -> ContactSet {
        ContactSet::parse(&json!({ "contacts": contacts }), &ParseOptions::BOOKING).expect("valid")
    }

    #[test]
    fn contacts_are_matched_by_person_and_email_not_position() {
        let sarah = contact(&["general"], "Sarah", "Owner", "sarah@x.example");
        let john = contact(&["invoices"], "John", "Owner", "john@x.example");
        let older = set(vec![sarah.clone(), john]);
        let john_promoted = contact(&["invoices", "parity"], "John", "General Manager", "JOHN@x.example");
        let jane = contact(&["requests"], "Jane", "Owner", "jane@x.example");
        let newer = set(vec![jane, john_promoted, sarah]);
        let changes = diff(&older, &newer);
        assert_eq!(changes.len(), 3, "{changes:#?}");
        assert!(
            matches!(&changes[0], ContactChange::Changed { from_index: 0, to_index: 2, fields } if fields.is_empty())
        );
        let ContactChange::Changed { from_index: 1, to_index: 1, fields } = &changes[1] else {
            panic!("{changes:#?}")
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["/contact_person/job_title", "/contact_profiles", "/email"]);
        assert_eq!(fields[0].from, Some(json!("Owner")));
        assert_eq!(fields[0].to, Some(json!("General Manager")));
        assert!(
            matches!(&changes[2], ContactChange::Added { to_index: 0, contact } if contact.person.name == "Jane")
        );
    }

    #[test]
    fn equal_sets_differ_in_nothing_and_profile_order_is_no_change() {
        let a = set(vec![contact(&["general", "parity"], "A", "Owner", "a@x.example")]);
        let b = set(vec![contact(&["parity", "general"], "A", "Owner", "a@x.example")]);
        assert_eq!(diff(&a, &a), vec![]);
        assert_eq!(diff(&a, &b), vec![]);
    }

    #[test]
    fn a_new_person_is_a_removal_and_an_addition() {
        let a = set(vec![contact(&["general"], "A", "Owner", "a@x.example")]);
        let b = set(vec![contact(&["general"], "B", "Owner", "b@x.example")]);
        let changes = diff(&a, &b);
        assert!(matches!(changes.as_slice(), [ContactChange::Removed { .. }, ContactChange::Added { .. }]));
    }
}
