//! Following orders: `/myorders` (paged list), live status (`/status ID` or a tap), refills
//! and cancels. Every lookup is checked against the asking customer: someone else's order,
//! or a forged button, is "not found" and never reaches the API.

use std::sync::Arc;

use rust_i18n::t;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup, MessageId};

use super::callback::Cb;
use super::keyboards::button;
use super::text::{esc, progress_bar, shorten, thousands};
use super::{HandlerResult, Lang, Shop, reply, show};
use crate::money::Naira;
use crate::panel::OrderStatus;
use crate::store::{OrderRecord, Phase};
use crate::tracker::{self, Audience};

/// Orders per page of `/myorders`.
pub const ORDERS_PER_PAGE: usize = 5;
/// Characters of a service name shown in the list.
const SERVICE_CHARS: usize = 80;
/// Characters of a service name or link shown in one order's view (keeps it far below 4096).
const DETAIL_CHARS: usize = 300;

/// `/myorders`: the first page, as a new message.
pub async fn my_orders(bot: Bot, shop: Arc<Shop>, msg: Message, lang: Lang) -> HandlerResult {
    let user_id = msg.from.as_ref().map(|u| u.id.0).unwrap_or_default();
    let (text, markup) = list_page(&shop, user_id, 0, lang)?;
    reply(&bot, msg.chat.id, text, markup).await?;
    Ok(())
}

/// `/status <order id>`: the live status of one of the customer's orders, by the API order id
/// they were told.
pub async fn status_command(
    bot: Bot,
    shop: Arc<Shop>,
    msg: Message,
    lang: Lang,
    arg: String,
) -> HandlerResult {
    let l = lang.code();
    let user_id = msg.from.as_ref().map(|u| u.id.0).unwrap_or_default();
    let arg = arg.trim().trim_start_matches('#');
    if arg.is_empty() {
        reply(
            &bot,
            msg.chat.id,
            t!("myorders.status_usage", locale = l),
            None,
        )
        .await?;
        return Ok(());
    }
    let rec = arg
        .parse::<u64>()
        .ok()
        .and_then(|api_id| shop.store.order_by_api_id(api_id).ok().flatten())
        .filter(|r| r.user_id == user_id);
    let Some(rec) = rec else {
        reply(
            &bot,
            msg.chat.id,
            t!("myorders.not_found", locale = l),
            None,
        )
        .await?;
        return Ok(());
    };
    let (text, markup) = live_view(&shop, rec, lang).await?;
    reply(&bot, msg.chat.id, text, Some(markup)).await?;
    Ok(())
}

/// The buttons of this area. The query was already answered by the caller.
pub async fn on_callback(
    bot: Bot,
    shop: Arc<Shop>,
    q: CallbackQuery,
    chat: ChatId,
    lang: Lang,
    cb: Cb,
) -> HandlerResult {
    let user_id = q.from.id.0;
    let edit = q.message.as_ref().map(|m| m.id());
    let l = lang.code();
    match cb {
        Cb::MenuMyOrders => show_list(&bot, &shop, chat, user_id, 0, lang, None).await,
        Cb::MyOrders { page } => show_list(&bot, &shop, chat, user_id, page, lang, edit).await,
        Cb::Order { id } => {
            let Some(rec) = own_order(&shop, user_id, id) else {
                return not_found(&bot, chat, lang).await;
            };
            let (text, markup) = live_view(&shop, rec, lang).await?;
            show(&bot, chat, edit, text, Some(markup)).await?;
            Ok(())
        }
        Cb::Refill { id } => {
            let Some(rec) = own_order(&shop, user_id, id) else {
                return not_found(&bot, chat, lang).await;
            };
            let (text, markup) = refill(&shop, rec, lang).await?;
            reply(&bot, chat, text, markup).await?;
            Ok(())
        }
        Cb::RefillStatus { id, refill } => {
            // The refill id must be one this customer's order asked for.
            let Some(rec) = own_order(&shop, user_id, id).filter(|r| r.refills.contains(&refill))
            else {
                return not_found(&bot, chat, lang).await;
            };
            let order_id = rec.api_order_id.unwrap_or(rec.id);
            let text = match shop.panel.refill_status(refill).await {
                Ok(word) => t!(
                    "myorders.refill_status",
                    locale = l,
                    refill_id = refill,
                    order_id = order_id,
                    status = esc(&word)
                ),
                Err(e) => {
                    log::warn!("refill status {refill} of order {}: {e}", rec.id);
                    t!("myorders.refill_status_unavailable", locale = l)
                }
            };
            reply(&bot, chat, text, None).await?;
            Ok(())
        }
        Cb::CancelOrder { id } => {
            let Some(rec) = own_order(&shop, user_id, id) else {
                return not_found(&bot, chat, lang).await;
            };
            let text = cancel(&shop, rec, lang).await?;
            reply(&bot, chat, text, None).await?;
            Ok(())
        }
        _ => Ok(()),
    }
}

async fn show_list(
    bot: &Bot,
    shop: &Shop,
    chat: ChatId,
    user_id: u64,
    page: u32,
    lang: Lang,
    edit: Option<MessageId>,
) -> HandlerResult {
    let (text, markup) = list_page(shop, user_id, page, lang)?;
    show(bot, chat, edit, text, markup).await?;
    Ok(())
}

async fn not_found(bot: &Bot, chat: ChatId, lang: Lang) -> HandlerResult {
    reply(
        bot,
        chat,
        t!("myorders.not_found", locale = lang.code()),
        None,
    )
    .await?;
    Ok(())
}

/// The order with local id `id`, only if `user_id` placed it.
fn own_order(shop: &Shop, user_id: u64, id: u64) -> Option<OrderRecord> {
    match shop.store.get_order(id) {
        Ok(rec) => rec.filter(|r| r.user_id == user_id),
        Err(e) => {
            log::error!("cannot read order {id}: {e}");
            None
        }
    }
}

/// One page of the customer's orders, newest first, with a button per order and Prev/Next.
pub fn list_page(
    shop: &Shop,
    user_id: u64,
    page: u32,
    lang: Lang,
) -> Result<(String, Option<InlineKeyboardMarkup>), crate::store::StoreError> {
    let l = lang.code();
    let (_, total) = shop.store.orders_for_user(user_id, 0, 0)?;
    if total == 0 {
        return Ok((t!("myorders.empty", locale = l).to_string(), None));
    }
    let pages = total.div_ceil(ORDERS_PER_PAGE).max(1);
    let page = (page as usize).min(pages - 1);
    let (orders, _) =
        shop.store
            .orders_for_user(user_id, page * ORDERS_PER_PAGE, ORDERS_PER_PAGE)?;
    let mut text = t!(
        "myorders.title",
        locale = l,
        total = thousands(total as u64)
    )
    .to_string();
    let mut rows: Vec<Vec<InlineKeyboardButton>> = Vec::new();
    for rec in &orders {
        text.push_str("\n\n");
        text.push_str(&summary(rec, lang));
        let label = t!(
            "myorders.button",
            locale = l,
            order_id = order_label(rec, lang),
            service = rec.service_name.as_str()
        );
        rows.push(vec![button(label, &Cb::Order { id: rec.id })]);
    }
    if pages > 1 {
        let mut nav = Vec::new();
        if page > 0 {
            nav.push(button(
                t!("common.prev", locale = l),
                &Cb::MyOrders {
                    page: page as u32 - 1,
                },
            ));
        }
        nav.push(button(
            t!("common.page", locale = l, page = page + 1, pages = pages),
            &Cb::Noop,
        ));
        if page + 1 < pages {
            nav.push(button(
                t!("common.next", locale = l),
                &Cb::MyOrders {
                    page: page as u32 + 1,
                },
            ));
        }
        rows.push(nav);
    }
    Ok((text, Some(InlineKeyboardMarkup::new(rows))))
}

/// The id a customer knows an order by: the API's, once placed.
fn order_label(rec: &OrderRecord, lang: Lang) -> String {
    match (rec.phase, rec.api_order_id) {
        (Phase::Placed, Some(id)) => id.to_string(),
        _ => t!("myorders.no_id", locale = lang.code()).to_string(),
    }
}

/// Emoji and localized word of a status.
pub fn status_words(status: &OrderStatus, lang: Lang) -> String {
    let l = lang.code();
    let word = match status {
        OrderStatus::Other(w) => t!("status.other", locale = l, word = esc(w)),
        s => t!(format!("status.{}", s.key()), locale = l),
    };
    format!("{} {word}", status.emoji())
}

/// Where an order stands, in a line: status with progress, or our side of placement.
fn standing(rec: &OrderRecord, lang: Lang) -> String {
    let l = lang.code();
    match rec.phase {
        Phase::Submitting | Phase::Unconfirmed => {
            t!("myorders.being_confirmed", locale = l).to_string()
        }
        Phase::Rejected if rec.wallet_debited => {
            t!("myorders.not_placed_refunded", locale = l).to_string()
        }
        Phase::Rejected => t!("myorders.not_placed", locale = l).to_string(),
        Phase::Placed => {
            // A completed order with no reported remains is fully delivered.
            let remains = match rec.status {
                OrderStatus::Completed => rec.remains.or(Some(0)),
                _ => rec.remains,
            };
            format!(
                "{}\n{}",
                status_words(&rec.status, lang),
                progress_bar(rec.quantity, remains)
            )
        }
    }
}

/// An order's entry in the list.
fn summary(rec: &OrderRecord, lang: Lang) -> String {
    t!(
        "myorders.line",
        locale = lang.code(),
        order_id = order_label(rec, lang),
        service = esc(&shorten(&rec.service_name, SERVICE_CHARS)),
        quantity = thousands(rec.quantity),
        price = rec.price,
        standing = standing(rec, lang)
    )
    .to_string()
}

/// Asks the API for an order's live status, stores what is new (refunding if it ended short,
/// telling only the group since the customer is looking), and renders the order with its
/// Refill / Cancel buttons.
async fn live_view(
    shop: &Shop,
    rec: OrderRecord,
    lang: Lang,
) -> Result<(String, InlineKeyboardMarkup), crate::store::StoreError> {
    let l = lang.code();
    let mut stale = false;
    let mut rec = rec;
    if let (Phase::Placed, Some(api_id)) = (rec.phase, rec.api_order_id) {
        match shop.panel.status(api_id).await {
            Ok(report) => {
                tracker::apply_status(
                    shop,
                    &rec,
                    &report.status,
                    report.remains,
                    Audience::GroupOnly,
                )
                .await?;
                if rec.provider_order_id.is_none()
                    && let Some(pid) = report.provider_order_id
                {
                    shop.store
                        .update_order(rec.id, move |r| r.provider_order_id = Some(pid))
                        .await?;
                }
                rec = shop.store.get_order(rec.id)?.unwrap_or(rec);
            }
            Err(e) => {
                log::warn!("live status of order {api_id} unavailable: {e}");
                stale = true;
            }
        }
    }
    let mut text = t!(
        "myorders.detail",
        locale = l,
        order_id = order_label(&rec, lang),
        service = esc(&shorten(&rec.service_name, DETAIL_CHARS)),
        link = esc(&shorten(&rec.link, DETAIL_CHARS)),
        quantity = thousands(rec.quantity),
        price = rec.price,
        standing = standing(&rec, lang)
    )
    .to_string();
    let refunded = shop.store.order_refunded(rec.id)?;
    if refunded > Naira::ZERO {
        text.push('\n');
        text.push_str(&t!("myorders.refunded", locale = l, amount = refunded));
    }
    if stale {
        text.push_str("\n\n");
        text.push_str(&t!("myorders.live_unavailable", locale = l));
    }
    Ok((text, order_keyboard(&rec, lang)))
}

/// True when a refill may be asked: the service refills and delivery has ended.
pub fn may_refill(rec: &OrderRecord) -> bool {
    rec.phase == Phase::Placed
        && rec.api_order_id.is_some()
        && rec.can_refill
        && matches!(rec.status, OrderStatus::Completed | OrderStatus::Partial)
}

/// True when a cancel may be asked: the service cancels and the order is still moving.
pub fn may_cancel(rec: &OrderRecord) -> bool {
    rec.phase == Phase::Placed
        && rec.api_order_id.is_some()
        && rec.can_cancel
        && !rec.status.is_terminal()
}

fn order_keyboard(rec: &OrderRecord, lang: Lang) -> InlineKeyboardMarkup {
    let l = lang.code();
    let mut rows = Vec::new();
    let mut actions = Vec::new();
    if may_refill(rec) {
        actions.push(button(
            t!("myorders.refill_button", locale = l),
            &Cb::Refill { id: rec.id },
        ));
    }
    if may_cancel(rec) {
        actions.push(button(
            t!("myorders.cancel_button", locale = l),
            &Cb::CancelOrder { id: rec.id },
        ));
    }
    if !actions.is_empty() {
        rows.push(actions);
    }
    if let Some(&refill) = rec.refills.last() {
        rows.push(vec![refill_status_button(rec.id, refill, lang)]);
    }
    rows.push(vec![
        button(
            t!("myorders.refresh_button", locale = l),
            &Cb::Order { id: rec.id },
        ),
        button(
            t!("myorders.back_button", locale = l),
            &Cb::MyOrders { page: 0 },
        ),
    ]);
    InlineKeyboardMarkup::new(rows)
}

fn refill_status_button(id: u64, refill: u64, lang: Lang) -> InlineKeyboardButton {
    button(
        t!("myorders.refill_status_button", locale = lang.code()),
        &Cb::RefillStatus { id, refill },
    )
}

/// Asks for a refill and remembers its id on the order.
async fn refill(
    shop: &Shop,
    rec: OrderRecord,
    lang: Lang,
) -> Result<(String, Option<InlineKeyboardMarkup>), crate::store::StoreError> {
    let l = lang.code();
    let Some(api_id) = rec.api_order_id.filter(|_| may_refill(&rec)) else {
        return Ok((
            t!("myorders.refill_not_allowed", locale = l).to_string(),
            None,
        ));
    };
    match shop.panel.refill(api_id).await {
        Ok(refill_id) => {
            shop.store
                .update_order(rec.id, move |r| {
                    if !r.refills.contains(&refill_id) {
                        r.refills.push(refill_id);
                    }
                })
                .await?;
            let text = t!(
                "myorders.refill_requested",
                locale = l,
                order_id = api_id,
                refill_id = refill_id
            );
            let markup = InlineKeyboardMarkup::new(vec![vec![refill_status_button(
                rec.id, refill_id, lang,
            )]]);
            Ok((text.to_string(), Some(markup)))
        }
        Err(e) => {
            log::warn!("refill of order {api_id} refused or failed: {e}");
            Ok((t!("myorders.refill_failed", locale = l).to_string(), None))
        }
    }
}

/// Asks to cancel; a cancel the API confirms is stored at once and refunded (once).
async fn cancel(
    shop: &Shop,
    rec: OrderRecord,
    lang: Lang,
) -> Result<String, crate::store::StoreError> {
    let l = lang.code();
    let Some(api_id) = rec.api_order_id.filter(|_| may_cancel(&rec)) else {
        return Ok(t!("myorders.cancel_not_allowed", locale = l).to_string());
    };
    let outcome = match shop.panel.cancel(&[api_id]).await {
        Ok(o) => o,
        Err(e) => {
            log::warn!("cancel of order {api_id} failed: {e}");
            return Ok(t!("myorders.cancel_unknown", locale = l).to_string());
        }
    };
    // The answer names provider ids; we asked about this one order only.
    let done = match rec.provider_order_id {
        Some(pid) => outcome.cancelled.contains(&pid),
        None => !outcome.cancelled.is_empty(),
    };
    if !done {
        log::info!(
            "order {api_id} not cancelled: {} ({})",
            outcome.message,
            outcome.note.as_deref().unwrap_or("no note")
        );
        return Ok(t!("myorders.cancel_refused", locale = l, order_id = api_id).to_string());
    }
    let applied = tracker::apply_status(
        shop,
        &rec,
        &OrderStatus::Cancelled,
        None,
        Audience::GroupOnly,
    )
    .await?;
    let mut text = t!("myorders.cancelled", locale = l, order_id = api_id).to_string();
    if let Some(amount) = applied.refund {
        text.push('\n');
        text.push_str(&t!("myorders.cancel_refunded", locale = l, amount = amount));
    }
    Ok(text)
}
