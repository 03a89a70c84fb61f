//! Trakt list rows (watchlist, ratings) as CrossWatch minimal items.
//!
//! A row is `{type, movie|show|season|episode: {...}, show?: {...}, ...}` (trakt-api.md 3.2,
//! 3.4). Seasons and episodes carry `show_ids` and `series_title`; their `title` is the
//! episode title, else the show's; `year` is the show's. Ids are normalised as CrossWatch
//! does and non-scalar ids (e.g. `plex: {guid, slug}`) are dropped.

use serde_json::Value;

use crate::model::json::ids_from_map;
use crate::model::Item;

/// One row as an item; `Ok(None)` for a row type this adapter does not handle (people,
/// lists); `Err` for a row that is not what Trakt documents (no type, no media object).
pub fn row_to_item(row: &Value) -> Result<Option<Item>, String> {
    let kind = row.get("type").and_then(Value::as_str).ok_or("no type")?;
    let obj = |name: &str| row.get(name).filter(|v| v.is_object()).ok_or(format!("no {name} object"));
    let item = match kind {
        "movie" | "show" => {
            let m = obj(kind)?;
            Item {
                kind: kind.to_string(),
                title: text(m, "title"),
                year: int(m, "year"),
                ids: ids_of(m),
                ..Item::default()
            }
        }
        "season" => {
            let s = obj("season")?;
            let show = obj("show")?;
            let show_title = text(show, "title");
            Item {
                kind: "season".into(),
                title: show_title.clone(),
                year: int(show, "year"),
                ids: ids_of(s),
                show_ids: ids_of(show),
                season: int(s, "number"),
                series_title: show_title,
                ..Item::default()
            }
        }
        "episode" => {
            let e = obj("episode")?;
            let show = obj("show")?;
            let show_title = text(show, "title");
            Item {
                kind: "episode".into(),
                title: text(e, "title").or_else(|| show_title.clone()),
                year: int(show, "year"),
                ids: ids_of(e),
                show_ids: ids_of(show),
                season: int(e, "season"),
                episode: int(e, "number"),
                series_title: show_title,
                ..Item::default()
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(item))
}

/// The row's `type`, for log lines about skipped rows.
pub fn row_type(row: &Value) -> String {
    row.get("type").and_then(Value::as_str).unwrap_or("").to_string()
}

pub fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_string)
}

fn int(v: &Value, field: &str) -> Option<i32> {
    v.get(field).and_then(Value::as_i64).and_then(|n| i32::try_from(n).ok())
}

/// Normalised ids of a Trakt media object; non-scalar ids dropped.
fn ids_of(v: &Value) -> Vec<(String, String)> {
    v.get("ids").and_then(Value::as_object).map(ids_from_map).unwrap_or_default()
}
