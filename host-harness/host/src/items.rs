//! CrossWatch's item JSON at the host boundary, and the JSON shapes the CLI prints (index,
//! write report, errors). Hosts check JSON types only; the adapter validates meaning.

use serde_json::{json, Map, Value};

use crate::runtime::{AdapterError, Feature, Id, IndexEntry, Item, ItemStatus, WriteReport};

/// Fields with a typed place in the WIT item; every other field travels in `extra`.
const KNOWN_FIELDS: &[&str] = &[
    "type",
    "title",
    "year",
    "ids",
    "show_ids",
    "season",
    "episode",
    "series_title",
    "rating",
    "rated_at",
    "watched_at",
    "listed_at",
    "_trakt_history_id",
];

pub const FEATURE_NAMES: &[&str] = &["watchlist", "ratings", "history", "playlists"];

pub fn parse_feature(name: &str) -> Result<Feature, String> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "watchlist" => Feature::Watchlist,
        "ratings" => Feature::Ratings,
        "history" => Feature::History,
        "playlists" => Feature::Playlists,
        _ => return Err(format!("unknown feature {name:?}: expected one of {}", FEATURE_NAMES.join(", "))),
    })
}

pub fn feature_name(f: Feature) -> &'static str {
    match f {
        Feature::Watchlist => "watchlist",
        Feature::Ratings => "ratings",
        Feature::History => "history",
        Feature::Playlists => "playlists",
    }
}

/// Parse a JSON array of items. Errors name the item (position and title) and the field.
pub fn items_from_json(text: &str) -> Result<Vec<Item>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("items are not valid JSON: {e}"))?;
    let Value::Array(values) = value else {
        return Err("items must be a JSON array of item objects".into());
    };
    values.iter().enumerate().map(|(i, v)| item_from_json(i, v)).collect()
}

pub fn item_from_json(index: usize, value: &Value) -> Result<Item, String> {
    let Value::Object(map) = value else {
        return Err(format!("item {index}: expected a JSON object, found {}", short(value)));
    };
    let who = match map.get("title").and_then(Value::as_str) {
        Some(t) => format!("item {index} ({t:?})"),
        None => format!("item {index}"),
    };
    let field_err =
        |field: &str, want: &str, v: &Value| format!("{who}: field {field} must be {want}, found {}", short(v));

    let text = |field: &str| -> Result<Option<String>, String> {
        match map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(field_err(field, "a string", v)),
        }
    };
    // Timestamps may be ISO text or epoch numbers.
    let stamp = |field: &str| -> Result<Option<String>, String> {
        match map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(v) => Err(field_err(field, "a timestamp string or number", v)),
        }
    };
    let int = |field: &str| -> Result<Option<i32>, String> {
        match map.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= i32::MIN as f64 && *f <= i32::MAX as f64)
                .map(|f| Some(f as i32))
                .ok_or_else(|| field_err(field, "an integer", &Value::Number(n.clone()))),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => {
                s.trim().parse::<i32>().map(Some).map_err(|_| field_err(field, "an integer", &Value::String(s.clone())))
            }
            Some(v) => Err(field_err(field, "an integer", v)),
        }
    };
    let ids = |field: &str| -> Result<Vec<Id>, String> {
        match map.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(m)) => Ok(m
                .iter()
                .filter_map(|(ns, v)| {
                    // Non-scalar ids (e.g. Trakt's `plex: {guid, slug}`) are dropped, as are nulls.
                    let value = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return None,
                    };
                    Some(Id { namespace: ns.clone(), value })
                })
                .collect()),
            Some(v) => Err(field_err(field, "an object of namespace -> id", v)),
        }
    };
    // A rating that is not a number reaches the adapter as NaN, which it reports as
    // `invalid rating` for that item instead of failing the whole call.
    let rating = match map.get("rating") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => Some(s.trim().parse::<f64>().unwrap_or(f64::NAN)),
        Some(_) => Some(f64::NAN),
    };
    let history_id = match map.get("_trakt_history_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(v) => return Err(field_err("_trakt_history_id", "a string or integer", v)),
    };
    let kind = match map.get("type") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => return Err(field_err("type", "a string", v)),
    };
    let extra: Map<String, Value> =
        map.iter().filter(|(k, _)| !KNOWN_FIELDS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    Ok(Item {
        kind,
        title: text("title")?,
        year: int("year")?,
        ids: ids("ids")?,
        show_ids: ids("show_ids")?,
        season: int("season")?,
        episode: int("episode")?,
        series_title: text("series_title")?,
        rating,
        rated_at: stamp("rated_at")?,
        watched_at: stamp("watched_at")?,
        listed_at: stamp("listed_at")?,
        history_id,
        extra: if extra.is_empty() { None } else { Some(Value::Object(extra).to_string()) },
    })
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

fn ids_to_json(ids: &[Id]) -> Value {
    Value::Object(ids.iter().map(|i| (i.namespace.clone(), Value::String(i.value.clone()))).collect())
}

/// The item in CrossWatch's minimal shape, with the caller's extra fields restored.
pub fn item_to_json(item: &Item) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(item.kind));
    m.insert("title".into(), json!(item.title));
    m.insert("year".into(), json!(item.year));
    m.insert("ids".into(), ids_to_json(&item.ids));
    if !item.show_ids.is_empty() {
        m.insert("show_ids".into(), ids_to_json(&item.show_ids));
    }
    let mut opt = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.into(), v);
        }
    };
    opt("season", json!(item.season));
    opt("episode", json!(item.episode));
    opt("series_title", json!(item.series_title));
    opt(
        "rating",
        match item.rating {
            Some(r) if r.fract() == 0.0 && r.is_finite() => json!(r as i64),
            Some(r) if r.is_finite() => json!(r),
            _ => Value::Null,
        },
    );
    opt("rated_at", json!(item.rated_at));
    opt("watched_at", json!(item.watched_at));
    opt("listed_at", json!(item.listed_at));
    opt("_trakt_history_id", json!(item.history_id));
    if let Some(Ok(Value::Object(extra))) = item.extra.as_deref().map(serde_json::from_str::<Value>) {
        for (k, v) in extra {
            m.entry(k).or_insert(v);
        }
    }
    Value::Object(m)
}

/// An index as CrossWatch expects it: canonical key -> item.
pub fn index_to_json(entries: &[IndexEntry]) -> Value {
    Value::Object(entries.iter().map(|e| (e.key.clone(), item_to_json(&e.item))).collect())
}

/// `{ok, count, confirmed_keys, skipped_keys, unresolved, outcomes, dry_run[, requests]}`;
/// `outcomes` has one `{key, status[, hint]}` per input item in input order (the component's
/// keys, as in the lists).
pub fn report_to_json(report: &WriteReport, dry_run: bool) -> Value {
    let mut v = json!({
        "ok": true,
        "count": report.confirmed.len(),
        "confirmed_keys": report.confirmed,
        "skipped_keys": report.skipped,
        "unresolved": report.unresolved.iter().map(|u| json!({
            "key": u.key, "item": item_to_json(&u.item), "hint": u.hint,
        })).collect::<Vec<_>>(),
        "outcomes": report.outcomes.iter().map(|o| match &o.status {
            ItemStatus::Confirmed => json!({"key": o.key, "status": "confirmed"}),
            ItemStatus::Skipped => json!({"key": o.key, "status": "skipped"}),
            ItemStatus::Unresolved(hint) => json!({"key": o.key, "status": "unresolved", "hint": hint}),
        }).collect::<Vec<_>>(),
        "dry_run": dry_run,
    });
    if dry_run {
        v["requests"] = Value::Array(
            report
                .planned
                .iter()
                .map(|p| {
                    let body = serde_json::from_str::<Value>(&p.body).unwrap_or_else(|_| Value::String(p.body.clone()));
                    json!({"method": p.method, "path": p.path, "body": body})
                })
                .collect(),
        );
    }
    v
}

/// `{kind, message, ...details}` for an adapter error.
pub fn error_to_json(e: &AdapterError) -> Value {
    let simple = |kind: &str, m: &str| json!({"kind": kind, "message": m});
    match e {
        AdapterError::Unsupported(m) => simple("unsupported", m),
        AdapterError::InvalidInput(m) => simple("invalid_input", m),
        AdapterError::Config(m) => simple("config", m),
        AdapterError::Auth(m) => simple("auth", m),
        AdapterError::Forbidden(m) => simple("forbidden", m),
        AdapterError::AccountLimit(l) => json!({
            "kind": "account_limit", "message": l.message, "limit": l.limit, "vip": l.vip, "upgrade_url": l.upgrade_url,
        }),
        AdapterError::Locked(m) => simple("locked", m),
        AdapterError::VipOnly(m) => simple("vip_only", m),
        AdapterError::RateLimited(r) => json!({
            "kind": "rate_limited", "message": r.message, "retry_after": r.retry_after_secs,
        }),
        AdapterError::Http(h) => json!({"kind": "http", "message": h.message, "status": h.status}),
        AdapterError::Transport(m) => simple("transport", m),
        AdapterError::Protocol(m) => simple("protocol", m),
        AdapterError::State(m) => simple("state", m),
        AdapterError::Internal(m) => simple("internal", m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ItemOutcome;

    #[test]
    fn parses_minimal_items_and_keeps_unknown_fields() {
        let items = items_from_json(
            r#"[{"type":"movie","title":"The Matrix","year":1999,"ids":{"tmdb":603,"imdb":"tt0133093","plex":{"guid":"x"},"slug":null},
                "library_id":7,"rating":"great"}]"#,
        )
        .unwrap();
        let it = &items[0];
        assert_eq!(it.kind, "movie");
        assert_eq!(it.year, Some(1999));
        assert_eq!(it.ids.len(), 2);
        assert_eq!(it.ids[0].value, "603");
        assert!(it.rating.unwrap().is_nan());
        let back = item_to_json(it);
        assert_eq!(back["library_id"], 7);
        assert_eq!(back["ids"], json!({"tmdb": "603", "imdb": "tt0133093"}));
    }

    #[test]
    fn type_errors_name_item_and_field() {
        let e = items_from_json(r#"[{"title":"A"},{"title":"B","year":"soon"}]"#).unwrap_err();
        assert!(e.contains("item 1") && e.contains("\"B\"") && e.contains("year"), "{e}");
        let e = items_from_json(r#"[3]"#).unwrap_err();
        assert!(e.contains("item 0") && e.contains("object"), "{e}");
        let e = items_from_json(r#"{"a":1}"#).unwrap_err();
        assert!(e.contains("array"), "{e}");
        let e = items_from_json(r#"[{"ids":[1]}]"#).unwrap_err();
        assert!(e.contains("ids"), "{e}");
    }

    #[test]
    fn reports_print_one_outcome_per_input_in_order() {
        let report = WriteReport {
            confirmed: vec!["tmdb:2".into()],
            skipped: vec!["tmdb:1".into()],
            unresolved: vec![],
            planned: vec![],
            outcomes: vec![
                ItemOutcome { key: "tmdb:1".into(), status: ItemStatus::Skipped },
                ItemOutcome { key: "".into(), status: ItemStatus::Unresolved("missing ids".into()) },
                ItemOutcome { key: "tmdb:2".into(), status: ItemStatus::Confirmed },
            ],
        };
        let v = report_to_json(&report, false);
        assert_eq!(
            v["outcomes"],
            json!([
                {"key": "tmdb:1", "status": "skipped"},
                {"key": "", "status": "unresolved", "hint": "missing ids"},
                {"key": "tmdb:2", "status": "confirmed"},
            ])
        );
        assert_eq!(v["confirmed_keys"], json!(["tmdb:2"]));
    }

    #[test]
    fn features_parse_with_a_helpful_error() {
        assert_eq!(parse_feature("Watchlist").unwrap(), Feature::Watchlist);
        let e = parse_feature("collection").unwrap_err();
        assert!(e.contains("collection") && e.contains("watchlist, ratings"), "{e}");
    }
}
