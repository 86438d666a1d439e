//! The state every handler receives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Limits;
use crate::key_cache::KeyCache;
use crate::rate_limit::RateLimiter;

/// Shared, cheaply cloned application state, generic over the store backend.
#[derive(Clone)]
pub struct AppState<S> {
    pub store: S,
    pub limits: Arc<Limits>,
    pub key_cache: Arc<KeyCache>,
    /// Per-key limiter; `None` when limiting is off.
    pub rate_limiter: Option<RateLimiter>,
    draining: Arc<AtomicBool>,
}

impl<S> AppState<S> {
    pub fn new(store: S, limits: Limits) -> Self {
        AppState {
            store,
            limits: Arc::new(limits),
            key_cache: Arc::new(KeyCache::new(Duration::ZERO)),
            rate_limiter: None,
            draining: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Caches authenticated keys for `ttl` (zero, the default, looks every key up).
    pub fn with_key_cache(mut self, ttl: Duration) -> Self {
        self.key_cache = Arc::new(KeyCache::new(ttl));
        self
    }

    /// Limits each key to `per_second` requests with bursts of `burst` (0 per second: off).
    pub fn with_rate_limit(mut self, per_second: u32, burst: u32) -> Self {
        self.rate_limiter = RateLimiter::new(per_second, burst);
        self
    }

    /// Marks the service as shutting down: `/readyz` answers 503 from now on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}
