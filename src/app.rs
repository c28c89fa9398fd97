//! Start-up and shutdown: wires configuration, store, panel client, bot and tracker together.

use std::path::Path;
use std::process::ExitCode;

use crate::config::Config;

/// Runs the storefront until SIGTERM or Ctrl-C.
pub async fn run(_cfg: Config) -> ExitCode {
    ExitCode::FAILURE
}

/// Checks configuration, Telegram and IA-Café, and the database, one line each.
pub async fn check(_cfg: Config) -> ExitCode {
    ExitCode::FAILURE
}

/// Serves the sandbox panel alone.
pub async fn sandbox(_port: u16) -> ExitCode {
    ExitCode::FAILURE
}

/// Writes a consistent copy of the store to `file`.
pub async fn backup(_dir: &Path, _file: &Path) -> ExitCode {
    ExitCode::FAILURE
}

/// Restores `file` into an empty data folder.
pub async fn restore(_dir: &Path, _file: &Path) -> ExitCode {
    ExitCode::FAILURE
}
