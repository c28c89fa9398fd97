//! The Telegram side: the handler tree, dialogues, keyboards and texts.

pub mod callback;
pub mod text;
