//! The state every handler receives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::config::Limits;

/// Shared, cheaply cloned application state, generic over the store backend.
#[derive(Clone)]
pub struct AppState<S> {
    pub store: S,
    pub limits: Arc<Limits>,
    draining: Arc<AtomicBool>,
}

impl<S> AppState<S> {
    pub fn new(store: S, limits: Limits) -> Self {
        AppState { store, limits: Arc::new(limits), draining: Arc::new(AtomicBool::new(false)) }
    }

    /// Marks the service as shutting down: `/readyz` answers 503 from now on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}
