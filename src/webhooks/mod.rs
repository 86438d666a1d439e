//! Signed webhooks: subscriptions receive their tenant's change-feed events, one POST per event in
//! feed order, signed as the Standard Webhooks specification says.
//!
//! - [`signing`]: secrets and signatures.
//! - [`target`]: which URLs may be called (no internal addresses), at subscribe and send time.
//! - [`sender`]: one signed POST and its outcome.
//! - [`retry`]: backoff and the retry window.
//! - [`worker`]: the delivery loop each process runs, sharing the work through leases.
//!
//! The routes are in `crate::api::webhooks`, the tables in `crate::store::webhooks`.

pub mod retry;
pub mod sender;
pub mod signing;
pub mod target;
pub mod worker;

pub use worker::{spawn, WorkerConfig, WorkerHandle};
