//! A short-lived in-process cache of authenticated keys.
//!
//! Without it every request pays one extra database round trip to look its key up, which is a third
//! of the work of a contact-set GET. Entries live for a configured time (`KEY_CACHE_TTL_MS`, 0 turns
//! the cache off), so a key revoked from the command line, which runs in another process, stops
//! working after at most that long. Only successful lookups are cached.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::auth::Caller;

/// Entries beyond this are dropped wholesale: a crude bound that only matters under abuse, since
/// a tenant has a handful of keys.
const MAX_ENTRIES: usize = 10_000;

/// Maps a key hash to its caller until the entry expires.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Caller, Instant)>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        KeyCache { ttl, entries: RwLock::new(HashMap::new()) }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The cached caller for `hash`, if still fresh.
    pub fn get(&self, hash: &str) -> Option<Caller> {
        if !self.enabled() {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries.get(hash).filter(|(_, at)| at.elapsed() < self.ttl).map(|(c, _)| c.clone())
    }

    pub fn insert(&self, hash: String, caller: Caller) {
        if !self.enabled() {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash, (caller, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> Caller {
        Caller { tenant_id: "t".into(), key_id: "k".into(), key_name: "n".into(), scopes: vec![] }
    }

    #[test]
    fn entries_expire_and_zero_ttl_disables() {
        let cache = KeyCache::new(Duration::from_millis(30));
        cache.insert("h".into(), caller());
        assert_eq!(cache.get("h").map(|c| c.key_id), Some("k".to_owned()));
        assert!(cache.get("other").is_none());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get("h").is_none());

        let off = KeyCache::new(Duration::ZERO);
        off.insert("h".into(), caller());
        assert!(off.get("h").is_none());
    }
}
