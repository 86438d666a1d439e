//! Free-text rules: CJK ideographs, email syntax, Booking language codes.

use std::collections::HashSet;
use std::sync::LazyLock;

use validator::ValidateEmail;

/// Longest email address accepted (RFC 5321 path limit minus the angle brackets).
pub const EMAIL_MAX_CHARS: usize = 254;

/// CJK ideograph ranges Booking rejects in `address_line` and `city_name`.
///
/// Blocks rather than `\p{Han}` because the rule is about ideographs, and Han-script
/// punctuation such as `々` or the Kangxi radicals are not what Booking's check targets.
const CJK_IDEOGRAPHS: &[(char, char)] = &[
    ('\u{3400}', '\u{4DBF}'),   // Extension A
    ('\u{4E00}', '\u{9FFF}'),   // Unified Ideographs
    ('\u{F900}', '\u{FAFF}'),   // Compatibility Ideographs
    ('\u{20000}', '\u{2A6DF}'), // Extension B
    ('\u{2A700}', '\u{2B73F}'), // Extension C
    ('\u{2B740}', '\u{2B81F}'), // Extension D
    ('\u{2B820}', '\u{2CEAF}'), // Extension E
    ('\u{2CEB0}', '\u{2EBEF}'), // Extension F
    ('\u{2EBF0}', '\u{2EE5F}'), // Extension I
    ('\u{2F800}', '\u{2FA1F}'), // Compatibility Ideographs Supplement
    ('\u{30000}', '\u{3134F}'), // Extension G
    ('\u{31350}', '\u{323AF}'), // Extension H
];

/// True when `s` contains at least one CJK ideograph.
pub fn contains_cjk(s: &str) -> bool {
    s.chars().any(|c| CJK_IDEOGRAPHS.iter().any(|&(lo, hi)| lo <= c && c <= hi))
}

/// True when `email` passes validator's (HTML5) email rule and fits [`EMAIL_MAX_CHARS`].
pub fn is_valid_email(email: &str) -> bool {
    email.chars().count() <= EMAIL_MAX_CHARS && email.validate_email()
}

/// Booking language codes (BCL main table), canonical lowercase.
///
/// The legacy aliases (`en`, `xu`, `xa`, `xb`, `pt`, `zh`, `xt`) are deliberately absent:
/// Booking maps them only in other APIs, and API.md lists the canonical codes alone.
pub const BOOKING_LANGUAGES: &[&str] = &[
    "af", "ar", "az", "be", "bg", "ca", "cs", "da", "de", "el", "en-gb", "en-us", "es", "es-ar", "et", "fr",
    "fi", "he", "hi", "hr", "hu", "id", "is", "it", "ja", "km", "ko", "lo", "lt", "lv", "ms", "nl", "no",
    "pl", "pt-br", "pt-pt", "ro", "ru", "sk", "sl", "sr", "sv", "tl", "th", "tr", "uk", "vi", "yu", "zh-cn",
    "zh-tw",
];

/// Extra codes Booking accepts for a person's spoken language only.
pub const SPOKEN_ONLY_LANGUAGES: &[&str] = &["br", "cm", "cn", "gn", "jv"];

static LANGUAGES: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| BOOKING_LANGUAGES.iter().copied().collect());

static SPOKEN_LANGUAGES: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| BOOKING_LANGUAGES.iter().chain(SPOKEN_ONLY_LANGUAGES).copied().collect());

/// The canonical Booking language code for `code` (any case), if it is one.
pub fn booking_language(code: &str) -> Option<&'static str> {
    LANGUAGES.get(code.to_ascii_lowercase().as_str()).copied()
}

/// Like [`booking_language`], also allowing the spoken-only codes (`br, cm, cn, gn, jv`).
pub fn spoken_language(code: &str) -> Option<&'static str> {
    SPOKEN_LANGUAGES.get(code.to_ascii_lowercase().as_str()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_covers_every_block() {
        for c in [
            '\u{3400}',  // A
            '\u{4E2D}',  // 中
            '\u{9FFF}',  // end of URO
            '\u{F900}',  // compatibility
            '\u{20000}', // B
            '\u{2A700}', // C
            '\u{2B740}', // D
            '\u{2B820}', // E
            '\u{2CEB0}', // F
            '\u{2EBF0}', // I
            '\u{2F800}', // compatibility supplement
            '\u{30000}', // G
            '\u{31350}', // H
            '\u{323AF}', // end of H
        ] {
            assert!(contains_cjk(&format!("Street {c} 1")), "{:X}", c as u32);
        }
        assert!(contains_cjk("東京都"));
        // Kana, Hangul, Cyrillic and accented Latin are allowed by the rule.
        for ok in ["とうきょう", "カタカナ", "서울", "Москва", "Zürich", "São Paulo", ""] {
            assert!(!contains_cjk(ok), "{ok}");
        }
    }

    #[test]
    fn email_rule() {
        assert!(is_valid_email("test@booking.com"));
        assert!(is_valid_email("first.last+tag@sub.example.co.uk"));
        for bad in ["", "plain", "@example.com", "a@", "a b@example.com", "a@@example.com"] {
            assert!(!is_valid_email(bad), "{bad}");
        }
        let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(190));
        assert!(long.chars().count() > EMAIL_MAX_CHARS);
        assert!(!is_valid_email(&long));
    }

    #[test]
    fn languages() {
        assert_eq!(BOOKING_LANGUAGES.len(), 50);
        assert_eq!(booking_language("EN-GB"), Some("en-gb"));
        assert_eq!(booking_language("pt-PT"), Some("pt-pt"));
        assert_eq!(booking_language("yu"), Some("yu"));
        for legacy in ["en", "xu", "xa", "xb", "pt", "zh", "xt", "en_gb", "", "cm"] {
            assert_eq!(booking_language(legacy), None, "{legacy}");
        }
        assert_eq!(spoken_language("CM"), Some("cm"));
        assert_eq!(spoken_language("jv"), Some("jv"));
        assert_eq!(spoken_language("de"), Some("de"));
        assert_eq!(spoken_language("pt"), None);
    }
}
