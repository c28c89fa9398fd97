//! A simulated IA-Café panel (axum on loopback) for trying the shop without money and for tests.
