//! A fresh database on the Postgres of `TEST_DATABASE_URL`, for tests that start real service
//! processes (which cannot share a test schema's `search_path`).

use std::process::Command;

/// A database of its own, dropped when done; `None` (skip) when the variable is unset, except
/// under `CI=true`.
pub struct PgDatabase {
    admin: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    /// `prefix` names the test family in the database's name, for reading `\l` after a failure.
    pub fn create(prefix: &str) -> Option<Self> {
        let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
            assert!(
                std::env::var("CI").map(|v| v != "true").unwrap_or(true),
                "CI=true needs TEST_DATABASE_URL"
            );
            return None;
        };
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let ok =
            Command::new("psql").args([&base, "-qc", &format!("CREATE DATABASE {name}")]).status().unwrap();
        assert!(ok.success());
        let (server, _) = base.rsplit_once('/').unwrap();
        Some(PgDatabase { admin: base.clone(), url: format!("{server}/{name}"), name })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([&self.admin, "-qc", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .status();
    }
}
