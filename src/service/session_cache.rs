use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::store::SessionWithUser;

/// A short-lived copy of recently checked sessions, so that GetSession on a hot token does not
/// query the database every time.
///
/// The bound (DESIGN.md "Scale"): changes made through *this* replica (logout, revoke, password
/// change, touch) update or drop entries at once; a session revoked through *another* replica
/// may still be accepted here for at most `ttl`. Expiry is always checked against the clock on
/// the cached copy, so caching never extends a session.
#[derive(Debug)]
pub struct SessionCache {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<String, (SessionWithUser, Instant)>>,
}

impl SessionCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self { ttl, max_entries, entries: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (SessionWithUser, Instant)>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached session for `key` (a token hash or a session id), if fresh.
    pub fn get(&self, key: &str) -> Option<SessionWithUser> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.lock();
        entries.get(key).filter(|(_, at)| at.elapsed() < self.ttl).map(|(found, _)| found.clone())
    }

    pub fn put(&self, key: &str, found: &SessionWithUser) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.max_entries {
            // Simple and bounded: drop what is stale, and everything if that was not enough.
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
            if entries.len() >= self.max_entries {
                entries.clear();
            }
        }
        entries.insert(key.to_owned(), (found.clone(), Instant::now()));
    }

    /// Replaces the cached copies of `found.session` (after a touch) without resetting their age.
    pub fn refresh(&self, found: &SessionWithUser) {
        for (cached, _) in self.lock().values_mut() {
            if cached.session.id == found.session.id {
                *cached = found.clone();
            }
        }
    }

    /// Forgets one session (logout, revoke).
    pub fn forget_session(&self, session_id: &str) {
        self.lock().retain(|_, (cached, _)| cached.session.id != session_id);
    }

    /// Forgets every session of a user (password change, user changes).
    pub fn forget_user(&self, user_id: &str) {
        self.lock().retain(|_, (cached, _)| cached.user.id != user_id);
    }
}
