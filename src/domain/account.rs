//! Read models of a user and their sign-in methods as the rest of Keyward sees them: `User`,
//! `Session`, `Passkey` (with `DeviceType`), `LinkedAccount`, and the `AuditEntry`s about them. The store builds them from its
//! rows (the only code that knows the column encodings), services return them, and the wire
//! layer maps them to proto. None carries a secret: no password hash, no token or token hash,
//! no provider token, no credential key.

use chrono::{DateTime, Utc};

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    /// When the email was verified; None: not verified.
    pub email_verified_at: Option<DateTime<Utc>>,
    pub image: Option<String>,
    /// Whether the user can sign in with a password (the hash itself stays in the store).
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    /// Roles an operator gave the user (carried in access tokens as the `roles` claim).
    pub roles: Vec<String>,
    /// When an operator disabled the user; None: enabled.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A session, without its token or the token's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    /// When it ends unless used again.
    pub idle_expires_at: DateTime<Utc>,
    /// When it ends, used or not.
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    /// When the user last proved a factor in it: sign-in, or re-authentication.
    pub authenticated_at: DateTime<Utc>,
}

/// Whether a passkey can be synced between devices (WebAuthn backup eligibility).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceType {
    /// Bound to one authenticator.
    SingleDevice,
    /// Backup eligible: a synced passkey.
    MultiDevice,
    /// A stored value Keyward does not know (a row written by another implementation).
    Unknown,
}

/// A passkey, without its public key, counter or webauthn-rs state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passkey {
    pub id: String,
    pub name: String,
    /// base64url credential id.
    pub credential_id: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub device_type: DeviceType,
    /// WebAuthn transports the authenticator reported (`usb`, `internal`, `hybrid`, …).
    pub transports: Vec<String>,
    /// The authenticator model's AAGUID, when it reported one.
    pub aaguid: Option<String>,
}

/// An identity at an OAuth/OIDC provider linked to a user, without the provider's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedAccount {
    pub id: String,
    pub provider: String,
    pub provider_account_id: String,
    pub created_at: DateTime<Utc>,
}

/// One audit-log entry, as an operator reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    /// The user the event is about; kept after the user is deleted.
    pub subject_id: Option<String>,
    pub kind: String,
    /// The event's JSON detail (client address, user agent, API key id where recorded).
    pub detail: String,
    pub created_at: DateTime<Utc>,
}
