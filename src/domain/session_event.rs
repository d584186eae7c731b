//! Session events as WatchSessionEvents streams them — a session that ended early, a user
//! disabled, a user deleted — and the opaque cursor that resumes the stream after one.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};

use crate::error::{Error, FieldReason, Result};

const CURSOR_PREFIX: &str = "session-events:";
/// Longer than any cursor Keyward issues (an i64 in decimal, prefixed, base64url).
const MAX_CURSOR_CHARS: usize = 64;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEventKind {
    /// One session ended before its time: logout, RevokeSession, "sign out everywhere else", a
    /// sign-in that replaced it, a password change or reset, a factor change, RevokeUserSessions.
    SessionRevoked,
    /// The user was disabled: every session of theirs ended, and none can be made until enabled.
    UserDisabled,
    /// The user was deleted, and every session of theirs with them.
    UserDeleted,
}

impl SessionEventKind {
    /// The stable name stored in `session_events.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionRevoked => "session.revoked",
            Self::UserDisabled => "user.disabled",
            Self::UserDeleted => "user.deleted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::SessionRevoked, Self::UserDisabled, Self::UserDeleted].into_iter().find(|kind| kind.as_str() == raw)
    }
}

/// A position in the stream: the events after it come next. Opaque to clients (base64url of a
/// prefix and the event id), so its form can change without breaking them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventCursor(i64);

impl EventCursor {
    /// The cursor right after the event with id `id`.
    pub fn after_id(id: i64) -> Self {
        Self(id)
    }

    /// The id of the last event before this position (0: the beginning).
    pub fn id(self) -> i64 {
        self.0
    }

    /// The cursor's wire form.
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{}", self.0))
    }

    /// A request's `cursor`: empty is None (start from now); anything that is not exactly a
    /// cursor Keyward writes is `INVALID_ARGUMENT` on `cursor`.
    pub fn parse(raw: &str) -> Result<Option<Self>> {
        if raw.is_empty() {
            return Ok(None);
        }
        let invalid = || Error::field("cursor", FieldReason::Malformed, "cursor is not one WatchSessionEvents sent");
        if raw.len() > MAX_CURSOR_CHARS {
            return Err(invalid());
        }
        let decoded = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let text = std::str::from_utf8(&decoded).map_err(|_| invalid())?;
        let digits = text.strip_prefix(CURSOR_PREFIX).ok_or_else(invalid)?;
        let id: i64 = digits.parse().map_err(|_| invalid())?;
        // One spelling per position: no sign, no leading zeros, nothing negative.
        if id < 0 || id.to_string() != digits {
            return Err(invalid());
        }
        Ok(Some(Self(id)))
    }
}

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEvent {
    /// Resumes the stream right after this event.
    pub cursor: EventCursor,
    pub kind: SessionEventKind,
    pub user_id: String,
    /// The session that ended (`SessionRevoked` only).
    pub session_id: Option<String>,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        for id in [0, 1, 42, i64::MAX] {
            let cursor = EventCursor::after_id(id);
            assert_eq!(EventCursor::parse(&cursor.encode()).unwrap(), Some(cursor));
        }
        assert_eq!(EventCursor::parse("").unwrap(), None);
        let spelled = |text: &str| URL_SAFE_NO_PAD.encode(text);
        for bad in [
            "not base64 !".to_owned(),
            spelled("session-events:"),
            spelled("session-events:-1"),
            spelled("session-events:+1"),
            spelled("session-events:007"),
            spelled("session-events:1x"),
            spelled("session-events:99999999999999999999"),
            spelled("after:1"),
            "A".repeat(65),
            URL_SAFE_NO_PAD.encode([0xff, 0xfe]),
        ] {
            assert!(EventCursor::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds_have_stable_names() {
        for kind in [SessionEventKind::SessionRevoked, SessionEventKind::UserDisabled, SessionEventKind::UserDeleted] {
            assert_eq!(SessionEventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(SessionEventKind::parse("session.created"), None);
    }
}
