//! The domain error enum, grouped by cause. `grpc::status` maps each variant to a gRPC status in
//! one exhaustive match; nothing else decides status codes.

use std::fmt;

/// Result alias used across the service and store layers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a Keyward use case can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // --- the caller sent something unusable ---
    /// A request field is missing, malformed or out of bounds.
    #[error("invalid {0}")]
    InvalidField(FieldError),

    // --- who the caller is ---
    /// Email/password did not match. Deliberately says nothing about which.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No session token or access token came with a call that needs one.
    #[error("not signed in")]
    NotSignedIn,
    /// The token is unknown, expired, revoked or malformed.
    #[error("session invalid")]
    SessionInvalid,
    /// The call changes the session (refresh, logout, revoke, password change) and so needs the
    /// session token itself; an access token only proves who the caller is.
    #[error("session token required")]
    SessionTokenRequired,
    /// The call changes a sign-in method (or is as sensitive) and the user last proved a factor
    /// in this session longer ago than `reauthentication_window_secs`: re-authenticate, retry.
    #[error("reauthentication required")]
    ReauthenticationRequired,

    /// An AdminService call without `authorization: Bearer kw_…`.
    #[error("api key required")]
    ApiKeyRequired,
    /// The API key is unknown, revoked, expired or malformed (a user's token is none of them).
    #[error("api key invalid")]
    ApiKeyInvalid,
    /// The API key is valid but lacks the scope this call needs.
    #[error("api key lacks scope {0}")]
    ApiKeyScopeMissing(crate::domain::ApiScope),
    /// The user is disabled by an operator: no sign-in method works until they are enabled.
    #[error("user disabled")]
    UserDisabled,

    /// A request carrying the session cookie that a browser on our page would not have sent: not
    /// grpc-web, or from an origin that is neither ours nor allowed (CSRF).
    #[error("browser request refused: {0:?}")]
    BrowserRequestRefused(BrowserRefusal),

    // --- state conflicts ---
    /// Registration with an email that already has an account.
    #[error("email already registered")]
    EmailTaken,
    /// The operation needs a password and the user has none.
    #[error("user has no password")]
    NoPassword,
    /// Password sign-in of an account whose address is not verified, with
    /// `require_email_verification` on (the password was right).
    #[error("email not verified")]
    EmailNotVerified,
    /// A magic link (or its code) opened where another account's session is signed in: finishing
    /// it would end that session and sign the browser into the link's account (login CSRF). The
    /// address the link is for, which the caller holds the link or typed the code for.
    #[error("signed in as another user")]
    SignedInAsAnotherUser { link_email: String },
    /// The operation needs a passkey and the user has none.
    #[error("user has no passkey")]
    NoPasskey,
    /// The credential id is already registered (to this or another user).
    #[error("passkey already registered")]
    PasskeyAlreadyRegistered,
    /// The user already has `max_passkeys_per_user` passkeys.
    #[error("passkey limit reached")]
    TooManyPasskeys,
    /// Removing this would leave the user no way to sign in.
    #[error("last sign-in method")]
    LastSignInMethod,
    /// No pending ceremony with this id (never issued, already finished, or of another kind).
    #[error("ceremony not found")]
    CeremonyNotFound,
    /// The ceremony's time ran out before it was finished.
    #[error("ceremony expired")]
    CeremonyExpired,
    /// The ceremony was started by another user.
    #[error("ceremony belongs to someone else")]
    CeremonyNotYours,
    /// webauthn-rs refused a registration or an assertion.
    #[error("passkey {stage} rejected: {failure:?}")]
    PasskeyRejected { stage: PasskeyStage, failure: PasskeyFailure },
    /// Sign-in with a credential Keyward does not know (deleted, or never registered here).
    #[error("unknown passkey")]
    PasskeyUnknown,
    /// The signature counter did not increase: a possible cloned authenticator.
    #[error("passkey counter regressed")]
    PasskeyCounterRegressed,
    /// A WatchSessionEvents cursor from before the retention window: events after it are gone,
    /// so the watcher must resync (re-read what it caches) and watch from now.
    #[error("watch cursor expired")]
    WatchCursorExpired,
    /// The API key already has `max_watch_streams_per_key` WatchSessionEvents streams open.
    #[error("too many watch streams")]
    TooManyWatchStreams,
    /// A resource the caller named does not exist or is not theirs.
    #[error("{0} not found")]
    NotFound(Resource),

    // --- OAuth / OpenID Connect round-trips ---
    /// The `state` is not one we issued, or it was already used (single use, RFC 9700 §4.7).
    #[error("oauth state invalid")]
    OAuthStateInvalid,
    /// The `state` was ours but its 10 minutes are over.
    #[error("oauth state expired")]
    OAuthStateExpired,
    /// The user declined at the provider (`error=access_denied`).
    #[error("oauth access denied")]
    OAuthAccessDenied,
    /// The provider redirected back with another `error` code (RFC 6749 §4.1.2.1). Holds the
    /// code when it is one of the registered ones, else "other".
    #[error("oauth provider error {0}")]
    OAuthProviderError(&'static str),
    /// The provider refused the authorization code (invalid, expired, PKCE mismatch, bad client
    /// credentials) or answered the token request with something unusable.
    #[error("oauth token exchange failed")]
    OAuthTokenExchangeFailed,
    /// The OpenID Connect ID token failed a check.
    #[error("oauth id token invalid: {0}")]
    OAuthIdTokenInvalid(IdTokenCheck),
    /// The provider could not be reached, timed out or answered with a server error.
    #[error("oauth provider unavailable")]
    OAuthProviderUnavailable,
    /// The provider account's email belongs to an existing user and linking by email is not
    /// allowed for this provider, or the provider did not verify the email (Auth.js
    /// `OAuthAccountNotLinked`).
    #[error("oauth account not linked")]
    OAuthAccountNotLinked,
    /// A link was asked for, but the provider account is linked to a different user.
    #[error("oauth account linked to another user")]
    OAuthAccountLinkedToOtherUser,
    /// A link round-trip was finished without the session of the user who started it.
    #[error("oauth link user mismatch")]
    OAuthLinkUserMismatch,
    /// A new user would be created but the provider gave no usable (for GitHub: primary and
    /// verified) email address.
    #[error("oauth email unavailable")]
    OAuthEmailUnavailable,
    /// A new user would be created from an email the provider did not verify.
    #[error("oauth email unverified")]
    OAuthEmailUnverified,
    /// The callback's RFC 9207 `iss` names another issuer than the round-trip's provider.
    #[error("oauth issuer mismatch")]
    OAuthIssuerMismatch,

    // --- the server's own limits and faults ---
    /// A budget ran out — the client address's, or the account's after consecutive failures.
    /// One answer for both, so it says nothing about whether the account exists.
    #[error("rate limited")]
    RateLimited { retry_after: std::time::Duration },
    /// Too many ceremonies are pending (for this client address, or overall): Start* refuses
    /// rather than let anonymous callers grow storage without bound.
    #[error("too many pending ceremonies")]
    TooManyCeremonies { retry_after: std::time::Duration },
    /// The password hashing queue is full; the caller should retry later.
    #[error("password hashing is overloaded")]
    HasherOverloaded,
    /// The database is down, hanging or refusing connections: retry later.
    #[error("store unavailable")]
    StoreUnavailable,
    /// A fault in storage or a dependency. The detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// The process cannot start as configured (a bad setting, a missing or wrong master key).
    /// The text is one line for the operator; it never reaches a client.
    #[error("{0}")]
    Startup(String),
}

impl Error {
    /// Wraps an unexpected fault; its text goes to the log only.
    pub fn internal(detail: impl fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    /// Shorthand for a field violation.
    pub fn field(field: &'static str, reason: FieldReason, description: impl Into<String>) -> Self {
        Self::InvalidField(FieldError { field, reason, description: description.into() })
    }
}

/// One bad request field, named as it is in the proto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub reason: FieldReason,
    /// Human-readable, safe to show to the end user.
    pub description: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.description)
    }
}

/// Why a field was refused; `grpc::status` maps it to the published `ErrorReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldReason {
    Required,
    TooLong,
    Malformed,
    InvalidEmail,
    PasswordTooShort,
    PasswordTooLong,
    PasswordTooCommon,
    InvalidPageToken,
    InvalidPageSize,
    PasswordIncorrect,
    OAuthProviderUnknown,
    OAuthRedirectUriNotAllowed,
    /// A mailed link's token that is unknown, used, for another purpose, or stale.
    VerificationTokenInvalid,
    VerificationTokenExpired,
    /// A mailed one-time code that is wrong, used, expired, tried too often, or never sent.
    VerificationCodeInvalid,
    /// A mailed link's `redirect_uri` not in `email.redirect_uris`.
    RedirectUriNotAllowed,
}

/// Which passkey ceremony failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyStage {
    Registration,
    Login,
}

impl fmt::Display for PasskeyStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Registration => "registration",
            Self::Login => "sign-in",
        })
    }
}

/// Why webauthn-rs refused a credential, in the terms a client can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyFailure {
    /// clientDataJSON.origin is not an allowed origin.
    OriginMismatch,
    /// authData's rpIdHash is not our rp id.
    RpIdMismatch,
    /// The challenge is not the one this ceremony issued.
    ChallengeMismatch,
    /// The signature (or attestation) does not verify.
    SignatureInvalid,
    /// The user-present flag is not set.
    UserNotPresent,
    /// User verification was required and not performed.
    UserNotVerified,
    /// Anything else structurally wrong with the credential.
    Invalid,
}

/// Why a request carrying the session cookie was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserRefusal {
    /// The cookie came with something other than grpc-web (browsers only speak grpc-web).
    CookieOutsideGrpcWeb,
    /// No `Origin`, or one that is neither the server's own nor in `cors_allowed_origins`.
    OriginNotAllowed,
}

/// Kinds of thing a NOT_FOUND can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Session,
    LinkedAccount,
    Passkey,
    /// An AdminService call named a user id that does not exist.
    User,
    /// RetryWebhookDelivery named no dead webhook delivery.
    WebhookDelivery,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Session => "session",
            Self::LinkedAccount => "linked account",
            Self::Passkey => "passkey",
            Self::User => "user",
            Self::WebhookDelivery => "webhook delivery",
        })
    }
}

/// Which check an ID token failed (OpenID Connect Core §3.1.3.7). Sent to the client as ErrorInfo
/// metadata `check`: it says what went wrong without echoing anything from the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenCheck {
    Missing,
    Signature,
    Issuer,
    Audience,
    Nonce,
    Expired,
    Malformed,
}

impl IdTokenCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Signature => "signature",
            Self::Issuer => "issuer",
            Self::Audience => "audience",
            Self::Nonce => "nonce",
            Self::Expired => "expired",
            Self::Malformed => "malformed",
        }
    }
}

impl fmt::Display for IdTokenCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
