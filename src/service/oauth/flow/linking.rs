//! What a provider identity becomes once the round-trip succeeded: a sign-in of the linked
//! user, a link to the signed-in user who asked, a link by verified email, or a new user — the
//! four rules `Services::oauth_callback` documents, each refusal leaving nothing written.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::OAuthSignIn;
use crate::{
    domain::{DisplayName, Email, LinkedAccount},
    error::{Error, Result},
    service::{
        RequestMeta, Services, SessionCaller,
        audit::kind,
        email::notices::FactorChange,
        oauth::{ProviderIdentity, providers::Provider},
    },
    store::{LinkedSignIn, NewAccount, NewUser, ProviderProfileFields, new_id},
};

/// Profile images longer than this (or not http(s)) are dropped rather than stored.
const MAX_IMAGE_URL_BYTES: usize = 2048;

impl Services {
    /// The notice to `to` that provider `provider_id` was linked.
    fn linked_notice(&self, to: &str, provider_id: &str, meta: &RequestMeta) -> Result<crate::store::NewOutboxMessage> {
        let provider = self.inner.oauth.display_name(provider_id);
        self.factor_notice(to, &FactorChange::ProviderLinked { provider: &provider }, meta)
    }

    pub(super) async fn link_or_sign_in(
        &self,
        provider: &Provider,
        identity: ProviderIdentity,
        link_user: Option<&SessionCaller>,
        meta: &RequestMeta,
    ) -> Result<OAuthSignIn> {
        let provider_id = provider.info().id.as_str();
        let now = self.inner.clock.now();
        let detail = |how: &str| {
            json!({
                "method": "oauth",
                "provider": provider_id,
                "how": how,
                "client": meta.client_for_audit(),
                "user_agent": meta.user_agent,
            })
        };

        // Rule 1: a known provider account signs its user in (fresh tokens are kept).
        if let Some(account) = self.inner.store.find_account(provider_id, &identity.account_id).await? {
            if let Some(caller) = link_user
                && caller.user.id != account.user_id
            {
                return Err(Error::OAuthAccountLinkedToOtherUser);
            }
            let user = self
                .inner
                .store
                .find_user(&account.user_id)
                .await?
                .ok_or_else(|| Error::internal("account without user"))?;
            crate::service::sessions::refuse_disabled(&user)?;
            let account = self.inner.store.update_account_tokens(&account.id, identity.tokens).await?;
            // A sign-in with another method lifts a password suspension (README's promise).
            self.sign_in_succeeded(&user.email).await?;
            let signed_in = self.sign_in(user, meta).await?;
            self.audit(Some(&signed_in.user.id), kind::LOGIN_SUCCEEDED, detail("account")).await;
            return Ok(OAuthSignIn { signed_in, account: LinkedAccount::from(&account), user_created: false });
        }

        let new_account = |user_id: &str, identity: ProviderIdentity| NewAccount {
            id: new_id(),
            user_id: user_id.to_owned(),
            kind: provider.info().kind.account_type(),
            provider: provider_id.to_owned(),
            provider_account_id: identity.account_id,
            tokens: identity.tokens,
            created_at: now,
        };

        // Rule 2: an explicit link by the signed-in user who started the round-trip.
        if let Some(caller) = link_user {
            let (session, token) = self.new_session(&caller.user.id, meta, now)?;
            let notice = self.linked_notice(&caller.user.email, provider_id, meta)?;
            let account = new_account(&caller.user.id, identity);
            let linked = self.inner.store.link_account_with_session(account, session, Some(notice)).await?;
            self.inner.outbox.wake();
            self.audit(Some(&caller.user.id), kind::ACCOUNT_LINKED, detail("link")).await;
            return self.finish(linked, token, now, false);
        }

        let email = identity.email.as_deref().and_then(|raw| Email::parse("email", raw).ok());
        let Some(email) = email else {
            return Err(Error::OAuthEmailUnavailable);
        };

        // Rule 3: the email belongs to someone. Linking on an email the provider did not verify
        // would hand that user's account to whoever typed the address at the provider; linking
        // to a user who never proved the address would let whoever pre-registered it with a
        // password keep a way into the real owner's account (pre-account takeover).
        if let Some(existing) = self.inner.store.find_user_by_email(email.as_str()).await? {
            let both_verified = identity.email_verified && existing.email_verified.is_some();
            if !(both_verified && provider.allows_email_linking()) {
                return Err(Error::OAuthAccountNotLinked);
            }
            crate::service::sessions::refuse_disabled(&existing)?;
            let (session, token) = self.new_session(&existing.id, meta, now)?;
            let notice = self.linked_notice(&existing.email, provider_id, meta)?;
            let account = new_account(&existing.id, identity);
            let linked = self.inner.store.link_account_with_session(account, session, Some(notice)).await?;
            self.inner.outbox.wake();
            self.audit(Some(&existing.id), kind::ACCOUNT_LINKED, detail("verified_email")).await;
            return self.finish(linked, token, now, false);
        }

        // Rule 4: a new user, from a verified email only. Users need an email (users.email is
        // NOT NULL), so an unverified one is refused rather than stored: it would claim the
        // address for whoever typed it at the provider.
        if !identity.email_verified {
            return Err(Error::OAuthEmailUnverified);
        }
        let user = NewUser {
            id: new_id(),
            email: email.to_string(),
            name: identity.name.as_deref().and_then(clean_name),
            password_hash: None,
            created_at: now,
            email_verified: None,
        };
        let profile = ProviderProfileFields {
            email_verified: Some(now),
            image: identity.image.clone().filter(|url| usable_image_url(url)),
        };
        let (session, token) = self.new_session(&user.id, meta, now)?;
        let user_id = user.id.clone();
        let created = match self
            .inner
            .store
            .create_user_with_account(user, profile, new_account(&user_id, identity), session)
            .await
        {
            // Someone registered this email between our lookup and our insert: same as rule 3
            // without linking.
            Err(Error::EmailTaken) => return Err(Error::OAuthAccountNotLinked),
            other => other?,
        };
        self.audit(Some(&user_id), kind::USER_REGISTERED, detail("new_user")).await;
        self.finish(created, token, now, true)
    }

    fn finish(
        &self,
        linked: LinkedSignIn,
        token: crate::domain::SessionToken,
        now: DateTime<Utc>,
        user_created: bool,
    ) -> Result<OAuthSignIn> {
        let LinkedSignIn { user, account, session } = linked;
        let signed_in = self.signed_in(user, session, token, now)?;
        Ok(OAuthSignIn { signed_in, account: LinkedAccount::from(&account), user_created })
    }
}

/// A provider's display name, made to fit our rules (trimmed, bounded, no control characters)
/// rather than refusing the sign-in over it.
fn clean_name(raw: &str) -> Option<String> {
    let cleaned: String = raw.chars().filter(|c| !c.is_control()).take(crate::domain::MAX_NAME_CHARS).collect();
    DisplayName::parse("name", &cleaned).ok().and_then(DisplayName::into_inner)
}

fn usable_image_url(raw: &str) -> bool {
    raw.len() <= MAX_IMAGE_URL_BYTES && url::Url::parse(raw).is_ok_and(|url| matches!(url.scheme(), "https" | "http"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_profiles_are_made_to_fit() {
        assert_eq!(clean_name("  Ada\u{0007} Lovelace "), Some("Ada Lovelace".to_owned()));
        assert_eq!(clean_name("   "), None);
        assert_eq!(clean_name(&"x".repeat(1000)).map(|n| n.chars().count()), Some(crate::domain::MAX_NAME_CHARS));
        assert!(usable_image_url("https://avatars.example.com/a.png"));
        assert!(!usable_image_url("javascript:alert(1)"));
        assert!(!usable_image_url(&format!("https://a.example/{}", "x".repeat(3000))));
    }
}
