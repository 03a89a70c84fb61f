//! `GET /users/settings`: user, account, connections, sharing text and limits.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::encoding::hex;
use crate::library::slugify;
use crate::route::{Access, Ctx, Reply, RouteDef};

pub(crate) fn routes() -> Vec<RouteDef> {
    vec![RouteDef::new("GET", "/users/settings", Access::User, settings)]
}

fn settings(ctx: &mut Ctx<'_>) -> Reply {
    let lib = &ctx.state.library;
    let user = &lib.user;
    let uuid = hex(&Sha256::digest(user.username.as_bytes()));
    let uuid = format!("{}-{}-{}-{}-{}", &uuid[0..8], &uuid[8..12], &uuid[12..16], &uuid[16..20], &uuid[20..32]);
    Reply::json(
        200,
        json!({
            "user": {
                "username": user.username,
                "private": user.private,
                "deleted": false,
                "name": user.name,
                "vip": user.vip,
                "vip_ep": false,
                "director": false,
                "ids": { "slug": slugify(&user.username), "uuid": uuid },
                "joined_at": user.joined_at.to_trakt(),
                "location": null,
                "about": null,
                "gender": null,
                "age": null,
                "images": { "avatar": { "full": "https://walter.trakt.tv/hotlink-ok/placeholders/medium/fry.png" } },
                "vip_og": false,
                "vip_years": 0,
            },
            "account": {
                "timezone": "UTC",
                "date_format": "ymd",
                "time_24hr": true,
                "cover_image": null,
            },
            "connections": {
                "facebook": false, "twitter": false, "mastodon": false, "google": false, "tumblr": false,
                "medium": false, "slack": false, "apple": false, "dropbox": false, "microsoft": false,
            },
            "sharing_text": {
                "watching": "I'm watching [item]",
                "watched": "I just watched [item]",
                "rated": "[item] [stars]",
            },
            // Only the documented keys; the ratings/collection/history limits are not served.
            "limits": {
                "list": lib.limits.list,
                "watchlist": lib.limits.watchlist,
                "favorites": lib.limits.favorites,
                "recommendations": lib.limits.recommendations,
            },
        }),
    )
}
