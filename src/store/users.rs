//! Customers the bot has met: names, chat, language choice, whether they blocked the bot.

use serde::{Deserialize, Serialize};

use super::keys::u64_key;
use super::{Store, StoreError, abort, decode, encode, now, tx_error};

/// A Telegram user who talked to the bot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Telegram user id.
    pub id: u64,
    /// Their private chat with the bot.
    pub chat_id: i64,
    /// First name as Telegram last reported it.
    pub first_name: String,
    /// `@username` without the `@`, if any.
    pub username: Option<String>,
    /// The language they chose in the bot (`None`: follow Telegram's).
    pub language: Option<String>,
    /// True once sending to them failed because they blocked the bot.
    pub blocked: bool,
    /// First contact, unix seconds.
    pub first_seen: i64,
    /// Latest contact, unix seconds.
    pub last_seen: i64,
}

impl Store {
    /// Records that a user was just seen, creating or refreshing their record.
    ///
    /// Keeps their language choice; clears `blocked` (they are talking to us again).
    /// Not flushed: a lost `last_seen` costs nothing, and this runs on every update.
    pub fn touch_user(
        &self,
        id: u64,
        chat_id: i64,
        first_name: &str,
        username: Option<&str>,
    ) -> Result<UserRecord, StoreError> {
        let at = now();
        let key = u64_key(id);
        self.trees
            .users
            .transaction(|users| {
                let rec = match users.get(key)? {
                    Some(bytes) => {
                        let old: UserRecord = decode("user", &bytes).or_else(abort)?;
                        UserRecord {
                            chat_id,
                            first_name: first_name.to_string(),
                            username: username.map(str::to_string),
                            blocked: false,
                            last_seen: at,
                            ..old
                        }
                    }
                    None => UserRecord {
                        id,
                        chat_id,
                        first_name: first_name.to_string(),
                        username: username.map(str::to_string),
                        language: None,
                        blocked: false,
                        first_seen: at,
                        last_seen: at,
                    },
                };
                users.insert(&key[..], encode("user", &rec).or_else(abort)?)?;
                Ok(rec)
            })
            .map_err(tx_error)
    }

    /// The user with Telegram id `id`.
    pub fn get_user(&self, id: u64) -> Result<Option<UserRecord>, StoreError> {
        match self.trees.users.get(u64_key(id))? {
            Some(bytes) => decode("user", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Stores a user's language choice (`None` to follow Telegram's) and flushes.
    pub async fn set_language(
        &self,
        id: u64,
        language: Option<&str>,
    ) -> Result<UserRecord, StoreError> {
        let language = language.map(str::to_string);
        self.change_user(id, move |u| u.language = language.clone())
            .await
    }

    /// Marks a user as having blocked the bot (or not) and flushes.
    pub async fn set_blocked(&self, id: u64, blocked: bool) -> Result<UserRecord, StoreError> {
        self.change_user(id, move |u| u.blocked = blocked).await
    }

    /// Every known user, by id (for broadcasts).
    pub fn all_users(&self) -> Result<Vec<UserRecord>, StoreError> {
        self.trees
            .users
            .iter()
            .map(|item| decode("user", &item?.1))
            .collect()
    }

    /// How many users are known (counts the tree; linear time).
    pub fn user_count(&self) -> usize {
        self.trees.users.len()
    }

    /// Read-modify-write of one user record, then flush.
    async fn change_user<F>(&self, id: u64, change: F) -> Result<UserRecord, StoreError>
    where
        F: Fn(&mut UserRecord) + Send,
    {
        let key = u64_key(id);
        let rec = self
            .trees
            .users
            .transaction(|users| {
                let Some(bytes) = users.get(key)? else {
                    return abort(StoreError::not_found("user", id));
                };
                let mut rec: UserRecord = decode("user", &bytes).or_else(abort)?;
                change(&mut rec);
                users.insert(&key[..], encode("user", &rec).or_else(abort)?)?;
                Ok(rec)
            })
            .map_err(tx_error)?;
        self.flush().await?;
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{reopen, temp_store};

    #[tokio::test]
    async fn touch_upserts_and_keeps_choices() {
        let (dir, store) = temp_store();
        let first = store.touch_user(1, 1, "Ada", Some("ada")).unwrap();
        assert_eq!((first.language.as_deref(), first.blocked), (None, false));
        store.set_language(1, Some("fr")).await.unwrap();
        store.set_blocked(1, true).await.unwrap();
        let store = reopen(&dir, store);
        let stored = store.get_user(1).unwrap().unwrap();
        assert_eq!(
            (stored.language.as_deref(), stored.blocked),
            (Some("fr"), true)
        );

        let again = store.touch_user(1, 1, "Ada L.", None).unwrap();
        assert_eq!(again.first_name, "Ada L.");
        assert_eq!(again.username, None);
        assert_eq!(again.language.as_deref(), Some("fr"));
        assert!(!again.blocked);
        assert_eq!(again.first_seen, first.first_seen);

        store.touch_user(2, 2, "Bo", None).unwrap();
        assert_eq!(store.user_count(), 2);
        let ids: Vec<_> = store
            .all_users()
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect();
        assert_eq!(ids, [1, 2]);
        let err = store.set_language(3, Some("en")).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound { what: "user", .. }));
    }
}
