//! The property registry's write (API.md section 3): `PUT /api/v1/properties/{property_id}`, parsed
//! into the changes to apply, every violation reported at once.
//!
//! `PropertyChanges` and `ChannelMapping` have the shape of their namesakes in `crate::store`, which
//! `api::properties` copies them into: the store keeps its own until its rewrite can take these.

use serde::{Deserialize, Deserializer};

use crate::validation::ids::{valid_id, ID_RULE, PROPERTY_ID_INVALID};
use crate::validation::text::TextKind;
use crate::validation::{codes as common, Errors, FieldError, Pointer};

/// Longest property `name`.
pub const NAME_MAX_CHARS: usize = 200;
/// Most channel mappings of one property.
pub const MAX_MAPPINGS: usize = 20;
/// Longest channel name.
pub const CHANNEL_MAX_CHARS: usize = 32;
/// Longest `channel_property_id`.
pub const LISTING_MAX_CHARS: usize = 64;

/// Machine codes of property validation failures (in addition to [`crate::validation::codes`] and
/// [`crate::validation::ids::PROPERTY_ID_INVALID`]).
pub mod codes {
    /// A channel that is not 1 to 32 of `[a-z0-9_-]`.
    pub const CHANNEL_INVALID: &str = "channel_invalid";
    /// A second mapping for the same channel.
    pub const CHANNEL_REPEATED: &str = "channel_repeated";
    /// A `channel_property_id` that is not 1 to 64 characters.
    pub const CHANNEL_PROPERTY_ID_INVALID: &str = "channel_property_id_invalid";
}

/// Body of `PUT /api/v1/properties/{property_id}`; absent members keep their stored value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutPropertyRequest {
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default)]
    channel_mappings: Option<Vec<ChannelMapping>>,
}

/// Tells "absent" (outer `None`, via `default`) from "null" (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// One listing of a property on a channel. In a parsed [`PropertyChanges`] the channel is
/// lower-case and both members are trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct ChannelMapping {
    pub channel: String,
    pub channel_property_id: String,
}

/// A validated create-or-update of a property; `None` members keep what is stored, `Some(None)`
/// clears the name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropertyChanges {
    pub name: Option<Option<String>>,
    pub channel_mappings: Option<Vec<ChannelMapping>>,
}

/// A channel name: 1 to 32 of `[a-z0-9_-]` (after lower-casing).
fn valid_channel(c: &str) -> bool {
    (1..=CHANNEL_MAX_CHARS).contains(&c.len())
        && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl PutPropertyRequest {
    /// Checks the path's `property_id` and every member, reporting all violations at once.
    pub fn parse(self, property_id: &str) -> Result<PropertyChanges, Vec<FieldError>> {
        let mut errors = Errors::new();
        let root = Pointer::root();
        if !valid_id(property_id) {
            // A path parameter, so named rather than pointed at.
            errors.invalid("property_id", PROPERTY_ID_INVALID, format!("property_id must be {ID_RULE}"));
        }
        // Blank clears the name, as null does.
        let name = self.name.map(|n| n.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()));
        if let Some(Some(n)) = &name {
            if n.chars().count() > NAME_MAX_CHARS {
                errors.invalid(
                    root.key("name"),
                    common::STRING_TOO_LONG,
                    format!("at most {NAME_MAX_CHARS} characters"),
                );
            } else {
                errors.text(root.key("name"), n, TextKind::Line);
            }
        }
        let channel_mappings =
            self.channel_mappings.map(|ms| parse_mappings(&mut errors, &root.key("channel_mappings"), ms));
        errors.finish(PropertyChanges { name, channel_mappings })
    }
}

fn parse_mappings(errors: &mut Errors, at: &Pointer, mappings: Vec<ChannelMapping>) -> Vec<ChannelMapping> {
    if mappings.len() > MAX_MAPPINGS {
        errors.invalid(at, common::TOO_MANY_ITEMS, format!("at most {MAX_MAPPINGS} channel mappings"));
    }
    let mut seen = std::collections::HashSet::new();
    mappings
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let at = at.index(i);
            let channel = m.channel.trim().to_ascii_lowercase();
            let listing = m.channel_property_id.trim().to_owned();
            if !valid_channel(&channel) {
                errors.invalid(
                    at.key("channel"),
                    codes::CHANNEL_INVALID,
                    format!("channel must be 1 to {CHANNEL_MAX_CHARS} of a-z, 0-9, _ and -"),
                );
            } else if !seen.insert(channel.clone()) {
                errors.invalid(
                    at.key("channel"),
                    codes::CHANNEL_REPEATED,
                    "a property has at most one mapping per channel",
                );
            }
            if listing.is_empty() || listing.chars().count() > LISTING_MAX_CHARS {
                errors.invalid(
                    at.key("channel_property_id"),
                    codes::CHANNEL_PROPERTY_ID_INVALID,
                    format!("channel_property_id must be 1 to {LISTING_MAX_CHARS} characters"),
                );
            } else {
                errors.text(at.key("channel_property_id"), &listing, TextKind::Line);
            }
            ChannelMapping { channel, channel_property_id: listing }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn request(v: Value) -> PutPropertyRequest {
        serde_json::from_value(v).unwrap()
    }

    fn errors(v: Value, property_id: &str) -> Vec<(String, &'static str, String)> {
        request(v)
            .parse(property_id)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.pointer, e.code, e.detail))
            .collect()
    }

    fn mapping(channel: &str, listing: &str) -> ChannelMapping {
        ChannelMapping { channel: channel.into(), channel_property_id: listing.into() }
    }

    #[test]
    fn absent_null_and_blank_names() {
        assert_eq!(request(json!({})).parse("NT7").unwrap(), PropertyChanges::default());
        assert_eq!(request(json!({"name": null})).parse("NT7").unwrap().name, Some(None));
        assert_eq!(request(json!({"name": "  "})).parse("NT7").unwrap().name, Some(None));
        assert_eq!(
            request(json!({"name": " Hotel Seven "})).parse("NT7").unwrap().name,
            Some(Some("Hotel Seven".into()))
        );
    }

    #[test]
    fn mappings_are_normalised() {
        let changes =
            request(json!({"channel_mappings": [{"channel": " Booking ", "channel_property_id": " 128 "}]}))
                .parse("NT7")
                .unwrap();
        assert_eq!(changes.channel_mappings, Some(vec![mapping("booking", "128")]));
        assert!(serde_json::from_value::<PutPropertyRequest>(json!({"colour": 1})).is_err());
    }

    #[test]
    fn every_violation_in_order() {
        let got = errors(
            json!({
                "name": "x".repeat(201),
                "channel_mappings": [
                    {"channel": "booking", "channel_property_id": ""},
                    {"channel": "BOOKING", "channel_property_id": "1"},
                    {"channel": "no spaces", "channel_property_id": "x".repeat(65)}
                ]
            }),
            "bad id",
        );
        let codes: Vec<_> = got.iter().map(|(p, c, _)| (p.as_str(), *c)).collect();
        assert_eq!(
            codes,
            [
                ("property_id", PROPERTY_ID_INVALID),
                ("/name", "string_too_long"),
                ("/channel_mappings/0/channel_property_id", "channel_property_id_invalid"),
                ("/channel_mappings/1/channel", "channel_repeated"),
                ("/channel_mappings/2/channel", "channel_invalid"),
                ("/channel_mappings/2/channel_property_id", "channel_property_id_invalid"),
            ]
        );
        assert_eq!(got[0].2, "property_id must be 1 to 64 of A-Z, a-z, 0-9, _ and -");
        assert_eq!(got[4].2, "channel must be 1 to 32 of a-z, 0-9, _ and -");
        assert_eq!(got[5].2, "channel_property_id must be 1 to 64 characters");
    }

    #[test]
    fn at_most_20_mappings() {
        let ms: Vec<Value> =
            (0..21).map(|i| json!({"channel": format!("c{i}"), "channel_property_id": "1"})).collect();
        assert_eq!(
            errors(json!({ "channel_mappings": ms }), "NT7"),
            [("/channel_mappings".into(), "too_many_items", "at most 20 channel mappings".into())]
        );
    }

    #[test]
    fn channel_rule() {
        for ok in ["booking", "expedia-2", "a_b", &"c".repeat(32)] {
            assert!(valid_channel(ok), "{ok}");
        }
        for bad in ["", "Booking", "no spaces", "é", &"c".repeat(33)] {
            assert!(!valid_channel(bad), "{bad}");
        }
    }
}
