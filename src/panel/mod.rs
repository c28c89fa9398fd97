//! The IA-Café reseller API client.

mod status;

pub use status::OrderStatus;
