//! A short-lived in-process cache of key lookups.
//!
//! Without it every request pays one extra database round trip to look its key up, which is a third
//! of the work of a contact-set GET. Entries live for a configured time (`KEY_CACHE_TTL_MS`, 0 turns
//! the cache off), so a key revoked from the command line, which runs in another process, stops
//! working after at most that long.
//!
//! Failed lookups are remembered too, apart from the keys found, so a client retrying with a revoked
//! or mistyped key does not cost a query per attempt, and a flood of made-up keys cannot push the
//! real ones out. A rejected key cannot start working later: every key's secret is random and
//! unknown until it is created, so remembering a miss never refuses a valid key.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::caller::Caller;

/// Entries beyond this are dropped wholesale: a crude bound that only matters under abuse, since
/// a tenant has a handful of keys.
const MAX_ENTRIES: usize = 10_000;

/// Maps a key hash to its caller, or to nothing for a key not found, until the entry expires.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    entries: RwLock<HashMap<String, (Caller, Instant)>>,
    rejected: RwLock<HashMap<String, Instant>>,
}

impl KeyCache {
    pub fn new(ttl: Duration) -> Self {
        KeyCache { ttl, entries: RwLock::default(), rejected: RwLock::default() }
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

    /// Whether `hash` was looked up and not found within the TTL.
    pub fn is_rejected(&self, hash: &str) -> bool {
        if !self.enabled() {
            return false;
        }
        let rejected = self.rejected.read().unwrap_or_else(|p| p.into_inner());
        rejected.get(hash).is_some_and(|at| at.elapsed() < self.ttl)
    }

    /// Remembers that no live key hashes to `hash`.
    pub fn reject(&self, hash: String) {
        if !self.enabled() {
            return;
        }
        let mut rejected = self.rejected.write().unwrap_or_else(|p| p.into_inner());
        if rejected.len() >= MAX_ENTRIES {
            rejected.clear();
        }
        rejected.insert(hash, Instant::now());
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

    #[test]
    fn misses_are_remembered_apart_and_expire() {
        // A long TTL for the flood: ten thousand inserts in a debug build on a busy machine can
        // outlast a short one, and the known key would expire rather than be kept.
        let cache = KeyCache::new(Duration::from_secs(60));
        cache.insert("known".into(), caller());
        for i in 0..MAX_ENTRIES + 1 {
            cache.reject(format!("made-up-{i}"));
        }
        // A flood of rejected keys clears only its own map, never the keys found.
        assert!(cache.get("known").is_some());
        assert!(cache.is_rejected(&format!("made-up-{MAX_ENTRIES}")));
        assert!(!cache.is_rejected("made-up-0"), "bounded: cleared when full");
        assert!(!cache.is_rejected("known"));

        let short = KeyCache::new(Duration::from_millis(30));
        short.reject("h".into());
        assert!(short.is_rejected("h"));
        std::thread::sleep(Duration::from_millis(40));
        assert!(!short.is_rejected("h"));

        let off = KeyCache::new(Duration::ZERO);
        off.reject("h".into());
        assert!(!off.is_rejected("h"));
    }
}
