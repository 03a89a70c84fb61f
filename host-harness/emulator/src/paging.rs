//! Pagination ("Pagination" in Trakt's API docs, <https://trakt.docs.apiary.io/>): `page` (1-based,
//! default 1) and `limit` (clamped to 1..=250, default per endpoint, 100 for sync lists);
//! non-numeric values fall back to the defaults. Paginated responses always carry
//! `X-Pagination-Page`, `-Limit`, `-Page-Count` and `-Item-Count`; a page past the end is `200 []`
//! with those headers.

use crate::route::{Ctx, Reply};

/// Largest page Trakt serves since 2026-06-15.
pub const MAX_LIMIT: u64 = 250;
/// Default page size of sync lists (watchlist, history, ...).
pub const DEFAULT_LIMIT: u64 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Paging {
    pub page: u64,
    pub limit: u64,
}

impl Paging {
    pub(crate) fn from_query(ctx: &Ctx<'_>, default_limit: u64) -> Paging {
        Paging::parse(ctx.query("page"), ctx.query("limit"), default_limit)
    }

    pub(crate) fn parse(page: Option<&str>, limit: Option<&str>, default_limit: u64) -> Paging {
        let page = page.and_then(|p| p.trim().parse::<i64>().ok()).map_or(1, |p| p.max(1) as u64);
        let limit = limit
            .and_then(|l| l.trim().parse::<i64>().ok())
            .map_or(default_limit, |l| l.clamp(1, MAX_LIMIT as i64) as u64);
        Paging { page, limit }
    }

    /// Cuts one page out of `items` and returns it with the four pagination headers.
    pub(crate) fn apply<T>(self, items: Vec<T>) -> (Vec<T>, Vec<(String, String)>) {
        let (range, headers) = self.window(items.len());
        let rows: Vec<T> = items.into_iter().skip(range.start).take(range.len()).collect();
        (rows, headers)
    }

    /// The index range of this page within `total` items (empty past the end) and the four
    /// pagination headers; for data sets that are paged without materializing them.
    pub(crate) fn window(self, total: usize) -> (std::ops::Range<usize>, Vec<(String, String)>) {
        let total = total as u64;
        let page_count = total.div_ceil(self.limit);
        let start = (self.page - 1).saturating_mul(self.limit).min(total);
        let end = start.saturating_add(self.limit).min(total);
        let headers = vec![
            ("x-pagination-page".to_string(), self.page.to_string()),
            ("x-pagination-limit".to_string(), self.limit.to_string()),
            ("x-pagination-page-count".to_string(), page_count.to_string()),
            ("x-pagination-item-count".to_string(), total.to_string()),
        ];
        (start as usize..end as usize, headers)
    }
}

/// A `200` JSON array reply with one page of a data set of `total` items: `rows` renders the
/// items of the page's index range (only those are built and serialized).
pub(crate) fn paged(
    paging: Paging,
    total: usize,
    rows: impl FnOnce(std::ops::Range<usize>) -> Vec<serde_json::Value>,
) -> Reply {
    let (range, headers) = paging.window(total);
    let mut reply = Reply::json(200, serde_json::Value::Array(rows(range)));
    reply.headers.extend(headers);
    reply
}

/// Like [`paged`], for rows rendered straight to JSON text (an array).
pub(crate) fn paged_text(paging: Paging, total: usize, rows: impl FnOnce(std::ops::Range<usize>) -> String) -> Reply {
    let (range, headers) = paging.window(total);
    let mut reply = Reply::json_text(200, rows(range));
    reply.headers.extend(headers);
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_apply() {
        assert_eq!(Paging::parse(None, None, 100), Paging { page: 1, limit: 100 });
        assert_eq!(Paging::parse(Some("3"), Some("1000"), 100), Paging { page: 3, limit: 250 });
        assert_eq!(Paging::parse(Some("x"), Some("abc"), 100), Paging { page: 1, limit: 100 });
        assert_eq!(Paging::parse(Some("0"), Some("0"), 100), Paging { page: 1, limit: 1 });
        assert_eq!(Paging::parse(Some("-2"), Some("-5"), 10), Paging { page: 1, limit: 1 });
        let (rows, h) = Paging { page: 3, limit: 250 }.apply((0..600).collect::<Vec<_>>());
        assert_eq!(rows.len(), 100);
        assert_eq!(rows[0], 500);
        assert_eq!(h[2], ("x-pagination-page-count".to_string(), "3".to_string()));
        let (rows, h) = Paging { page: 9, limit: 250 }.apply((0..600).collect::<Vec<_>>());
        assert!(rows.is_empty());
        assert_eq!(h[3], ("x-pagination-item-count".to_string(), "600".to_string()));
        let (rows, h) = Paging { page: 1, limit: 100 }.apply(Vec::<u8>::new());
        assert!(rows.is_empty());
        assert_eq!(h[2].1, "0");
    }
}
