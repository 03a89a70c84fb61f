//! Trakt list rows (watchlist, ratings) as CrossWatch minimal items.
//!
//! A row is `{type, movie|show|season|episode: {...}, show?: {...}, ...}` (trakt-api.md 3.2,
//! 3.4). Seasons and episodes carry `show_ids` and `series_title`; their `title` is the
//! episode title, else the show's; `year` is the show's. Ids are normalised as CrossWatch
//! does and non-scalar ids (e.g. `plex: {guid, slug}`) are dropped.
//!
//! Two readers say the same: `Row`, a typed view borrowed from the page text (the fast path,
//! no JSON tree), and `row_to_item` over a `Value` for the rows `Row` cannot read the same
//! way (see `model::lenient`).

use serde::Deserialize;
use serde_json::Value;

use crate::log::{self, Level};
use crate::model::json::ids_from_map;
use crate::model::keys::key_from_ids;
use crate::model::lenient::{Int, LazyIds, Num, Obj, RatingValue, Text};
use crate::model::{item_key, Ids, Item};

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

/// A Trakt row as the features read it, borrowed from the page text (see `model::lenient`):
/// list rows (watchlist, ratings) and history rows share the shape.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Row<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Text<'a>,
    #[serde(borrow)]
    pub movie: Obj<Media<'a>>,
    #[serde(borrow)]
    pub show: Obj<Media<'a>>,
    #[serde(borrow)]
    pub season: Obj<Media<'a>>,
    #[serde(borrow)]
    pub episode: Obj<Media<'a>>,
    #[serde(borrow)]
    pub listed_at: Text<'a>,
    #[serde(borrow)]
    pub rated_at: Text<'a>,
    #[serde(borrow)]
    pub user_rated_at: Text<'a>,
    pub rating: RatingValue,
    #[serde(borrow)]
    pub watched_at: Text<'a>,
    pub id: Option<Num>,
}

/// A movie, show, season or episode object of a row.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Media<'a> {
    #[serde(borrow)]
    pub title: Text<'a>,
    pub year: Int,
    #[serde(borrow)]
    pub ids: LazyIds<'a>,
    pub number: Int,
    pub season: Int,
}

impl Media<'_> {
    fn norm_ids(&self) -> Ids {
        self.ids.normalised()
    }
}

impl<'a> Row<'a> {
    /// The row of this text; `None` when the typed view cannot read it the way a `Value`
    /// would (callers then take the `Value` path). The features read rows with
    /// `client::paging::read_rows`, in the same pass as their page; this is the same for one row.
    #[cfg(test)]
    pub fn parse(text: &'a str) -> Option<Row<'a>> {
        // Only objects: serde would read an array into the struct by position.
        text.starts_with('{').then(|| serde_json::from_str(text).ok()).flatten()
    }

    /// `row_to_item` of the same row.
    pub fn item(&self) -> Result<Option<Item>, String> {
        Ok(self.normalised(false, None)?.map(|(item, _)| item))
    }

    /// `item` and its `item_key`, the ids normalised once for both.
    pub fn keyed_item(&self) -> Result<Option<(Item, String)>, String> {
        Ok(self.normalised(true, None)?.map(|(item, key)| (item, key.unwrap_or_default())))
    }

    /// `keyed_item`, the show's ids taken from `shows` when they are the ones it normalised
    /// last (a history's episodes of one show come in runs).
    pub fn keyed_item_with(&self, shows: &mut IdsMemo) -> Result<Option<(Item, String)>, String> {
        Ok(self.normalised(true, Some(shows))?.map(|(item, key)| (item, key.unwrap_or_default())))
    }

    /// `item`, and with `keyed` its `item_key` (made from the ids normalised for the item).
    fn normalised(&self, keyed: bool, shows: Option<&mut IdsMemo>) -> Result<Option<(Item, Option<String>)>, String> {
        let mut shows = shows;
        let mut show_ids = |show: &Media<'a>| match shows.as_deref_mut() {
            Some(memo) => memo.ids(&show.ids),
            None => show.norm_ids(),
        };
        let kind = self.kind.get().ok_or("no type")?;
        fn obj<'m, 'a>(o: &'m Obj<Media<'a>>, name: &str) -> Result<&'m Media<'a>, String> {
            o.0.as_ref().ok_or_else(|| format!("no {name} object"))
        }
        let out = match kind {
            "movie" | "show" => {
                let m = obj(if kind == "movie" { &self.movie } else { &self.show }, kind)?;
                let ids = m.norm_ids();
                let item = Item {
                    kind: kind.to_string(),
                    title: m.title.owned(),
                    year: m.year.0,
                    ids: Vec::new(),
                    ..Item::default()
                };
                (item, ids, Ids::default())
            }
            "season" => {
                let s = obj(&self.season, "season")?;
                let show = obj(&self.show, "show")?;
                let show_title = show.title.owned();
                let (ids, show_ids) = (s.norm_ids(), show_ids(show));
                let item = Item {
                    kind: "season".into(),
                    title: show_title.clone(),
                    year: show.year.0,
                    ids: Vec::new(),
                    show_ids: Vec::new(),
                    season: s.number.0,
                    series_title: show_title,
                    ..Item::default()
                };
                (item, ids, show_ids)
            }
            "episode" => {
                let e = obj(&self.episode, "episode")?;
                let show = obj(&self.show, "show")?;
                let show_title = show.title.owned();
                let (ids, show_ids) = (e.norm_ids(), show_ids(show));
                let item = Item {
                    kind: "episode".into(),
                    title: e.title.owned().or_else(|| show_title.clone()),
                    year: show.year.0,
                    ids: Vec::new(),
                    show_ids: Vec::new(),
                    season: e.season.0,
                    episode: e.number.0,
                    series_title: show_title,
                    ..Item::default()
                };
                (item, ids, show_ids)
            }
            _ => return Ok(None),
        };
        let (mut item, ids, show_ids) = out;
        let stable = ids.renormalise_to_themselves() && show_ids.renormalise_to_themselves();
        let key = (keyed && stable).then(|| key_from_ids(&item, &ids, &show_ids));
        item.ids = ids.into_raw();
        item.show_ids = show_ids.into_raw();
        let key = keyed.then(|| key.unwrap_or_else(|| item_key(&item)));
        Ok(Some((item, key)))
    }
}

/// The ids of the show a row normalised last, by their text: the episodes of one show that
/// follow one another in a history share them.
#[derive(Debug, Clone, Default)]
pub struct IdsMemo {
    text: String,
    ids: Ids,
}

impl IdsMemo {
    /// `ids.normalised()`, from the memo when the text is the one normalised last.
    fn ids(&mut self, ids: &LazyIds) -> Ids {
        let text = ids.text().unwrap_or("");
        if text.is_empty() || text != self.text {
            self.ids = ids.normalised();
            self.text.clear();
            self.text.push_str(text);
        }
        self.ids.clone()
    }
}

/// `rating` of a Trakt row: an integer 1..10 (as Trakt sends it; integral numbers and digit
/// strings are accepted like CrossWatch's `int(str(v))`).
pub fn row_rating(v: Option<&Value>) -> Option<i64> {
    let n = match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }?;
    (1..=10).contains(&n).then_some(n)
}

/// A list row (watchlist, ratings) as the index reads it: the typed view, or a `Value` for a
/// row the view cannot read the same way.
// Not boxed: a list row lives on the stack while its item is made, one at a time, and a box
// would be one more allocation per row.
#[allow(clippy::large_enum_variant)]
pub enum ListRow<'a> {
    Typed(&'a str, Row<'a>),
    Tree(Value),
}

impl<'a> ListRow<'a> {
    /// `Err` (the parser's message) when the text is not JSON a `Value` can hold.
    #[cfg(test)]
    pub fn read(text: &'a str) -> Result<ListRow<'a>, String> {
        ListRow::of(text, Row::parse(text))
    }

    /// The row of `text` and of its typed reading when there is one (`paging::read_rows`,
    /// in the same pass as the page); else the row as a `Value`.
    pub fn of(text: &'a str, typed: Option<Row<'a>>) -> Result<ListRow<'a>, String> {
        match typed {
            Some(r) => Ok(ListRow::Typed(text, r)),
            None => serde_json::from_str(text).map(ListRow::Tree).map_err(|e| e.to_string()),
        }
    }

    /// `row_to_item` (the features read `keyed_item`).
    #[allow(dead_code)]
    pub fn item(&self) -> Result<Option<Item>, String> {
        match self {
            ListRow::Typed(_, r) => r.item(),
            ListRow::Tree(v) => row_to_item(v),
        }
    }

    /// `row_to_item` and the item's `item_key`.
    pub fn keyed_item(&self) -> Result<Option<(Item, String)>, String> {
        match self {
            ListRow::Typed(_, r) => r.keyed_item(),
            ListRow::Tree(v) => Ok(row_to_item(v)?.map(|item| {
                let key = item_key(&item);
                (item, key)
            })),
        }
    }

    /// Log this row, of a type this adapter does not handle (people, lists), as skipped by
    /// `feature` (`index_row_skipped`, reason `unsupported_type`): for `keyed_item`'s `None`.
    pub fn log_unsupported(&self, feature: &str) {
        log::event(
            Level::Warn,
            feature,
            "index_row_skipped",
            &[("reason", "unsupported_type".into()), ("type", self.kind())],
        );
    }

    /// `row_type`.
    pub fn kind(&self) -> String {
        match self {
            ListRow::Typed(_, r) => r.kind.get().unwrap_or("").to_string(),
            ListRow::Tree(v) => row_type(v),
        }
    }

    /// A string field of the row (`listed_at`, `rated_at`, ...), `None` when absent or not a
    /// string.
    pub fn text(&self, field: &str) -> Option<&str> {
        match self {
            ListRow::Typed(_, r) => match field {
                "listed_at" => r.listed_at.get(),
                "rated_at" => r.rated_at.get(),
                "user_rated_at" => r.user_rated_at.get(),
                "watched_at" => r.watched_at.get(),
                _ => None,
            },
            ListRow::Tree(v) => v.get(field).and_then(Value::as_str),
        }
    }

    /// The row's `rating` when it is an integer 1..10 (`ratings::index::row_rating`).
    pub fn rating(&self) -> Option<i64> {
        match self {
            ListRow::Typed(_, r) => r.rating.0.filter(|n| (1..=10).contains(n)),
            ListRow::Tree(v) => row_rating(v.get("rating")),
        }
    }

    /// The row's `rating` as JSON text, for log lines ("" when absent).
    pub fn rating_text(&self) -> String {
        let of = |v: &Value| v.get("rating").map(Value::to_string).unwrap_or_default();
        match self {
            ListRow::Typed(text, _) => serde_json::from_str::<Value>(text).map(|v| of(&v)).unwrap_or_default(),
            ListRow::Tree(v) => of(v),
        }
    }
}

#[cfg(test)]
mod tests;
