//! Accounts: OAuth and OIDC accounts become Keyward's linked accounts with their tokens
//! (`store` encrypts provider tokens at rest where it does so for any account). Auth.js's
//! `webauthn` accounts are only the other half of its passkeys, which `passkeys.rs` imports, so
//! they are folded into those; `email` and `credentials` accounts hold nothing to keep.

use std::collections::{BTreeSet, HashMap};

use super::{Change, ImportTable, Phase, Planned, Run, users::MAX_SOURCE_ID_CHARS};
use crate::{
    error::Result,
    store::{
        AccountRecord, AccountTokensUpdate, NewAccount, ProviderTokens,
        authjs::{SourceAccount, SourceRow, SourceRows},
        new_id,
    },
};
use tokio_stream::Stream;

const TABLE: ImportTable = ImportTable::Accounts;

pub(super) struct Mapped {
    source_id: String,
    pub(super) account: NewAccount,
}

impl Run<'_> {
    pub(super) async fn accounts(
        &mut self,
        rows: Option<SourceRows<impl Stream<Item = SourceRow<SourceAccount>>>>,
    ) -> Result<()> {
        let Some(rows) = rows else { return Ok(()) };
        let mut phase = Accounts::default();
        self.drive(&mut phase, rows).await?;
        if phase.folded > 0 {
            self.report.notes.push(format!(
                "{} Auth.js webauthn account(s) are not linked accounts in Keyward: their passkeys are imported as passkeys",
                phase.folded
            ));
        }
        for provider in phase.providers.iter().filter(|p| !self.policy.configured_providers.contains(p)) {
            self.report.notes.push(format!(
                "accounts at provider {provider:?} were imported, but no such provider is configured: configure it with the id {provider:?} so these users can sign in with it"
            ));
        }
        Ok(())
    }
}

#[derive(Default)]
struct Accounts {
    /// Auth.js `webauthn` accounts seen (their passkeys are imported as passkeys).
    folded: u64,
    providers: BTreeSet<String>,
}

impl Phase for Accounts {
    const TABLE: ImportTable = TABLE;
    type Row = SourceAccount;
    type Mapped = Mapped;

    fn map(&mut self, run: &mut Run<'_>, row: SourceAccount) -> Option<Mapped> {
        if row.kind == "webauthn" {
            self.folded += 1;
            run.report.count_mut(TABLE).skipped += 1;
            return None;
        }
        let mapped = run.map_account(row)?;
        self.providers.insert(mapped.account.provider.clone());
        Some(mapped)
    }

    async fn write(&mut self, run: &mut Run<'_>, batch: Vec<Mapped>) -> Result<()> {
        run.account_batch(batch).await
    }
}

impl Run<'_> {
    pub(super) fn map_account(&mut self, source: SourceAccount) -> Option<Mapped> {
        let SourceAccount {
            id,
            user_id,
            kind,
            provider,
            provider_account_id,
            refresh_token,
            access_token,
            expires_at,
            token_type,
            scope,
            id_token,
        } = source;
        let source_id = id.unwrap_or_else(|| format!("{provider}:{provider_account_id}"));
        let kind = match kind.as_str() {
            "oauth" => "oauth",
            "oidc" => "oidc",
            other => {
                self.report.skipped_with_reason(
                    TABLE,
                    Some(source_id),
                    format!("type {other:?}: Keyward links only OAuth and OpenID Connect accounts"),
                );
                return None;
            }
        };
        let too_long = |value: &str| value.is_empty() || value.chars().count() > MAX_SOURCE_ID_CHARS;
        if too_long(&provider) || too_long(&provider_account_id) {
            self.report.failed(TABLE, Some(source_id), "provider or providerAccountId is empty or too long");
            return None;
        }
        if !self.present_users.contains(&user_id) {
            self.user_missing(TABLE, Some(source_id), &user_id);
            return None;
        }
        let tokens = ProviderTokens { access_token, refresh_token, expires_at, token_type, scope, id_token };
        Some(Mapped {
            source_id,
            account: NewAccount {
                id: new_id(),
                user_id,
                kind,
                provider,
                provider_account_id,
                tokens,
                created_at: self.now,
            },
        })
    }

    pub(super) async fn account_batch(&mut self, batch: Vec<Mapped>) -> Result<()> {
        let existing = match self.store() {
            Some(store) => {
                let ids = batch.iter().map(|m| m.account.provider_account_id.clone()).collect();
                store.accounts_with_provider_account_ids(ids).await?
            }
            None => Vec::new(),
        };
        let existing: HashMap<(String, String), AccountRecord> = existing
            .into_iter()
            .map(|account| ((account.provider.clone(), account.provider_account_id.clone()), account))
            .collect();
        let mut planned = Vec::new();
        for Mapped { source_id, account } in batch {
            let key = (account.provider.clone(), account.provider_account_id.clone());
            match existing.get(&key) {
                Some(linked) if linked.user_id != account.user_id => {
                    self.report.failed(
                        TABLE,
                        Some(source_id),
                        "this provider account is linked to another Keyward user",
                    );
                }
                Some(linked) => match fresher_tokens(&linked.provider_tokens(), &account.tokens) {
                    true => planned.push(Planned {
                        source_id: Some(source_id),
                        change: Change::UpdateAccount(AccountTokensUpdate {
                            account_id: linked.id.clone(),
                            tokens: account.tokens,
                        }),
                    }),
                    false => self.report.count_mut(TABLE).skipped += 1,
                },
                None => planned.push(Planned { source_id: Some(source_id), change: Change::NewAccount(account) }),
            }
        }
        self.commit(TABLE, planned).await?;
        Ok(())
    }
}

/// Whether the source's tokens should replace Keyward's: they differ, and either Keyward has no
/// access token or the source's expire later (Keyward writes the tokens of every sign-in, so
/// after the switch its copy is the newer one and a late re-run must not roll it back).
fn fresher_tokens(keyward: &ProviderTokens, source: &ProviderTokens) -> bool {
    if keyward == source {
        return false;
    }
    keyward.access_token.is_none()
        || match (keyward.expires_at, source.expires_at) {
            (Some(keyward), Some(source)) => source > keyward,
            (None, Some(_)) => true,
            (_, None) => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(access: Option<&str>, expires_at: Option<i64>) -> ProviderTokens {
        ProviderTokens { access_token: access.map(str::to_owned), expires_at, ..ProviderTokens::default() }
    }

    #[test]
    fn source_tokens_replace_keywards_only_when_fresher() {
        let keyward = tokens(Some("new"), Some(2_000));
        assert!(!fresher_tokens(&keyward, &keyward.clone()), "unchanged");
        assert!(!fresher_tokens(&keyward, &tokens(Some("old"), Some(1_000))), "a late re-run must not roll back");
        assert!(fresher_tokens(&keyward, &tokens(Some("newer"), Some(3_000))));
        assert!(fresher_tokens(&tokens(None, None), &tokens(Some("any"), None)), "Keyward had none");
        assert!(
            !fresher_tokens(&tokens(Some("a"), None), &tokens(Some("b"), None)),
            "no expiry to compare: keep Keyward's"
        );
        assert!(fresher_tokens(&tokens(Some("a"), None), &tokens(Some("b"), Some(1))));
    }
}
