//! The change feed: `GET /api/v1/changes?after=<cursor>&limit=<n>&types=<t1,t2>` (read scope).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::auth::Reader;
use crate::domain::change::{parse_types, Cursor};
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::state::AppState;
use crate::store::{EventPage, Feed, Store};

/// Default and largest page of a cursor-paged log (the feed, the audit log).
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

/// A page of a cursor-paged log in commit order.
#[derive(Debug, Serialize)]
pub struct CursorPage<T> {
    items: Vec<T>,
    /// Where the next page starts: the last item's id, or the cursor given when the page is empty
    /// (the log's start without one).
    next: String,
}

impl<T> CursorPage<T> {
    pub fn new(items: Vec<T>, after: Option<Cursor>, id: impl Fn(&T) -> Cursor) -> Self {
        let next = items.last().map(id).or(after).unwrap_or(Cursor::START).to_string();
        CursorPage { items, next }
    }
}

/// The `after` and `limit` of a request for a page of `log` ("feed", "log"): 400 naming the
/// parameter when either is not one this service takes.
pub fn cursor_and_limit(
    after: Option<&str>,
    limit: Option<u32>,
    log: &str,
) -> ApiResult<(Option<Cursor>, u32)> {
    let after = after
        .map(|a| {
            a.parse::<Cursor>().map_err(|()| {
                ApiError::bad_request(
                    "after",
                    "cursor_invalid",
                    format!("`after` is not a cursor this {log} issued"),
                )
            })
        })
        .transpose()?;
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "limit",
            "limit_out_of_range",
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok((after, limit))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    after: Option<String>,
    limit: Option<u32>,
    types: Option<String>,
}

/// A page of the caller's tenant's events in feed order.
#[tracing::instrument(skip_all)]
pub async fn list_changes<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Query(q): Query<ChangesQuery>,
) -> ApiResult<Response> {
    let (after, limit) = cursor_and_limit(q.after.as_deref(), q.limit, "feed")?;
    let types = parse_types(q.types.as_deref().unwrap_or_default().split(',')).map_err(|unknown| {
        ApiError::bad_request(
            "types",
            "unknown_event_type",
            format!("unknown event types: {}", unknown.join(", ")),
        )
    })?;
    match state.store.list_changes(&caller.tenant_id, after, limit, &types).await? {
        Feed::Expired => {
            metrics::counter!("change_feed_expired_cursors_total").increment(1);
            Err(ApiError::CursorExpired { retention_days: state.limits.changes_retention_days })
        }
        Feed::Page(page) => Ok(page_response(page, after)),
    }
}

/// `{"items": [...], "next": "..."}` around the page's JSON as the store built it (on SQLite, the
/// database), which is not parsed again.
fn page_response(page: EventPage, after: Option<Cursor>) -> Response {
    let next = page.last.or(after).unwrap_or(Cursor::START);
    // A cursor is two integers and a dash: nothing in it needs escaping.
    let body = format!("{{\"items\":{},\"next\":\"{next}\"}}", page.items);
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
