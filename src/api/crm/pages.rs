//! Paging of a contact's history and notes: `after` (the last version or note id seen) and
//! `limit`, answered oldest first with a `Link: <...>; rel="next"` header while more follow (RFC
//! 8288), so a page is bounded however long the history grows.

use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::api::json_stream;
use crate::store::crm::{Page, Paged};

/// Default and largest page of revisions: each carries the whole contact, up to ~155 kB at the
/// documented maxima, so 10 keep one answer near 1.5 MB (and four parallel history readers at
/// the maxima within the 100 MB RSS aim; 20 did not).
pub const REVISIONS_DEFAULT_LIMIT: u32 = 10;
pub const REVISIONS_MAX_LIMIT: u32 = 10;
/// Default and largest page of notes (each at most 10,000 characters).
pub const NOTES_DEFAULT_LIMIT: u32 = 100;
pub const NOTES_MAX_LIMIT: u32 = 500;

/// `after` and `limit`; `limit` is clamped, never rejected (as the list's `size` is).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageQuery {
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

impl PageQuery {
    pub fn page(&self, default: u32, max: u32) -> Page {
        Page { after: self.after.filter(|a| *a > 0), limit: self.limit.unwrap_or(default).clamp(1, max) }
    }
}

/// The page's items as a JSON array, with the next page's address in `Link`. `query` is the rest
/// of the request's query (e.g. `noteId=3&`), kept in the link.
pub fn paged<T: Serialize + Send + 'static>(
    path: &str,
    query: &str,
    page: Page,
    paged: Paged<T>,
) -> Response {
    let mut resp = json_stream::array(paged.items);
    if let Some(next) = paged.next {
        let link = format!("<{path}?{query}after={next}&limit={}>; rel=\"next\"", page.limit);
        if let Ok(value) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert(header::LINK, value);
        }
    }
    resp
}
