//! This replica's reader of the `session_events` feed: it applies every event — a session
//! revoked, a user disabled or deleted, on any replica — to the replica's caches, then publishes
//! how far it got. WatchSessionEvents streams deliver nothing beyond that point, so an event a
//! watcher has received is one this replica's GetSession already honours.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::sync::watch;

use super::Services;
use crate::{
    domain::{EventCursor, SessionEvent},
    error::{Error, Result},
};

/// Events read per query by the replica's reader.
const FOLLOW_BATCH: u64 = 500;
/// How often the reader looks at the feed when nothing woke it: a safety net only (the store's
/// wake-ups — local commits, PostgreSQL notifications, listener reconnections — are the path).
const FOLLOW_POLL: Duration = Duration::from_secs(5);

/// What the replica knows of the feed, and the watch streams open on it.
#[derive(Debug)]
pub(super) struct SessionFeed {
    /// The cursor up to which this replica has applied events to its caches.
    applied: watch::Sender<EventCursor>,
    /// Open WatchSessionEvents streams per API key id (a channel, so a change can be awaited).
    open_streams: Arc<watch::Sender<HashMap<String, usize>>>,
    pub(super) max_streams_per_key: usize,
    pub(super) retention: chrono::Duration,
    /// Set when the server shuts down: open streams end, so the graceful shutdown (which waits
    /// for every call in flight) is not held up by watchers, who reconnect elsewhere.
    closing: watch::Sender<bool>,
}

impl SessionFeed {
    /// A feed whose reader starts after `head` (what happened before this replica started is
    /// not in its empty caches).
    pub(super) fn new(head: EventCursor, max_streams_per_key: usize, retention: chrono::Duration) -> Self {
        Self {
            applied: watch::channel(head).0,
            open_streams: Arc::new(watch::channel(HashMap::new()).0),
            max_streams_per_key,
            retention,
            closing: watch::channel(false).0,
        }
    }

    /// A receiver that turns true when the server shuts down.
    pub(super) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// How far this replica has applied the feed, and a receiver that changes as it goes on.
    pub(super) fn applied(&self) -> watch::Receiver<EventCursor> {
        self.applied.subscribe()
    }

    /// A place for one more stream of `key_id`, given back when the returned slot is dropped
    /// (the stream ended or its client went away). `TooManyWatchStreams` past the bound: one
    /// key cannot hold the replica's connections and database reads without limit (OWASP ASVS 5
    /// V2.4.1, anti-automation limits on expensive operations).
    pub(super) fn open_stream(&self, key_id: &str) -> Result<StreamSlot> {
        let mut opened = false;
        self.open_streams.send_if_modified(|open| {
            let count = open.entry(key_id.to_owned()).or_default();
            opened = *count < self.max_streams_per_key;
            if opened {
                *count += 1;
            }
            opened
        });
        if !opened {
            return Err(Error::TooManyWatchStreams);
        }
        Ok(StreamSlot { open: Arc::clone(&self.open_streams), key_id: key_id.to_owned() })
    }
}

/// One open stream's place in the per-key count.
#[derive(Debug)]
pub(super) struct StreamSlot {
    open: Arc<watch::Sender<HashMap<String, usize>>>,
    key_id: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.open.send_modify(|open| {
            if let Some(count) = open.get_mut(&self.key_id) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    open.remove(&self.key_id);
                }
            }
        });
    }
}

impl Services {
    /// The open WatchSessionEvents streams per API key id, changing as streams open and close
    /// (tests wait on it for a stream's place to be given back).
    pub fn open_watch_streams(&self) -> watch::Receiver<HashMap<String, usize>> {
        self.inner.session_feed.open_streams.subscribe()
    }

    /// Ends every open WatchSessionEvents stream (the server is shutting down).
    pub fn end_watch_streams(&self) {
        self.inner.session_feed.closing.send_replace(true);
    }

    /// Reads the feed for as long as it runs (a background task of the app): whenever the store
    /// says something may have committed, and every few seconds regardless, it applies the new
    /// events to this replica's caches and then publishes how far it got.
    pub async fn follow_session_events(&self) {
        let feed = &self.inner.session_feed;
        let mut wakeups = self.inner.store.session_event_wakeups();
        let mut poll = tokio::time::interval(FOLLOW_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            wakeups.borrow_and_update();
            if let Err(err) = self.apply_new_session_events(feed).await {
                tracing::warn!(error = %err, "reading session events failed; retrying");
            }
            tokio::select! {
                changed = wakeups.changed() => if changed.is_err() { poll.tick().await; },
                _ = poll.tick() => {}
            }
        }
    }

    /// Applies every event after the published cursor, in batches.
    async fn apply_new_session_events(&self, feed: &SessionFeed) -> Result<()> {
        loop {
            let after = *feed.applied.borrow();
            let events = match self.inner.store.session_events_after(after, i64::MAX, FOLLOW_BATCH).await {
                Ok(events) => events,
                Err(Error::WatchCursorExpired) => {
                    // Behind the retention window (the database was unreachable for that long):
                    // events are gone, so nothing cached can be trusted. Start over from now.
                    let head = self.inner.store.session_event_head().await?;
                    self.inner.session_cache.forget_all();
                    feed.applied.send_replace(head);
                    tracing::warn!("session events were pruned before this replica read them; cache dropped");
                    return Ok(());
                }
                Err(err) => return Err(err),
            };
            for event in &events {
                self.apply_session_event(event);
            }
            if let Some(last) = events.last() {
                feed.applied.send_replace(last.cursor);
            }
            if (events.len() as u64) < FOLLOW_BATCH {
                return Ok(());
            }
        }
    }

    /// The one place a replica learns that sessions ended elsewhere: every cache of sessions
    /// or of what they vouch for forgets what `event` ended here.
    fn apply_session_event(&self, event: &SessionEvent) {
        self.inner.session_cache.forget_ended(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_per_key_are_bounded_and_given_back() {
        let feed = SessionFeed::new(EventCursor::after_id(0), 2, chrono::Duration::hours(1));
        let first = feed.open_stream("k1").unwrap();
        let _second = feed.open_stream("k1").unwrap();
        assert!(matches!(feed.open_stream("k1"), Err(Error::TooManyWatchStreams)));
        let _other = feed.open_stream("k2").expect("another key has its own bound");
        drop(first);
        let _third = feed.open_stream("k1").expect("a closed stream gives its place back");
        assert!(matches!(feed.open_stream("k1"), Err(Error::TooManyWatchStreams)));
    }
}
