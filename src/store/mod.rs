//! Durable state in sled: orders, users, dialogues, wallet ledger and the notification outbox.
