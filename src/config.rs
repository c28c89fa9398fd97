//! Configuration from the environment and `.env`, validated at start, secrets redacted.
