//! Sending a call with retries: exponential backoff with full jitter, `Retry-After` up to
//! a cap, one token refresh and replay after a 401, and a non-idempotent write resent only
//! when it provably never reached Trakt.

use super::status::{is_retryable_status, rate_limited, retry_after_secs, truncated};
use super::{rate_limit_remaining, Call, Client};
use crate::client::ledger::LedgerEntry;
use crate::client::pacing::Bucket;
use crate::client::transport::{AuthFailure, Response, TransportError};
use crate::error::AdapterError;
use crate::log::{self, Level};

/// SplitMix64: backoff jitter without a `wasi:random` import.
pub(super) struct Jitter(pub(super) u64);

impl Jitter {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, max].
    pub(super) fn upto(&mut self, max: u64) -> u64 {
        if max == u64::MAX {
            self.next()
        } else {
            self.next() % (max + 1)
        }
    }
}

impl Client {
    /// The retry loop.
    ///
    /// - every attempt first takes a token of the read or write bucket;
    /// - 401: ask the host to refresh, replay once (not counted against the attempt budget);
    ///   a failed refresh is `Auth` (or `Transport` when the refresh itself could not run);
    /// - 429, 500, 502, 503, 504, 520, 521, 522: retried up to the attempt budget with full
    ///   jitter backoff; a 429 waits at least its `Retry-After` (10 s when missing), and one
    ///   beyond `retry_after_cap_secs` fails at once as `RateLimited`;
    /// - connect errors are retried; timeouts and lost connections only for idempotent calls;
    ///   denied, TLS and invalid requests never;
    /// - a non-idempotent call is resent only after a connect error or a 429 (it provably
    ///   did not reach Trakt / was not applied); a timeout, lost connection or 5xx fails at
    ///   once with a message saying the write may or may not have been applied.
    pub(super) fn send_with_retries(&mut self, call: &Call, entry: &mut LedgerEntry) -> Result<Response, AdapterError> {
        let req = self.build_request(call);
        let bucket = if call.method.is_write() { Bucket::Write } else { Bucket::Read };
        let attempts = call.max_attempts.unwrap_or(self.settings.max_attempts).max(1);
        let cap_secs = self.settings.retry_after_cap_secs;
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            match self.pacer.acquire(bucket, &mut *self.clock, cap_secs * 1000) {
                Ok(w) => entry.waited_ms += w,
                Err(w) => return Err(self.over_cap(call, w.div_ceil(1000))),
            }
            entry.attempts += 1;
            entry.bytes_sent += req.body.len() as u64;
            let t0 = self.clock.now_ms();
            let result = self.transport.send(&req);
            let t1 = self.clock.now_ms();
            self.pacer.complete(bucket, t1);
            entry.elapsed_ms += t1.saturating_sub(t0);
            let resp = match result {
                Ok(resp) => resp,
                Err(err) => {
                    entry.status = 0;
                    entry.bytes_received = 0;
                    let retryable = match err {
                        TransportError::Connect(_) => true,
                        TransportError::Timeout(_) | TransportError::ConnectionLost(_) => call.idempotent,
                        _ => false,
                    };
                    if !retryable || attempt >= attempts {
                        log::event(
                            Level::Error,
                            "http",
                            "http_exception_giveup",
                            &[
                                ("method", call.method.as_str().into()),
                                ("path", call.path.clone()),
                                ("attempt", attempt.to_string()),
                                ("error", err.describe()),
                            ],
                        );
                        let unsure = !call.idempotent
                            && matches!(err, TransportError::Timeout(_) | TransportError::ConnectionLost(_));
                        return Err(AdapterError::Transport(if unsure {
                            format!(
                                "{}: {}; the write may or may not have been applied: check Trakt before sending it again",
                                call.what(),
                                err.describe()
                            )
                        } else {
                            format!("{}: {}", call.what(), err.describe())
                        }));
                    }
                    let wait = self.backoff_ms(attempt);
                    log::event(
                        Level::Warn,
                        "http",
                        "http_retry",
                        &[
                            ("method", call.method.as_str().into()),
                            ("path", call.path.clone()),
                            ("status", "0".into()),
                            ("attempt", attempt.to_string()),
                            ("wait_ms", wait.to_string()),
                            ("error", err.describe()),
                        ],
                    );
                    self.clock.sleep_ms(wait);
                    entry.waited_ms += wait;
                    continue;
                }
            };
            entry.status = resp.status;
            entry.bytes_received = resp.body.len() as u64;
            if let Some(h) = resp.header("x-ratelimit") {
                entry.rate_limit = Some(h.to_string());
                let (now, wall) = (self.clock.now_ms(), self.clock.wall_unix_secs());
                self.pacer.observe(h, bucket, now, wall);
                if let Some(r) = rate_limit_remaining(&resp) {
                    self.rate_limit_remaining = Some(r);
                }
            }
            log::event(
                Level::Debug,
                "http",
                "http_response",
                &[
                    ("method", call.method.as_str().into()),
                    ("path", call.path.clone()),
                    ("status", resp.status.to_string()),
                    ("attempt", attempt.to_string()),
                ],
            );
            let status = resp.status;
            if status == 401 && !refreshed {
                refreshed = true;
                attempt -= 1;
                self.refresh_token()?;
                continue;
            }
            if truncated(&resp) && call.idempotent && attempt < attempts {
                // A body shorter than its Content-Length is a connection lost mid-answer (most
                // hosts report it as such; this covers those that do not).
                let wait = self.backoff_ms(attempt);
                log::event(
                    Level::Warn,
                    "http",
                    "http_retry",
                    &[
                        ("method", call.method.as_str().into()),
                        ("path", call.path.clone()),
                        ("status", status.to_string()),
                        ("attempt", attempt.to_string()),
                        ("wait_ms", wait.to_string()),
                        ("error", "truncated body".into()),
                    ],
                );
                self.clock.sleep_ms(wait);
                entry.waited_ms += wait;
                continue;
            }
            if !is_retryable_status(status) {
                return Ok(resp);
            }
            let wait = if status == 429 {
                let secs = retry_after_secs(&resp);
                if secs > cap_secs {
                    return Err(self.over_cap(call, secs));
                }
                if attempt >= attempts {
                    return Ok(resp);
                }
                let wait = (secs * 1000).max(self.backoff_ms(attempt));
                log::event(
                    Level::Warn,
                    "http",
                    "rate_limit_retry",
                    &[
                        ("method", call.method.as_str().into()),
                        ("path", call.path.clone()),
                        ("retry_after_s", secs.to_string()),
                        ("attempt", attempt.to_string()),
                        ("wait_ms", wait.to_string()),
                    ],
                );
                wait
            } else {
                if !call.idempotent {
                    log::event(
                        Level::Error,
                        "http",
                        "http_giveup_unsafe",
                        &[
                            ("method", call.method.as_str().into()),
                            ("path", call.path.clone()),
                            ("status", status.to_string()),
                        ],
                    );
                    return Err(AdapterError::Http {
                        status,
                        message: format!(
                            "Trakt answered {status} for {}: the write may or may not have been applied, so it \
                             was not resent: check Trakt before sending it again",
                            call.what(),
                        ),
                    });
                }
                if attempt >= attempts {
                    return Ok(resp);
                }
                let wait = self.backoff_ms(attempt);
                log::event(
                    Level::Warn,
                    "http",
                    "http_retry",
                    &[
                        ("method", call.method.as_str().into()),
                        ("path", call.path.clone()),
                        ("status", status.to_string()),
                        ("attempt", attempt.to_string()),
                        ("wait_ms", wait.to_string()),
                    ],
                );
                wait
            };
            self.clock.sleep_ms(wait);
            entry.waited_ms += wait;
        }
    }

    /// Full jitter: uniform in [0, min(backoff_max, base * 2^(attempt-1))].
    fn backoff_ms(&mut self, attempt: u32) -> u64 {
        let exp = self.settings.backoff_base_ms.saturating_mul(1u64 << (attempt.max(1) - 1).min(40));
        self.jitter.upto(exp.min(self.settings.backoff_max_ms))
    }

    fn over_cap(&self, call: &Call, secs: u64) -> AdapterError {
        log::event(
            Level::Warn,
            "http",
            "rate_limited",
            &[
                ("method", call.method.as_str().into()),
                ("path", call.path.clone()),
                ("retry_after_s", secs.to_string()),
                ("cap_s", self.settings.retry_after_cap_secs.to_string()),
            ],
        );
        rate_limited(secs, call, true)
    }

    fn refresh_token(&mut self) -> Result<(), AdapterError> {
        match self.auth.refresh() {
            Ok(()) => {
                log::event(Level::Info, "auth", "token_refreshed", &[]);
                Ok(())
            }
            Err(e) => {
                // A refused or impossible refresh means "log in again" (auth); a refresh that
                // could not be performed right now (network, server) is a transport problem.
                let err = match e {
                    AuthFailure::NotConfigured(m) => AdapterError::Auth(format!(
                        "Trakt answered 401 and no token refresh is possible ({m}): log in to Trakt again"
                    )),
                    AuthFailure::InvalidGrant(m) => AdapterError::Auth(format!(
                        "Trakt answered 401 and the refresh token was rejected ({m}): log in to Trakt again"
                    )),
                    AuthFailure::Failed(m) => AdapterError::Transport(format!(
                        "Trakt answered 401 and the token refresh could not be performed ({m}): try again later"
                    )),
                };
                log::event(Level::Error, "auth", "token_refresh_failed", &[("reason", err.to_string())]);
                Err(err)
            }
        }
    }
}
