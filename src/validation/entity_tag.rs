//! Entity-tag lists (RFC 9110 §8.8.3 and §5.6.1) and `If-Match` (§13.1.1), read one way for every
//! route that honours them (the Booking contact-set PUT and every CRM write).
//!
//! `If-Match` uses the strong comparison: a weak tag (`W/"3"`) never matches, so it is dropped at
//! parse time and a header of weak tags alone matches nothing (412). A header that is neither `*`
//! nor a list of entity tags is refused (400 `if_match_invalid`) instead of being read as no
//! precondition, which would turn a client's guarded write into an unguarded one.

use super::{codes, ErrorKind, FieldError};

/// The header name, also the pointer of its violation.
pub const IF_MATCH: &str = "If-Match";

/// One entity tag of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    /// `W/` was given.
    pub weak: bool,
    /// The opaque part, without its quotes.
    pub opaque: String,
}

/// A field value that is not a list of entity tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotEntityTags;

/// The entity tags of a comma-separated list; empty elements are skipped (§5.6.1). `*` is not an
/// entity tag: callers that allow it check for it first.
pub fn entity_tags(value: &[u8]) -> Result<Vec<EntityTag>, NotEntityTags> {
    let mut tags = Vec::new();
    let mut rest = skip_ows(value);
    while let Some(&first) = rest.first() {
        if first == b',' {
            rest = skip_ows(&rest[1..]);
            continue;
        }
        let (weak, tag) = match rest.strip_prefix(b"W/") {
            Some(tag) => (true, tag),
            None => (false, rest),
        };
        let quoted = tag.strip_prefix(b"\"").ok_or(NotEntityTags)?;
        let end = quoted.iter().position(|&b| b == b'"').ok_or(NotEntityTags)?;
        let opaque = &quoted[..end];
        if !opaque.iter().all(|&b| is_etagc(b)) {
            return Err(NotEntityTags);
        }
        // obs-text bytes are allowed but can never equal one of our (ASCII) tags.
        tags.push(EntityTag { weak, opaque: String::from_utf8_lossy(opaque).into_owned() });
        rest = skip_ows(&quoted[end + 1..]);
        if !rest.is_empty() && rest[0] != b',' {
            return Err(NotEntityTags);
        }
    }
    Ok(tags)
}

/// `etagc = %x21 / %x23-7E / obs-text`.
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80
}

fn skip_ows(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(s.len());
    &s[start..]
}

/// A parsed `If-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current representation.
    Any,
    /// The opaque parts of the strong tags listed; weak ones can never match and are left out.
    Tags(Vec<String>),
}

impl IfMatch {
    /// Parses one `If-Match` value.
    pub fn parse(value: impl AsRef<[u8]>) -> Result<IfMatch, FieldError> {
        let value = value.as_ref();
        if value.trim_ascii() == b"*" {
            return Ok(IfMatch::Any);
        }
        match entity_tags(value) {
            Ok(tags) if !tags.is_empty() => {
                Ok(IfMatch::Tags(tags.into_iter().filter(|t| !t.weak).map(|t| t.opaque).collect()))
            }
            _ => Err(FieldError::new(
                IF_MATCH,
                ErrorKind::Invalid,
                codes::IF_MATCH_INVALID,
                "If-Match must be * or a comma-separated list of entity tags such as \"3\"",
            )),
        }
    }

    /// Parses every `If-Match` field line of a request (several lines are one list, §5.3);
    /// `Ok(None)` when there is none.
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a [u8]>) -> Result<Option<IfMatch>, FieldError> {
        let mut joined: Option<Vec<u8>> = None;
        for line in lines {
            match &mut joined {
                None => joined = Some(line.to_vec()),
                Some(all) => {
                    all.push(b',');
                    all.extend_from_slice(line);
                }
            }
        }
        joined.map(IfMatch::parse).transpose()
    }

    /// Whether a representation whose strong tag has the opaque part `opaque` satisfies it.
    pub fn matches(&self, opaque: &str) -> bool {
        match self {
            IfMatch::Any => true,
            IfMatch::Tags(tags) => tags.iter().any(|t| t == opaque),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(v: &str) -> Result<Vec<(bool, String)>, NotEntityTags> {
        entity_tags(v.as_bytes()).map(|t| t.into_iter().map(|t| (t.weak, t.opaque)).collect())
    }

    #[test]
    fn entity_tag_lists() {
        assert_eq!(tags("\"3\""), Ok(vec![(false, "3".into())]));
        assert_eq!(
            tags(" W/\"3\" ,\t\"4-r\",,\"\" "),
            Ok(vec![(true, "3".into()), (false, "4-r".into()), (false, String::new())])
        );
        assert_eq!(tags(""), Ok(vec![]));
        assert_eq!(tags(" , ,"), Ok(vec![]));
        for bad in ["3", "\"3", "\"3\" \"4\"", "w/\"3\"", "W/ \"3\"", "\"a b\"", "*", "\"3\"x", "'3'"] {
            assert_eq!(tags(bad), Err(NotEntityTags), "{bad:?}");
        }
    }

    #[test]
    fn if_match_is_star_or_strong_tags() {
        assert_eq!(IfMatch::parse("*"), Ok(IfMatch::Any));
        assert_eq!(IfMatch::parse(" * "), Ok(IfMatch::Any));
        assert_eq!(IfMatch::parse("\"1\", W/\"2\", \"3\""), Ok(IfMatch::Tags(vec!["1".into(), "3".into()])));
        // Weak alone: a valid header that nothing matches.
        let weak = IfMatch::parse("W/\"2\"").unwrap();
        assert_eq!(weak, IfMatch::Tags(vec![]));
        assert!(!weak.matches("2"));
        for bad in ["", "  ", ",", "*, \"1\"", "\"1\", *", "1", "\"1", "W/1", "**"] {
            let e = IfMatch::parse(bad).unwrap_err();
            assert_eq!((e.pointer.as_str(), e.code), ("If-Match", "if_match_invalid"), "{bad:?}");
        }
    }

    #[test]
    fn strong_comparison_is_octet_equality() {
        let m = IfMatch::parse("\"7\", \"abc\"").unwrap();
        assert!(m.matches("7") && m.matches("abc"));
        assert!(!m.matches("07") && !m.matches("8") && !m.matches("ABC"));
        assert!(IfMatch::Any.matches("anything"));
    }

    #[test]
    fn several_field_lines_are_one_list() {
        let lines: [&[u8]; 2] = [b"\"1\"", b"W/\"2\", \"3\""];
        assert_eq!(IfMatch::from_lines(lines), Ok(Some(IfMatch::Tags(vec!["1".into(), "3".into()]))));
        assert_eq!(IfMatch::from_lines(std::iter::empty()), Ok(None));
        let star_and_tag: [&[u8]; 2] = [b"*", b"\"1\""];
        assert!(IfMatch::from_lines(star_and_tag).is_err());
        // Not UTF-8, but valid obs-text: parsed, and matches none of our tags.
        let obs: [&[u8]; 1] = [b"\"\xff\""];
        assert!(!IfMatch::from_lines(obs).unwrap().unwrap().matches("1"));
    }
}
