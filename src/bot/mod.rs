//! The Telegram side: the handler tree, dialogues, keyboards and texts.

pub mod admin;
pub mod callback;
pub mod catalog;
pub mod commands;
pub mod keyboards;
pub mod lang;
pub mod language;
pub mod my_orders;
pub mod order_flow;
pub mod schema;
pub mod setup;
pub mod text;
pub mod wallet;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use teloxide::dispatching::dialogue::{Dialogue, ErasedStorage};
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardMarkup, MessageId, ParseMode};

use crate::config::Config;
use crate::panel::Client;
use crate::store::Store;

pub use catalog::CatalogCache;
pub use lang::Lang;

/// Everything a handler needs, shared by the whole bot as one `Arc<Shop>` dependency.
pub struct Shop {
    /// The validated configuration.
    pub cfg: Arc<Config>,
    /// The durable store.
    pub store: Store,
    /// The IA-Café client (or the sandbox's).
    pub panel: Client,
    /// The cached service catalog.
    pub catalog: CatalogCache,
    /// The bot's @username, learnt at start (for share links).
    pub username: OnceLock<String>,
    /// When this process started (unix seconds): pending placements older than this cannot be
    /// in flight any more and are reconciled at once.
    pub started_at: i64,
    /// Orders being placed or reconciled right now, so two tasks never work on one.
    in_flight: Mutex<HashSet<u64>>,
}

/// Holds an order for one placement attempt; releases it when dropped.
pub struct Claim<'a> {
    shop: &'a Shop,
    id: u64,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut set) = self.shop.in_flight.lock() {
            set.remove(&self.id);
        }
    }
}

impl Shop {
    /// Builds the shop context; the catalog is fetched lazily.
    pub fn new(cfg: Arc<Config>, store: Store, panel: Client) -> Shop {
        let catalog = CatalogCache::new(panel.clone(), cfg.markup_percent);
        Shop {
            cfg,
            store,
            panel,
            catalog,
            username: OnceLock::new(),
            started_at: chrono::Utc::now().timestamp(),
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    /// The bot's username, once known.
    pub fn bot_username(&self) -> Option<&str> {
        self.username.get().map(String::as_str)
    }

    /// Claims an order for placement or reconciliation; `None` if another task has it.
    pub fn claim(&self, id: u64) -> Option<Claim<'_>> {
        let mut set = self.in_flight.lock().ok()?;
        set.insert(id).then_some(Claim { shop: self, id })
    }

    /// True when running against the sandbox panel (no real money).
    pub fn sandbox(&self) -> bool {
        self.cfg.sandbox()
    }
}

/// Where a customer stands in the ordering dialogue. Stored in sled, so it survives restarts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    /// Not ordering.
    #[default]
    Idle,
    /// Looking at the category keyboard.
    ChoosingCategory,
    /// Paging through services of a category, or of a search.
    ChoosingService {
        /// The category being browsed, if any.
        category: Option<String>,
        /// The search words, if any.
        query: Option<String>,
        /// Zero-based page.
        page: u32,
    },
    /// Asked for the link.
    EnteringLink {
        /// Chosen service id.
        service_id: u64,
    },
    /// Asked for the quantity.
    EnteringQuantity {
        /// Chosen service id.
        service_id: u64,
        /// Target link.
        link: String,
    },
    /// Asked for custom comments, one per line.
    EnteringComments {
        /// Chosen service id.
        service_id: u64,
        /// Target link.
        link: String,
    },
    /// Shown the summary with Confirm / Cancel / Back.
    Confirming {
        /// Chosen service id.
        service_id: u64,
        /// Target link.
        link: String,
        /// Units ordered.
        quantity: u64,
        /// Custom comments, for comment services.
        comments: Option<Vec<String>>,
        /// One-time token that makes Confirm idempotent.
        token: String,
    },
}

/// The dialogue handle handlers receive.
pub type BotDialogue = Dialogue<State, ErasedStorage<State>>;
/// What every handler returns; errors are logged by the dispatcher's error handler.
pub type HandlerResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Sends an HTML message, split at line breaks if it is longer than Telegram allows.
pub async fn reply(
    bot: &Bot,
    chat: ChatId,
    text: impl Into<String>,
    markup: Option<InlineKeyboardMarkup>,
) -> Result<Message, teloxide::RequestError> {
    let text: String = text.into();
    let mut parts = text::split_message(&text);
    let last = parts.pop().unwrap_or_default();
    for part in parts {
        send_html(bot, chat, part, None).await?;
    }
    send_html(bot, chat, last, markup).await
}

/// How many times a reply refused with 429 is tried again after the wait Telegram asks for.
const RETRIES_AFTER_429: u32 = 3;

/// One HTML message; a 429 is waited out (a few times) instead of losing the reply.
async fn send_html(
    bot: &Bot,
    chat: ChatId,
    text: String,
    markup: Option<InlineKeyboardMarkup>,
) -> Result<Message, teloxide::RequestError> {
    let mut tries = 0;
    loop {
        let req = bot
            .send_message(chat, text.clone())
            .parse_mode(ParseMode::Html);
        let res = match markup.clone() {
            Some(m) => req.reply_markup(m).await,
            None => req.await,
        };
        match res {
            Err(teloxide::RequestError::RetryAfter(wait)) if tries < RETRIES_AFTER_429 => {
                tries += 1;
                log::info!(
                    "Telegram asked to wait {}s before a reply",
                    wait.duration().as_secs()
                );
                tokio::time::sleep(wait.duration()).await;
            }
            other => return other,
        }
    }
}

/// Edits the message a button was on (navigation stays in place), or sends a new one.
pub async fn show(
    bot: &Bot,
    chat: ChatId,
    edit: Option<MessageId>,
    text: String,
    markup: Option<InlineKeyboardMarkup>,
) -> Result<(), teloxide::RequestError> {
    if let Some(id) = edit
        && text.chars().count() <= text::MAX_MESSAGE_CHARS
    {
        let req = bot
            .edit_message_text(chat, id, text.clone())
            .parse_mode(ParseMode::Html);
        let res = match markup.clone() {
            Some(m) => req.reply_markup(m).await,
            None => req.await,
        };
        match res {
            Ok(_) => return Ok(()),
            Err(teloxide::RequestError::Api(teloxide::ApiError::MessageNotModified)) => {
                return Ok(());
            }
            Err(e) => log::debug!("edit failed, sending instead: {e}"),
        }
    }
    reply(bot, chat, text, markup).await.map(|_| ())
}
