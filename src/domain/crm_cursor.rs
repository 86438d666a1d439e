//! Cursor paging of the CRM contact list (`after=<cursor>`): the cursor names the last contact of
//! a page by its place in the list's order key (relevance when searching, then `id`), so the next
//! page starts right after it however many contacts were added or removed meanwhile: none is
//! skipped or repeated. Opaque to clients (base64url of a small versioned text).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Where a page ends: the order key of its last contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// Exact-word matches of the contact, when the list is a search (`q`).
    pub relevance: Option<i64>,
    pub id: i64,
}

const VERSION: &str = "c1";

impl Cursor {
    /// The opaque text clients send back as `after`.
    pub fn encode(&self) -> String {
        let relevance = self.relevance.map(|r| r.to_string()).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(format!("{VERSION}:{relevance}:{}", self.id))
    }

    /// Reads a cursor made by [`Cursor::encode`]; `None` for anything else.
    pub fn decode(text: &str) -> Option<Cursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text.trim()).ok()?).ok()?;
        let mut parts = raw.split(':');
        if parts.next()? != VERSION {
            return None;
        }
        let relevance = match parts.next()? {
            "" => None,
            r => Some(r.parse().ok()?),
        };
        let id = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some(Cursor { relevance, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_text() {
        for c in [Cursor { relevance: None, id: 42 }, Cursor { relevance: Some(2), id: 7 }] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        assert_eq!(Cursor::decode("42"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("c1::x")), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("c2::1")), None);
    }
}
