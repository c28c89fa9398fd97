//! The background status poller and the notification outbox sender.
