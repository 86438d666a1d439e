//! The change feed: `GET /api/v1/changes?after=<cursor>&limit=<n>&types=<t1,t2>` (read scope).

use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::auth::Reader;
use crate::domain::change::{parse_types, Cursor, Event};
use crate::error::{ApiError, ApiResult};
use crate::extract::Query;
use crate::state::AppState;
use crate::store::{Feed, Store};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    after: Option<String>,
    limit: Option<u32>,
    types: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ChangesPage {
    items: Vec<Event>,
    /// Where the next page starts: the last item's id, or the cursor given when the page is empty.
    next: String,
}

/// A page of the caller's tenant's events in feed order.
#[tracing::instrument(skip_all)]
pub async fn list_changes<S: Store>(
    State(state): State<AppState<S>>,
    Reader(caller): Reader,
    Query(q): Query<ChangesQuery>,
) -> ApiResult<axum::Json<ChangesPage>> {
    let after = q
        .after
        .as_deref()
        .map(|a| {
            a.parse::<Cursor>().map_err(|()| {
                ApiError::bad_request("after", "cursor_invalid", "`after` is not a cursor this feed issued")
            })
        })
        .transpose()?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(
            "limit",
            "limit_out_of_range",
            format!("`limit` must be between 1 and {MAX_LIMIT}"),
        ));
    }
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
        Feed::Page(items) => {
            // Without `after` and with no events, the next page starts where the feed starts.
            let next = items.last().map(|e| e.id).or(after).unwrap_or(Cursor::START).to_string();
            Ok(axum::Json(ChangesPage { items, next }))
        }
    }
}
