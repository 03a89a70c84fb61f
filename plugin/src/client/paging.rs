//! All-or-nothing page walker for Trakt's paginated GETs.
//!
//! With "present" index semantics a partial list reads as deletions downstream, so any page
//! that fails, any malformed page and any inconsistency in the paging headers abandons the
//! whole walk (reference crosswatch.md 3.5 and 10.4; trakt-api.md 4).

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use serde_json::Value;

use super::{Call, Client};
use crate::error::AdapterError;
use crate::log;

/// Safety stop: a listing longer than this many pages is treated as a server loop.
const MAX_PAGES: u32 = 10_000;

/// Every row of a listing, in Trakt's order.
#[derive(Debug)]
pub struct Listing {
    pub rows: Vec<Value>,
    pub pages: u32,
}

/// GET `path?page=N&limit=L` for N = 1.. until the listing is complete.
///
/// Continues while `page < X-Pagination-Page-Count`; without that header, stops on an empty
/// page or a page shorter than the applied `X-Pagination-Limit` (else the requested limit).
/// Fails on a non-2xx page (after the client's retries), invalid or non-array JSON, a page
/// that repeats an earlier one, a page number or item count that changes mid-walk, and a
/// row total that differs from `X-Pagination-Item-Count`.
pub fn fetch_all(client: &mut Client, feature: &str, path: &str, limit: u32) -> Result<Listing, AdapterError> {
    let limit = limit.max(1);
    let mut rows: Vec<Value> = Vec::new();
    // BTreeSet, not HashSet: std's random hasher seed would add a wasi:random import.
    let mut seen_pages: BTreeSet<u64> = BTreeSet::new();
    let mut item_count: Option<u64> = None;
    let mut page: u32 = 1;
    loop {
        if page > MAX_PAGES {
            return Err(AdapterError::Protocol(format!("{path}: more than {MAX_PAGES} pages; abandoned")));
        }
        let resp = client.execute(&Call::get(path).query("page", page).query("limit", limit))?;
        if resp.status != 200 {
            return Err(AdapterError::Protocol(format!(
                "{path} page {page}: expected 200, got {}",
                resp.status
            )));
        }
        if let Some(p) = resp.header_u64("x-pagination-page") {
            if p != u64::from(page) {
                return Err(AdapterError::Protocol(format!("{path}: asked for page {page}, Trakt sent page {p}")));
            }
        }
        let page_rows = match serde_json::from_slice::<Value>(&resp.body) {
            Ok(Value::Array(a)) => a,
            Ok(_) => return Err(AdapterError::Protocol(format!("{path} page {page}: body is not a JSON array"))),
            Err(e) => return Err(AdapterError::Protocol(format!("{path} page {page}: invalid JSON: {e}"))),
        };
        let page_count = resp.header_u64("x-pagination-page-count");
        let applied_limit = resp.header_u64("x-pagination-limit").filter(|l| *l > 0).unwrap_or(u64::from(limit));
        if let Some(n) = resp.header_u64("x-pagination-item-count") {
            match item_count {
                Some(prev) if prev != n => {
                    return Err(AdapterError::Protocol(format!(
                        "{path}: item count changed from {prev} to {n} while paging; try again"
                    )))
                }
                _ => item_count = Some(n),
            }
        }
        if !page_rows.is_empty() && !seen_pages.insert(fingerprint(&page_rows)) {
            return Err(AdapterError::Protocol(format!("{path}: page {page} repeats an earlier page")));
        }
        let short = (page_rows.len() as u64) < applied_limit;
        let empty = page_rows.is_empty();
        rows.extend(page_rows);
        log::progress(feature, "index", rows.len() as u64, item_count);

        let more = match page_count {
            Some(count) => {
                if u64::from(page) < count && empty {
                    return Err(AdapterError::Protocol(format!(
                        "{path}: page {page} of {count} is empty"
                    )));
                }
                u64::from(page) < count
            }
            None => !empty && !short,
        };
        if !more {
            break;
        }
        page += 1;
    }
    if let Some(n) = item_count {
        if n != rows.len() as u64 {
            return Err(AdapterError::Protocol(format!(
                "{path}: Trakt announced {n} items but sent {}; abandoned rather than return a partial list",
                rows.len()
            )));
        }
    }
    Ok(Listing { rows, pages: page })
}

/// Order-insensitive digest of a page's rows.
fn fingerprint(rows: &[Value]) -> u64 {
    let mut texts: Vec<String> = rows.iter().map(Value::to_string).collect();
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
    fn malformed_bodies_are_protocol_errors() {
        for body in ["{\"a\":1}", "not json", ""] {
            let b = body.to_string();
            let f = Fakes::new(move |_| Ok(resp(200, &[], &b)));
            let mut c = f.client(&Options::default());
            let err = fetch_all(&mut c, "watchlist", "/sync/watchlist", 250).unwrap_err();
            assert!(matches!(err, AdapterError::Protocol(_)), "{body}: {err:?}");
        }
    }

    #[test]
    fn empty_listing_is_fine() {
        let f = Fakes::new(|_| Ok(page_resp(1, 1, 250, 0, "[]".into())));
        let mut c = f.client(&Options::default());
        let listing = fetch_all(&mut c, "watchlist", "/sync/watchlist", 250).unwrap();
        assert!(listing.rows.is_empty());
    }
}
