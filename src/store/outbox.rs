//! The notification outbox: messages to send, kept until Telegram has accepted them.

use serde::{Deserialize, Serialize};

use super::keys::u64_key;
use super::{Store, StoreError, decode, encode, now};

/// One message waiting to be sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Queue position, assigned by the store (any value given is replaced).
    pub id: u64,
    /// The chat to send to.
    pub chat_id: i64,
    /// The message, pre-rendered HTML.
    pub text: String,
    /// True for the operators' group chat (its own rate limit applies).
    pub group: bool,
    /// The order it is about, if any.
    pub order_id: Option<u64>,
    /// When it was queued, unix seconds.
    pub created_at: i64,
}

impl OutboxEntry {
    /// A message for `chat_id`, stamped now; the store assigns the id.
    pub fn new(chat_id: i64, text: impl Into<String>, group: bool, order_id: Option<u64>) -> Self {
        OutboxEntry {
            id: 0,
            chat_id,
            text: text.into(),
            group,
            order_id,
            created_at: now(),
        }
    }
}

impl Store {
    /// Queues messages atomically and flushes; returns their ids in the given order.
    pub async fn enqueue(&self, entries: Vec<OutboxEntry>) -> Result<Vec<u64>, StoreError> {
        let mut batch = sled::Batch::default();
        let mut ids = Vec::with_capacity(entries.len());
        for mut entry in entries {
            entry.id = self.next_id()?;
            batch.insert(&u64_key(entry.id)[..], encode("outbox entry", &entry)?);
            ids.push(entry.id);
        }
        if ids.is_empty() {
            return Ok(ids);
        }
        self.trees.outbox.apply_batch(batch)?;
        self.flush().await?;
        Ok(ids)
    }

    /// Up to `limit` queued messages, oldest first.
    pub fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.trees
            .outbox
            .iter()
            .take(limit)
            .map(|item| decode("outbox entry", &item?.1))
            .collect()
    }

    /// How many messages are queued.
    pub fn outbox_len(&self) -> usize {
        self.trees.outbox.len()
    }

    /// Removes a sent message and flushes; `false` if it was already gone.
    pub async fn ack_outbox(&self, id: u64) -> Result<bool, StoreError> {
        let removed = self.trees.outbox.remove(u64_key(id))?.is_some();
        if removed {
            self.flush().await?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{reopen, temp_store};

    #[tokio::test]
    async fn entries_survive_reopen_until_acked() {
        let (dir, store) = temp_store();
        let ids = store
            .enqueue(vec![
                OutboxEntry::new(1, "first", false, Some(10)),
                OutboxEntry::new(-100, "second", true, None),
                OutboxEntry::new(2, "third", false, None),
            ])
            .await
            .unwrap();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let store = reopen(&dir, store);
        let pending = store.pending_outbox(10).unwrap();
        let texts: Vec<_> = pending.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["first", "second", "third"]);
        assert_eq!(pending[0].id, ids[0]);
        assert!(pending[1].group);
        assert_eq!(store.pending_outbox(1).unwrap().len(), 1);

        assert!(store.ack_outbox(ids[0]).await.unwrap());
        assert!(!store.ack_outbox(ids[0]).await.unwrap());
        let store = reopen(&dir, store);
        let left: Vec<_> = store
            .pending_outbox(10)
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(left, ids[1..]);
        assert!(store.enqueue(vec![]).await.unwrap().is_empty());
    }
}
