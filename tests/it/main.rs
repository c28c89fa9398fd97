//! Integration tests: whole conversations and background work against the sandbox panel over loopback.

mod common;
mod e2e;
mod ordering;
