//! Free-text rules: which characters any text may hold ([`check_text`]), CJK ideographs, email
//! syntax, Booking language codes.
//!
//! [`check_text`] is the one character rule of every route family. It refuses, in every string a
//! client sends (body members, query values, path ids):
//! - NUL (`nul_character`): Postgres cannot store it in text at all, and SQLite would keep it;
//! - the other C0 controls, DEL and the C1 controls (`control_character`). Tab, LF and CR (and the
//!   Unicode line and paragraph separators U+2028/U+2029) are allowed in [`TextKind::Multiline`]
//!   text only, i.e. note content; everything else is one line;
//! - noncharacters (`noncharacter`): U+FDD0..U+FDEF and the last two code points of every plane
//!   (U+FFFE, U+FFFF, U+1FFFE, ... U+10FFFF), which Unicode reserves for internal use;
//! - the explicit bidirectional formatting controls (`bidi_control`): embeddings and overrides
//!   U+202A..U+202E and isolates U+2066..U+2069, which make a name or an address line display as
//!   something other than what is stored ("Trojan Source"). The implicit marks U+200E, U+200F and
//!   U+061C stay allowed: they change no order beyond their neighbours and right-to-left text needs
//!   them.
//!
//! Members are trimmed before they are kept, so the rule judges the value as it would be stored;
//! members matched against a closed table (types, genders, countries, languages) are refused by the
//! table itself.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use serde_json::Value;
use validator::ValidateEmail;

use super::{codes, ErrorKind, FieldError, Pointer};

/// Whether a string may break lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Names, e-mails, phones, ids, address lines, types, filter values, path ids.
    Line,
    /// Note content: may also hold tab, LF, CR, U+2028 and U+2029.
    Multiline,
}

/// The first character [`check_text`] refused, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForbiddenChar {
    /// U+0000.
    Nul,
    /// Another C0 control, DEL or a C1 control; in one-line text also a tab or a line break.
    Control(char),
    /// U+FDD0..U+FDEF, or U+xFFFE / U+xFFFF of any plane.
    Noncharacter(char),
    /// An explicit bidirectional embedding, override or isolate.
    BidiControl(char),
}

impl ForbiddenChar {
    /// The stable field-error code.
    pub const fn code(self) -> &'static str {
        match self {
            ForbiddenChar::Nul => codes::NUL_CHARACTER,
            ForbiddenChar::Control(_) => codes::CONTROL_CHARACTER,
            ForbiddenChar::Noncharacter(_) => codes::NONCHARACTER,
            ForbiddenChar::BidiControl(_) => codes::BIDI_CONTROL,
        }
    }

    /// This violation at `pointer`, as every family reports it.
    pub fn at(self, pointer: &str) -> FieldError {
        FieldError::new(pointer, ErrorKind::Invalid, self.code(), self.to_string())
    }
}

impl fmt::Display for ForbiddenChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ForbiddenChar::Nul => f.write_str("must not contain NUL (U+0000)"),
            ForbiddenChar::Control(c @ ('\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}')) => write!(
                f,
                "must not contain U+{:04X}: tabs and line breaks are allowed in note content only",
                c as u32
            ),
            ForbiddenChar::Control(c) => {
                write!(f, "must not contain the control character U+{:04X}", c as u32)
            }
            ForbiddenChar::Noncharacter(c) => {
                write!(f, "must not contain the noncharacter U+{:04X}", c as u32)
            }
            ForbiddenChar::BidiControl(c) => {
                write!(f, "must not contain the bidirectional control U+{:04X}", c as u32)
            }
        }
    }
}

/// The one character rule (see the module docs): `Err` with the first character `kind` refuses.
pub fn check_text(value: &str, kind: TextKind) -> Result<(), ForbiddenChar> {
    // Printable ASCII is by far the common case and needs no per-character classification.
    if value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(());
    }
    value.chars().find_map(|c| forbidden(c, kind)).map_or(Ok(()), Err)
}

fn forbidden(c: char, kind: TextKind) -> Option<ForbiddenChar> {
    match c {
        '\0' => Some(ForbiddenChar::Nul),
        '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}' => {
            (kind == TextKind::Line).then_some(ForbiddenChar::Control(c))
        }
        // `is_control` is exactly the Cc category: C0, DEL and C1.
        c if c.is_control() => Some(ForbiddenChar::Control(c)),
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' => Some(ForbiddenChar::BidiControl(c)),
        c if is_noncharacter(c) => Some(ForbiddenChar::Noncharacter(c)),
        _ => None,
    }
}

/// The 66 noncharacters: U+FDD0..U+FDEF and the two last code points of each of the 17 planes.
fn is_noncharacter(c: char) -> bool {
    let u = c as u32;
    (0xFDD0..=0xFDEF).contains(&u) || u & 0xFFFE == 0xFFFE
}

/// Every string of a JSON document that holds NUL, member names included: one `nul_character`
/// error each, at its pointer. The body extractors refuse such a document before any route sees
/// it, so NUL cannot reach a store whatever a route checks.
pub fn nul_errors(doc: &Value) -> Vec<FieldError> {
    fn walk(v: &Value, at: &Pointer, out: &mut Vec<FieldError>) {
        match v {
            Value::String(s) if s.contains('\0') => out.push(ForbiddenChar::Nul.at(at.as_str())),
            Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| walk(v, &at.index(i), out)),
            Value::Object(map) => {
                for (name, v) in map {
                    let member = at.key(name);
                    if name.contains('\0') {
                        out.push(FieldError::new(
                            member.as_str(),
                            ErrorKind::Invalid,
                            codes::NUL_CHARACTER,
                            "a member name must not contain NUL (U+0000)",
                        ));
                    }
                    walk(v, &member, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, &Pointer::root(), &mut out);
    out
}

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
    fn text_rule_allows_ordinary_text_of_any_script() {
        for ok in [
            "",
            "Sarah Jansen",
            "Zürich",
            "東京都",
            "Москва",
            "שרה\u{200F} 12", // RLM: an implicit mark, allowed
            "क्\u{200D}ष",     // ZWJ
            "👩\u{200D}💻",
            "\u{10FFFD}",
            "\u{FDCF}\u{FDF0}", // just outside the noncharacter block
        ] {
            assert_eq!(check_text(ok, TextKind::Line), Ok(()), "{ok:?}");
            assert_eq!(check_text(ok, TextKind::Multiline), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn text_rule_refuses_controls_noncharacters_and_bidi_controls() {
        use ForbiddenChar::*;
        let cases = [
            ("a\0b", Nul),
            ("\u{1}", Control('\u{1}')),
            ("bell\u{7}", Control('\u{7}')),
            ("esc\u{1B}[31m", Control('\u{1B}')),
            ("del\u{7F}", Control('\u{7F}')),
            ("c1\u{80}", Control('\u{80}')),
            ("nel\u{85}", Control('\u{85}')),
            ("c1\u{9F}", Control('\u{9F}')),
            ("x\u{FFFE}", Noncharacter('\u{FFFE}')),
            ("x\u{FFFF}", Noncharacter('\u{FFFF}')),
            ("x\u{FDD0}", Noncharacter('\u{FDD0}')),
            ("x\u{FDEF}", Noncharacter('\u{FDEF}')),
            ("x\u{1FFFF}", Noncharacter('\u{1FFFF}')),
            ("x\u{10FFFE}", Noncharacter('\u{10FFFE}')),
            ("abc\u{202E}fed", BidiControl('\u{202E}')),
            ("\u{202A}", BidiControl('\u{202A}')),
            ("\u{2066}", BidiControl('\u{2066}')),
            ("\u{2069}", BidiControl('\u{2069}')),
        ];
        for (text, expected) in cases {
            assert_eq!(check_text(text, TextKind::Line), Err(expected), "{text:?}");
            assert_eq!(check_text(text, TextKind::Multiline), Err(expected), "{text:?}");
        }
        // The first offending character is the one reported.
        assert_eq!(check_text("a\u{7}\0", TextKind::Line), Err(Control('\u{7}')));
    }

    #[test]
    fn tabs_and_line_breaks_only_in_multiline_text() {
        for c in ['\t', '\n', '\r', '\u{2028}', '\u{2029}'] {
            let text = format!("line one{c}line two");
            assert_eq!(check_text(&text, TextKind::Line), Err(ForbiddenChar::Control(c)));
            assert_eq!(check_text(&text, TextKind::Multiline), Ok(()));
        }
        assert_eq!(check_text("a\n\u{0}", TextKind::Multiline), Err(ForbiddenChar::Nul));
        assert_eq!(check_text("a\n\u{B}", TextKind::Multiline), Err(ForbiddenChar::Control('\u{B}')));
    }

    #[test]
    fn violations_carry_code_pointer_and_detail() {
        let e = check_text("a\u{202E}", TextKind::Line).unwrap_err().at("/name");
        assert_eq!((e.pointer.as_str(), e.code, e.kind), ("/name", "bidi_control", ErrorKind::Invalid));
        assert_eq!(e.detail, "must not contain the bidirectional control U+202E");
        assert_eq!(ForbiddenChar::Nul.code(), "nul_character");
        assert_eq!(ForbiddenChar::Control('\u{7}').code(), "control_character");
        assert_eq!(ForbiddenChar::Noncharacter('\u{FFFF}').code(), "noncharacter");
        assert_eq!(
            ForbiddenChar::Control('\t').to_string(),
            "must not contain U+0009: tabs and line breaks are allowed in note content only"
        );
    }

    #[test]
    fn nul_anywhere_in_a_document_is_found_with_its_pointer() {
        let doc = serde_json::json!({
            "a": "fine",
            "b": ["ok", "x\u{0}"],
            "c": {"d\u{0}e": 1, "f": {"g": "\u{0}"}},
            "h": 7
        });
        let found: Vec<_> = nul_errors(&doc).into_iter().map(|e| (e.pointer, e.code)).collect();
        assert_eq!(
            found,
            [
                ("/b/1".to_owned(), "nul_character"),
                ("/c/d\u{0}e".to_owned(), "nul_character"),
                ("/c/f/g".to_owned(), "nul_character"),
            ]
        );
        assert!(nul_errors(&serde_json::json!({"a": ["\\u0000", 1, null]})).is_empty());
    }

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
