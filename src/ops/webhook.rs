//! Webhook mode: an axum server on `0.0.0.0:PORT` receiving Telegram's updates at `WEBHOOK_URL`.
//!
//! Telegram sends `WEBHOOK_SECRET` (or a random secret generated at start when unset) in the
//! `X-Telegram-Bot-Api-Secret-Token` header; teloxide answers 401 to any request without it.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use teloxide::Bot;
use teloxide::update_listeners::UpdateListener;
use teloxide::update_listeners::webhooks::{self, Options};

use super::OpsError;
use crate::config::Config;

/// Why `WEBHOOK_URL` cannot work with this configuration, if it cannot.
pub(crate) fn check_webhook_url(cfg: &Config) -> Result<(), String> {
    let Some(url) = &cfg.webhook_url else {
        return Ok(());
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| "not a valid URL".to_string())?;
    // Telegram's servers deliver only to https; a self-hosted Bot API server may use http.
    if parsed.scheme() != "https" && cfg.bot_api_url.is_none() {
        return Err(
            "Telegram delivers webhooks only to https:// URLs; put the bot behind a TLS \
             reverse proxy, or leave WEBHOOK_URL unset to use long polling"
                .to_string(),
        );
    }
    Ok(())
}

/// Binds `0.0.0.0:PORT`, registers `WEBHOOK_URL` with Telegram and returns the update listener
/// to hand to the dispatcher (`dispatch_with_listener`). The port is bound before `setWebhook`
/// so that a taken port is a clean error and Telegram is never pointed at nothing. When the
/// listener is stopped (shutdown), the server ends and the webhook is deleted.
pub async fn webhook_listener(
    bot: Bot,
    cfg: &Config,
) -> Result<impl UpdateListener<Err = Infallible> + use<>, OpsError> {
    // All interfaces: in a container or behind a reverse proxy the traffic is not loopback.
    listen_on(bot, cfg, IpAddr::from([0, 0, 0, 0])).await
}

/// [`webhook_listener`] on a chosen local address (tests use loopback).
pub(crate) async fn listen_on(
    bot: Bot,
    cfg: &Config,
    ip: IpAddr,
) -> Result<impl UpdateListener<Err = Infallible> + use<>, OpsError> {
    let url = cfg
        .webhook_url
        .as_deref()
        .ok_or_else(|| OpsError::WebhookUrl {
            reason: "not set; webhook mode needs the public https URL Telegram should call".into(),
        })?;
    check_webhook_url(cfg).map_err(|reason| OpsError::WebhookUrl { reason })?;
    let url = reqwest::Url::parse(url).map_err(|_| OpsError::WebhookUrl {
        reason: "not a valid URL".into(),
    })?;
    let addr = SocketAddr::new(ip, cfg.port);
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| OpsError::WebhookBind { addr, source })?;
    let mut options = Options::new(addr, url);
    // Set the field directly: the config already validated the secret, and the builder
    // method panics on a bad one.
    options.secret_token = cfg.webhook_secret.as_ref().map(|s| s.expose().to_string());
    let (mut listener, stopped, router) =
        webhooks::axum_to_router(bot, options)
            .await
            .map_err(|e| OpsError::WebhookSetup {
                reason: e.to_string(),
            })?;
    let stop = listener.stop_token();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(tcp, router)
            .with_graceful_shutdown(stopped)
            .await
        {
            log::error!("webhook server failed: {e}");
            // End the dispatcher instead of leaving it waiting for updates that cannot come.
            stop.stop();
        }
    });
    Ok(listener)
}
