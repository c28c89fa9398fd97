//! The ordering dialogue: category → service → link → quantity or comments → confirm → placed.

use std::sync::Arc;

use rust_i18n::t;
use teloxide::prelude::*;
use teloxide::types::{ChatAction, MessageId};

use super::callback::{Cb, new_token};
use super::catalog::Snapshot;
use super::keyboards;
use super::schema::HandlerError;
use super::text::{esc, thousands};
use super::{BotDialogue, HandlerResult, Lang, Shop, State, reply, show};
use crate::config::WalletMode;
use crate::money;
use crate::ordering::{self, Draft, Placement, Rejection};
use crate::panel::{Service, ServiceKind};
use crate::store::Phase;

/// `/order` or the menu button: show the categories in a new message.
pub async fn start_order(
    bot: Bot,
    shop: Arc<Shop>,
    dialogue: BotDialogue,
    chat: ChatId,
    user_id: u64,
    lang: Lang,
    edit: Option<MessageId>,
) -> HandlerResult {
    if !may_order(&shop, user_id) {
        reply(
            &bot,
            chat,
            t!("order.private_shop", locale = lang.code()),
            None,
        )
        .await?;
        return Ok(());
    }
    show_categories(&bot, &shop, &dialogue, chat, lang, edit).await
}

/// True when this user may place orders (private-shop mode limits who may).
pub fn may_order(shop: &Shop, user_id: u64) -> bool {
    shop.cfg.wallets == WalletMode::On
        || shop.cfg.is_admin(user_id)
        || shop.cfg.allowed_user_ids.contains(&user_id)
}

async fn catalog_or_apologise(
    bot: &Bot,
    shop: &Shop,
    chat: ChatId,
    lang: Lang,
) -> Result<Option<Arc<Snapshot>>, teloxide::RequestError> {
    match shop.catalog.get().await {
        Ok(snap) if !snap.services.is_empty() => Ok(Some(snap)),
        Ok(_) => {
            reply(
                bot,
                chat,
                t!("order.no_services", locale = lang.code()),
                None,
            )
            .await?;
            Ok(None)
        }
        Err(e) => {
            log::warn!("catalog unavailable: {e}");
            reply(bot, chat, t!("common.busy", locale = lang.code()), None).await?;
            Ok(None)
        }
    }
}

async fn show_categories(
    bot: &Bot,
    shop: &Shop,
    dialogue: &BotDialogue,
    chat: ChatId,
    lang: Lang,
    edit: Option<MessageId>,
) -> HandlerResult {
    let Some(snap) = catalog_or_apologise(bot, shop, chat, lang).await? else {
        return Ok(());
    };
    let text = with_sandbox(
        shop,
        lang,
        t!("order.choose_category", locale = lang.code()).into(),
    );
    show(bot, chat, edit, text, Some(keyboards::categories(&snap))).await?;
    dialogue.update(State::ChoosingCategory).await?;
    Ok(())
}

/// Prefixes the sandbox mark where prices are shown, so nobody mistakes practice for real.
fn with_sandbox(shop: &Shop, lang: Lang, text: String) -> String {
    if shop.sandbox() {
        format!(
            "{}\n\n{text}",
            t!("common.sandbox_mark", locale = lang.code())
        )
    } else {
        text
    }
}

/// The catalog and the service being ordered. When the catalog is unavailable the customer
/// has been told; when the service is gone they are told and shown the categories again.
async fn chosen_service(
    bot: &Bot,
    shop: &Shop,
    dialogue: &BotDialogue,
    chat: ChatId,
    lang: Lang,
    service_id: u64,
) -> Result<Option<(Arc<Snapshot>, Service)>, HandlerError> {
    let Some(snap) = catalog_or_apologise(bot, shop, chat, lang).await? else {
        return Ok(None);
    };
    let Some(svc) = snap.service(service_id).cloned() else {
        reply(
            bot,
            chat,
            t!("order.service_gone", locale = lang.code()),
            None,
        )
        .await?;
        show_categories(bot, shop, dialogue, chat, lang, None).await?;
        return Ok(None);
    };
    Ok(Some((snap, svc)))
}

/// The services the customer is browsing: a category's, or a search's.
fn listing<'a>(
    snap: &'a Snapshot,
    category: Option<&str>,
    query: Option<&str>,
) -> Vec<&'a Service> {
    match (category, query) {
        (Some(c), _) => snap.in_category(c),
        (None, Some(q)) => snap.search(q),
        (None, None) => Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn show_services(
    bot: &Bot,
    shop: &Shop,
    dialogue: &BotDialogue,
    chat: ChatId,
    lang: Lang,
    edit: Option<MessageId>,
    category: Option<String>,
    query: Option<String>,
    page: u32,
) -> HandlerResult {
    let Some(snap) = catalog_or_apologise(bot, shop, chat, lang).await? else {
        return Ok(());
    };
    let l = lang.code();
    let services = listing(&snap, category.as_deref(), query.as_deref());
    if services.is_empty() {
        let q = query.clone().unwrap_or_default();
        let text = t!("order.search_none", locale = l, query = esc(&q));
        show(
            bot,
            chat,
            edit,
            text.into(),
            Some(keyboards::categories(&snap)),
        )
        .await?;
        dialogue.update(State::ChoosingCategory).await?;
        return Ok(());
    }
    let page = page.min(keyboards::page_count(services.len()) - 1);
    let head = match (&category, &query) {
        (Some(c), _) => t!("order.choose_service", locale = l, category = esc(c)),
        (None, q) => t!(
            "order.search_results",
            locale = l,
            query = esc(q.as_deref().unwrap_or_default())
        ),
    };
    let kb = keyboards::services_page(&snap, &services, page, lang);
    show(
        bot,
        chat,
        edit,
        with_sandbox(shop, lang, head.into()),
        Some(kb),
    )
    .await?;
    dialogue
        .update(State::ChoosingService {
            category,
            query,
            page,
        })
        .await?;
    Ok(())
}

/// Shows a service's details and asks for the link (also the deep-link entry point).
pub async fn show_service(
    bot: &Bot,
    shop: &Shop,
    dialogue: &BotDialogue,
    chat: ChatId,
    lang: Lang,
    edit: Option<MessageId>,
    service_id: u64,
) -> HandlerResult {
    let Some((snap, svc)) = chosen_service(bot, shop, dialogue, chat, lang, service_id).await?
    else {
        return Ok(());
    };
    let svc = &svc;
    let l = lang.code();
    let yes_no = |b: bool| {
        if b {
            t!("order.yes", locale = l)
        } else {
            t!("order.no", locale = l)
        }
    };
    let mut text = t!(
        "order.details",
        locale = l,
        name = esc(&svc.name),
        category = esc(&svc.category),
        price = snap.price_per_1k(svc),
        min = thousands(svc.min),
        max = thousands(svc.max),
        refill = yes_no(svc.refill),
        cancel = yes_no(svc.cancelable),
        dripfeed = yes_no(svc.dripfeed)
    )
    .to_string();
    if let Some(username) = shop.bot_username() {
        let link = format!("https://t.me/{username}?start=svc_{}", svc.id);
        text.push_str("\n\n");
        text.push_str(&t!("order.share_link", locale = l, link = esc(&link)));
    }
    text.push_str("\n\n");
    text.push_str(&t!(
        "order.ask_link",
        locale = l,
        hint = link_hint(&svc.category, lang)
    ));
    show(
        bot,
        chat,
        edit,
        with_sandbox(shop, lang, text),
        Some(keyboards::back_only(lang)),
    )
    .await?;
    dialogue.update(State::EnteringLink { service_id }).await?;
    Ok(())
}

/// An example link for the platform a category is about.
fn link_hint(category: &str, lang: Lang) -> String {
    let c = category.to_lowercase();
    let key = if c.contains("instagram") {
        "order.hint_instagram"
    } else if c.contains("tiktok") {
        "order.hint_tiktok"
    } else if c.contains("youtube") {
        "order.hint_youtube"
    } else if c.contains("facebook") {
        "order.hint_facebook"
    } else if c.contains("telegram") {
        "order.hint_telegram"
    } else if c.contains("twitter") || c == "x" || c.starts_with("x ") {
        "order.hint_x"
    } else {
        "order.hint_generic"
    };
    t!(key, locale = lang.code()).into()
}

/// A full http(s) URL with a dotted host, or an `@username`; returns the cleaned link.
pub fn parse_link(text: &str) -> Option<String> {
    let t = text.trim();
    if t.chars().any(char::is_whitespace) || t.len() > 2048 {
        return None;
    }
    if let Some(name) = t.strip_prefix('@') {
        let ok = (3..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        return ok.then(|| t.to_string());
    }
    let url = reqwest::Url::parse(t).ok()?;
    let host = url.host_str()?;
    let ok = matches!(url.scheme(), "http" | "https") && host.contains('.') && !host.ends_with('.');
    ok.then(|| t.to_string())
}

/// A whole number as a person types it: `1500`, `1,500`, `1 500`. Rejects signs, decimals, exponents.
pub fn parse_quantity(text: &str) -> Option<u64> {
    let t = text.trim();
    if t.is_empty()
        || !t
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ',' | ' ' | '_'))
    {
        return None;
    }
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    digits.parse::<u64>().ok().filter(|&n| n > 0)
}

/// The non-empty lines of a comments message.
pub fn parse_comments(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Text while choosing a category or service: a search across all services.
pub async fn search_text(
    bot: Bot,
    shop: Arc<Shop>,
    dialogue: BotDialogue,
    msg: Message,
    lang: Lang,
) -> HandlerResult {
    let query = msg.text().unwrap_or_default().trim();
    if query.is_empty() {
        reply(
            &bot,
            msg.chat.id,
            t!("common.unknown_text", locale = lang.code()),
            None,
        )
        .await?;
        return Ok(());
    }
    let query: String = query.chars().take(64).collect();
    show_services(
        &bot,
        &shop,
        &dialogue,
        msg.chat.id,
        lang,
        None,
        None,
        Some(query),
        0,
    )
    .await
}

/// The link step.
pub async fn receive_link(
    bot: Bot,
    shop: Arc<Shop>,
    dialogue: BotDialogue,
    msg: Message,
    lang: Lang,
    service_id: u64,
) -> HandlerResult {
    let Some((_, svc)) =
        chosen_service(&bot, &shop, &dialogue, msg.chat.id, lang, service_id).await?
    else {
        return Ok(());
    };
    let svc = &svc;
    let l = lang.code();
    let Some(link) = msg.text().and_then(parse_link) else {
        let hint = link_hint(&svc.category, lang);
        reply(
            &bot,
            msg.chat.id,
            t!("order.bad_link", locale = l, hint = hint),
            Some(keyboards::back_only(lang)),
        )
        .await?;
        return Ok(());
    };
    ask_amount(&bot, &dialogue, msg.chat.id, lang, None, svc, link).await
}

async fn ask_amount(
    bot: &Bot,
    dialogue: &BotDialogue,
    chat: ChatId,
    lang: Lang,
    edit: Option<MessageId>,
    svc: &Service,
    link: String,
) -> HandlerResult {
    let l = lang.code();
    let (text, state) = if svc.kind == ServiceKind::CustomComments {
        (
            t!(
                "order.ask_comments",
                locale = l,
                min = thousands(svc.min),
                max = thousands(svc.max)
            ),
            State::EnteringComments {
                service_id: svc.id,
                link,
            },
        )
    } else {
        (
            t!(
                "order.ask_quantity",
                locale = l,
                min = thousands(svc.min),
                max = thousands(svc.max)
            ),
            State::EnteringQuantity {
                service_id: svc.id,
                link,
            },
        )
    };
    show(
        bot,
        chat,
        edit,
        text.into(),
        Some(keyboards::back_only(lang)),
    )
    .await?;
    dialogue.update(state).await?;
    Ok(())
}

/// The quantity step.
pub async fn receive_quantity(
    bot: Bot,
    shop: Arc<Shop>,
    dialogue: BotDialogue,
    msg: Message,
    lang: Lang,
    (service_id, link): (u64, String),
) -> HandlerResult {
    let Some((snap, svc)) =
        chosen_service(&bot, &shop, &dialogue, msg.chat.id, lang, service_id).await?
    else {
        return Ok(());
    };
    let svc = &svc;
    match msg.text().and_then(parse_quantity) {
        Some(q) if (svc.min..=svc.max).contains(&q) => {
            show_confirmation(
                &bot, &shop, &dialogue, &msg, lang, &snap, svc, link, q, None,
            )
            .await
        }
        _ => {
            let text = t!(
                "order.bad_quantity",
                locale = lang.code(),
                min = thousands(svc.min),
                max = thousands(svc.max)
            );
            reply(&bot, msg.chat.id, text, Some(keyboards::back_only(lang))).await?;
            Ok(())
        }
    }
}

/// The comments step of Custom Comments services.
pub async fn receive_comments(
    bot: Bot,
    shop: Arc<Shop>,
    dialogue: BotDialogue,
    msg: Message,
    lang: Lang,
    (service_id, link): (u64, String),
) -> HandlerResult {
    let Some((snap, svc)) =
        chosen_service(&bot, &shop, &dialogue, msg.chat.id, lang, service_id).await?
    else {
        return Ok(());
    };
    let svc = &svc;
    let comments = parse_comments(msg.text().unwrap_or_default());
    let count = comments.len() as u64;
    if !(svc.min..=svc.max).contains(&count) {
        let text = t!(
            "order.bad_comments",
            locale = lang.code(),
            count = count,
            min = thousands(svc.min),
            max = thousands(svc.max)
        );
        reply(&bot, msg.chat.id, text, Some(keyboards::back_only(lang))).await?;
        return Ok(());
    }
    show_confirmation(
        &bot,
        &shop,
        &dialogue,
        &msg,
        lang,
        &snap,
        svc,
        link,
        count,
        Some(comments),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn show_confirmation(
    bot: &Bot,
    shop: &Shop,
    dialogue: &BotDialogue,
    msg: &Message,
    lang: Lang,
    snap: &Snapshot,
    svc: &Service,
    link: String,
    quantity: u64,
    comments: Option<Vec<String>>,
) -> HandlerResult {
    let l = lang.code();
    let rate = snap.price_per_1k(svc);
    let Some(total) = money::cost(quantity, rate) else {
        reply(bot, msg.chat.id, t!("common.error", locale = l), None).await?;
        return Ok(());
    };
    let mut text = t!(
        "order.confirm",
        locale = l,
        service = esc(&svc.name),
        link = esc(&link),
        quantity = thousands(quantity),
        rate = rate,
        total = total
    )
    .to_string();
    if let Some(c) = &comments {
        text.push('\n');
        text.push_str(&t!("order.comments_count", locale = l, count = c.len()));
    }
    if shop.cfg.wallets == WalletMode::On
        && let Some(user) = msg.from.as_ref()
    {
        let before = shop.store.balance(user.id.0)?;
        text.push('\n');
        match before
            .checked_sub(total)
            .filter(|after| !after.is_negative())
        {
            Some(after) => text.push_str(&t!(
                "order.confirm_wallet",
                locale = l,
                before = before,
                after = after
            )),
            None => text.push_str(&t!(
                "order.confirm_wallet_short",
                locale = l,
                balance = before
            )),
        }
    }
    let token = new_token();
    let keyboard = keyboards::confirm(&token, lang);
    // The state (with its token) is stored before the button exists, so a crash in between
    // can never leave a Confirm button that the bot does not know.
    dialogue
        .update(State::Confirming {
            service_id: svc.id,
            link,
            quantity,
            comments,
            token,
        })
        .await?;
    reply(
        bot,
        msg.chat.id,
        with_sandbox(shop, lang, text),
        Some(keyboard),
    )
    .await?;
    Ok(())
}

/// Any text while the confirmation is shown.
pub async fn confirming_text(bot: Bot, msg: Message, lang: Lang) -> HandlerResult {
    reply(
        &bot,
        msg.chat.id,
        t!("order.press_a_button", locale = lang.code()),
        None,
    )
    .await?;
    Ok(())
}

/// `/cancel`: leave the dialogue, nothing placed.
pub async fn cancel_dialogue(
    bot: Bot,
    dialogue: BotDialogue,
    msg: Message,
    lang: Lang,
) -> HandlerResult {
    let state = dialogue.get().await?.unwrap_or_default();
    let key = if state == State::Idle {
        "order.nothing_to_cancel"
    } else {
        "order.cancelled"
    };
    dialogue.update(State::Idle).await?;
    reply(&bot, msg.chat.id, t!(key, locale = lang.code()), None).await?;
    Ok(())
}

/// Order-dialogue buttons: categories, pages, services, Back, Confirm, Cancel.
pub async fn on_callback(
    bot: Bot,
    shop: Arc<Shop>,
    dialogue: BotDialogue,
    q: CallbackQuery,
    lang: Lang,
    cb: Cb,
) -> HandlerResult {
    let chat = dialogue.chat_id();
    let edit = q.message.as_ref().map(|m| m.id());
    let state = dialogue.get().await?.unwrap_or_default();
    let l = lang.code();
    match (cb, state) {
        (Cb::MenuOrder, _) => start_order(bot, shop, dialogue, chat, q.from.id.0, lang, edit).await,
        (Cb::Category { ver, idx }, State::ChoosingCategory | State::ChoosingService { .. }) => {
            let snap = shop.catalog.get().await.ok();
            let category = snap
                .as_ref()
                .filter(|s| s.version == ver)
                .and_then(|s| s.categories.get(idx as usize).cloned());
            match category {
                Some(c) => {
                    show_services(&bot, &shop, &dialogue, chat, lang, edit, Some(c), None, 0).await
                }
                None => expired(&bot, chat, lang).await,
            }
        }
        (
            Cb::ServicePage { page },
            State::ChoosingService {
                category, query, ..
            },
        ) => {
            show_services(
                &bot, &shop, &dialogue, chat, lang, edit, category, query, page,
            )
            .await
        }
        (Cb::Service { id }, State::ChoosingService { .. }) => {
            show_service(&bot, &shop, &dialogue, chat, lang, edit, id).await
        }
        (Cb::Back, State::ChoosingService { .. }) => {
            show_categories(&bot, &shop, &dialogue, chat, lang, edit).await
        }
        (Cb::Back, State::EnteringLink { service_id }) => {
            let place = shop.catalog.get().await.ok().and_then(|s| {
                let svc = s.service(service_id)?;
                let index = s
                    .in_category(&svc.category)
                    .iter()
                    .position(|x| x.id == service_id)?;
                let page = u32::try_from(index / keyboards::SERVICES_PER_PAGE).ok()?;
                Some((svc.category.clone(), page))
            });
            match place {
                Some((c, page)) => {
                    show_services(
                        &bot,
                        &shop,
                        &dialogue,
                        chat,
                        lang,
                        edit,
                        Some(c),
                        None,
                        page,
                    )
                    .await
                }
                None => show_categories(&bot, &shop, &dialogue, chat, lang, edit).await,
            }
        }
        (
            Cb::Back,
            State::EnteringQuantity { service_id, .. } | State::EnteringComments { service_id, .. },
        ) => show_service(&bot, &shop, &dialogue, chat, lang, edit, service_id).await,
        (
            Cb::Back,
            State::Confirming {
                service_id, link, ..
            },
        ) => {
            let Some(snap) = catalog_or_apologise(&bot, &shop, chat, lang).await? else {
                return Ok(());
            };
            match snap.service(service_id) {
                Some(svc) => ask_amount(&bot, &dialogue, chat, lang, edit, svc, link).await,
                None => show_categories(&bot, &shop, &dialogue, chat, lang, edit).await,
            }
        }
        (Cb::Abort, State::Confirming { .. }) => {
            dialogue.update(State::Idle).await?;
            show(
                &bot,
                chat,
                edit,
                t!("order.cancelled", locale = l).into(),
                None,
            )
            .await?;
            Ok(())
        }
        (
            Cb::Confirm { token },
            State::Confirming {
                service_id,
                link,
                quantity,
                comments,
                token: expected,
            },
        ) if token == expected => {
            let draft = DraftInput {
                service_id,
                link,
                quantity,
                comments,
            };
            confirm(&bot, &shop, &dialogue, &q, lang, edit, &token, draft).await
        }
        (Cb::Confirm { token }, _) => {
            // A second tap, a re-delivered update, or a tap after a restart.
            match shop.store.order_by_token(&token)? {
                Some(rec) => {
                    let text = match (rec.phase, rec.api_order_id) {
                        (Phase::Rejected, _) => t!("order.not_placed", locale = l),
                        (_, Some(id)) => t!("order.already_placed", locale = l, order_id = id),
                        (_, None) => t!("order.being_confirmed", locale = l),
                    };
                    reply(&bot, chat, text, None).await?;
                    Ok(())
                }
                None => expired(&bot, chat, lang).await,
            }
        }
        _ => expired(&bot, chat, lang).await,
    }
}

/// Says a button no longer applies.
pub async fn expired(bot: &Bot, chat: ChatId, lang: Lang) -> HandlerResult {
    reply(bot, chat, t!("common.expired", locale = lang.code()), None).await?;
    Ok(())
}

struct DraftInput {
    service_id: u64,
    link: String,
    quantity: u64,
    comments: Option<Vec<String>>,
}

#[allow(clippy::too_many_arguments)]
async fn confirm(
    bot: &Bot,
    shop: &Arc<Shop>,
    dialogue: &BotDialogue,
    q: &CallbackQuery,
    lang: Lang,
    edit: Option<MessageId>,
    token: &str,
    input: DraftInput,
) -> HandlerResult {
    let chat = dialogue.chat_id();
    let l = lang.code();
    // Take the keyboard away first, so the button cannot be pressed again.
    if let Some(id) = edit {
        let _ = bot.edit_message_reply_markup(chat, id).await;
    }
    let Some(snap) = catalog_or_apologise(bot, shop, chat, lang).await? else {
        return Ok(());
    };
    let Some(svc) = snap.service(input.service_id) else {
        reply(bot, chat, t!("order.service_gone", locale = l), None).await?;
        return Ok(());
    };
    let rate = snap.price_per_1k(svc);
    let Some(price) = money::cost(input.quantity, rate) else {
        reply(bot, chat, t!("common.error", locale = l), None).await?;
        return Ok(());
    };
    let draft = Draft {
        user_id: q.from.id.0,
        chat_id: chat.0,
        service: svc.clone(),
        link: input.link.clone(),
        quantity: input.quantity,
        comments: input.comments.clone(),
        unit_rate: rate,
        price,
    };
    let _ = bot.send_chat_action(chat, ChatAction::Typing).await;
    let outcome = ordering::confirm(shop, token, draft).await?;
    match outcome {
        Placement::Placed(rec) | Placement::AlreadyPlaced(rec) => {
            dialogue.update(State::Idle).await?;
            let text = t!(
                "order.placed",
                locale = l,
                order_id = rec.api_order_id.unwrap_or_default(),
                amount = rec.price
            );
            reply(bot, chat, with_sandbox(shop, lang, text.into()), None).await?;
        }
        Placement::Pending(_) => {
            dialogue.update(State::Idle).await?;
            reply(bot, chat, t!("order.being_confirmed", locale = l), None).await?;
        }
        Placement::InsufficientFunds { balance, needed } => {
            let text = t!(
                "order.insufficient_wallet",
                locale = l,
                balance = balance,
                total = needed
            );
            // Keep the confirmation (with a fresh keyboard) so a top-up can be followed by Confirm.
            reply(bot, chat, text, Some(keyboards::confirm(token, lang))).await?;
        }
        Placement::Rejected { reason, .. } => {
            let (key, next) = match reason {
                Rejection::ProviderRefunded => ("order.refunded_by_provider", State::Idle),
                Rejection::ShopBalanceLow if shop.cfg.wallets == WalletMode::Off => {
                    ("order.own_low_balance", State::Idle)
                }
                Rejection::ShopBalanceLow => ("order.shop_low_balance", State::Idle),
                Rejection::Unavailable => ("common.busy", State::Idle),
                // Comment services are asked for their comments again, with the range.
                Rejection::InvalidQuantity { .. } if input.comments.is_some() => (
                    "order.ask_comments",
                    State::EnteringComments {
                        service_id: input.service_id,
                        link: input.link.clone(),
                    },
                ),
                Rejection::InvalidQuantity { .. } => (
                    "order.bad_quantity",
                    State::EnteringQuantity {
                        service_id: input.service_id,
                        link: input.link.clone(),
                    },
                ),
            };
            let text = match reason {
                Rejection::InvalidQuantity { min, max } => t!(
                    key,
                    locale = l,
                    min = thousands(min.unwrap_or(svc.min)),
                    max = thousands(max.unwrap_or(svc.max))
                ),
                _ => t!(key, locale = l),
            };
            // Back to the quantity step keeps its Back button.
            let markup = matches!(reason, Rejection::InvalidQuantity { .. })
                .then(|| keyboards::back_only(lang));
            dialogue.update(next).await?;
            reply(bot, chat, text, markup).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_as_people_type_them() {
        assert_eq!(parse_quantity("1500"), Some(1500));
        assert_eq!(parse_quantity("1,500"), Some(1500));
        assert_eq!(parse_quantity(" 1 500 "), Some(1500));
        for bad in [
            "abc",
            "-5",
            "0",
            "1e9",
            "1.5",
            "",
            "12abc",
            "99999999999999999999",
        ] {
            assert_eq!(parse_quantity(bad), None, "{bad}");
        }
    }

    #[test]
    fn links_are_urls_or_usernames() {
        assert!(parse_link("https://instagram.com/yourpage").is_some());
        assert!(parse_link("http://t.me/chan").is_some());
        assert!(parse_link("@my_page").is_some());
        for bad in [
            "instagram",
            "ftp://x.com/a",
            "https://localhost",
            "@",
            "@a b",
            "hello world",
            "javascript:alert(1)",
        ] {
            assert_eq!(parse_link(bad), None, "{bad}");
        }
    }

    #[test]
    fn comments_are_non_empty_lines() {
        assert_eq!(parse_comments("a\n\n b \n\n"), vec!["a", "b"]);
        assert!(parse_comments("  \n ").is_empty());
    }
}
