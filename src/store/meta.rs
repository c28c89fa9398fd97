//! Small named settings and facts (last provider balance, group chat id after migration).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Store, StoreError, decode, encode};

impl Store {
    /// The value stored under `key`, if any.
    pub fn meta_get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        match self.trees.meta.get(key.as_bytes())? {
            Some(bytes) => decode("meta value", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Stores `value` under `key` and flushes.
    pub async fn meta_set<T>(&self, key: &str, value: &T) -> Result<(), StoreError>
    where
        T: Serialize + Sync + ?Sized,
    {
        let bytes = encode("meta value", value)?;
        self.trees.meta.insert(key.as_bytes(), bytes)?;
        self.flush().await
    }

    /// Removes `key` and flushes; `false` if it was not set.
    pub async fn meta_remove(&self, key: &str) -> Result<bool, StoreError> {
        let removed = self.trees.meta.remove(key.as_bytes())?.is_some();
        if removed {
            self.flush().await?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::testutil::{n, reopen, temp_store};

    #[tokio::test]
    async fn values_round_trip_and_survive_reopen() {
        let (dir, store) = temp_store();
        assert_eq!(store.meta_get::<i64>("group_chat").unwrap(), None);
        store.meta_set("group_chat", &-100_123_i64).await.unwrap();
        store
            .meta_set("provider_balance", &n("5000.25"))
            .await
            .unwrap();
        let store = reopen(&dir, store);
        assert_eq!(store.meta_get::<i64>("group_chat").unwrap(), Some(-100_123));
        assert_eq!(
            store.meta_get("provider_balance").unwrap(),
            Some(n("5000.25"))
        );
        assert!(store.meta_get::<String>("group_chat").is_err());
        assert!(store.meta_remove("group_chat").await.unwrap());
        assert!(!store.meta_remove("group_chat").await.unwrap());
    }
}
