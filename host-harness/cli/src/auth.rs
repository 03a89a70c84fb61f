//! `cw-host auth login` (Trakt's device-code flow) and `cw-host auth status`.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::args::{AuthCommand, GlobalArgs, EXIT_ADAPTER_ERROR, EXIT_OK};
use crate::commands::{api_origin, oauth_origin, print_json, report_failure, Failure};
use crate::io::Io;
use trakt_host::config::{persist_tokens, HostConfig};
use trakt_host::imports::auth::needs_refresh;
use trakt_host::oauth::{self, DevicePoll, OAuthError};
use trakt_host::runtime::AdapterError;

pub fn run(global: &GlobalArgs, action: AuthCommand, mut io: Io) -> i32 {
    let result = match action {
        AuthCommand::Login => login(global, &mut io),
        AuthCommand::Status => status(global, &mut io),
    };
    match result {
        Ok(code) => code,
        Err(f) => report_failure(f, &mut io),
    }
}

fn login(global: &GlobalArgs, io: &mut Io) -> Result<i32, Failure> {
    let config = HostConfig::load_instance(&global.config, &global.instance).map_err(|e| Failure::Usage(e.0))?;
    if !config.exists {
        return Err(Failure::Usage(format!(
            "config file {} not found: create it with a \"trakt\" block holding your app's client_id and client_secret",
            global.config.display()
        )));
    }
    let creds = config.credentials().map_err(|e| Failure::Usage(e.0))?;
    if creds.client_id.is_empty() || creds.client_secret.is_empty() {
        return Err(Failure::Usage(format!(
            "config {}: {block}.client_id and {block}.client_secret are needed to log in (create an app at trakt.tv/oauth/applications)",
            global.config.display(),
            block = config.block_name()
        )));
    }
    let api = api_origin(global, &config)?;
    let base = oauth_origin(global, &config, &api)?.base_url();
    let agent = oauth::agent();
    let code = oauth::device_code(&agent, &base, &creds.client_id).map_err(login_failure)?;
    let _ = writeln!(
        io.stderr,
        "cw-host: to authorize, open {} and enter the code {} (valid for {} minutes); waiting for approval...",
        code.verification_url,
        code.user_code,
        code.expires_in.div_ceil(60)
    );
    let deadline = Instant::now() + Duration::from_secs(code.expires_in);
    let mut interval = code.interval;
    loop {
        std::thread::sleep(Duration::from_secs(interval));
        if Instant::now() > deadline {
            return Err(login_failure(OAuthError::Rejected(
                "the code expired before it was approved; run `cw-host auth login` again".into(),
            )));
        }
        match oauth::poll_device_token(&agent, &base, &code, &creds).map_err(login_failure)? {
            DevicePoll::Pending => continue,
            // Trakt asks clients that poll too fast to slow down.
            DevicePoll::SlowDown => interval += 5,
            DevicePoll::Approved(update) => {
                persist_tokens(&global.config, &config.instance, &update).map_err(|e| Failure::Usage(e.0))?;
                let _ = writeln!(io.stderr, "cw-host: logged in; tokens saved to {}", global.config.display());
                print_json(
                    &mut io.stdout,
                    &json!({"ok": true, "expires_at": update.expires_at, "config": global.config}),
                );
                return Ok(EXIT_OK);
            }
        }
    }
}

fn login_failure(e: OAuthError) -> Failure {
    // The login's failures print like the adapter's own: transport or auth.
    match e {
        OAuthError::Failed(m) => Failure::Adapter(AdapterError::Transport(m)),
        OAuthError::Rejected(m) | OAuthError::NotConfigured(m) => Failure::Adapter(AdapterError::Auth(m)),
    }
}

fn status(global: &GlobalArgs, io: &mut Io) -> Result<i32, Failure> {
    let config = HostConfig::load_instance(&global.config, &global.instance).map_err(|e| Failure::Usage(e.0))?;
    let creds = config.credentials().map_err(|e| Failure::Usage(e.0))?;
    let api = api_origin(global, &config)?;
    let oauth = oauth_origin(global, &config, &api)?;
    let now = chrono::Utc::now().timestamp();
    let margin = config.refresh_margin_secs().map_err(|e| Failure::Usage(e.0))?;
    let expires = (creds.expires_at > 0).then_some(creds.expires_at);
    let configured = !creds.client_id.is_empty() && !creds.access_token.is_empty();
    print_json(
        &mut io.stdout,
        &json!({
            "config": global.config,
            "config_exists": config.exists,
            "instance": config.instance,
            "configured": configured,
            "client_id": !creds.client_id.is_empty(),
            "client_secret": !creds.client_secret.is_empty(),
            "access_token": !creds.access_token.is_empty(),
            "refresh_token": !creds.refresh_token.is_empty(),
            "expires_at": expires,
            "expires_at_iso": expires.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(|d| d.to_rfc3339()),
            "expires_in_secs": expires.map(|t| t - now),
            "expired": expires.map(|t| t <= now),
            "refresh_due": configured && needs_refresh(&creds, now, margin),
            "api_url": api.base_url(),
            "auth_url": oauth.base_url(),
        }),
    );
    Ok(if configured { EXIT_OK } else { EXIT_ADAPTER_ERROR })
}
