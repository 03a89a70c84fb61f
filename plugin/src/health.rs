//! Health probe: one `GET /sync/last_activities`, never a failing call.
//!
//! One attempt with a short timeout (the configured one clamped to 3..15 s, as CrossWatch
//! does): a health check that retries for a minute hides the problem it should report. A 401
//! still gets the client's single refresh and replay, never a loop.

use crate::client::{self, Call, Client};
use crate::error::AdapterError;
use crate::features::{Feature, SUPPORT};
use crate::log::{self, Level};

const PATH: &str = "/sync/last_activities";

#[derive(Debug, Clone, PartialEq)]
pub struct FeatureHealth {
    pub feature: Feature,
    pub available: bool,
    pub reason: String,
}

/// The probe's verdict; the WIT `health-report.status` carries it as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthStatus {
    Ok,
    /// Trakt refused the credentials (401 after a refresh, or 403).
    AuthFailed,
    /// Anything else: no answer, a server error, a rate limit.
    Down,
}

impl HealthStatus {
    pub fn as_wire(self) -> &'static str {
        match self {
            HealthStatus::Ok => "ok",
            HealthStatus::AuthFailed => "auth_failed",
            HealthStatus::Down => "down",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    pub status: HealthStatus,
    pub latency_ms: u32,
    pub api_status: u16,
    pub rate_limit_remaining: Option<u32>,
    pub retry_after_secs: Option<u32>,
    pub features: Vec<FeatureHealth>,
    pub message: String,
}

pub fn probe(client: &mut Client) -> HealthReport {
    let call =
        Call { max_attempts: Some(1), timeout_ms: Some(client.timeout_ms().clamp(3_000, 15_000)), ..Call::get(PATH) };
    let result = client.exchange(&call);
    // Time on the wire, not counting a pacing wait before the probe.
    let latency_ms = client.last_entry().map_or(0, |e| e.elapsed_ms).min(u64::from(u32::MAX)) as u32;

    let mut report = HealthReport {
        status: HealthStatus::Down,
        latency_ms,
        api_status: 0,
        rate_limit_remaining: None,
        retry_after_secs: None,
        features: Vec::new(),
        message: String::new(),
    };
    match result {
        Ok(resp) => {
            report.api_status = resp.status;
            report.rate_limit_remaining = client::rate_limit_remaining(&resp);
            match resp.status {
                200..=299 => report.status = HealthStatus::Ok,
                401 | 403 => {
                    report.status = HealthStatus::AuthFailed;
                    report.message = if resp.status == 401 {
                        "Trakt rejected the access token even after a refresh: log in to Trakt again".into()
                    } else {
                        "Trakt answered 403: the API key (client id) is invalid or the app was deleted".into()
                    };
                }
                429 => {
                    report.retry_after_secs = resp.header_u64("retry-after").map(|s| s.min(u64::from(u32::MAX)) as u32);
                    report.message = "Trakt is rate limiting this client (429)".into();
                }
                s => report.message = format!("Trakt answered {s} for GET {PATH}"),
            }
        }
        Err(AdapterError::RateLimited { retry_after_secs, message }) => {
            report.api_status = client.last_entry().map_or(0, |e| e.status);
            report.retry_after_secs = Some(retry_after_secs);
            report.message = message;
        }
        Err(AdapterError::Auth(m)) => {
            report.status = HealthStatus::AuthFailed;
            report.api_status = 401;
            report.message = m;
        }
        Err(e) => report.message = e.to_string(),
    }

    let ok = report.status == HealthStatus::Ok;
    report.features = SUPPORT
        .iter()
        .map(|s| {
            let reason = if !s.supported {
                if s.feature == Feature::Playlists { "unsupported" } else { "not implemented in this version" }
                    .to_string()
            } else if ok {
                String::new()
            } else {
                report.status.as_wire().to_string()
            };
            FeatureHealth { feature: s.feature, available: s.supported && ok, reason }
        })
        .collect();
    log::event(
        Level::Info,
        "health",
        "health",
        &[
            ("status", report.status.as_wire().into()),
            ("api_status", report.api_status.to_string()),
            ("latency_ms", report.latency_ms.to_string()),
        ],
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_render_to_their_wire_strings() {
        let all = [(HealthStatus::Ok, "ok"), (HealthStatus::AuthFailed, "auth_failed"), (HealthStatus::Down, "down")];
        for (status, wire) in all {
            assert_eq!(status.as_wire(), wire);
        }
    }
    use crate::client::transport::TransportError;
    use crate::config::Options;
    use crate::testkit::{resp, Fakes};

    #[test]
    fn ok_with_rate_limit_and_latency() {
        let f = Fakes::new(|_| Ok(resp(200, &[("x-ratelimit", r#"{"remaining": 998, "limit": 1000}"#)], "{}")));
        f.set_latency(42);
        let mut c = f.client(&Options { timeout_ms: 60_000, ..Options::default() });
        let r = probe(&mut c);
        assert_eq!(r.status, HealthStatus::Ok);
        assert_eq!(r.api_status, 200);
        assert_eq!(r.latency_ms, 42);
        assert_eq!(r.rate_limit_remaining, Some(998));
        assert_eq!(f.requests()[0].url, "https://api.trakt.tv/sync/last_activities");
        assert_eq!(f.requests()[0].timeout_ms, 15_000);
        let got: Vec<(Feature, bool, &str)> =
            r.features.iter().map(|f| (f.feature, f.available, f.reason.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (Feature::Watchlist, true, ""),
                (Feature::Ratings, true, ""),
                (Feature::History, true, ""),
                (Feature::Playlists, false, "unsupported"),
            ]
        );
    }

    #[test]
    fn auth_failed_after_one_refresh() {
        let f = Fakes::new(|_| Ok(resp(401, &[], "")));
        let mut c = f.client(&Options::default());
        let r = probe(&mut c);
        assert_eq!(r.status, HealthStatus::AuthFailed);
        assert_eq!(r.api_status, 401);
        assert_eq!(f.refreshes(), 1);
        assert_eq!(f.requests().len(), 2);
        assert!(!r.features[0].available);
        assert_eq!((r.features[1].available, r.features[1].reason.as_str()), (false, "auth_failed"));
    }

    #[test]
    fn down_without_retries() {
        let f = Fakes::new(|_| Ok(resp(503, &[], "")));
        let mut c = f.client(&Options::default());
        let r = probe(&mut c);
        assert_eq!((r.status, r.api_status), (HealthStatus::Down, 503));
        assert_eq!(f.requests().len(), 1);

        let f = Fakes::new(|_| Ok(resp(429, &[("retry-after", "30")], "")));
        let mut c = f.client(&Options::default());
        let r = probe(&mut c);
        assert_eq!((r.status, r.retry_after_secs), (HealthStatus::Down, Some(30)));

        // Beyond the Retry-After cap: still a report, with the wait.
        let f = Fakes::new(|_| Ok(resp(429, &[("retry-after", "300")], "")));
        let mut c = f.client(&Options::default());
        let r = probe(&mut c);
        assert_eq!((r.status, r.api_status, r.retry_after_secs), (HealthStatus::Down, 429, Some(300)));
        assert!(r.message.contains("wait 300 s"), "{}", r.message);
        assert_eq!(f.requests().len(), 1);

        let f = Fakes::new(|_| Err(TransportError::Connect("refused".into())));
        let mut c = f.client(&Options::default());
        let r = probe(&mut c);
        assert_eq!((r.status, r.api_status), (HealthStatus::Down, 0));
        assert_eq!(f.requests().len(), 1);
        assert!(f.sleeps().is_empty());
    }
}
