//! Inline keyboards: main menu, categories, paged services, confirmation. Always within Telegram's limits.

use rust_i18n::t;
use teloxide::types::{InlineKeyboardButton, InlineKeyboardMarkup};

use super::Lang;
use super::callback::Cb;
use super::catalog::Snapshot;
use super::text::{MAX_BUTTON_CHARS, shorten};
use crate::panel::Service;

/// Services per page of the service keyboard.
pub const SERVICES_PER_PAGE: usize = 8;
/// Categories shown at most (Telegram allows 100 buttons; keep room for navigation).
pub const MAX_CATEGORY_BUTTONS: usize = 90;

/// A button carrying encoded callback data.
pub fn button(text: impl Into<String>, cb: &Cb) -> InlineKeyboardButton {
    InlineKeyboardButton::callback(shorten(&text.into(), MAX_BUTTON_CHARS), cb.encode())
}

/// The main menu under the greeting.
pub fn main_menu(lang: Lang, wallets: bool) -> InlineKeyboardMarkup {
    let l = lang.code();
    let mut rows = vec![
        vec![button(t!("menu.new_order", locale = l), &Cb::MenuOrder)],
        vec![
            button(t!("menu.my_orders", locale = l), &Cb::MenuMyOrders),
            button(t!("menu.help", locale = l), &Cb::MenuHelp),
        ],
    ];
    let mut last = Vec::new();
    if wallets {
        last.push(button(t!("menu.wallet", locale = l), &Cb::MenuWallet));
    }
    last.push(button(t!("menu.language", locale = l), &Cb::MenuLanguage));
    rows.push(last);
    InlineKeyboardMarkup::new(rows)
}

/// One button per category, two per row.
pub fn categories(snap: &Snapshot) -> InlineKeyboardMarkup {
    let buttons: Vec<InlineKeyboardButton> = snap
        .categories
        .iter()
        .take(MAX_CATEGORY_BUTTONS)
        .enumerate()
        .map(|(i, c)| {
            button(
                c.clone(),
                &Cb::Category {
                    ver: snap.version,
                    idx: i as u32,
                },
            )
        })
        .collect();
    InlineKeyboardMarkup::new(buttons.chunks(2).map(|r| r.to_vec()).collect::<Vec<_>>())
}

/// Number of pages needed for `count` services.
pub fn page_count(count: usize) -> u32 {
    count.div_ceil(SERVICES_PER_PAGE).max(1) as u32
}

/// One page of services (name shortened, price per 1,000), with Prev / page / Next and Back.
pub fn services_page(
    snap: &Snapshot,
    services: &[&Service],
    page: u32,
    lang: Lang,
) -> InlineKeyboardMarkup {
    let l = lang.code();
    let pages = page_count(services.len());
    let page = page.min(pages - 1);
    let start = page as usize * SERVICES_PER_PAGE;
    let mut rows: Vec<Vec<InlineKeyboardButton>> = services
        .iter()
        .skip(start)
        .take(SERVICES_PER_PAGE)
        .map(|s| {
            let price = snap.price_per_1k(s).to_string();
            // Keep the price whole: shorten only the name.
            let room = MAX_BUTTON_CHARS.saturating_sub(price.chars().count() + 3);
            let label = format!("{} · {}", shorten(&s.name, room), price);
            vec![button(label, &Cb::Service { id: s.id })]
        })
        .collect();
    if pages > 1 {
        let mut nav = Vec::new();
        if page > 0 {
            nav.push(button(
                t!("common.prev", locale = l),
                &Cb::ServicePage { page: page - 1 },
            ));
        }
        nav.push(button(
            t!("common.page", locale = l, page = page + 1, pages = pages),
            &Cb::Noop,
        ));
        if page + 1 < pages {
            nav.push(button(
                t!("common.next", locale = l),
                &Cb::ServicePage { page: page + 1 },
            ));
        }
        rows.push(nav);
    }
    rows.push(vec![button(t!("common.back", locale = l), &Cb::Back)]);
    InlineKeyboardMarkup::new(rows)
}

/// A single Back button (link, quantity and comment steps).
pub fn back_only(lang: Lang) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(vec![vec![button(
        t!("common.back", locale = lang.code()),
        &Cb::Back,
    )]])
}

/// Confirm / Cancel, then Back.
pub fn confirm(token: &str, lang: Lang) -> InlineKeyboardMarkup {
    let l = lang.code();
    InlineKeyboardMarkup::new(vec![
        vec![
            button(
                t!("order.confirm_button", locale = l),
                &Cb::Confirm {
                    token: token.to_string(),
                },
            ),
            button(t!("order.cancel_button", locale = l), &Cb::Abort),
        ],
        vec![button(t!("common.back", locale = l), &Cb::Back)],
    ])
}
