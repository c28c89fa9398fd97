//! `/language` and the menu's Language button: pick one of the shipped locales, kept in the store.

use rust_i18n::t;
use teloxide::prelude::*;
use teloxide::types::{InlineKeyboardMarkup, MessageId};

use super::callback::Cb;
use super::keyboards::{self, button};
use super::lang::LANGUAGES;
use super::{HandlerResult, Lang, Shop, order_flow, show};
use crate::config::WalletMode;

/// One button per shipped language, in its own name; the current one is ticked.
pub fn choices(current: Lang) -> InlineKeyboardMarkup {
    let buttons: Vec<_> = LANGUAGES
        .iter()
        .map(|(code, name)| {
            let label = if *code == current.code() {
                format!("✅ {name}")
            } else {
                (*name).to_string()
            };
            button(
                label,
                &Cb::Language {
                    code: (*code).to_string(),
                },
            )
        })
        .collect();
    InlineKeyboardMarkup::new(buttons.chunks(2).map(<[_]>::to_vec).collect::<Vec<_>>())
}

/// Shows the language choice (in place of the menu message when `edit` is given).
pub async fn show_choices(
    bot: &Bot,
    chat: ChatId,
    lang: Lang,
    edit: Option<MessageId>,
) -> HandlerResult {
    let text = t!("language.choose", locale = lang.code()).to_string();
    show(bot, chat, edit, text, Some(choices(lang))).await?;
    Ok(())
}

/// A language button: stores the choice (flushed, so it survives a restart) and answers
/// in the new language with the main menu.
pub async fn choose(
    bot: &Bot,
    shop: &Shop,
    user_id: u64,
    chat: ChatId,
    lang: Lang,
    edit: Option<MessageId>,
    code: &str,
) -> HandlerResult {
    // Only an exact shipped code: the button carries `pcm`, never `pcm-NG`.
    let Some(new) = Lang::from_code(code).filter(|l| l.code() == code) else {
        return order_flow::expired(bot, chat, lang).await;
    };
    if let Err(e) = shop.store.set_language(user_id, Some(new.code())).await {
        log::warn!("cannot store the language of {user_id}: {e}");
        super::reply(bot, chat, t!("common.error", locale = lang.code()), None).await?;
        return Ok(());
    }
    let l = new.code();
    let text = format!(
        "{}\n\n{}",
        t!("language.changed", locale = l),
        t!("menu.choose", locale = l)
    );
    let menu = keyboards::main_menu(new, shop.cfg.wallets == WalletMode::On);
    show(bot, chat, edit, text, Some(menu)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_button_per_language_and_the_current_one_ticked() {
        let kb = choices(Lang("ha"));
        let buttons: Vec<_> = kb.inline_keyboard.iter().flatten().collect();
        assert_eq!(buttons.len(), LANGUAGES.len());
        for ((code, name), b) in LANGUAGES.iter().zip(&buttons) {
            let data = match &b.kind {
                teloxide::types::InlineKeyboardButtonKind::CallbackData(d) => d.clone(),
                other => panic!("not a callback button: {other:?}"),
            };
            assert_eq!(
                Cb::decode(&data),
                Some(Cb::Language {
                    code: (*code).to_string()
                })
            );
            assert!(b.text.ends_with(name), "{}", b.text);
            assert_eq!(b.text.starts_with('✅'), *code == "ha", "{}", b.text);
        }
    }

    #[test]
    fn every_language_confirms_in_itself() {
        for (code, _) in LANGUAGES {
            let changed = t!("language.changed", locale = code);
            let choose = t!("language.choose", locale = code);
            if *code != "en" {
                assert_ne!(changed, t!("language.changed", locale = "en"), "{code}");
                assert_ne!(choose, t!("language.choose", locale = "en"), "{code}");
            }
        }
    }
}
