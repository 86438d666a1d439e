//! Dry runs: a write's use case run whole, every check included, then rolled back.
//!
//! A dry run must answer exactly what the write would (404, 412, 409, a merge refusal, the
//! revision or id it would get), and those answers need the store: the property must exist and be
//! the caller's, `If-Match` is compared under the row lock, and so on. So rather than a second,
//! check-only code path per use case (which would drift from the real one), the real transaction
//! runs and [`super::session::Tx::commit`] rolls it back instead when the task is in a dry run.
//! Nothing it wrote (revision, version bump, change event, and so no webhook delivery) survives.
//!
//! A task-local rather than a parameter of every store method: a commit anywhere inside the scope
//! is suppressed, so a use case cannot forget it. The Postgres contact-set replace runs on a task
//! of its own and reads the flag before it spawns (see `postgres/pipeline.rs`).

use std::future::Future;

tokio::task_local! {
    static DRY_RUN: ();
}

/// Runs `fut` as a dry run: every transaction it commits is rolled back instead.
pub async fn run<F: Future>(fut: F) -> F::Output {
    DRY_RUN.scope((), fut).await
}

/// Runs `fut` as a dry run when `dry` is set, else as it is.
pub async fn run_if<F: Future>(dry: bool, fut: F) -> F::Output {
    if dry {
        run(fut).await
    } else {
        fut.await
    }
}

/// Whether the current task is in a dry run.
pub fn active() -> bool {
    DRY_RUN.try_with(|_| ()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_scope_is_a_dry_run() {
        assert!(!active());
        assert!(run(async { active() }).await);
        assert!(!run_if(false, async { active() }).await);
        assert!(run_if(true, async { active() }).await);
        assert!(!active());
    }
}
