//! How one request is answered: control endpoints aside, the request meets the injected faults,
//! then the User-Agent block, route matching (`404`/`405`), the choice of account
//! (`accounts`), the request checks (`checks`), the handler and the ETag; and it goes into the
//! request log.

use serde_json::Value;

use crate::encoding::{parse_urlencoded, percent_decode};
use crate::faults::FaultAction;
use crate::reply::Reply;
use crate::route::{match_pattern, Access, Ctx};
use crate::timestamp::Timestamp;

use super::accounts::bearer;
use super::canned::{cloudflare_block, cloudflare_rate_limit, non_json_page, status_reply};
use super::checks::{self, Passed};
use super::etag::apply_etag;
use super::log;
use super::request::{header, Incoming};
use super::shared::Shared;

/// How the answer leaves the server (see [`FaultAction`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    Normal,
    /// Send after this many milliseconds.
    Delay(u64),
    /// Close the connection without sending anything.
    Drop,
    /// Send the head and half the body, then close.
    Truncate,
}

/// A reply and how to send it.
pub(crate) struct Outcome {
    pub reply: Reply,
    pub transport: Transport,
}

impl Outcome {
    pub(crate) fn normal(reply: Reply) -> Outcome {
        Outcome { reply, transport: Transport::Normal }
    }
}

impl Shared {
    /// Handles one request: control endpoints directly, everything else through the faults and
    /// [`dispatch`](Self::dispatch) and into the request log.
    pub(crate) fn process(&self, req: Incoming) -> Outcome {
        if req.path == "/_emulator" || req.path.starts_with("/_emulator/") {
            return Outcome::normal(self.control(&req));
        }
        let at_ms = self.started.elapsed().as_millis() as u64;
        let action = self.faults().fire(&req.method, &req.path, &req.query, &req.body);
        let mut transport = Transport::Normal;
        let mut logged_status = None;
        let mut account = None;
        let reply = match &action {
            None => self.respond(&req, &mut account, |_| {}),
            Some(FaultAction::Status { status, headers, body }) => status_reply(*status, headers, body),
            Some(FaultAction::ApplyThenStatus { status }) => {
                self.respond(&req, &mut account, |_| {});
                status_reply(*status, &[], "")
            }
            Some(FaultAction::Delay { ms }) => {
                transport = Transport::Delay(*ms);
                self.respond(&req, &mut account, |_| {})
            }
            Some(FaultAction::DropConnection) => {
                transport = Transport::Drop;
                logged_status = Some(0);
                Reply::empty(200)
            }
            Some(FaultAction::ApplyThenDrop) => {
                transport = Transport::Drop;
                logged_status = Some(0);
                self.respond(&req, &mut account, |_| {})
            }
            Some(FaultAction::TruncatedBody) => {
                transport = Transport::Truncate;
                self.respond(&req, &mut account, |_| {})
            }
            Some(FaultAction::NonJsonBody) => non_json_page(),
            Some(FaultAction::CloudflareRateLimit { retry_after_secs }) => cloudflare_rate_limit(*retry_after_secs),
            Some(FaultAction::RepeatPreviousPage) => self.repeat_previous_page(&req, &mut account),
            Some(FaultAction::ItemCountOffBy { delta }) => self.respond(&req, &mut account, |r| {
                for (k, v) in &mut r.headers {
                    if k.eq_ignore_ascii_case("x-pagination-item-count") {
                        let n = v.parse::<i64>().unwrap_or(0);
                        *v = (n + delta).max(0).to_string();
                    }
                }
            }),
        };
        self.log().push(log::entry(
            &req,
            logged_status.unwrap_or(reply.status),
            at_ms,
            action.map(|a| a.label()),
            account,
        ));
        Outcome { reply, transport }
    }

    /// [`dispatch`](Self::dispatch), then `edit` on the reply, then the ETag.
    fn respond(&self, req: &Incoming, account: &mut Option<String>, edit: impl FnOnce(&mut Reply)) -> Reply {
        let (mut reply, etag) = self.dispatch(req, account);
        edit(&mut reply);
        if etag && reply.status == 200 {
            apply_etag(&mut reply, &req.headers);
        }
        reply
    }

    /// The `repeat_previous_page` fault: page N-1's rows with page N's headers.
    fn repeat_previous_page(&self, req: &Incoming, account: &mut Option<String>) -> Reply {
        let page = parse_urlencoded(&req.query)
            .into_iter()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.trim().parse::<u64>().ok())
            .unwrap_or(1);
        if req.method != "GET" || page < 2 {
            return self.respond(req, account, |_| {});
        }
        let mut prev = req.clone();
        prev.query = req
            .query
            .split('&')
            .map(|part| {
                let key = part.split_once('=').map_or(part, |(k, _)| k);
                if percent_decode(key) == "page" {
                    format!("page={}", page - 1)
                } else {
                    part.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        self.respond(&prev, account, |r| {
            for (k, v) in &mut r.headers {
                if k.eq_ignore_ascii_case("x-pagination-page") {
                    *v = page.to_string();
                }
            }
        })
    }

    /// Handles an API/OAuth request. The flag says whether a `200` gets an ETag (API GETs);
    /// `account` gets the username whose valid token signed it (see `LoggedRequest::account`).
    fn dispatch(&self, req: &Incoming, account: &mut Option<String>) -> (Reply, bool) {
        let mut etag = false;
        let reply = self.dispatch_inner(req, &mut etag, account);
        (reply, etag)
    }

    fn dispatch_inner(&self, req: &Incoming, etag: &mut bool, account: &mut Option<String>) -> Reply {
        if self.require_user_agent && header(&req.headers, "user-agent").is_none_or(|v| v.trim().is_empty()) {
            return cloudflare_block();
        }

        let mut allowed: Vec<&str> = Vec::new();
        let mut hit = None;
        for route in &self.routes {
            if let Some(params) = match_pattern(route.pattern, &req.path) {
                if route.method == req.method {
                    hit = Some((route, params));
                    break;
                }
                if !allowed.contains(&route.method) {
                    allowed.push(route.method);
                }
            }
        }
        let Some((route, params)) = hit else {
            if allowed.is_empty() {
                return Reply::error(404, "not_found", format!("No route matches {} {}", req.method, req.path));
            }
            return Reply::error(405, "method_not_allowed", format!("{} is not allowed on {}", req.method, req.path))
                .header("allow", allowed.join(", "));
        };

        let now_ms = self.now_ms();
        let now = Timestamp(now_ms.div_euclid(1000));
        let query = parse_urlencoded(&req.query);
        let mut accounts = self.accounts();
        let (pick, passed) = if route.access == Access::OAuth {
            let body = match checks::oauth_body(req) {
                Ok(b) => b,
                Err(reply) => return reply,
            };
            let pick = accounts.for_oauth(&req.path, body.as_ref());
            let passed = Passed { body, rate_header: None };
            (pick, passed)
        } else {
            // The account, then the checks against it.
            let token = bearer(&req.headers);
            let api_key = header(&req.headers, "trakt-api-key").map(str::trim);
            let pick = accounts.for_api(token, api_key);
            let state = accounts.get(pick);
            match checks::api(req, state, route.access, token, api_key, now_ms, account) {
                Ok(passed) => (pick, passed),
                Err(reply) => return reply,
            }
        };

        let mut ctx = Ctx {
            state: accounts.get(pick),
            params,
            query,
            headers: &req.headers,
            body: passed.body.as_ref(),
            now,
            now_ms,
        };
        let mut reply = (route.handler)(&mut ctx);
        if reply.status == 200 && refresh_grant(route.pattern, ctx.body) {
            *account = Some(ctx.state.library.user.username.clone());
        }
        if let Some(h) = passed.rate_header {
            reply.headers.push(("x-ratelimit".into(), h));
        }
        *etag = req.method == "GET" && route.access != Access::OAuth;
        reply
    }
}

/// A `POST /oauth/token` body with `grant_type=refresh_token`.
fn refresh_grant(pattern: &str, body: Option<&Value>) -> bool {
    pattern == "/oauth/token"
        && body.and_then(|b| b.get("grant_type")).and_then(Value::as_str).map(str::trim) == Some("refresh_token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::percent_encode;
    use crate::server::log::redact_authorization;
    use crate::server::request::media_type;

    #[test]
    fn helpers() {
        assert_eq!(redact_authorization("Bearer abcdef123456"), "Bearer <redacted:3456>");
        assert_eq!(redact_authorization("xy"), "<redacted:xy>");
        assert_eq!(
            parse_urlencoded("a=1&b=x%20y+z&c"),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b".to_string(), "x y z".to_string()),
                ("c".to_string(), String::new()),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
        assert_eq!(
            match_pattern("/sync/watchlist/:type", "/sync/watchlist/movies"),
            Some(vec![("type", "movies".to_string())])
        );
        assert_eq!(match_pattern("/sync/watchlist/:type", "/sync/watchlist/"), None);
        assert_eq!(media_type("Application/JSON; charset=utf-8"), "application/json");
    }
}
