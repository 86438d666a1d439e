//! Identifier rules.

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

/// `s` as a number when it is written the one canonical way: ASCII digits only, no sign, no
/// leading zero (except `0` itself), no spaces, within `i64`.
///
/// The revisions in entity tags are read this way, so `"01"` and `"+1"` are not the tag of
/// revision 1: strong comparison is octet equality.
pub fn canonical_decimal(s: &str) -> Option<i64> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok()).flatten()
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
