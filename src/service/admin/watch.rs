//! WatchSessionEvents: a stream of the sessions that end early, users disabled and users
//! deleted, for verifiers that cache sessions or access tokens. It replays every event after
//! the caller's cursor, says when it has caught up, then sends events as this replica learns of
//! them — with no gap and no duplicate, because every read is "the events after the last one
//! sent". A cursor older than the retention window is `WatchCursorExpired`: resync, then watch
//! from now.

use std::{pin::Pin, time::Duration};

use serde_json::json;
use tokio_stream::Stream;

use super::{Admin, EventsWatch, kind};
use crate::{
    domain::{EventCursor, SessionEvent},
    error::{Error, FieldReason, Result},
    service::{Services, api_keys::key_is_live},
};

/// Events read per query by one stream.
const STREAM_BATCH: u64 = 100;
/// How often an idle stream checks that its key is still live (it also checks before it sends
/// anything): a revoked or expired key's stream ends within this.
const KEY_RECHECK: Duration = Duration::from_secs(30);

/// What a watch stream sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchItem {
    /// Something ended sessions.
    Event(SessionEvent),
    /// Every event up to this cursor has been sent; live events follow. Sent once, after the
    /// replay (also when there was nothing to replay).
    CaughtUp(EventCursor),
}

/// A watch stream: items until the client goes away or the stream fails.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchItem>> + Send>>;

impl Services {
    /// Opens a watch stream after `cursor` (empty: from now on). Bad or unknown cursors are
    /// refused before anything is streamed; so are keys past `max_watch_streams_per_key`.
    pub async fn admin_watch_session_events(&self, admin: Admin<EventsWatch>, cursor: &str) -> Result<WatchStream> {
        let from = EventCursor::parse(cursor)?;
        let feed = &self.inner.session_feed;
        let store = &self.inner.store;
        let mut after = match from {
            Some(from) => {
                if from > store.session_event_head().await? {
                    return Err(Error::field("cursor", FieldReason::Malformed, "cursor is not one this stream sent"));
                }
                // Refused now rather than after the stream opened; every read checks it again.
                if store.session_event_cursor_expired(from).await? {
                    return Err(Error::WatchCursorExpired);
                }
                from
            }
            None => *feed.applied().borrow(),
        };
        let slot = feed.open_stream(admin.key_id())?;
        let detail = json!({ "resumed": from.is_some() });
        self.admin_audit(&admin, None, kind::EVENTS_WATCHED, detail).await;

        let services = self.clone();
        let stream = async_stream::try_stream! {
            let _slot = slot;
            let mut applied = services.inner.session_feed.applied();
            let mut closing = services.inner.session_feed.closing();
            let mut recheck = tokio::time::interval(KEY_RECHECK);
            recheck.tick().await;
            let mut caught_up = false;
            loop {
                let (events, more) = services.events_to_send(&mut applied, after).await?;
                for event in events {
                    after = event.cursor;
                    yield WatchItem::Event(event);
                }
                if more {
                    continue;
                }
                if !caught_up {
                    caught_up = true;
                    yield WatchItem::CaughtUp(after);
                }
                if *closing.borrow_and_update() {
                    // The server is shutting down: end the stream; the client resumes elsewhere.
                    break;
                }
                let feed_alive = tokio::select! {
                    changed = applied.changed() => changed.is_ok(),
                    _ = recheck.tick() => true,
                    _ = closing.changed() => continue,
                };
                if !feed_alive {
                    Err(Error::internal("the session feed stopped"))?;
                }
                services.check_key_live(&admin).await?;
            }
        };
        Ok(Box::pin(stream))
    }

    /// The next events after `after` that this replica has applied, and whether more may follow
    /// at once (a full batch).
    async fn events_to_send(
        &self,
        applied: &mut tokio::sync::watch::Receiver<EventCursor>,
        after: EventCursor,
    ) -> Result<(Vec<SessionEvent>, bool)> {
        let up_to = applied.borrow_and_update().id();
        let events = self.inner.store.session_events_after(after, up_to, STREAM_BATCH).await?;
        let more = events.len() as u64 == STREAM_BATCH;
        Ok((events, more))
    }

    /// `ApiKeyInvalid` once the stream's key was revoked or expired.
    async fn check_key_live(&self, admin: &Admin<EventsWatch>) -> Result<()> {
        let record = self.inner.store.find_api_key(admin.key_id()).await?;
        match record {
            Some(record) if key_is_live(&record, self.inner.clock.now()) => Ok(()),
            _ => Err(Error::ApiKeyInvalid),
        }
    }

    /// Deletes session events past their retention (the expiry sweep).
    pub(in crate::service) async fn prune_session_events(&self) -> Result<u64> {
        let before = self.inner.clock.now() - self.inner.session_feed.retention;
        self.inner.store.prune_session_events(before).await
    }
}
