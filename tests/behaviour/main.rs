//! HTTP behaviour tests, each run against SQLite and (with `TEST_DATABASE_URL`) Postgres.

mod common;

mod auth;
mod errors;
mod ops;
mod properties;
