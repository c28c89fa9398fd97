//! Dialogue states in sled, behind teloxide's `Storage` trait, so conversations survive restarts.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use teloxide::dispatching::dialogue::Storage;
use teloxide::types::ChatId;

use super::keys::i64_key;
use super::{Store, StoreError, decode, encode};

/// The boxed future the `Storage` trait asks for (teloxide's `BoxFuture<'static, _>`).
type StorageFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'static>>;

/// Dialogue states kept in the store's `dialogues` tree, one JSON value per chat.
///
/// Register it as `Arc<ErasedStorage<State>>` with `store.dialogues().erase()`.
pub struct SledDialogues {
    store: Store,
}

impl SledDialogues {
    /// Dialogue storage over `store`'s database.
    pub fn new(store: &Store) -> Arc<SledDialogues> {
        Arc::new(SledDialogues {
            store: store.clone(),
        })
    }
}

impl Store {
    /// Dialogue storage over this database (see [`SledDialogues`]).
    pub fn dialogues(&self) -> Arc<SledDialogues> {
        SledDialogues::new(self)
    }
}

impl<D> Storage<D> for SledDialogues
where
    D: Serialize + DeserializeOwned + Send + 'static,
{
    type Error = StoreError;

    /// Removes the chat's state; `NotFound` if it had none, as the trait asks.
    fn remove_dialogue(self: Arc<Self>, chat_id: ChatId) -> StorageFuture<()>
    where
        D: Send + 'static,
    {
        Box::pin(async move {
            if self
                .store
                .trees
                .dialogues
                .remove(i64_key(chat_id.0))?
                .is_none()
            {
                return Err(StoreError::not_found("dialogue", chat_id.0));
            }
            self.store.flush().await?;
            Ok(())
        })
    }

    /// Stores the chat's state and flushes.
    fn update_dialogue(self: Arc<Self>, chat_id: ChatId, dialogue: D) -> StorageFuture<()>
    where
        D: Send + 'static,
    {
        Box::pin(async move {
            let bytes = encode("dialogue", &dialogue)?;
            self.store
                .trees
                .dialogues
                .insert(i64_key(chat_id.0), bytes)?;
            self.store.flush().await?;
            Ok(())
        })
    }

    /// The chat's state, if any.
    fn get_dialogue(self: Arc<Self>, chat_id: ChatId) -> StorageFuture<Option<D>> {
        Box::pin(async move {
            match self.store.trees.dialogues.get(i64_key(chat_id.0))? {
                Some(bytes) => decode("dialogue", &bytes).map(Some),
                None => Ok(None),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use teloxide::dispatching::dialogue::ErasedStorage;

    use super::*;
    use crate::store::testutil::{reopen, temp_store};

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    enum State {
        Start,
        AwaitingLink { service_id: u64 },
    }

    #[tokio::test]
    async fn erased_storage_round_trip_survives_reopen() {
        let (dir, store) = temp_store();
        let storage: Arc<ErasedStorage<State>> = store.dialogues().erase();
        let chat = ChatId(-1_001_234);
        assert_eq!(Arc::clone(&storage).get_dialogue(chat).await.unwrap(), None);
        Arc::clone(&storage)
            .update_dialogue(chat, State::AwaitingLink { service_id: 9 })
            .await
            .unwrap();
        Arc::clone(&storage)
            .update_dialogue(ChatId(5), State::Start)
            .await
            .unwrap();
        drop(storage);

        let store = reopen(&dir, store);
        let storage: Arc<ErasedStorage<State>> = store.dialogues().erase();
        assert_eq!(
            Arc::clone(&storage).get_dialogue(chat).await.unwrap(),
            Some(State::AwaitingLink { service_id: 9 })
        );
        Arc::clone(&storage).remove_dialogue(chat).await.unwrap();
        assert_eq!(Arc::clone(&storage).get_dialogue(chat).await.unwrap(), None);
        assert!(Arc::clone(&storage).remove_dialogue(chat).await.is_err());
        assert_eq!(
            Arc::clone(&storage).get_dialogue(ChatId(5)).await.unwrap(),
            Some(State::Start)
        );
    }
}
