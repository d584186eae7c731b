//! The per-replica session cache in front of the sessions table.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use chrono::{DateTime, Utc};

use super::Clock;
use crate::{
    domain::{SessionEvent, SessionEventKind},
    store::SessionWithUser,
};

/// A short-lived copy of recently checked sessions, so that GetSession on a hot token does not
/// query the database every time.
///
/// The bound (DESIGN.md "Scale"): changes made through *this* replica (logout, revoke, password
/// change, factor changes, touch) update or drop entries at once; a session revoked, or a user
/// disabled or deleted, through *another* replica is dropped as soon as this replica reads the
/// event from the `session_events` feed (`forget_ended`, called by `Services::apply_session_event`,
/// woken by PostgreSQL's NOTIFY) — and in any case after at most `ttl`, which is the bound when
/// the feed is slow (a database outage, say). Profile changes made elsewhere (a new email or
/// roles) are not in the feed: they show here within `ttl`. Expiry is always checked
/// against the clock on the cached copy, so caching never extends a session. Ages are measured
/// on the service's `Clock`, so tests move time instead of waiting for it.
///
/// A read that races a revocation cannot put the revoked session back: every forget bumps a
/// generation, a lookup notes the generation before it reads the store, and `put` drops a copy
/// read before the latest forget.
#[derive(Debug)]
pub struct SessionCache {
    ttl: Duration,
    max_entries: usize,
    clock: Clock,
    entries: Mutex<Entries>,
    metrics: crate::metrics::Metrics,
}

/// Sessions by id, and the token-hash index into them: every lookup, update and removal by
/// session or token is O(1); only dropping a whole user's sessions walks the map.
#[derive(Debug, Default)]
struct Entries {
    by_session: HashMap<String, (SessionWithUser, DateTime<Utc>)>,
    by_token_hash: HashMap<String, String>,
    /// Bumped by every forget.
    generation: u64,
}

/// When a store read began, as far as the cache is concerned (see `SessionCache::put`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation(u64);

impl SessionCache {
    pub fn new(ttl: Duration, max_entries: usize, clock: Clock) -> Self {
        Self { ttl, max_entries, clock, entries: Mutex::new(Entries::default()), metrics: Default::default() }
    }

    /// Counts hits and misses in `metrics`.
    pub fn observed(self, metrics: &crate::metrics::Metrics) -> Self {
        Self { metrics: metrics.clone(), ..self }
    }

    /// Whether an entry cached at `at` is still young enough to answer from. A clock that went
    /// backwards (the system clock stepped) makes the age negative: stale, so the store is asked.
    fn is_fresh(&self, at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        (now - at).to_std().is_ok_and(|age| age < self.ttl)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fresh(&self, entries: &Entries, session_id: &str) -> Option<SessionWithUser> {
        let now = self.clock.now();
        entries.by_session.get(session_id).filter(|(_, at)| self.is_fresh(*at, now)).map(|(found, _)| found.clone())
    }

    /// The cached session whose token hashes to `token_hash`, if fresh.
    pub fn by_token_hash(&self, token_hash: &str) -> Option<SessionWithUser> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.lock();
        let found = entries.by_token_hash.get(token_hash).and_then(|session_id| self.fresh(&entries, session_id));
        self.metrics.session_cache_lookup(found.is_some());
        found
    }

    /// The cached session with this id, if fresh.
    pub fn by_session_id(&self, session_id: &str) -> Option<SessionWithUser> {
        if self.ttl.is_zero() {
            return None;
        }
        let found = self.fresh(&self.lock(), session_id);
        self.metrics.session_cache_lookup(found.is_some());
        found
    }

    /// Call before reading a session from the store; pass the answer to `put`.
    pub fn generation(&self) -> Generation {
        Generation(self.lock().generation)
    }

    /// Caches a session read from the store, unless something was forgotten since the read
    /// began (`read_at`): that copy may be of a session revoked meanwhile, and caching it would
    /// bring it back for `ttl`. Forgets are rare (logout, revocation, account changes), so the
    /// cost is an occasional extra store read.
    pub fn put(&self, found: &SessionWithUser, read_at: Generation) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.generation != read_at.0 {
            return;
        }
        let now = self.clock.now();
        if entries.by_session.len() >= self.max_entries {
            // Simple and bounded: drop what is stale, and everything if that was not enough.
            entries.by_session.retain(|_, (_, at)| self.is_fresh(*at, now));
            if entries.by_session.len() >= self.max_entries {
                entries.by_session.clear();
            }
            let Entries { by_session, by_token_hash, .. } = &mut *entries;
            by_token_hash.retain(|_, session_id| by_session.contains_key(session_id));
        }
        let session = &found.session;
        entries.by_token_hash.insert(session.session_token.clone(), session.id.clone());
        entries.by_session.insert(session.id.clone(), (found.clone(), now));
    }

    /// Replaces the cached copy of `found.session` (after a touch) without resetting its age.
    pub fn refresh(&self, found: &SessionWithUser) {
        if let Some((cached, _)) = self.lock().by_session.get_mut(&found.session.id) {
            *cached = found.clone();
        }
    }

    /// Forgets one session (logout, revoke).
    pub fn forget_session(&self, session_id: &str) {
        let mut entries = self.lock();
        entries.generation += 1;
        if let Some((found, _)) = entries.by_session.remove(session_id) {
            entries.by_token_hash.remove(&found.session.session_token);
        }
    }

    /// Forgets what `event` ended: one session, or every session of a disabled or deleted user.
    /// The hook through which a replica learns of another replica's revocations.
    pub fn forget_ended(&self, event: &SessionEvent) {
        match (event.kind, &event.session_id) {
            (SessionEventKind::SessionRevoked, Some(session_id)) => self.forget_session(session_id),
            // A revocation without a session id is not written; forgetting the user is safe.
            (SessionEventKind::SessionRevoked, None)
            | (SessionEventKind::UserDisabled | SessionEventKind::UserDeleted, _) => self.forget_user(&event.user_id),
        }
    }

    /// Forgets everything (the feed was lost: events may have been missed).
    pub fn forget_all(&self) {
        let mut entries = self.lock();
        entries.generation += 1;
        entries.by_session.clear();
        entries.by_token_hash.clear();
    }

    /// Forgets every session of a user (password change, factor changes, profile change). Rare:
    /// walks the map.
    pub fn forget_user(&self, user_id: &str) {
        let mut entries = self.lock();
        entries.generation += 1;
        let Entries { by_session, by_token_hash, .. } = &mut *entries;
        by_session.retain(|_, (cached, _)| cached.user.id != user_id);
        by_token_hash.retain(|_, session_id| by_session.contains_key(session_id));
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::store::{SessionRecord, UserRecord};

    fn session(id: &str, user_id: &str) -> SessionWithUser {
        let now = Utc::now();
        SessionWithUser {
            session: SessionRecord {
                id: id.into(),
                session_token: format!("hash-of-{id}"),
                user_id: user_id.into(),
                expires: now,
                idle_expires: now,
                created_at: now,
                last_seen_at: now,
                user_agent: None,
                authenticated_at: now,
            },
            user: UserRecord {
                id: user_id.into(),
                name: None,
                email: format!("{user_id}@example.com"),
                email_verified: None,
                image: None,
                password_hash: None,
                created_at: now,
                updated_at: now,
                disabled_at: None,
                roles: String::new(),
            },
        }
    }

    #[test]
    fn lookups_by_token_and_session_share_one_entry() {
        let cache = SessionCache::new(Duration::from_secs(60), 10, Clock::default());
        cache.put(&session("s1", "u1"), cache.generation());
        assert_eq!(cache.by_token_hash("hash-of-s1").unwrap().session.id, "s1");
        assert_eq!(cache.by_session_id("s1").unwrap().session.id, "s1");

        let mut touched = session("s1", "u1");
        touched.session.user_agent = Some("touched".into());
        cache.refresh(&touched);
        assert_eq!(cache.by_token_hash("hash-of-s1").unwrap().session.user_agent.as_deref(), Some("touched"));

        cache.forget_session("s1");
        assert!(cache.by_token_hash("hash-of-s1").is_none() && cache.by_session_id("s1").is_none());
    }

    #[test]
    fn forgetting_a_user_drops_all_their_sessions_only() {
        let cache = SessionCache::new(Duration::from_secs(60), 10, Clock::default());
        for (id, user) in [("a", "u1"), ("b", "u1"), ("c", "u2")] {
            cache.put(&session(id, user), cache.generation());
        }
        cache.forget_user("u1");
        assert!(cache.by_token_hash("hash-of-a").is_none() && cache.by_session_id("b").is_none());
        assert!(cache.by_token_hash("hash-of-c").is_some());
    }

    #[test]
    fn events_from_the_feed_forget_what_they_ended() {
        let cache = SessionCache::new(Duration::from_secs(60), 10, Clock::default());
        for (id, user) in [("a", "u1"), ("b", "u1"), ("c", "u2"), ("d", "u3")] {
            cache.put(&session(id, user), cache.generation());
        }
        let event = |kind, user_id: &str, session_id: Option<&str>| SessionEvent {
            cursor: crate::domain::EventCursor::after_id(1),
            kind,
            user_id: user_id.into(),
            session_id: session_id.map(str::to_owned),
            at: Utc::now(),
        };
        cache.forget_ended(&event(SessionEventKind::SessionRevoked, "u1", Some("a")));
        assert!(cache.by_session_id("a").is_none() && cache.by_session_id("b").is_some());
        cache.forget_ended(&event(SessionEventKind::UserDisabled, "u1", None));
        assert!(cache.by_session_id("b").is_none() && cache.by_session_id("c").is_some());
        cache.forget_ended(&event(SessionEventKind::UserDeleted, "u2", None));
        assert!(cache.by_token_hash("hash-of-c").is_none() && cache.by_session_id("d").is_some());
        cache.forget_all();
        assert!(cache.by_session_id("d").is_none());
    }

    #[test]
    fn a_read_that_raced_a_forget_is_not_cached() {
        let cache = SessionCache::new(Duration::from_secs(60), 10, Clock::default());
        // A lookup starts reading s1 from the store; meanwhile a logout forgets it.
        let read_at = cache.generation();
        cache.forget_session("s1");
        cache.put(&session("s1", "u1"), read_at);
        assert!(cache.by_token_hash("hash-of-s1").is_none(), "the revoked session came back");
        // The same for a whole user's sessions (password change).
        let read_at = cache.generation();
        cache.forget_user("u1");
        cache.put(&session("s2", "u1"), read_at);
        assert!(cache.by_session_id("s2").is_none());
        // A read that began after the forget is cached as usual.
        cache.put(&session("s3", "u1"), cache.generation());
        assert!(cache.by_session_id("s3").is_some());
    }

    #[test]
    fn entries_age_on_the_service_clock() {
        let clock = Clock::default();
        let cache = SessionCache::new(Duration::from_secs(60), 10, clock.clone());
        cache.put(&session("s1", "u1"), cache.generation());
        clock.advance(Duration::from_secs(59));
        assert!(cache.by_session_id("s1").is_some(), "younger than the TTL");
        clock.advance(Duration::from_secs(1));
        assert!(cache.by_token_hash("hash-of-s1").is_none() && cache.by_session_id("s1").is_none());
    }

    #[test]
    fn bounded_and_disabled() {
        let cache = SessionCache::new(Duration::from_secs(60), 2, Clock::default());
        for id in ["a", "b", "c"] {
            cache.put(&session(id, "u"), cache.generation());
        }
        assert!(cache.lock().by_session.len() <= 2 && cache.lock().by_token_hash.len() <= 2);
        assert!(cache.by_token_hash("hash-of-c").is_some(), "the newest entry is kept");

        let off = SessionCache::new(Duration::ZERO, 10, Clock::default());
        off.put(&session("a", "u"), off.generation());
        assert!(off.by_token_hash("hash-of-a").is_none());
    }
}
