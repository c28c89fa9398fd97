//! smm-storefront: a Telegram storefront for social-media marketing services resold from IA-Café.

rust_i18n::i18n!("locales", fallback = "en");

pub mod app;
pub mod bot;
pub mod config;
pub mod fake_telegram;
pub mod money;
pub mod ops;
pub mod ordering;
pub mod panel;
pub mod sandbox;
pub mod store;
pub mod tracker;
