//! Replies the server answers without a handler: the pages of the `status`, `non_json_body` and
//! `cloudflare_rate_limit` faults, and Cloudflare's block of requests without a User-Agent.

use serde_json::Value;

use crate::reply::{Reply, ReplyBody};

/// The `status` fault's reply.
pub(crate) fn status_reply(status: u16, headers: &[(String, String)], body: &str) -> Reply {
    let has_type = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let content_type = if has_type || body.is_empty() {
        None
    } else if serde_json::from_str::<Value>(body).is_ok() {
        Some("application/json; charset=utf-8")
    } else if body.trim_start().starts_with('<') {
        Some("text/html; charset=UTF-8")
    } else {
        Some("text/plain; charset=utf-8")
    };
    Reply {
        status,
        headers: headers.to_vec(),
        body: ReplyBody::Raw { content_type: content_type.map(str::to_string), bytes: body.as_bytes().to_vec() },
    }
}

/// The `non_json_body` fault: a `200` HTML page.
pub(crate) fn non_json_page() -> Reply {
    Reply::html(
        200,
        "<!DOCTYPE html>\n<html><head><title>Network login</title></head>\
         <body><h1>Please sign in to continue</h1><p>emulator: non-JSON body fault</p></body></html>\n",
    )
}

/// The `cloudflare_rate_limit` fault: Cloudflare's HTML `429` (error 1015), no `X-Ratelimit`.
pub(crate) fn cloudflare_rate_limit(retry_after_secs: Option<u64>) -> Reply {
    let reply = Reply::html(
        429,
        "<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>Access denied | api.trakt.tv used Cloudflare to restrict access</title></head>\
         <body><h1>Error 1015</h1><h2>You are being rate limited</h2>\
         <p>The owner of this website (api.trakt.tv) has banned you temporarily from accessing this website.</p>\
         <p>Cloudflare Ray ID: 0000000000000000 &bull; error 1015 &bull; emulator</p></body></html>\n",
    )
    .header("server", "cloudflare")
    .header("cf-ray", "0000000000000000-EMU");
    match retry_after_secs {
        Some(s) => reply.header("retry-after", s.to_string()),
        None => reply,
    }
}

/// What Cloudflare answers to requests without a User-Agent.
pub(crate) fn cloudflare_block() -> Reply {
    Reply::html(
        403,
        "<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>Attention Required! | Cloudflare</title></head>\
         <body><h1>Sorry, you have been blocked</h1><h2>You are unable to access trakt.tv</h2>\
         <p>This website is using a security service to protect itself from online attacks.</p>\
         <p>Cloudflare Ray ID: 0000000000000000 &bull; emulator</p></body></html>\n",
    )
    .header("server", "cloudflare")
    .header("cf-ray", "0000000000000000-EMU")
}
