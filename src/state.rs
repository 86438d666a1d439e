//! The state every handler receives.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Limits, WebhookSettings};
use crate::key_cache::KeyCache;
use crate::rate_limit::RateLimiter;

/// Shared application state, generic over the store backend. One `Arc`: axum clones the state for
/// every request (router and `State` extractor), so a clone is one reference count, not one per part.
pub struct AppState<S>(Arc<Shared<S>>);

/// What [`AppState`] shares; reached through `Deref` (`state.store`, `state.limits`, ...).
pub struct Shared<S> {
    pub store: S,
    pub limits: Limits,
    pub key_cache: KeyCache,
    /// Per-key limiter; `None` when limiting is off.
    pub rate_limiter: Option<RateLimiter>,
    /// What the webhook routes need: the address rule and the client of the retry route.
    pub webhooks: WebhookRoutes,
    /// Origins allowed to call from a browser (CORS).
    pub cors: crate::cors::CorsOrigins,
    draining: AtomicBool,
}

/// The webhook routes' share of the settings.
pub struct WebhookRoutes {
    pub allow_private: bool,
    pub sender: crate::webhooks::sender::Sender,
}

impl WebhookRoutes {
    fn new(settings: &WebhookSettings) -> Self {
        WebhookRoutes {
            allow_private: settings.webhook_allow_private_targets,
            sender: crate::webhooks::sender::Sender::new(
                Duration::from_millis(settings.webhook_timeout_ms),
                settings.webhook_allow_private_targets,
            ),
        }
    }
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState(Arc::clone(&self.0))
    }
}

impl<S> Deref for AppState<S> {
    type Target = Shared<S>;

    fn deref(&self) -> &Shared<S> {
        &self.0
    }
}

impl<S> AppState<S> {
    pub fn new(store: S, limits: Limits) -> Self {
        AppState(Arc::new(Shared {
            store,
            limits,
            key_cache: KeyCache::new(Duration::ZERO),
            rate_limiter: None,
            webhooks: WebhookRoutes::new(&WebhookSettings::default()),
            cors: crate::cors::CorsOrigins::None,
            draining: AtomicBool::new(false),
        }))
    }

    /// Caches authenticated keys for `ttl` (zero, the default, looks every key up).
    pub fn with_key_cache(mut self, ttl: Duration) -> Self {
        self.configure().key_cache = KeyCache::new(ttl);
        self
    }

    /// Limits each key to `per_second` requests with bursts of `burst` (0 per second: off).
    pub fn with_rate_limit(mut self, per_second: u32, burst: u32) -> Self {
        self.configure().rate_limiter = RateLimiter::new(per_second, burst);
        self
    }

    /// Webhook settings other than the defaults (private targets, delivery timeout).
    pub fn with_webhooks(mut self, settings: &WebhookSettings) -> Self {
        self.configure().webhooks = WebhookRoutes::new(settings);
        self
    }

    /// Answers CORS for `origins` (none by default).
    pub fn with_cors(mut self, origins: crate::cors::CorsOrigins) -> Self {
        self.configure().cors = origins;
        self
    }

    /// The parts, while the state is still being built (`with_*` come before the first clone).
    fn configure(&mut self) -> &mut Shared<S> {
        Arc::get_mut(&mut self.0).expect("AppState is configured before it is shared")
    }

    /// Marks the service as shutting down: `/readyz` answers 503 from now on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}
