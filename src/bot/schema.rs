//! The whole handler tree in one place: who may do what, in which dialogue state.

use std::sync::Arc;

use dptree::case;
use rust_i18n::t;
use teloxide::dispatching::UpdateHandler;
use teloxide::dispatching::dialogue::ErasedStorage;
use teloxide::prelude::*;

use super::callback::Cb;
use super::commands::{self, Command};
use super::{
    BotDialogue, HandlerResult, Lang, Shop, State, admin, language, my_orders, order_flow, wallet,
};
use crate::config::WalletMode;
use crate::money::Naira;
use crate::store::LedgerKind;

/// The error type of every handler.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Builds the dispatcher's handler tree. Needs `Arc<Shop>` and `Arc<ErasedStorage<State>>`.
pub fn schema() -> UpdateHandler<HandlerError> {
    let messages = Update::filter_message()
        .map_async(lang_of_message)
        .enter_dialogue::<Message, ErasedStorage<State>, State>()
        // A paid Stars invoice, whatever the dialogue state.
        .branch(Message::filter_successful_payment().endpoint(
            |bot: Bot, shop: Arc<Shop>, msg: Message, lang: Lang| {
                wallet::successful_payment(bot, shop, msg, lang)
            },
        ))
        // Admin commands: one filter on ADMIN_IDS; anyone else falls through to help below.
        .branch(admin::branch())
        .branch(teloxide::filter_command::<Command, _>().endpoint(commands::handle))
        // Anything else that looks like a command (including admin commands sent by
        // customers) gets the ordinary help, revealing nothing.
        .branch(dptree::filter(looks_like_command).endpoint(commands::help))
        .branch(case![State::ChoosingCategory].endpoint(order_flow::search_text))
        .branch(
            case![State::ChoosingService {
                category,
                query,
                page
            }]
            .endpoint(
                |bot: Bot, shop: Arc<Shop>, dialogue: BotDialogue, msg: Message, lang: Lang| {
                    order_flow::search_text(bot, shop, dialogue, msg, lang)
                },
            ),
        )
        .branch(case![State::EnteringLink { service_id }].endpoint(order_flow::receive_link))
        .branch(
            case![State::EnteringQuantity { service_id, link }]
                .endpoint(order_flow::receive_quantity),
        )
        .branch(
            case![State::EnteringComments { service_id, link }]
                .endpoint(order_flow::receive_comments),
        )
        .branch(
            case![State::Confirming {
                service_id,
                link,
                quantity,
                comments,
                token
            }]
            .endpoint(|bot: Bot, msg: Message, lang: Lang| {
                order_flow::confirming_text(bot, msg, lang)
            }),
        )
        .endpoint(idle_text);

    let callbacks = Update::filter_callback_query()
        .map_async(lang_of_callback)
        .enter_dialogue::<CallbackQuery, ErasedStorage<State>, State>()
        .endpoint(on_callback);

    // Stars checkout: answered at once, before anything else.
    let pre_checkout = Update::filter_pre_checkout_query().endpoint(wallet::pre_checkout);

    dptree::entry()
        .branch(pre_checkout)
        .branch(messages)
        .branch(callbacks)
}

fn looks_like_command(msg: Message) -> bool {
    msg.text().is_some_and(|t| t.starts_with('/'))
}

/// The customer's locale for this update; also records that the customer was seen.
async fn lang_of_message(msg: Message, shop: Arc<Shop>) -> Lang {
    match msg.from.as_ref() {
        Some(user) => see_user(&shop, user, msg.chat.id).await,
        None => Lang::EN,
    }
}

async fn lang_of_callback(q: CallbackQuery, shop: Arc<Shop>) -> Lang {
    let chat = q
        .message
        .as_ref()
        .map(|m| m.chat().id)
        .unwrap_or(ChatId(q.from.id.0 as i64));
    see_user(&shop, &q.from, chat).await
}

async fn see_user(shop: &Shop, user: &teloxide::types::User, chat: ChatId) -> Lang {
    if shop.sandbox() && shop.cfg.wallets == WalletMode::On {
        welcome_credit(shop, user.id.0).await;
    }
    match shop.store.touch_user(
        user.id.0,
        chat.0,
        &user.first_name,
        user.username.as_deref(),
        user.language_code.as_deref(),
    ) {
        Ok(rec) => Lang::choose(rec.language.as_deref(), user.language_code.as_deref()),
        Err(e) => {
            log::warn!("cannot record user {}: {e}", user.id);
            Lang::choose(None, user.language_code.as_deref())
        }
    }
}

/// In sandbox mode every customer starts with practice money, once.
async fn welcome_credit(shop: &Shop, user_id: u64) {
    let reference = format!("sandbox_credit:{user_id}");
    if matches!(shop.store.ledger_by_reference(&reference), Ok(Some(_))) {
        return;
    }
    let credit = shop.cfg.sandbox_credit;
    if credit <= Naira::ZERO {
        return;
    }
    if let Err(e) = shop
        .store
        .apply_ledger(
            user_id,
            credit,
            LedgerKind::SandboxCredit,
            &reference,
            Some("sandbox practice credit"),
            None,
        )
        .await
    {
        log::warn!("cannot give the sandbox credit to {user_id}: {e}");
    }
}

async fn idle_text(bot: Bot, shop: Arc<Shop>, msg: Message, lang: Lang) -> HandlerResult {
    commands::greet(&bot, &shop, msg.chat.id, lang).await
}

/// Every button press: answered at once, decoded strictly, then routed.
async fn on_callback(
    bot: Bot,
    shop: Arc<Shop>,
    dialogue: BotDialogue,
    q: CallbackQuery,
    lang: Lang,
) -> HandlerResult {
    let Some(cb) = q.data.as_deref().and_then(Cb::decode) else {
        bot.answer_callback_query(q.id.clone())
            .text(t!("common.expired", locale = lang.code()))
            .await?;
        return Ok(());
    };
    bot.answer_callback_query(q.id.clone()).await?;
    match cb {
        Cb::Noop => Ok(()),
        cb @ (Cb::MenuMyOrders
        | Cb::MyOrders { .. }
        | Cb::Order { .. }
        | Cb::Refill { .. }
        | Cb::RefillStatus { .. }
        | Cb::CancelOrder { .. }) => {
            my_orders::on_callback(bot, shop, q, dialogue.chat_id(), lang, cb).await
        }
        // Languages (language.rs): Cb::MenuLanguage, Language.
        Cb::MenuLanguage => {
            let edit = q.message.as_ref().map(|m| m.id());
            language::show_choices(&bot, dialogue.chat_id(), lang, edit).await
        }
        Cb::Language { code } => {
            let edit = q.message.as_ref().map(|m| m.id());
            let chat = dialogue.chat_id();
            language::choose(&bot, &shop, q.from.id.0, chat, lang, edit, &code).await
        }
        Cb::MenuWallet => {
            let edit = q.message.as_ref().map(|m| m.id());
            wallet::show_wallet(&bot, &shop, dialogue.chat_id(), q.from.id.0, lang, edit).await
        }
        Cb::TopUp { stars } => {
            wallet::send_topup_invoice(&bot, &shop, dialogue.chat_id(), q.from.id.0, lang, stars)
                .await
        }
        Cb::AdminOrders {
            page,
            status,
            service,
        } => admin::on_callback(bot, shop, q, page, status, service).await,
        Cb::MenuHelp => {
            let chat = dialogue.chat_id();
            let l = lang.code();
            super::reply(&bot, chat, t!("help.text", locale = l), None).await?;
            Ok(())
        }
        other => order_flow::on_callback(bot, shop, dialogue, q, lang, other).await,
    }
}
