//! Who is calling, as types the compiler checks (DESIGN.md "Who is calling").
//!
//! - [`Caller`]: any live user credential — the session token or an access token. Enough to
//!   read the caller's own data.
//! - [`SessionCaller`]: the session token itself. Every use case that changes the account, one
//!   of its sign-in methods or the session takes `&SessionCaller`, so a handler that forgets to
//!   ask for the session token does not compile. An access token is shown to other services; it
//!   must never be able to change anything.
//!
//! Neither can be built outside this module: a `Caller` comes only from `Services::authenticate`
//! and a `SessionCaller` only from a `Caller` that presented a session token.

use std::ops::Deref;

use crate::{
    domain::{Session, User},
    error::{Error, Result},
    store::{SessionRecord, UserRecord},
};

/// Which kind of credential identified the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// The opaque session token (bearer metadata or cookie).
    SessionToken,
    /// A JWT access token: enough to read, never to change anything.
    AccessToken,
}

/// An authenticated caller: a live session and its user, identified by either credential. The
/// rows stay inside the service layer; the transport reads `user()`, `session()` and
/// `session_id()`, the domain read models.
#[derive(Debug, Clone)]
pub struct Caller {
    pub(in crate::service) user: UserRecord,
    pub(in crate::service) session: SessionRecord,
    /// Private: a `Caller` cannot be forged with `SessionToken` to become a `SessionCaller`.
    via: CredentialKind,
}

impl Caller {
    pub(super) fn new(user: UserRecord, session: SessionRecord, via: CredentialKind) -> Self {
        Self { user, session, via }
    }

    /// Who the caller is.
    pub fn user(&self) -> User {
        User::from(&self.user)
    }

    /// The session the caller presented (or the one their access token names).
    pub fn session(&self) -> Session {
        Session::from(&self.session)
    }

    /// The id of that session.
    pub fn session_id(&self) -> &str {
        &self.session.id
    }

    /// The credential the caller presented.
    pub fn credential(&self) -> CredentialKind {
        self.via
    }

    /// The caller as the holder of the session token, or `SessionTokenRequired` when they
    /// presented an access token. The only way to get a [`SessionCaller`].
    pub fn into_session_caller(self) -> Result<SessionCaller> {
        match self.via {
            CredentialKind::SessionToken => Ok(SessionCaller(self)),
            CredentialKind::AccessToken => Err(Error::SessionTokenRequired),
        }
    }
}

/// A caller who presented the session token: may change the account, its sign-in methods and
/// the session (factor changes also need a recent authentication, checked by the use case).
///
/// A plain [`Caller`] cannot be passed where a `SessionCaller` is needed — this does not
/// compile:
///
/// ```compile_fail,E0308
/// # async fn handler(services: &keyward::service::Services, caller: keyward::service::Caller) {
/// // Any credential, access tokens included…
/// services.logout(&caller).await;
/// // …is not a session token: error[E0308]: mismatched types
/// # }
/// ```
///
/// nor can one be made except from a caller that presented the session token:
///
/// ```compile_fail,E0423
/// # fn forge(caller: keyward::service::Caller) {
/// let forged = keyward::service::SessionCaller(caller); // error[E0423]: private field
/// # }
/// ```
///
/// The way that compiles asks for the session token, and refuses an access token with
/// `SESSION_TOKEN_REQUIRED`:
///
/// ```no_run
/// # async fn handler(services: &keyward::service::Services, caller: keyward::service::Caller) -> keyward::Result<()> {
/// let caller = caller.into_session_caller()?;
/// services.logout(&caller).await
/// # }
/// ```
///
/// It dereferences to [`Caller`], so everything that reads takes a `SessionCaller` as well.
#[derive(Debug, Clone)]
pub struct SessionCaller(Caller);

impl Deref for SessionCaller {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}
