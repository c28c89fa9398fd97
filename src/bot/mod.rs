//! The Telegram side: the handler tree, dialogues, keyboards and texts.
