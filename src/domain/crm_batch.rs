//! `POST /api/v3/contacts/batch`: up to [`MAX_BATCH`] contact writes in one request. An item with
//! an `id` overwrites that contact (as a PUT does); one with an `externalId` and no `id` is an
//! upsert (overwrite of the tenant's contact with that external id, else a create); any other is a
//! create. Each item is validated on its own, its errors pointing into the batch body
//! (`/items/3/telephones/0/number`).

use serde::{Deserialize, Serialize};

use super::crm::{ContactDraft, ContactRequest};
use crate::validation::{codes as common, ErrorKind, FieldError};

/// Most items of one batch.
pub const MAX_BATCH: usize = 1000;

/// Body of `POST /api/v3/contacts/batch`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchRequest {
    /// `true` (the default): all items are stored or none; `false`: each valid item on its own.
    #[serde(default = "atomic_default")]
    pub atomic: bool,
    pub items: Vec<ContactRequest>,
}

fn atomic_default() -> bool {
    true
}

/// What a batch item writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchTarget {
    Create,
    /// Overwrite of the contact with this id.
    Update(i64),
    /// Overwrite of the contact with this `externalId`, or a create when there is none.
    Upsert(String),
}

/// A validated batch item.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    pub target: BatchTarget,
    pub draft: ContactDraft,
}

/// One item as validated: the write, or every violation found in it.
pub type ParsedItem = Result<BatchItem, Vec<FieldError>>;

/// Prefixes each error's pointer with the item's place in the batch body.
fn at_item(index: usize, errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|mut e| {
            e.pointer = format!("/items/{index}{}", e.pointer);
            e
        })
        .collect()
}

impl BatchRequest {
    /// Validates every item; the batch itself is refused only when it is too long.
    /// Answers `atomic` and the items in order.
    pub fn parse(self) -> Result<(bool, Vec<ParsedItem>), Vec<FieldError>> {
        if self.items.len() > MAX_BATCH {
            return Err(vec![FieldError::new(
                "/items",
                ErrorKind::Invalid,
                common::TOO_MANY_ITEMS,
                format!("at most {MAX_BATCH} items"),
            )]);
        }
        let items = self
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let target = match (item.id, &item.external_id) {
                    (Some(id), _) => BatchTarget::Update(id),
                    (None, Some(external)) if !external.trim().is_empty() => {
                        BatchTarget::Upsert(external.trim().to_owned())
                    }
                    _ => BatchTarget::Create,
                };
                let path_id = match target {
                    BatchTarget::Update(id) => Some(id),
                    _ => None,
                };
                item.parse(path_id).map(|draft| BatchItem { target, draft }).map_err(|e| at_item(i, e))
            })
            .collect();
        Ok((self.atomic, items))
    }
}

/// How one item ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BatchItemOutcome {
    Created,
    Updated,
    /// Valid, but not stored: another item of an atomic batch failed.
    NotStored,
    Failed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_targeted_and_errors_point_into_the_batch() {
        let body: BatchRequest = serde_json::from_value(serde_json::json!({"items": [
            {"firstName": "Ann"},
            {"id": 7, "firstName": "Bo"},
            {"externalId": "X-1", "lastName": "Cy"},
            {"title": "Dr"}
        ]}))
        .unwrap();
        let (atomic, items) = body.parse().unwrap();
        assert!(atomic);
        assert_eq!(items[0].as_ref().unwrap().target, BatchTarget::Create);
        assert_eq!(items[1].as_ref().unwrap().target, BatchTarget::Update(7));
        assert_eq!(items[2].as_ref().unwrap().target, BatchTarget::Upsert("X-1".into()));
        let errors = items[3].as_ref().unwrap_err();
        assert!(errors.iter().all(|e| e.pointer.starts_with("/items/3/")), "{errors:?}");
    }
}
