//! Whether the request being served has sent a commit whose outcome it has not heard yet.
//!
//! The request timeout must not answer 503 ("nothing was stored") for a write whose COMMIT already
//! reached the server: that write may well be stored. The store marks the moment it sends a commit;
//! the timeout then waits for the real answer instead (the store bounds that wait itself).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

tokio::task_local! {
    static COMMIT_SENT: Arc<AtomicBool>;
}

/// Set once a commit was sent on the task it was made for.
#[derive(Debug, Clone, Default)]
pub struct CommitFlag(Arc<AtomicBool>);

impl CommitFlag {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Runs `fut` with this flag as the task's.
    pub async fn scope<F: std::future::Future>(&self, fut: F) -> F::Output {
        COMMIT_SENT.scope(self.0.clone(), fut).await
    }
}

/// Records that the current task is sending a commit (a no-op outside a flagged scope).
pub fn commit_sent() {
    let _ = COMMIT_SENT.try_with(|flag| flag.store(true, Ordering::SeqCst));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_scoped_task_sets_its_flag() {
        let flag = CommitFlag::default();
        commit_sent();
        assert!(!flag.is_set(), "outside the scope nothing is flagged");
        flag.scope(async { commit_sent() }).await;
        assert!(flag.is_set());
    }
}
