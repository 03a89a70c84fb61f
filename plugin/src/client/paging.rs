//! All-or-nothing page walker for Trakt's paginated GETs.
//!
//! With "present" index semantics a partial list reads as deletions downstream, so any page
//! that fails, any malformed page and any inconsistency in the paging headers abandons the
//! whole walk (reference crosswatch.md 3.5 and 10.4; trakt-api.md 4).

use std::collections::hash_map::DefaultHasher;
use std::borrow::Cow;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use serde_json::Value;

use super::{Call, Client};
use crate::config::MAX_PAGE_LIMIT;
use crate::error::AdapterError;
use crate::log::{self, Level};

/// Safety stop: a listing longer than this many pages is treated as a server loop.
const MAX_PAGES: u32 = 10_000;

/// Every row of a listing, in Trakt's order.
#[derive(Debug)]
pub struct Listing {
    pub rows: Vec<Value>,
    pub pages: u32,
    /// Page 1's `ETag` (trimmed; none when missing or blank).
    pub etag: Option<String>,
}

/// The answer of a conditional walk.
#[derive(Debug)]
pub enum Fetched {
    /// The whole listing (page 1 had changed, or no `If-None-Match` was sent).
    Full(Listing),
    /// Page 1 answered 304 to `If-None-Match`: page 1 is unchanged. Its pagination headers
    /// say whether page 1 is the whole listing.
    NotModified { page_count: Option<u64>, item_count: Option<u64> },
}

/// GET `path?page=N&limit=L` for N = 1.. until the listing is complete.
///
/// Every page carries an explicit `page` and `limit` (`limit` clamped to 1..=250). Continues
/// while `page < X-Pagination-Page-Count`; without that header, stops on an empty page or a
/// page shorter than the applied `X-Pagination-Limit` (else the requested limit). Fails, with
/// no rows at all, on a non-2xx page (after the client's retries), a truncated body, invalid
/// or non-array JSON, a page that repeats an earlier one, a page number, page count, limit or
/// item count that changes mid-walk, rows on a page beyond the page count, and a row total
/// that differs from `X-Pagination-Item-Count`.
pub fn fetch_all(client: &mut Client, feature: &str, path: &str, limit: u32) -> Result<Listing, AdapterError> {
    match fetch_conditional(client, feature, path, limit, None)? {
        Fetched::Full(listing) => Ok(listing),
        Fetched::NotModified { .. } => Err(AdapterError::Internal(format!("{path}: 304 without If-None-Match"))),
    }
}

/// `fetch_all` with `If-None-Match: <etag>` on page 1 when `if_none_match` is given; a 304 on
/// page 1 ends the walk at once with `Fetched::NotModified`.
pub fn fetch_conditional(
    client: &mut Client,
    feature: &str,
    path: &str,
    limit: u32,
    if_none_match: Option<&str>,
) -> Result<Fetched, AdapterError> {
    let mut rows: Vec<Value> = Vec::new();
    let walked = walk(client, feature, path, &[], limit, if_none_match, &mut |page| {
        rows.extend(page);
        Ok(())
    });
    Ok(match noted(client, feature, path, walked)? {
        Walked::NotModified { page_count, item_count } => Fetched::NotModified { page_count, item_count },
        Walked::Done { pages, etag } => Fetched::Full(Listing { rows, pages, etag }),
    })
}

/// A row as the pager hands it over: a parsed JSON value, or the row's own text
/// (`RawValue`) for a caller that parses rows itself, cheaper than a generic JSON tree.
pub trait PageRow: DeserializeOwned {
    /// The row as JSON text (what tells one page from another).
    fn text(&self) -> Cow<'_, str>;
}

impl PageRow for Value {
    fn text(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_string())
    }
}

impl PageRow for Box<RawValue> {
    fn text(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.get())
    }
}

/// What a page-by-page walk saw.
#[derive(Debug)]
pub enum Walked {
    Done { pages: u32, etag: Option<String> },
    NotModified { page_count: Option<u64>, item_count: Option<u64> },
}

/// The same all-or-nothing walk over `path?<query>&page=N&limit=L`, handing each page's rows
/// to `sink` as soon as the page passed its checks, so a long listing is never held whole.
/// An error (from the walk or from `sink`) means the caller must drop whatever it built from
/// the earlier pages.
pub fn for_each_page<R: PageRow>(
    client: &mut Client,
    feature: &str,
    path: &str,
    query: &[(&str, String)],
    limit: u32,
    sink: &mut dyn FnMut(Vec<R>) -> Result<(), AdapterError>,
) -> Result<Walked, AdapterError> {
    let walked = walk(client, feature, path, query, limit, None, sink);
    noted(client, feature, path, walked)
}

/// A refused page: say on its ledger entry why (the request itself succeeded) and log it.
fn noted(client: &mut Client, feature: &str, path: &str, result: Result<Walked, AdapterError>) -> Result<Walked, AdapterError> {
    if let Err(e @ AdapterError::Protocol(_)) = &result {
        client.note_failure(e);
        log::event(Level::Error, feature, "index_abandoned", &[("path", path.to_string()), ("error", e.to_string())]);
    }
    result
}

fn walk<R: PageRow>(
    client: &mut Client,
    feature: &str,
    path: &str,
    query: &[(&str, String)],
    limit: u32,
    if_none_match: Option<&str>,
    sink: &mut dyn FnMut(Vec<R>) -> Result<(), AdapterError>,
) -> Result<Walked, AdapterError> {
    let limit = limit.clamp(1, MAX_PAGE_LIMIT);
    let mut total: u64 = 0;
    // BTreeSet, not HashSet: std's random hasher seed would add a wasi:random import.
    let mut seen_pages: BTreeSet<u64> = BTreeSet::new();
    let mut item_count: Option<u64> = None;
    let mut page_count: Option<u64> = None;
    let mut applied_limit: Option<u64> = None;
    let mut page: u32 = 1;
    let mut etag: Option<String> = None;
    loop {
        let bad = |what: String| AdapterError::Protocol(format!("{path} page {page}: {what}; index abandoned, try again"));
        if page > MAX_PAGES {
            return Err(bad(format!("more than {MAX_PAGES} pages")));
        }
        let mut call = Call::get(path);
        for (k, v) in query {
            call = call.query(k, v);
        }
        call = call.query("page", page).query("limit", limit);
        if let (1, Some(tag)) = (page, if_none_match) {
            call = call.header("If-None-Match", tag);
        }
        let resp = client.execute(&call)?;
        if page == 1 && resp.status == 304 && if_none_match.is_some() {
            return Ok(Walked::NotModified {
                page_count: resp.header_u64("x-pagination-page-count"),
                item_count: resp.header_u64("x-pagination-item-count"),
            });
        }
        if page == 1 {
            etag = resp.header("etag").filter(|t| !t.is_empty()).map(str::to_string);
        }
        if resp.status != 200 {
            return Err(bad(format!("expected 200, got {}", resp.status)));
        }
        if let Some(p) = resp.header_u64("x-pagination-page") {
            if p != u64::from(page) {
                return Err(bad(format!("Trakt sent page {p} instead")));
            }
        }
        if let Some(n) = resp.header_u64("content-length") {
            if n != resp.body.len() as u64 {
                return Err(bad(format!("truncated body ({} of {n} bytes)", resp.body.len())));
            }
        }
        let page_rows = match serde_json::from_slice::<Vec<R>>(&resp.body) {
            Ok(a) => a,
            Err(e) if e.is_eof() => return Err(bad(format!("truncated body: {e}"))),
            Err(e) => match serde_json::from_slice::<Value>(&resp.body) {
                Ok(v) if !v.is_array() => return Err(bad("body is not a JSON array".into())),
                _ => return Err(bad(format!("invalid JSON: {e}"))),
            },
        };
        // Headers that must not change while walking: a moving listing would skip or
        // duplicate rows.
        for (name, slot) in [
            ("x-pagination-item-count", &mut item_count),
            ("x-pagination-page-count", &mut page_count),
            ("x-pagination-limit", &mut applied_limit),
        ] {
            if let Some(n) = resp.header_u64(name) {
                match *slot {
                    Some(prev) if prev != n => {
                        return Err(bad(format!("{name} changed from {prev} to {n} while paging")));
                    }
                    _ => *slot = Some(n),
                }
            }
        }
        if !page_rows.is_empty() && !seen_pages.insert(fingerprint(&page_rows)) {
            return Err(bad("repeats an earlier page".into()));
        }
        let applied = applied_limit.filter(|l| *l > 0).unwrap_or(u64::from(limit));
        let empty = page_rows.is_empty();
        let short = (page_rows.len() as u64) < applied;
        if page_rows.len() as u64 > applied {
            return Err(bad(format!("{} rows on a page of {applied}", page_rows.len())));
        }
        let more = match page_count {
            Some(count) => {
                if u64::from(page) > count && !empty {
                    return Err(bad(format!("rows beyond the last page ({count})")));
                }
                if u64::from(page) < count && empty {
                    return Err(bad(format!("empty, but there are {count} pages")));
                }
                u64::from(page) < count
            }
            None => !empty && !short,
        };
        total += page_rows.len() as u64;
        sink(page_rows)?;
        log::progress(feature, "index", total, item_count);
        if !more {
            break;
        }
        page += 1;
    }
    if let Some(n) = item_count {
        if n != total {
            return Err(AdapterError::Protocol(format!(
                "{path}: Trakt announced {n} items but sent {total} over {page} pages; abandoned rather than \
                 return a partial list, try again"
            )));
        }
    }
    Ok(Walked::Done { pages: page, etag })
}

/// Order-insensitive digest of a page's rows.
fn fingerprint<R: PageRow>(rows: &[R]) -> u64 {
    let mut texts: Vec<Cow<'_, str>> = rows.iter().map(PageRow::text).collect();
    texts.sort();
    let mut h = DefaultHasher::new();
    texts.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::transport::Request;
    use crate::config::Options;
    use crate::testkit::{query_param, resp, Fakes};
    use crate::client::transport::Response;

    fn rows(from: usize, n: usize) -> String {
        let v: Vec<Value> = (from..from + n).map(|i| serde_json::json!({"id": i, "type": "movie"})).collect();
        Value::Array(v).to_string()
    }

    fn page_resp(page: u64, count: u64, limit: u64, items: u64, body: String) -> Response {
        resp(200, &[
            ("x-pagination-page", &page.to_string()),
            ("x-pagination-page-count", &count.to_string()),
            ("x-pagination-limit", &limit.to_string()),
            ("x-pagination-item-count", &items.to_string()),
        ], &body)
    }

    fn page_of(req: &Request) -> u64 {
        query_param(&req.url, "page").and_then(|p| p.parse().ok()).unwrap_or(0)
    }

    #[test]
    fn walks_three_pages_with_explicit_page_and_limit() {
        let f = Fakes::new(|req| {
            Ok(match page_of(req) {
                1 => page_resp(1, 3, 250, 517, rows(0, 250)),
                2 => page_resp(2, 3, 250, 517, rows(250, 250)),
                3 => page_resp(3, 3, 250, 517, rows(500, 17)),
                _ => resp(200, &[], "[]"),
            })
        });
        let mut c = f.client(&Options::default());
        let listing = fetch_all(&mut c, "watchlist", "/sync/watchlist", 250).unwrap();
        assert_eq!(listing.rows.len(), 517);
        assert_eq!(listing.pages, 3);
        assert_eq!(listing.rows[516]["id"], 516);
        let urls: Vec<String> = f.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, vec![
            "https://api.trakt.tv/sync/watchlist?page=1&limit=250",
            "https://api.trakt.tv/sync/watchlist?page=2&limit=250",
            "https://api.trakt.tv/sync/watchlist?page=3&limit=250",
        ]);
    }

    #[test]
    fn without_headers_stops_on_short_page_of_applied_limit() {
        // The server clamps to 100 and says so only through X-Pagination-Limit.
        let f = Fakes::new(|req| {
            Ok(match page_of(req) {
                1 => resp(200, &[("x-pagination-limit", "100")], &rows(0, 100)),
                2 => resp(200, &[("x-pagination-limit", "100")], &rows(100, 40)),
                _ => panic!("walked past the short page"),
            })
        });
        let mut c = f.client(&Options::default());
        let listing = fetch_all(&mut c, "watchlist", "/sync/watchlist", 250).unwrap();
        assert_eq!(listing.rows.len(), 140);
        assert_eq!(f.requests().len(), 2);
    }

    #[test]
    fn without_headers_stops_on_empty_page() {
        let f = Fakes::new(|req| {
            Ok(match page_of(req) {
                1 => resp(200, &[], &rows(0, 2)),
                2 => resp(200, &[], &rows(2, 2)),
                _ => resp(200, &[], "[]"),
            })
        });
        let mut c = f.client(&Options::default());
        let listing = fetch_all(&mut c, "watchlist", "/sync/watchlist", 2).unwrap();
        assert_eq!(listing.rows.len(), 4);
        assert_eq!(f.requests().len(), 3);
    }

    #[test]
    fn item_count_mismatch_is_an_error() {
        let f = Fakes::new(|req| {
            Ok(match page_of(req) {
                1 => page_resp(1, 2, 250, 600, rows(0, 250)),
                _ => page_resp(2, 2, 250, 600, rows(250, 10)),
            })
        });
        let mut c = f.client(&Options::default());
        let err = fetch_all(&mut c, "watchlist", "/sync/watchlist", 250).unwrap_err();
        assert!(matches!(err, AdapterError::Protocol(ref m) if m.contains("announced 600")), "{err:?}");
    }

    #[test]
    fn repeated_page_is_an_error() {
        let f = Fakes::new(|req| {
            let p = page_of(req);
            Ok(page_resp(p, 3, 2, 6, rows(0, 2)))
        });
        let mut c = f.client(&Options::default());
        let err = fetch_all(&mut c, "watchlist", "/sync/watchlist", 2).unwrap_err();
        assert!(matches!(err, AdapterError::Protocol(ref m) if m.contains("repeats")), "{err:?}");
        assert_eq!(f.requests().len(), 2);
    }

    #[test]
    fn failed_page_two_fails_the_walk() {
        let f = Fakes::new(|req| {
            Ok(match page_of(req) {
                1 => page_resp(1, 3, 250, 517, rows(0, 250)),
                _ => resp(500, &[], "oops"),
            })
        });
        let mut c = f.client(&Options { max_retries: 2, ..Options::default() });
        let err = fetch_all(&mut c, "watchlist", "/sync/watchlist", 250).unwrap_err();
        assert!(matches!(err, AdapterError::Http { status: 500, .. }), "{err:?}");
        assert_eq!(f.requests().len(), 3, "page 1 once, page 2 twice");
    }

    #[test]
    fn malformed_bodies_are_protocol_errors_naming_path_and_page() {
        for (body, why) in [
            ("{\"a\":1}", "body is not a JSON array"),
            ("not json", "invalid JSON"),
            ("", "truncated body"),
            ("[{\"id\":1},{\"id\"", "truncated body"),
        ] {
            let b = body.to_string();
            let f = Fakes::new(move |req| {
                Ok(match page_of(req) {
                    1 => page_resp(1, 2, 2, 4, rows(0, 2)),
                    _ => resp(200, &[], &b),
                })
            });
            let mut c = f.client(&Options::default());
            let err = fetch_all(&mut c, "watchlist", "/sync/watchlist", 2).unwrap_err();
            match &err {
                AdapterError::Protocol(m) => assert!(m.starts_with(&format!("/sync/watchlist page 2: {why}")), "{body}: {m}"),
                other => panic!("{body}: {other:?}"),
            }
            let ledger = c.ledger_entries();
            assert_eq!(ledger.len(), 2);
            assert_eq!(ledger[1].error, err.to_string(), "the refused page is marked in the ledger");
        }
        // A Content-Length the body does not reach.
        let f = Fakes::new(|_| Ok(resp(200, &[("content-length", "500")], "[]")));
        let mut c = f.client(&Options::default());
        let err = fetch_all(&mut c, "watchlist", "/sync/watchlist", 250).unwrap_err();
        assert_eq!(err, AdapterError::Protocol(
            "/sync/watchlist page 1: truncated body (2 of 500 bytes); index abandoned, try again".into()
        ));
    }

    #[test]
    fn limit_is_clamped_to_250_and_always_explicit() {
        let f = Fakes::new(|_| Ok(page_resp(1, 1, 250, 3, rows(0, 3))));
        let mut c = f.client(&Options::default());
        assert_eq!(fetch_all(&mut c, "watchlist", "/sync/watchlist", 1000).unwrap().rows.len(), 3);
        assert_eq!(f.requests()[0].url, "https://api.trakt.tv/sync/watchlist?page=1&limit=250");
    }

    #[test]
    fn rows_beyond_the_page_count_are_an_error() {
        // Page count 0 (an empty listing) yet page 1 has rows.
        let f = Fakes::new(|_| Ok(page_resp(1, 0, 250, 2, rows(0, 2))));
        let mut c = f.client(&Options::default());
        let err = fetch_all(&mut c, "watchlist", "/sync/watchlist", 250).unwrap_err();
        assert_eq!(err, AdapterError::Protocol(
            "/sync/watchlist page 1: rows beyond the last page (0); index abandoned, try again".into()
        ));
        // More rows than the applied limit.
        let f = Fakes::new(|_| Ok(page_resp(1, 1, 2, 3, rows(0, 3))));
        let mut c = f.client(&Options::default());
        let err = fetch_all(&mut c, "watchlist", "/sync/watchlist", 2).unwrap_err();
        assert!(matches!(&err, AdapterError::Protocol(m) if m.contains("3 rows on a page of 2")), "{err:?}");
    }

    #[test]
    fn paging_headers_changing_mid_walk_are_an_error() {
        // The applied limit drops from 3 to 2 on page 2: rows would be skipped.
        let f = Fakes::new(|req| {
            Ok(match page_of(req) {
                1 => page_resp(1, 3, 3, 7, rows(0, 3)),
                _ => page_resp(2, 4, 2, 7, rows(3, 2)),
            })
        });
        let mut c = f.client(&Options::default());
        let err = fetch_all(&mut c, "watchlist", "/sync/watchlist", 3).unwrap_err();
        assert_eq!(err, AdapterError::Protocol(
            "/sync/watchlist page 2: x-pagination-page-count changed from 3 to 4 while paging; index abandoned, try again".into()
        ));
        let f = Fakes::new(|req| {
            Ok(match page_of(req) {
                1 => page_resp(1, 3, 3, 7, rows(0, 3)),
                _ => page_resp(2, 3, 2, 7, rows(3, 2)),
            })
        });
        let mut c = f.client(&Options::default());
        let err = fetch_all(&mut c, "watchlist", "/sync/watchlist", 3).unwrap_err();
        assert!(matches!(&err, AdapterError::Protocol(m) if m.contains("x-pagination-limit changed from 3 to 2")), "{err:?}");
    }

    #[test]
    fn ledger_of_a_paged_index() {
        let f = Fakes::new(|req| {
            Ok(match page_of(req) {
                1 => page_resp(1, 3, 250, 517, rows(0, 250)),
                2 => page_resp(2, 3, 250, 517, rows(250, 250)),
                _ => page_resp(3, 3, 250, 517, rows(500, 17)),
            })
        });
        f.set_latency(20);
        let mut c = f.client(&Options::default());
        c.reset_ledger();
        fetch_all(&mut c, "watchlist", "/sync/watchlist", 250).unwrap();
        let ledger = c.ledger_entries();
        let paths: Vec<&str> = ledger.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, vec![
            "/sync/watchlist?page=1&limit=250",
            "/sync/watchlist?page=2&limit=250",
            "/sync/watchlist?page=3&limit=250",
        ]);
        for (e, body) in ledger.iter().zip([rows(0, 250), rows(250, 250), rows(500, 17)]) {
            assert_eq!((e.method.as_str(), e.status, e.attempts, e.waited_ms, e.elapsed_ms), ("GET", 200, 1, 0, 20));
            assert_eq!(e.bytes_received, body.len() as u64);
            assert_eq!((e.bytes_sent, e.error.as_str(), e.rate_limit.as_deref()), (0, "", None));
        }
    }

    #[test]
    fn conditional_page_one() {
        // 304: the walk stops at once and reports page 1's pagination headers.
        let f = Fakes::new(|req| {
            assert_eq!(crate::testkit::header_of(req, "if-none-match"), Some("\"abc\""));
            Ok(resp(304, &[("x-pagination-page-count", "1"), ("x-pagination-item-count", "7"), ("etag", "\"abc\"")], ""))
        });
        let mut c = f.client(&Options::default());
        match fetch_conditional(&mut c, "watchlist", "/sync/watchlist", 250, Some("\"abc\"")).unwrap() {
            Fetched::NotModified { page_count, item_count } => assert_eq!((page_count, item_count), (Some(1), Some(7))),
            other => panic!("{other:?}"),
        }
        assert_eq!(f.requests().len(), 1);

        // 200: the whole listing with page 1's ETag; If-None-Match only on page 1.
        let f = Fakes::new(|req| {
            let p = page_of(req);
            assert_eq!(crate::testkit::header_of(req, "if-none-match").is_some(), p == 1);
            let mut r = page_resp(p, 2, 2, 3, rows(((p - 1) * 2) as usize, if p == 1 { 2 } else { 1 }));
            r.headers.push(("etag".into(), format!("\"p{p}\"")));
            Ok(r)
        });
        let mut c = f.client(&Options::default());
        match fetch_conditional(&mut c, "watchlist", "/sync/watchlist", 2, Some("\"old\"")).unwrap() {
            Fetched::Full(l) => assert_eq!((l.rows.len(), l.etag.as_deref()), (3, Some("\"p1\""))),
            other => panic!("{other:?}"),
        }
        // A 304 nobody asked for is not a page.
        let f = Fakes::new(|_| Ok(resp(304, &[], "")));
        let mut c = f.client(&Options::default());
        assert!(matches!(fetch_all(&mut c, "watchlist", "/sync/watchlist", 250), Err(AdapterError::Protocol(_))));
    }

    #[test]
    fn page_by_page_with_a_base_query() {
        let f = Fakes::new(|req| {
            Ok(match page_of(req) {
                1 => page_resp(1, 2, 2, 3, rows(0, 2)),
                _ => page_resp(2, 2, 2, 3, rows(2, 1)),
            })
        });
        let mut c = f.client(&Options::default());
        let mut seen: Vec<usize> = Vec::new();
        let walked = for_each_page(&mut c, "history", "/sync/history", &[("start_at", "2026-01-01T00:00:00.000Z".into())], 2, &mut |page: Vec<Box<RawValue>>| {
            seen.push(page.len());
            Ok(())
        })
        .unwrap();
        assert!(matches!(walked, Walked::Done { pages: 2, etag: None }));
        assert_eq!(seen, vec![2, 1]);
        assert_eq!(f.requests()[1].url, "https://api.trakt.tv/sync/history?start_at=2026-01-01T00%3A00%3A00.000Z&page=2&limit=2");

        // A sink error stops the walk at once.
        let mut c = f.client(&Options::default());
        let err = for_each_page(&mut c, "history", "/x", &[], 2, &mut |_: Vec<Value>| Err(AdapterError::Protocol("bad row".into()))).unwrap_err();
        assert_eq!(err, AdapterError::Protocol("bad row".into()));
        assert_eq!(f.requests().len(), 3);
    }

    #[test]
    fn empty_listing_is_fine() {
        let f = Fakes::new(|_| Ok(page_resp(1, 1, 250, 0, "[]".into())));
        let mut c = f.client(&Options::default());
        let listing = fetch_all(&mut c, "watchlist", "/sync/watchlist", 250).unwrap();
        assert!(listing.rows.is_empty());
    }
}
