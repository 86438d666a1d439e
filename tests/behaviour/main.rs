//! HTTP behaviour tests, each run against SQLite and (with `TEST_DATABASE_URL`) Postgres.

mod common;

mod audit;
mod auth;
mod booking_compat;
mod changes;
mod compression;
mod contact_sets;
mod cors;
mod crm;
mod crm_concurrency;
mod crm_merge;
mod crm_patch;
mod customers;
mod dry_runs;
mod errors;
mod fixtures;
mod idempotency;
mod limits;
mod ops;
mod paging;
mod param_errors;
mod pipeline_pool;
mod preconditions;
mod privacy;
mod properties;
mod retention;
mod revision_diff;
mod revisions;
mod su;
mod text_rule;
mod trailing_data;
mod webhook_receiver;
mod webhooks;
