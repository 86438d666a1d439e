//! HTTP behaviour tests, each run against SQLite and (with `TEST_DATABASE_URL`) Postgres.

mod common;

mod auth;
mod changes;
mod contact_sets;
mod crm;
mod crm_batch;
mod crm_cleanup;
mod crm_concurrency;
mod crm_merge;
mod crm_search;
mod customers;
mod errors;
mod fixtures;
mod idempotency;
mod limits;
mod ops;
mod paging;
mod pipeline_pool;
mod preconditions;
mod properties;
mod revisions;
mod su;
mod text_rule;
mod trailing_data;
mod webhook_receiver;
mod webhooks;
