//! The `Idempotency-Key` request header, on every POST route: a client that may send a request
//! twice (a retry after a timeout or a dropped connection) names it with a key, and the first
//! answer is kept per tenant and key for [`RETENTION`]. A repeat with the same key and the same
//! request (method, path and query, body) gets that answer again, marked `Idempotent-Replayed:
//! true`, without the work being done again; the same key with another request is 422; a repeat
//! while the first is still being served is 409 with `Retry-After: 1`. A key that is not 1 to 255
//! visible ASCII characters is 400. A request without the header is served exactly as before.
//!
//! The layer sits outside the request timeout, so it sees the timeout's 503 like any other answer,
//! and its own store writes are not counted as the request's commits (see [`crate::in_flight`]).
//! Its answers are rendered in the route family's envelope, as every error of a route is.
//!
//! Trade-offs:
//! - The answer is stored in a transaction of its own, after the handler's. A process that dies
//!   between the two, or a store that fails the second, leaves the work done and the key without
//!   an answer: the claim then stays `running` until its lease ends, and a repeat after that does
//!   the work again. Storing the answer inside each use case's transaction would close that gap at
//!   the price of every store method knowing about keys.
//! - A claim whose process died must not block its key for the whole retention, so a `running`
//!   claim older than the lease (the request timeout plus [`LEASE_MARGIN`]) counts as abandoned
//!   and a repeat of the same request takes it over. No request of this service runs that long
//!   (the timeout abandons it, and a commit in flight past it is bounded by the store's query
//!   timeout), so a live claim is never taken over; the price is that a key whose process died is
//!   blocked (409) for up to a lease. The margin also covers clocks of processes sharing one
//!   Postgres that disagree by a few seconds.

mod answer;
mod key;
mod pruning;

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{TimeDelta, Utc};
use futures_util::StreamExt;

pub use self::answer::{is_kept, REPLAYED_HEADER};
pub use self::key::{fingerprint, IdempotencyKey, IDEMPOTENCY_KEY_HEADER, MAX_KEY_LEN};
pub use self::pruning::{prune_expired, spawn_pruner, PRUNE_BATCH, PRUNE_EVERY};
use crate::api::Family;
use crate::auth::{bearer_token, charge, identify, Caller};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::idempotency::{Claim, ClaimToken, KeyClaim};
use crate::store::{IdempotencyStore, Store};

/// How long an answer is kept for repeats.
pub const RETENTION: TimeDelta = TimeDelta::hours(24);

/// How much longer than the request timeout a claim may stay `running` before it counts as
/// abandoned (see the module comment).
pub const LEASE_MARGIN: Duration = Duration::from_secs(60);

/// The layer's state: the app's, and the routes it covers.
pub struct Guard<S> {
    state: AppState<S>,
    /// Route templates (as [`MatchedPath`] gives them) that serve POST.
    post_routes: Arc<HashSet<&'static str>>,
    lease: TimeDelta,
}

impl<S> Clone for Guard<S> {
    fn clone(&self) -> Self {
        Guard { state: self.state.clone(), post_routes: self.post_routes.clone(), lease: self.lease }
    }
}

impl<S: Store> Guard<S> {
    /// Covers the POST routes of `inventory` (the route table's `(method, path)` list), so a POST
    /// route added to the table is covered without a word here.
    pub fn for_post_routes(state: AppState<S>, inventory: &[(Method, &'static str)]) -> Self {
        let post_routes = inventory.iter().filter(|(m, _)| *m == Method::POST).map(|(_, p)| *p).collect();
        let lease = Duration::from_secs(state.limits.request_timeout_secs) + LEASE_MARGIN;
        Guard {
            state,
            post_routes: Arc::new(post_routes),
            lease: TimeDelta::from_std(lease).unwrap_or(TimeDelta::MAX),
        }
    }

    /// Whether the request is a POST to a covered route that carries the header. A dry run stores
    /// nothing, its key included: it is served as if it had none.
    fn covers(&self, req: &Request) -> bool {
        req.method() == Method::POST
            && req.headers().contains_key(IDEMPOTENCY_KEY_HEADER)
            && !crate::api::dry_run::requested_lenient(req.uri())
            && req.extensions().get::<MatchedPath>().is_some_and(|p| self.post_routes.contains(p.as_str()))
    }
}

/// Middleware: see the module comment.
pub async fn guard<S: Store>(State(guard): State<Guard<S>>, req: Request, next: Next) -> Response {
    if !guard.covers(&req) {
        return next.run(req).await;
    }
    let family = Family::of(req.uri().path());
    let tracking = req.headers().get("request-tracking-id").cloned();
    // The key is the tenant's, so the caller comes first. A request whose credentials name no
    // caller goes on as if it had no key: its handler answers it (401, or 503 while the store is
    // down) exactly as before.
    let caller = match identify(&guard.state, presented_key(family, req.headers()).as_deref()).await {
        Ok(caller) => caller,
        Err(_) => return next.run(req).await,
    };
    match serve_keyed(&guard, &caller, family, req, next).await {
        Served::ByHandler(response) => response,
        // The handler, which would have taken this request from the key's rate allowance, did not
        // run: a replay or refusal costs the same as any request.
        Served::Here(answer) => match charge(&guard.state, &caller).and(answer) {
            Ok(response) => response,
            Err(e) => family.render(e, tracking.as_ref()),
        },
    }
}

/// Who answered a keyed request.
enum Served {
    /// The handler ran (and authenticated the request itself).
    ByHandler(Response),
    /// This layer answered: a replay, or a refusal to render.
    Here(Result<Response, ApiError>),
}

async fn serve_keyed<S: Store>(
    guard: &Guard<S>,
    caller: &Caller,
    family: Family,
    req: Request,
    next: Next,
) -> Served {
    let key = match IdempotencyKey::from_headers(req.headers()) {
        Ok(Some(key)) => key,
        // `covers` saw the header.
        Ok(None) => return Served::ByHandler(next.run(req).await),
        Err(e) => return Served::Here(Err(e)),
    };
    let (parts, body) = req.into_parts();
    let body = match read_body(body, &guard.state).await {
        Ok(body) => body,
        Err(e) => return Served::Here(Err(e)),
    };
    let fingerprint = fingerprint(&parts.method, &parts.uri, &body);
    let claim = KeyClaim {
        tenant: &caller.tenant_id,
        key: key.as_str(),
        fingerprint: &fingerprint,
        now: Utc::now(),
        retention: RETENTION,
        lease: guard.lease,
    };
    let token = match guard.state.store.claim_idempotency_key(&claim).await {
        Ok(Claim::Claimed(token)) => token,
        Ok(Claim::Answered(kept)) => {
            metrics::counter!("idempotency_replays_total").increment(1);
            return Served::Here(Ok(answer::replay(kept)));
        }
        Ok(Claim::InProgress) => return Served::Here(Err(ApiError::IdempotencyKeyInUse)),
        Ok(Claim::OtherRequest) => return Served::Here(Err(ApiError::IdempotencyKeyReused)),
        Err(e) => return Served::Here(Err(e.into())),
    };
    let held =
        HeldClaim { store: guard.state.store.clone(), claim: Some((caller.tenant_id.clone(), key, token)) };
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    Served::ByHandler(held.settle(response, family).await)
}

/// The key as this route family takes credentials (as its handler reads them).
fn presented_key(family: Family, headers: &HeaderMap) -> Option<Cow<'_, str>> {
    match family {
        Family::Su => crate::api::su::presented_key(headers).map(Cow::Borrowed),
        Family::Customers => crate::api::customers::presented_key(headers).map(Cow::Owned),
        Family::Booking | Family::Problem => bearer_token(headers).map(Cow::Borrowed),
    }
}

/// The whole body, within the body limit (413) and the request timeout: the handler's time only
/// starts once it is read, so the read gets a bound of its own.
async fn read_body<S>(body: Body, state: &AppState<S>) -> Result<Bytes, ApiError> {
    let limit = state.limits.body_limit_bytes;
    let timeout = state.limits.request_timeout_secs;
    let read = async {
        let mut stream = body.into_data_stream();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| ApiError::BadRequest {
                detail: "could not read the request body".into(),
                errors: vec![],
            })?;
            if bytes.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(bytes))
    };
    tokio::time::timeout(Duration::from_secs(timeout), read).await.unwrap_or(Err(ApiError::Timeout(timeout)))
}

/// A claim this request holds until its answer is stored or the claim released. Dropped while
/// still held (the client went away mid-request and the server dropped the request), it releases
/// the claim on a task of its own, so the key is free for a retry at once, not after the lease.
struct HeldClaim<S: IdempotencyStore + Clone + 'static> {
    store: S,
    /// Tenant, key and token; `None` once settled.
    claim: Option<(String, IdempotencyKey, ClaimToken)>,
}

impl<S: IdempotencyStore + Clone + 'static> HeldClaim<S> {
    /// Stores the handler's answer for repeats, or releases the claim when the answer is not to be
    /// kept (see [`is_kept`]); the answer goes to the client either way.
    async fn settle(mut self, response: Response, family: Family) -> Response {
        // The claim stays in `self` until it is settled, so a request dropped half-way through
        // still releases it (a release after a completed answer changes nothing).
        let Some((tenant, key, token)) = &self.claim else { return response };
        let response = if !is_kept(response.status()) {
            release(&self.store, tenant, key, token).await;
            response
        } else {
            let (parts, body) = response.into_parts();
            match axum::body::to_bytes(body, usize::MAX).await {
                Ok(body) => {
                    let kept = answer::keep(&parts, &body);
                    match self.store.complete_idempotency_key(tenant, key.as_str(), token, &kept).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!("an idempotency claim was taken over before its answer was stored")
                        }
                        Err(e) => {
                            // The work is done and its answer goes out; a repeat will do it again
                            // (see the module comment), at once now that the claim is released.
                            tracing::warn!(error = %e, "storing the answer of an idempotency key failed");
                            release(&self.store, tenant, key, token).await;
                        }
                    }
                    Response::from_parts(parts, Body::from(body))
                }
                Err(e) => {
                    release(&self.store, tenant, key, token).await;
                    family.render(ApiError::Internal(format!("reading the answer to keep: {e}")), None)
                }
            }
        };
        self.claim = None;
        response
    }
}

impl<S: IdempotencyStore + Clone + 'static> Drop for HeldClaim<S> {
    fn drop(&mut self) {
        let Some((tenant, key, token)) = self.claim.take() else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let store = self.store.clone();
            runtime.spawn(async move { release(&store, &tenant, &key, &token).await });
        }
    }
}

async fn release<S: IdempotencyStore>(store: &S, tenant: &str, key: &IdempotencyKey, token: &ClaimToken) {
    if let Err(e) = store.release_idempotency_key(tenant, key.as_str(), token).await {
        // The claim then ends with its lease.
        tracing::warn!(error = %e, "releasing an idempotency claim failed");
    }
}
