//! The ordering dialogue end to end: teloxide_tests' fake Bot API, the sandbox over HTTP.
//!
//! `driver` plays the customer; the other modules each cover part of the "Ordering by chat"
//! requirements and assert what the customer would notice: texts, buttons, the panel's
//! order and debit counts, and the wallet.

mod driver;
mod limits;
mod placing;
mod restart;
mod steps;
