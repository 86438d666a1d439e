//! `PATCH /api/v3/contacts/{id}`: a JSON Merge Patch (RFC 7396) of a contact, turned into the
//! overwrite it amounts to, so a patch is validated and stored exactly as a `PUT` is.
//!
//! The patch is applied to the stored contact's scalars: a member sent replaces the stored value,
//! `null` clears it, a member left out keeps it. Collections are not merged item by item (RFC 7396
//! replaces arrays): one sent replaces the stored list, `null` empties it, one left out is kept
//! (the `PUT` keeps collections its body leaves out).

use serde_json::Value;

use crate::domain::crm::{Contact, ContactRequest};
use crate::extract::from_document;
use crate::validation::{ErrorKind, FieldError};

/// The media type of a merge patch (RFC 7396 section 4).
pub const MERGE_PATCH_JSON: &str = "application/merge-patch+json";

/// Collection members of a contact body.
const COLLECTIONS: [&str; 6] =
    ["propertyIds", "orderReferences", "emailAddresses", "telephones", "addresses", "customFields"];

/// The `PUT` body that `patch` applied to `current` amounts to; shape errors (a member unknown or
/// of the wrong type) carry their pointer into the patch.
pub fn patched_request(current: &Contact, patch: &Value) -> Result<ContactRequest, Vec<FieldError>> {
    let Value::Object(members) = patch else {
        return Err(vec![FieldError::new(
            "",
            ErrorKind::Invalid,
            "invalid_type",
            "a merge patch of a contact is a JSON object",
        )]);
    };
    let mut doc = serde_json::to_value(current).expect("a contact serialises");
    if let Value::Object(stored) = &mut doc {
        // Collections left out of the patch are left out of the overwrite, which keeps them.
        for name in COLLECTIONS {
            stored.remove(name);
        }
    }
    let mut patch = members.clone();
    for name in COLLECTIONS {
        if let Some(v @ Value::Null) = patch.get_mut(name) {
            // `null` would drop the member, which keeps the list: an empty list clears it.
            *v = Value::Array(Vec::new());
        }
    }
    json_patch::merge(&mut doc, &Value::Object(patch));
    from_document(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use serde_json::json;

    use crate::domain::crm::ContactType;

    fn stored() -> Contact {
        Contact {
            id: 7,
            contact_type: ContactType::Guest,
            title: None,
            first_name: Some("Ann".into()),
            last_name: Some("Jansen".into()),
            company_name: None,
            account_id: Some("A-1".into()),
            job_title: None,
            gender: None,
            language: Some("nl".into()),
            property_ids: vec!["NT7".into()],
            order_references: vec![],
            email_addresses: vec![],
            telephones: vec![],
            addresses: vec![],
            custom_fields: vec![],
            external_id: Some("pms-7".into()),
            version: 3,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn only_members_sent_change() {
        let draft = patched_request(&stored(), &json!({"firstName": "Anna", "accountId": null}))
            .unwrap()
            .parse(Some(7))
            .unwrap();
        assert_eq!(draft.first_name.as_deref(), Some("Anna"));
        assert_eq!(draft.last_name.as_deref(), Some("Jansen"));
        assert_eq!(draft.external_id.as_deref(), Some("pms-7"), "the integration's id is kept");
        assert_eq!(draft.contact_type, ContactType::Guest);
        assert_eq!(draft.language.as_deref(), Some("nl"));
        assert_eq!(draft.account_id, None, "null clears");
        assert_eq!(draft.property_ids, None, "a collection left out is kept");
        assert_eq!(draft.email_addresses.map(|e| e.len()), None);
    }

    #[test]
    fn collections_are_replaced_or_emptied() {
        let patch = json!({"propertyIds": null, "emailAddresses": [{"emailAddress": "a@b.example"}]});
        let draft = patched_request(&stored(), &patch).unwrap().parse(Some(7)).unwrap();
        assert_eq!(draft.property_ids, Some(vec![]));
        assert_eq!(draft.email_addresses.map(|e| e.len()), Some(1));
    }

    #[test]
    fn shape_errors_point_into_the_patch() {
        let errors = patched_request(&stored(), &json!({"firstName": 42})).unwrap_err();
        assert_eq!(errors[0].pointer, "/firstName");
        let errors = patched_request(&stored(), &json!({"frstName": "x"})).unwrap_err();
        assert_eq!(errors[0].pointer, "/frstName");
        let errors = patched_request(&stored(), &json!(["firstName"])).unwrap_err();
        assert_eq!(errors[0].pointer, "");
    }
}
