//! Identifier rules.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Longest id accepted by [`valid_id`].
pub const ID_MAX_CHARS: usize = 64;

/// [`valid_id`] in words, for error details.
pub const ID_RULE: &str = "1 to 64 of A-Z, a-z, 0-9, _ and -";

/// The code of a property id that breaks [`valid_id`] (registry paths, CRM `propertyIds`).
pub const PROPERTY_ID_INVALID: &str = "property_id_invalid";

/// The id rule of API.md §3, `property_id`: 1 to [`ID_MAX_CHARS`] of `[A-Za-z0-9_-]`.
///
/// The same rule holds wherever a property is named (registry paths and cursors, a CRM contact's
/// `propertyIds`) and, by decision, for `customer_id` and tenant names.
pub fn valid_id(id: &str) -> bool {
    (1..=ID_MAX_CHARS).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Longest SU `hotel_id`.
pub const SU_HOTEL_CODE_MAX_CHARS: usize = 15;

/// SU's `hotel_id` rule (API.md §5): 1 to 15 ASCII letters and digits.
///
/// A different rule from [`valid_id`], not a copy: SU documents it for its provider codes, so a
/// property whose id is longer or holds `_` or `-` is simply unreachable through SU.
pub fn valid_su_hotel_code(code: &str) -> bool {
    (1..=SU_HOTEL_CODE_MAX_CHARS).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// [`canonical_decimal`] in words, for error details.
pub const DECIMAL_RULE: &str = "a decimal integer without sign, leading zeros or spaces";

/// `s` as a number when it is written the one canonical way: ASCII digits only, no sign, no
/// leading zero (except `0` itself), no spaces, within `i64`.
///
/// Numeric ids in paths and the revisions in entity tags are read this way, so `+1`, `01` and
/// ` 1` name nothing rather than the resource `1`: one resource, one URL, one tag.
pub fn canonical_decimal(s: &str) -> Option<i64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
}

/// A numeric id in a path (`/api/v3/contacts/{id}`, item ids, revision numbers), read by
/// [`canonical_decimal`]; anything else fails the path extractor (400 `invalid_path_parameter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecimalId(pub i64);

impl<'de> Deserialize<'de> for DecimalId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Canonical;
        impl Visitor<'_> for Canonical {
            type Value = DecimalId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DECIMAL_RULE)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<DecimalId, E> {
                canonical_decimal(s)
                    .map(DecimalId)
                    .ok_or_else(|| E::custom(format!("must be {DECIMAL_RULE}")))
            }
        }
        d.deserialize_str(Canonical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_decimals_only() {
        for (ok, n) in [("0", 0), ("1", 1), ("42", 42), ("9223372036854775807", i64::MAX)] {
            assert_eq!(canonical_decimal(ok), Some(n), "{ok}");
        }
        for bad in ["", "+1", "-1", "01", "00", " 1", "1 ", "1.0", "1e3", "0x1", "١", "9223372036854775808"]
        {
            assert_eq!(canonical_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn decimal_id_deserializes_from_text() {
        use serde::de::value::{Error, StrDeserializer};
        use serde::de::IntoDeserializer;
        let parse = |s: &str| DecimalId::deserialize::<StrDeserializer<'_, Error>>(s.into_deserializer());
        assert_eq!(parse("17").unwrap(), DecimalId(17));
        let e = parse("+17").unwrap_err();
        assert_eq!(e.to_string(), "must be a decimal integer without sign, leading zeros or spaces");
    }

    #[test]
    fn ids() {
        for ok in ["NT7", "a_B-9", "000010000005008", &"a".repeat(64)] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", "a b", "x/y", "é", "a.b", &"a".repeat(65)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn su_hotel_codes_are_stricter() {
        assert!(valid_su_hotel_code("NT7"));
        assert!(valid_su_hotel_code(&"9".repeat(15)));
        for bad in ["", "a_b", "a-b", "a b", &"9".repeat(16)] {
            assert!(!valid_su_hotel_code(bad), "{bad}");
        }
        // Every SU code is a valid id, not the other way round.
        assert!(valid_id("a_b") && !valid_su_hotel_code("a_b"));
    }
}
