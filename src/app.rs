//! Start-up and shutdown: wires configuration, store, panel client, bot and tracker together.
