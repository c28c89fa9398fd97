//! A customer's chat with the bot: sends texts, presses buttons on the message that carries
//! them, and checks after every update what Telegram itself would enforce.

use smm_storefront::bot::callback::{Cb, MAX_CALLBACK_BYTES};
use smm_storefront::bot::schema::{HandlerError, schema};
use smm_storefront::bot::{Shop, State};
use smm_storefront::money::Naira;
use smm_storefront::store::Store;
use teloxide::types::{InlineKeyboardButtonKind, InlineKeyboardMarkup, Message};
use teloxide_tests::mock_bot::DistributionKey;
use teloxide_tests::server::Responses;
use teloxide_tests::{MockBot, MockCallbackQuery, MockMessageText, MockUser};

use crate::common::Harness;

/// The mock customer's Telegram id.
pub const CUSTOMER: u64 = MockUser::ID;

/// Telegram's limits on one message.
const MAX_TEXT_CHARS: usize = 4096;
const MAX_BUTTONS: usize = 100;

/// One customer talking to the bot.
pub struct Chat {
    /// The mocked bot (fake Bot API + the real handler tree).
    pub bot: MockBot<HandlerError, DistributionKey>,
    /// What the last update produced.
    pub r: Responses,
    /// The newest message that carries an inline keyboard: presses come from it.
    keyboard_message: Option<Message>,
}

impl Chat {
    /// Opens a chat by sending `first` to a bot wired to `h`.
    pub async fn open(h: &Harness, first: &str) -> Chat {
        let mut bot = MockBot::new(MockMessageText::new().text(first), schema());
        bot.dependencies(h.deps());
        let mut chat = Chat {
            bot,
            r: Responses::default(),
            keyboard_message: None,
        };
        chat.bot.dispatch().await;
        chat.settle(0);
        chat
    }

    /// Sends a text message.
    pub async fn send(&mut self, text: &str) -> &Responses {
        self.bot.update(MockMessageText::new().text(text));
        self.bot.dispatch().await;
        self.settle(0);
        &self.r
    }

    /// Presses a button with this callback data on the newest keyboard message.
    pub async fn press(&mut self, data: &str) -> &Responses {
        let mut q = MockCallbackQuery::new().data(data);
        if let Some(m) = &self.keyboard_message {
            q = q.message(m.clone());
        }
        self.bot.update(q);
        self.bot.dispatch().await;
        self.settle(1);
        &self.r
    }

    /// The same press delivered twice in one batch (a double tap or a redelivery).
    pub async fn press_twice(&mut self, data: &str) -> &Responses {
        let mut q = MockCallbackQuery::new().data(data);
        if let Some(m) = &self.keyboard_message {
            q = q.message(m.clone());
        }
        self.bot.update(vec![q.clone(), q]);
        self.bot.dispatch().await;
        self.settle(2);
        &self.r
    }

    /// Presses the button whose label contains `label`.
    pub async fn tap(&mut self, label: &str) -> &Responses {
        let data = self.button(label);
        self.press(&data).await
    }

    /// The callback data of the current keyboard's button labelled with `label`.
    pub fn button(&self, label: &str) -> String {
        self.buttons()
            .into_iter()
            .find(|(t, _)| t.contains(label))
            .map(|(_, d)| d)
            .unwrap_or_else(|| panic!("no {label:?} button in {:?}", self.buttons()))
    }

    /// Labels and data of the current keyboard.
    pub fn buttons(&self) -> Vec<(String, String)> {
        self.keyboard_message
            .as_ref()
            .and_then(|m| m.reply_markup())
            .map(pairs)
            .unwrap_or_default()
    }

    /// Every text the last update sent or edited, in order sent-after-edited.
    pub fn text(&self) -> String {
        let edited = self
            .r
            .edited_messages_text
            .iter()
            .map(|e| e.bot_request.text.clone());
        let sent = self
            .r
            .sent_messages_text
            .iter()
            .map(|s| s.bot_request.text.clone());
        edited.chain(sent).collect::<Vec<_>>().join("\n---\n")
    }

    /// Texts of the callback answers (toasts) of the last update.
    pub fn toasts(&self) -> Vec<String> {
        self.r
            .answered_callback_queries
            .iter()
            .filter_map(|a| a.text.clone())
            .collect()
    }

    /// True when the last update edited one message in place and sent nothing new.
    pub fn edited_in_place(&self) -> bool {
        self.r.sent_messages.is_empty() && self.r.edited_messages_text.len() == 1
    }

    /// The dialogue state now.
    pub async fn state(&self) -> State {
        self.bot.get_state::<State>().await
    }

    /// Checks Telegram's limits on everything the update produced, that every callback
    /// query was answered, and remembers the newest keyboard.
    fn settle(&mut self, callbacks: usize) {
        self.r = self.bot.get_responses();
        assert_eq!(
            self.r.answered_callback_queries.len(),
            callbacks,
            "every button press is answered once: {:?}",
            self.r.answered_callback_queries
        );
        let edited = self.r.edited_messages_text.iter().map(|e| {
            (
                e.bot_request.text.as_str(),
                e.message.reply_markup(),
                &e.message,
            )
        });
        let sent = self.r.sent_messages_text.iter().map(|s| {
            (
                s.bot_request.text.as_str(),
                s.message.reply_markup(),
                &s.message,
            )
        });
        let mut newest = None;
        for (text, markup, message) in edited.chain(sent) {
            assert!(
                text.chars().count() <= MAX_TEXT_CHARS,
                "message of {} chars",
                text.chars().count()
            );
            assert!(!text.trim().is_empty(), "empty message");
            if let Some(m) = markup {
                assert_valid_keyboard(m);
                if !m.inline_keyboard.is_empty() {
                    newest = Some(message.clone());
                }
            }
        }
        for e in &self.r.edited_messages_reply_markup {
            if let Some(m) = e.message.reply_markup() {
                assert_valid_keyboard(m);
            }
        }
        if newest.is_some() {
            self.keyboard_message = newest;
        }
    }
}

/// Labels and callback data of a keyboard.
pub fn pairs(m: &InlineKeyboardMarkup) -> Vec<(String, String)> {
    m.inline_keyboard
        .iter()
        .flatten()
        .filter_map(|b| match &b.kind {
            InlineKeyboardButtonKind::CallbackData(d) => Some((b.text.clone(), d.clone())),
            _ => None,
        })
        .collect()
}

/// Telegram's keyboard limits, and that the bot can read back every button it made.
pub fn assert_valid_keyboard(m: &InlineKeyboardMarkup) {
    let count: usize = m.inline_keyboard.iter().map(Vec::len).sum();
    assert!(count <= MAX_BUTTONS, "{count} buttons");
    for b in m.inline_keyboard.iter().flatten() {
        assert!(!b.text.trim().is_empty(), "a button without a label");
        assert!(b.text.chars().count() <= 64, "long label {:?}", b.text);
        if let InlineKeyboardButtonKind::CallbackData(d) = &b.kind {
            assert!(
                d.len() <= MAX_CALLBACK_BYTES,
                "callback data {d:?} too long"
            );
            assert!(Cb::decode(d).is_some(), "undecodable callback data {d:?}");
        }
    }
}

/// Naira from text, for expected amounts.
pub fn naira(s: &str) -> Naira {
    Naira::parse(s).expect("a naira amount")
}

/// The customer's wallet: balance, and that the ledger adds up to it.
pub fn wallet(store: &Store) -> Naira {
    let balance = store.balance(CUSTOMER).expect("balance");
    assert_eq!(
        store.ledger_sum(CUSTOMER).expect("ledger sum"),
        balance,
        "the ledger adds up to the balance"
    );
    balance
}

/// The practice credit every sandbox customer starts with.
pub fn credit(shop: &Shop) -> Naira {
    shop.cfg.sandbox_credit
}

/// /order, the category, the service; ends at the link step.
pub async fn to_link_step(chat: &mut Chat, category: &str, service_id: u64) {
    chat.send("/order").await;
    chat.tap(category).await;
    choose_service(chat, service_id).await;
    assert_eq!(
        chat.state().await,
        State::EnteringLink { service_id },
        "{}",
        chat.text()
    );
}

/// Presses the service's button, paging with Next until it shows up.
pub async fn choose_service(chat: &mut Chat, service_id: u64) {
    let wanted = Cb::Service { id: service_id }.encode();
    for _ in 0..1000 {
        if chat.buttons().iter().any(|(_, d)| *d == wanted) {
            chat.press(&wanted).await;
            return;
        }
        let next = chat
            .buttons()
            .into_iter()
            .find(|(t, d)| {
                t.contains("Next") && matches!(Cb::decode(d), Some(Cb::ServicePage { .. }))
            })
            .unwrap_or_else(|| panic!("service {service_id} not found: {:?}", chat.buttons()));
        chat.press(&next.1).await;
        assert!(chat.edited_in_place(), "paging edits the list in place");
    }
    panic!("service {service_id} not reachable");
}

/// /order through to the confirmation of `quantity` units of a service.
pub async fn to_confirmation(
    chat: &mut Chat,
    category: &str,
    service_id: u64,
    link: &str,
    quantity: &str,
) {
    to_link_step(chat, category, service_id).await;
    chat.send(link).await;
    chat.send(quantity).await;
    assert!(
        matches!(chat.state().await, State::Confirming { .. }),
        "{}",
        chat.text()
    );
}
