//! Domain types that are valid by construction.

pub mod change;
pub mod contact_set;
pub mod crm;
pub mod crm_batch;
pub mod crm_cursor;
pub mod crm_duplicates;
pub mod crm_search;
pub mod customer;
pub mod property;
