//! Who calls AdminService: an [`AdminCaller`] (a live API key and its scopes), and the grant
//! [`Admin<S>`] that one scope gives — as types the compiler checks, like `Caller` /
//! `SessionCaller` for users.
//!
//! Every admin use case takes `&Admin<S>` for the one scope it needs (`Admin<UsersWrite>` for
//! DeleteUser, …), and the only way to get an `Admin<S>` is [`AdminCaller::grant`], which checks
//! that the key carries `S`. So a handler that asks for the wrong scope does not compile against
//! the use case, and one that forgets to ask cannot call it at all. An `AdminCaller` comes only
//! from `Services::authenticate_api_key`; user credentials never make one, and an API key never
//! makes a user `Caller` (its `kw_` shape is no session token shape).
//!
//! ```compile_fail
//! # use keyward::service::admin::{Admin, UsersRead, UsersWrite};
//! // A read grant is not a write grant.
//! fn delete(_: &Admin<UsersWrite>) {}
//! fn with(read: &Admin<UsersRead>) { delete(read) }
//! ```
//!
//! ```compile_fail
//! # use keyward::service::admin::{Admin, UsersWrite};
//! // Grants cannot be built outside this module.
//! let forged: Admin<UsersWrite> = Admin { key: todo!(), scope: std::marker::PhantomData };
//! ```

use std::marker::PhantomData;

use crate::{
    domain::ApiScope,
    error::{Error, Result},
    service::RequestMeta,
};

/// A scope as a type.
pub trait Scope {
    const SCOPE: ApiScope;
}

macro_rules! scopes {
    ($($(#[$doc:meta])* $name:ident => $scope:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;
        impl Scope for $name {
            const SCOPE: ApiScope = ApiScope::$scope;
        }
    )*};
}

scopes! {
    /// `users:read`: ListUsers, GetUser.
    UsersRead => UsersRead;
    /// `users:write`: CreateUser, UpdateUser, DisableUser, EnableUser, DeleteUser.
    UsersWrite => UsersWrite;
    /// `users:email`: UpdateUser's `email` and `email_verified`, beside `users:write`.
    UsersEmail => UsersEmail;
    /// `users:roles`: UpdateUser's `roles`, beside `users:write`.
    UsersRoles => UsersRoles;
    /// `sessions:revoke`: RevokeUserSessions.
    SessionsRevoke => SessionsRevoke;
    /// `audit:read`: ListAuditEvents.
    AuditRead => AuditRead;
    /// `webhooks:manage`: ListWebhookDeliveries, RetryWebhookDelivery.
    WebhooksManage => WebhooksManage;
    /// `events:watch`: WatchSessionEvents.
    EventsWatch => EventsWatch;
}

/// A live (not revoked, not expired) API key, and where the call came from (for the audit log).
#[derive(Debug, Clone)]
pub struct AdminCaller {
    key_id: String,
    scopes: Vec<ApiScope>,
    meta: RequestMeta,
}

impl AdminCaller {
    pub(in crate::service) fn new(key_id: String, scopes: Vec<ApiScope>, meta: RequestMeta) -> Self {
        Self { key_id, scopes, meta }
    }

    /// The key's id (never the key): what the audit log records.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The grant of scope `S`, or `ApiKeyScopeMissing` when the key does not carry it.
    pub fn grant<S: Scope>(&self) -> Result<Admin<S>> {
        if self.scopes.contains(&S::SCOPE) {
            Ok(Admin { key: self.clone(), scope: PhantomData })
        } else {
            Err(Error::ApiKeyScopeMissing(S::SCOPE))
        }
    }
}

/// An API key's grant of scope `S`: what admin use cases take.
#[derive(Debug, Clone)]
pub struct Admin<S> {
    key: AdminCaller,
    scope: PhantomData<S>,
}

impl<S> Admin<S> {
    pub fn key_id(&self) -> &str {
        &self.key.key_id
    }

    pub(super) fn meta(&self) -> &RequestMeta {
        &self.key.meta
    }

    /// The same key's grant of another scope `T` (a use case that needs two, like an email
    /// change through UpdateUser), or `ApiKeyScopeMissing`.
    pub fn also<T: Scope>(&self) -> Result<Admin<T>> {
        self.key.grant::<T>()
    }
}
