//! Start-up and shutdown: wires configuration, store, panel client, bot and tracker together.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use teloxide::dispatching::dialogue::{ErasedStorage, Storage};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::prelude::*;
use tokio::sync::watch;

use crate::bot::{Shop, State, schema::schema};
use crate::config::Config;
use crate::panel::{ApiKey, Client};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::store::{SledDialogues, Store};
use crate::tracker;

/// The Telegram client the configuration describes (token, optional Bot API server).
pub fn make_bot(cfg: &Config) -> Result<Bot, String> {
    let bot = Bot::new(cfg.bot_token.expose());
    match &cfg.bot_api_url {
        Some(url) => {
            let url = reqwest::Url::parse(url)
                .map_err(|_| "TELOXIDE_API_URL is not a URL".to_string())?;
            Ok(bot.set_api_url(url))
        }
        None => Ok(bot),
    }
}

/// The panel client: IA-Café when a key is set, else a sandbox panel started here on loopback.
pub async fn panel_for(cfg: &Config) -> Result<(Client, Option<Sandbox>), String> {
    match &cfg.api_key {
        Some(key) => {
            let client = Client::new(&cfg.base_url, ApiKey::new(key.expose()))
                .map_err(|e| format!("cannot set up the IA-Café client: {e}"))?;
            Ok((client, None))
        }
        None => {
            let sb_cfg = SandboxConfig {
                tick: Duration::from_secs(5),
                ..SandboxConfig::default()
            };
            let addr = SocketAddr::from(([127, 0, 0, 1], 0));
            let sandbox = Sandbox::start(sb_cfg, addr)
                .await
                .map_err(|e| format!("cannot start the sandbox panel: {e}"))?;
            log::warn!(
                "IACAFE_API_KEY is not set: running against the built-in SANDBOX panel at {} (no real money moves)",
                sandbox.base_url()
            );
            let client = Client::new(&sandbox.base_url(), ApiKey::new("sandbox"))
                .map_err(|e| format!("cannot set up the sandbox client: {e}"))?;
            Ok((client, Some(sandbox)))
        }
    }
}

/// Runs the storefront until SIGTERM or Ctrl-C.
pub async fn run(cfg: Config) -> ExitCode {
    match run_inner(cfg).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            eprintln!("smm-storefront: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_inner(cfg: Config) -> Result<(), String> {
    let cfg = Arc::new(cfg);
    let store = Store::open(&cfg.data_dir).map_err(|e| {
        format!(
            "cannot open the database in {}: {e}",
            cfg.data_dir.display()
        )
    })?;
    let control = match crate::ops::serve_control(store.clone(), &cfg.data_dir) {
        Ok(h) => Some(h),
        Err(e) => {
            log::warn!("control socket unavailable ({e}); backup will not work while the bot runs");
            None
        }
    };
    let (panel, sandbox) = panel_for(&cfg).await?;
    let bot = make_bot(&cfg)?;
    let shop = Arc::new(Shop::new(cfg.clone(), store.clone(), panel));

    match bot.get_me().await {
        Ok(me) => {
            log::info!("signed in to Telegram as @{}", me.username());
            let _ = shop.username.set(me.username().to_string());
        }
        // Telegram may be briefly unreachable; polling retries on its own.
        Err(e) => log::warn!("cannot reach Telegram yet ({e}); will keep trying"),
    }
    crate::bot::setup::register_commands(&bot, &cfg).await;

    let dialogues: Arc<ErasedStorage<State>> = SledDialogues::new(&store).erase();
    let (stop_tx, stop_rx) = watch::channel(false);
    let tracker = tracker::spawn(shop.clone(), bot.clone(), stop_rx);

    let mut dispatcher = Dispatcher::builder(bot.clone(), schema())
        .dependencies(dptree::deps![shop.clone(), dialogues])
        .error_handler(LoggingErrorHandler::with_custom_text("a handler failed"))
        .build();
    let token = dispatcher.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        log::info!("shutting down: finishing work in progress");
        // Errors here only mean the dispatcher is not running yet or already stopped.
        if let Ok(done) = token.shutdown() {
            done.await;
        }
    });
    log::info!(
        "smm-storefront is running{}",
        if cfg.sandbox() { " (SANDBOX)" } else { "" }
    );
    if cfg.webhook_url.is_some() {
        let listener = crate::ops::webhook_listener(bot.clone(), &cfg)
            .await
            .map_err(|e| e.to_string())?;
        dispatcher
            .dispatch_with_listener(
                listener,
                LoggingErrorHandler::with_custom_text("webhook listener error"),
            )
            .await;
    } else {
        dispatcher.dispatch().await;
    }

    let _ = stop_tx.send(true);
    if let Err(e) = tracker.await {
        log::warn!("tracker ended abnormally: {e}");
    }
    if let Some(h) = control {
        h.abort();
        let _ = h.await;
    }
    store
        .flush()
        .await
        .map_err(|e| format!("cannot flush the database: {e}"))?;
    if let Some(sb) = sandbox {
        sb.shutdown().await;
    }
    log::info!("stopped cleanly");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Checks configuration, Telegram and IA-Café, and the database, one line each.
pub async fn check(cfg: Config) -> ExitCode {
    crate::ops::run_check(&cfg).await
}

/// Serves the sandbox panel alone until Ctrl-C or SIGTERM.
pub async fn sandbox(port: u16) -> ExitCode {
    tokio::select! {
        res = crate::sandbox::serve_forever(port) => match res {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cannot serve the sandbox on port {port}: {e}");
                ExitCode::FAILURE
            }
        },
        _ = wait_for_signal() => ExitCode::SUCCESS,
    }
}

/// Writes a consistent copy of the store to `file` (through the running bot if it holds the store).
pub async fn backup(dir: &Path, file: &Path) -> ExitCode {
    crate::ops::run_backup(dir, file).await
}

/// Restores `file` into an empty data folder.
pub async fn restore(dir: &Path, file: &Path) -> ExitCode {
    crate::ops::run_restore(dir, file).await
}
