//! Operators' user management: list, read, create, update (by field mask), disable, enable,
//! delete, and ending a user's sessions.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{
    Admin, Scope, SessionsRevoke, UsersEmail, UsersRead, UsersRoles, UsersWrite, check_id, check_range, kind,
    with_caller,
};
use crate::{
    domain::{DisplayName, Email, LinkedAccount, PageRequest, Passkey, Roles, Session, User},
    error::{Error, FieldReason, Resource, Result},
    service::{
        Services,
        email::notices::{FactorChange, factor_changed},
    },
    store::{AuditEvent, NewUser, UserChanges, UserFilter, UserRecord, new_id},
};

/// Longest `email_prefix` (an email is at most 254 characters).
const MAX_EMAIL_PREFIX_CHARS: usize = 254;
/// At most this many sessions and linked accounts in GetUser (passkeys are bounded by
/// `max_passkeys_per_user`).
const DETAIL_LIMIT: u64 = 100;

/// ListUsers' request, as the handler read it.
#[derive(Debug, Clone, Default)]
pub struct UserQuery<'a> {
    pub page_size: i32,
    pub page_token: &'a str,
    pub email_prefix: &'a str,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub disabled: Option<bool>,
}

/// UpdateUser's request: the mask's paths and the values they name.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate<'a> {
    pub paths: &'a [String],
    pub name: &'a str,
    pub email: &'a str,
    pub email_verified: bool,
    pub roles: &'a [String],
}

/// GetUser's answer: the user and their sign-in methods and live sessions.
#[derive(Debug, Clone)]
pub struct UserDetails {
    pub user: User,
    pub passkeys: Vec<Passkey>,
    pub linked_accounts: Vec<LinkedAccount>,
    pub sessions: Vec<Session>,
}

impl Services {
    /// `admin`'s key's grant of `T` too; a refusal is audited like a refused call.
    async fn also_audited<S, T: Scope>(&self, admin: &Admin<S>) -> Result<Admin<T>> {
        let granted = admin.also::<T>();
        if let Err(err) = &granted {
            self.audit_admin_refusal(err, T::SCOPE.as_str(), admin.meta()).await;
        }
        granted
    }

    async fn existing_user(&self, user_id: &str) -> Result<UserRecord> {
        self.inner.store.find_user(user_id).await?.ok_or(Error::NotFound(Resource::User))
    }

    /// One page of users matching the query, by id, and the next page token.
    pub async fn admin_list_users(
        &self,
        admin: &Admin<UsersRead>,
        query: UserQuery<'_>,
    ) -> Result<(Vec<User>, Option<String>)> {
        let page = PageRequest::parse(query.page_size, query.page_token)?;
        let prefix = query.email_prefix.trim().to_lowercase();
        if prefix.chars().count() > MAX_EMAIL_PREFIX_CHARS || prefix.chars().any(char::is_control) {
            return Err(Error::field("email_prefix", FieldReason::Malformed, "email_prefix is not part of an email"));
        }
        let (created_after, created_before) = check_range("create_time_to", query.created_from, query.created_to)?;
        let filter = UserFilter {
            email_prefix: (!prefix.is_empty()).then_some(prefix),
            created_after,
            created_before,
            disabled: query.disabled,
        };
        let users = self.inner.store.list_users(&filter, page.after.as_deref(), page.fetch_limit()).await?;
        let (users, next) = page.finish(users, |user| &user.id);
        self.admin_audit(admin, None, kind::USERS_LISTED, json!({ "count": users.len() })).await;
        Ok((users.iter().map(User::from).collect(), next))
    }

    /// The user with their passkeys, linked accounts and live sessions.
    pub async fn admin_get_user(&self, admin: &Admin<UsersRead>, user_id: &str) -> Result<UserDetails> {
        let user_id = check_id("user_id", user_id)?;
        let user = self.existing_user(user_id).await?;
        let store = &self.inner.store;
        let passkeys = store.user_authenticators(user_id).await?;
        let linked_accounts = store.list_accounts(user_id, None, DETAIL_LIMIT).await?;
        let sessions = store.list_user_sessions(user_id, self.inner.clock.now(), None, DETAIL_LIMIT).await?;
        self.admin_audit(admin, Some(user_id), kind::USER_READ, json!({})).await;
        Ok(UserDetails {
            user: User::from(&user),
            passkeys: passkeys.iter().map(Passkey::from).collect(),
            linked_accounts: linked_accounts.iter().map(LinkedAccount::from).collect(),
            sessions: sessions.iter().map(Session::from).collect(),
        })
    }

    /// Creates a user with no sign-in method yet: they sign in with a provider whose verified
    /// email matches once an operator marked theirs verified, or set a password through the
    /// invitation `send_invitation` mails (a set-password link, written to the outbox in the
    /// user's own transaction; ResetPassword finishes it).
    pub async fn admin_create_user(
        &self,
        admin: &Admin<UsersWrite>,
        email: &str,
        name: &str,
        send_invitation: bool,
    ) -> Result<User> {
        let email = Email::parse("email", email)?;
        let name = DisplayName::parse("name", name)?;
        let now = self.inner.clock.now();
        let new_user = NewUser {
            id: new_id(),
            email: email.to_string(),
            name: name.into_inner(),
            password_hash: None,
            created_at: now,
            email_verified: None,
        };
        let user = if send_invitation {
            let (token, mail) = self.invitation(&new_user.id, email.as_str())?;
            let user = self.inner.store.create_user_with_invitation(new_user, token, vec![mail]).await?;
            self.inner.outbox.wake();
            user
        } else {
            self.inner.store.create_user(new_user).await?
        };
        self.admin_audit(admin, Some(&user.id), kind::USER_CREATED, json!({ "invited": send_invitation })).await;
        Ok(User::from(&user))
    }

    /// Changes the fields the mask names (`name`, `email`, `email_verified`, `roles`), and no
    /// other: a field a client does not know is never wiped. An empty mask or an unknown path is
    /// refused (`update_mask`), as is every value that does not validate — before anything is
    /// written. `email` and `email_verified` also need `users:email`, `roles` also `users:roles`;
    /// a moved address ends every session of the user and mails the old address, in the change's
    /// transaction.
    pub async fn admin_update_user(
        &self,
        admin: &Admin<UsersWrite>,
        user_id: &str,
        update: UserUpdate<'_>,
    ) -> Result<User> {
        let user_id = check_id("user_id", user_id)?;
        if update.paths.is_empty() {
            return Err(Error::field(
                "update_mask",
                FieldReason::Required,
                "update_mask must name the fields to change",
            ));
        }
        let now = self.inner.clock.now();
        let mut changes = UserChanges::default();
        let (mut email_paths, mut roles_path) = (false, false);
        for path in update.paths {
            email_paths |= matches!(path.as_str(), "email" | "email_verified");
            roles_path |= path == "roles";
            match path.as_str() {
                "name" => changes.name = Some(DisplayName::parse("name", update.name)?.into_inner()),
                "email" => changes.email = Some(Email::parse("email", update.email)?.to_string()),
                "email_verified" => changes.email_verified = Some(update.email_verified.then_some(now)),
                "roles" => changes.roles = Some(Roles::parse("roles", update.roles)?.joined()),
                _ => {
                    return Err(Error::field(
                        "update_mask",
                        FieldReason::Malformed,
                        "update_mask paths are name, email, email_verified and roles",
                    ));
                }
            }
        }
        // Moving an address is a takeover and roles are privileges: each needs its own scope
        // beside users:write (least privilege, OWASP ASVS 5 V8.2.1), checked before the user is
        // even looked up.
        if email_paths {
            self.also_audited::<_, UsersEmail>(admin).await?;
        }
        if roles_path {
            self.also_audited::<_, UsersRoles>(admin).await?;
        }
        // Verifying an already verified address keeps its original time.
        let current = self.existing_user(user_id).await?;
        if changes.email_verified == Some(Some(now))
            && current.email_verified.is_some()
            && changes.email.as_ref().is_none_or(|email| *email == current.email)
        {
            changes.email_verified = Some(current.email_verified);
        }
        let notice = match &changes.email {
            Some(new_address) if *new_address != current.email => {
                let change = FactorChange::EmailChanged { new_address, by_operator: true };
                let product = &self.inner.links.product_name;
                Some(factor_changed(product, &current.email, &change, admin.meta(), now).to_outbox()?)
            }
            _ => None,
        };
        let mailed = notice.is_some();
        let user = self
            .inner
            .store
            .update_user(user_id, changes, notice, now)
            .await?
            .ok_or(Error::NotFound(Resource::User))?;
        if mailed {
            self.inner.outbox.wake();
        }
        // Cached copies carry the old email and roles.
        self.inner.session_cache.forget_user(user_id);
        self.admin_audit(admin, Some(user_id), kind::USER_UPDATED, json!({ "fields": update.paths })).await;
        Ok(User::from(&user))
    }

    /// Disables the user and ends every session of theirs at once (one transaction). Every
    /// sign-in then answers `UserDisabled` once its credential checked out. Returns the user and
    /// how many sessions ended.
    pub async fn admin_disable_user(&self, admin: &Admin<UsersWrite>, user_id: &str) -> Result<(User, u64)> {
        let user_id = check_id("user_id", user_id)?;
        let now = self.inner.clock.now();
        let current = self.existing_user(user_id).await?;
        let disabled_at = current.disabled_at.unwrap_or(now);
        let (user, ended) = self
            .inner
            .store
            .set_user_disabled(user_id, Some(disabled_at), now)
            .await?
            .ok_or(Error::NotFound(Resource::User))?;
        self.inner.session_cache.forget_user(user_id);
        self.admin_audit(admin, Some(user_id), kind::USER_DISABLED, json!({ "revoked_sessions": ended })).await;
        Ok((User::from(&user), ended))
    }

    /// Enables a disabled user again (their ended sessions stay ended).
    pub async fn admin_enable_user(&self, admin: &Admin<UsersWrite>, user_id: &str) -> Result<User> {
        let user_id = check_id("user_id", user_id)?;
        let now = self.inner.clock.now();
        let (user, _) =
            self.inner.store.set_user_disabled(user_id, None, now).await?.ok_or(Error::NotFound(Resource::User))?;
        self.admin_audit(admin, Some(user_id), kind::USER_ENABLED, json!({})).await;
        Ok(User::from(&user))
    }

    /// Deletes the user with everything that hangs off them; the email is free again. The audit
    /// history keeps the user id.
    pub async fn admin_delete_user(&self, admin: &Admin<UsersWrite>, user_id: &str) -> Result<()> {
        let user_id = check_id("user_id", user_id)?;
        let event = AuditEvent {
            user_id: Some(user_id.to_owned()),
            kind: kind::USER_DELETED,
            detail: with_caller(admin, json!({})),
            at: self.inner.clock.now(),
        };
        if !self.inner.store.delete_user(user_id, event).await? {
            return Err(Error::NotFound(Resource::User));
        }
        self.inner.session_cache.forget_user(user_id);
        Ok(())
    }

    /// Ends every session of the user; returns how many.
    pub async fn admin_revoke_user_sessions(&self, admin: &Admin<SessionsRevoke>, user_id: &str) -> Result<u64> {
        let user_id = check_id("user_id", user_id)?;
        self.existing_user(user_id).await?;
        let ended = self.inner.store.delete_user_sessions(user_id, self.inner.clock.now()).await?;
        self.inner.session_cache.forget_user(user_id);
        self.admin_audit(admin, Some(user_id), kind::USER_SESSIONS_REVOKED, json!({ "revoked_sessions": ended })).await;
        Ok(ended)
    }
}
