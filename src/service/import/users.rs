//! Users: the original id kept (foreign keys elsewhere in the app stay valid), email normalized
//! as Keyward does (two source users that normalize to one address are both reported, never
//! merged), name, image, emailVerified, and the password hash kept as it is when Keyward can
//! verify it (bcrypt up to cost 15, argon2 PHC within bounds).

use std::collections::HashMap;

use super::{Change, ImportTable, Phase, Planned, Run};
use crate::{
    crypto::check_importable_hash,
    domain::{DisplayName, Email, MAX_NAME_CHARS},
    error::Result,
    store::{
        ImportedUser, UserRecord, UserUpdate,
        authjs::{SourceRow, SourceRows, SourceUser},
    },
};
use tokio_stream::Stream;

/// Longest id kept (Keyward's ids are strings; cuids are 25 characters, UUIDs 36).
pub(super) const MAX_SOURCE_ID_CHARS: usize = 255;
/// Longest image URL kept.
const MAX_IMAGE_CHARS: usize = 2048;

const TABLE: ImportTable = ImportTable::Users;

/// A source user that passed validation.
pub(super) struct Mapped {
    user: ImportedUser,
    /// The source's updatedAt, when it has one: a re-run changes a user only when the source
    /// row is newer than Keyward's.
    source_updated_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Run<'_> {
    pub(super) async fn users(
        &mut self,
        emails: Vec<(String, Option<String>)>,
        rows: SourceRows<impl Stream<Item = SourceRow<SourceUser>>>,
    ) -> Result<()> {
        let mut phase = Users { duplicates: duplicate_emails(emails) };
        self.drive(&mut phase, rows).await
    }
}

/// Normalized email → the source ids that have it, for the addresses held by more than one:
/// found before any user is written.
pub(super) fn duplicate_emails(users: Vec<(String, Option<String>)>) -> HashMap<String, Vec<String>> {
    let mut by_email: HashMap<String, Vec<String>> = HashMap::new();
    for (id, email) in users {
        if let Some(email) = email.and_then(|email| Email::parse("email", &email).ok()) {
            by_email.entry(email.to_string()).or_default().push(id);
        }
    }
    by_email.retain(|_, ids| ids.len() > 1);
    by_email
}

struct Users {
    duplicates: HashMap<String, Vec<String>>,
}

impl Phase for Users {
    const TABLE: ImportTable = TABLE;
    type Row = SourceUser;
    type Mapped = Mapped;

    fn map(&mut self, run: &mut Run<'_>, row: SourceUser) -> Option<Mapped> {
        run.map_user(row, &self.duplicates)
    }

    async fn write(&mut self, run: &mut Run<'_>, batch: Vec<Mapped>) -> Result<()> {
        run.user_batch(batch).await
    }
}

impl Run<'_> {
    pub(super) fn map_user(&mut self, source: SourceUser, duplicates: &HashMap<String, Vec<String>>) -> Option<Mapped> {
        let SourceUser { id, name, email, email_verified, image, password_hash, created_at, updated_at } = source;
        if id.trim().is_empty() || id.chars().count() > MAX_SOURCE_ID_CHARS {
            self.report.failed(TABLE, Some(id), format!("id is empty or longer than {MAX_SOURCE_ID_CHARS} characters"));
            return None;
        }
        let Some(email) = email.filter(|email| !email.trim().is_empty()) else {
            self.report.failed(TABLE, Some(id), "no email address (Keyward requires one)");
            return None;
        };
        let Ok(email) = Email::parse("email", &email) else {
            self.report.failed(TABLE, Some(id), "the email address is not valid");
            return None;
        };
        if let Some(ids) = duplicates.get(email.as_str()) {
            let others: Vec<&str> = ids.iter().filter(|other| **other != id).map(String::as_str).collect();
            let message = format!(
                "its email address is the same as user {}'s once normalized (case, spaces): not merged; resolve it in the source and run again",
                others.join(", ")
            );
            self.report.failed(TABLE, Some(id), message);
            return None;
        }
        let name = match DisplayName::parse("name", name.as_deref().unwrap_or_default()) {
            Ok(name) => name.into_inner(),
            Err(_) => {
                self.report.partial(TABLE, &id, format!("its name (longer than {MAX_NAME_CHARS} characters)"));
                None
            }
        };
        let image = image.filter(|image| !image.is_empty()).and_then(|image| {
            if image.chars().count() > MAX_IMAGE_CHARS {
                self.report.partial(TABLE, &id, format!("its image URL (longer than {MAX_IMAGE_CHARS} characters)"));
                None
            } else {
                Some(image)
            }
        });
        let password_hash =
            password_hash.filter(|hash| !hash.is_empty()).and_then(|hash| match check_importable_hash(&hash) {
                Ok(()) => Some(hash),
                Err(reason) => {
                    self.report.partial(
                        TABLE,
                        &id,
                        format!("its password ({reason}): the user can reset it or sign in another way"),
                    );
                    None
                }
            });
        let created_at = created_at.unwrap_or(self.now);
        Some(Mapped {
            user: ImportedUser {
                id,
                email: email.to_string(),
                name,
                email_verified,
                image,
                password_hash,
                created_at,
                updated_at: updated_at.unwrap_or(self.now),
            },
            source_updated_at: updated_at,
        })
    }

    pub(super) async fn user_batch(&mut self, batch: Vec<Mapped>) -> Result<()> {
        let (by_id, by_email) = match self.store() {
            Some(store) => {
                let ids = batch.iter().map(|m| m.user.id.clone()).collect();
                let emails = batch.iter().map(|m| m.user.email.clone()).collect();
                (store.users_with_ids(ids).await?, store.users_with_emails(emails).await?)
            }
            None => (Vec::new(), Vec::new()),
        };
        let by_id: HashMap<String, UserRecord> = by_id.into_iter().map(|user| (user.id.clone(), user)).collect();
        let by_email: HashMap<String, String> = by_email.into_iter().map(|user| (user.email, user.id)).collect();
        let mut planned = Vec::new();
        for Mapped { user, source_updated_at } in batch {
            match by_id.get(&user.id) {
                Some(existing) if existing.email != user.email => {
                    self.report.failed(
                        TABLE,
                        Some(user.id),
                        "this id is already a Keyward user with another email address (another app's user?)",
                    );
                }
                Some(existing) => match update_for(existing, &user, source_updated_at) {
                    Some(update) => {
                        planned.push(Planned { source_id: Some(user.id), change: Change::UpdateUser(update) })
                    }
                    None => {
                        self.report.count_mut(TABLE).skipped += 1;
                        self.present_users.insert(user.id);
                    }
                },
                None if by_email.contains_key(&user.email) => {
                    self.report.failed(TABLE, Some(user.id), "its email address belongs to another Keyward user");
                }
                None => planned.push(Planned { source_id: Some(user.id.clone()), change: Change::NewUser(user) }),
            }
        }
        let written = self.commit(TABLE, planned).await?;
        self.present_users.extend(written.into_iter().flatten());
        Ok(())
    }
}

/// What a re-run changes on a user already in Keyward, if anything. The profile follows the
/// source unless Keyward's row is newer than the source's `updatedAt`; a password Keyward holds
/// is never replaced (it may be the argon2id re-hash of the very same password).
fn update_for(
    existing: &UserRecord,
    source: &ImportedUser,
    source_updated_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<UserUpdate> {
    let same_time = |a: Option<chrono::DateTime<chrono::Utc>>, b: Option<chrono::DateTime<chrono::Utc>>| {
        a.map(|t| t.timestamp_micros()) == b.map(|t| t.timestamp_micros())
    };
    let source_is_newer = source_updated_at.is_none_or(|source| source > existing.updated_at);
    let profile_differs = existing.name != source.name
        || existing.image != source.image
        || !same_time(existing.email_verified, source.email_verified);
    let take_profile = profile_differs && source_is_newer;
    let fill_password = existing.password_hash.is_none() && source.password_hash.is_some();
    if !take_profile && !fill_password {
        return None;
    }
    let (name, image, email_verified) = if take_profile {
        (source.name.clone(), source.image.clone(), source.email_verified)
    } else {
        (existing.name.clone(), existing.image.clone(), existing.email_verified)
    };
    Some(UserUpdate {
        id: existing.id.clone(),
        name,
        email_verified,
        image,
        password_hash: if fill_password { source.password_hash.clone() } else { None },
        updated_at: if take_profile { source.updated_at } else { existing.updated_at },
    })
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::*;

    fn existing() -> UserRecord {
        let then = Utc::now() - Duration::days(1);
        UserRecord {
            id: "17".into(),
            name: Some("Ada".into()),
            email: "ada@example.com".into(),
            email_verified: None,
            image: None,
            password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
            created_at: then,
            updated_at: then,
            disabled_at: None,
            roles: String::new(),
        }
    }

    fn source(name: &str, password_hash: Option<&str>) -> ImportedUser {
        ImportedUser {
            id: "17".into(),
            email: "ada@example.com".into(),
            name: Some(name.into()),
            email_verified: None,
            image: None,
            password_hash: password_hash.map(str::to_owned),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_rerun_follows_the_source_but_never_replaces_keywards_password() {
        let keyward = existing();
        assert!(update_for(&keyward, &source("Ada", Some("$2b$10$x")), None).is_none(), "unchanged");
        let renamed = update_for(&keyward, &source("Ada King", Some("$2b$10$x")), None).unwrap();
        assert_eq!(renamed.name.as_deref(), Some("Ada King"));
        assert_eq!(renamed.password_hash, None, "the argon2id re-hash stays");
        // Keyward's row is newer than the source's updatedAt: the source does not win.
        let stale = keyward.updated_at - Duration::hours(1);
        assert!(update_for(&keyward, &source("Ada King", None), Some(stale)).is_none());
        // A missing password is filled, whatever the times say.
        let without = UserRecord { password_hash: None, ..existing() };
        let filled = update_for(&without, &source("Ada", Some("$2b$10$x")), Some(stale)).unwrap();
        assert_eq!((filled.password_hash.as_deref(), filled.name.as_deref()), (Some("$2b$10$x"), Some("Ada")));
    }
}
