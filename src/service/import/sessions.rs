//! Sessions and verification tokens. An unexpired Auth.js session becomes a Keyward session whose
//! token is the Auth.js `sessionToken` (stored, like every Keyward token, as its SHA-256 only), so
//! an app that forwards its existing session cookie keeps its users signed in. Its expiry is the
//! source's, capped at Keyward's `session_max_age_secs` from the import. It is never "recently
//! authenticated" (`authenticated_at` is the epoch), so a factor change in it asks for a
//! re-authentication first; a token that was plainly not random is refused and reported.
//!
//! Verification tokens are not carried over: Auth.js keeps them as SHA-256(token ‖ AUTH_SECRET)
//! for links to its own callback URL, which Keyward cannot redeem. They live for a day at most;
//! users ask for a new link.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Change, ImportTable, Phase, Planned, Run, chrono_duration};
use crate::{
    domain::{AuthjsToken, SessionToken},
    error::Result,
    store::{
        NewSession,
        authjs::{AuthjsSource, SourceRow, SourceRows, SourceSession},
        new_id,
    },
};
use tokio_stream::Stream;

const TABLE: ImportTable = ImportTable::Sessions;

impl Run<'_> {
    pub(super) async fn sessions(
        &mut self,
        rows: Option<SourceRows<impl Stream<Item = SourceRow<SourceSession>>>>,
    ) -> Result<()> {
        let Some(rows) = rows else { return Ok(()) };
        self.drive(&mut Sessions, rows).await
    }
}

struct Sessions;

impl Phase for Sessions {
    const TABLE: ImportTable = TABLE;
    type Row = SourceSession;
    type Mapped = (Option<String>, NewSession);

    fn map(&mut self, run: &mut Run<'_>, row: SourceSession) -> Option<Self::Mapped> {
        run.map_session(row)
    }

    async fn write(&mut self, run: &mut Run<'_>, batch: Vec<Self::Mapped>) -> Result<()> {
        run.session_batch(batch).await
    }
}

impl Run<'_> {
    fn map_session(&mut self, source: SourceSession) -> Option<(Option<String>, NewSession)> {
        let SourceSession { id, session_token, user_id, expires } = source;
        let source_id = id.or_else(|| Some(format!("of user {user_id}")));
        if expires <= self.now {
            self.report.count_mut(TABLE).skipped += 1;
            return None;
        }
        let token = match SessionToken::check_authjs(&session_token) {
            Ok(token) => token,
            Err(AuthjsToken::Shape) => {
                self.report.failed(
                    TABLE,
                    source_id,
                    "its token is not a shape Keyward accepts (a version-4 UUID, or 64 hex digits)",
                );
                return None;
            }
            Err(AuthjsToken::LowEntropy) => {
                self.report.failed(
                    TABLE,
                    source_id,
                    "its token has too little entropy to be a random value (one digit, or a short block repeated); the user signs in again",
                );
                return None;
            }
        };
        if !self.present_users.contains(&user_id) {
            self.user_missing(TABLE, source_id, &user_id);
            return None;
        }
        let expires = expires.min(self.now + chrono_duration(self.policy.session_max_age));
        let session = NewSession {
            id: new_id(),
            token_hash: token.hash().as_str().to_owned(),
            user_id,
            created_at: self.now,
            // Never "recent": whenever the user last proved a factor in Auth.js, Keyward did not
            // see it, so a sensitive change asks them to re-authenticate first.
            authenticated_at: DateTime::<Utc>::UNIX_EPOCH,
            idle_expires: (self.now + chrono_duration(self.policy.session_idle_timeout)).min(expires),
            expires,
            user_agent: None,
        };
        Some((source_id, session))
    }

    pub(super) async fn session_batch(&mut self, batch: Vec<(Option<String>, NewSession)>) -> Result<()> {
        let existing = match self.store() {
            Some(store) => {
                let hashes = batch.iter().map(|(_, session)| session.token_hash.clone()).collect();
                store.sessions_with_token_hashes(hashes).await?
            }
            None => Vec::new(),
        };
        let existing: HashMap<String, String> =
            existing.into_iter().map(|session| (session.session_token, session.user_id)).collect();
        let mut planned = Vec::new();
        for (source_id, session) in batch {
            match existing.get(&session.token_hash) {
                Some(owner) if *owner != session.user_id => {
                    self.report.failed(TABLE, source_id, "this session token belongs to another Keyward user");
                }
                // Already imported: Keyward runs the session from here on.
                Some(_) => self.report.count_mut(TABLE).skipped += 1,
                None => planned.push(Planned { source_id, change: Change::NewSession(session) }),
            }
        }
        self.commit(TABLE, planned).await?;
        Ok(())
    }

    pub(super) async fn verification_tokens(&mut self, source: &AuthjsSource) -> Result<()> {
        const TOKENS: ImportTable = ImportTable::VerificationTokens;
        if source.layout().verification_tokens.is_none() {
            return Ok(());
        }
        let expiries = source.verification_token_expiries().await?;
        self.progress.start(TOKENS, expiries.len() as u64);
        let mut live = 0u64;
        for expiry in expiries {
            self.progress.advance(1);
            match expiry {
                Ok(expires) => {
                    live += u64::from(expires > self.now);
                    self.report.count_mut(TOKENS).skipped += 1;
                }
                Err(bad) => self.report.failed(TOKENS, bad.id, bad.reason),
            }
        }
        if live > 0 {
            self.report.notes.push(format!(
                "{live} unexpired verification token(s) were not carried over: Auth.js stores them hashed with your AUTH_SECRET, for links to its own callback URL, which Keyward cannot redeem; those users ask for a new link"
            ));
        }
        self.progress.finish();
        Ok(())
    }
}
