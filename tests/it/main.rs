//! Integration tests: whole conversations and background work against the sandbox panel over loopback.

mod cli;
mod common;
mod e2e;
mod following;
mod languages;
mod ordering;
mod panel;
mod shop;
