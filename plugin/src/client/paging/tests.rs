//! The pager's unit tests against a fake transport.

use super::*;
use crate::client::transport::Request;
use crate::client::transport::Response;
use crate::config::Options;
use crate::testkit::{query_param, resp, Fakes};
use serde::de::IgnoredAny;

fn rows(from: usize, n: usize) -> String {
    let v: Vec<Value> = (from..from + n).map(|i| serde_json::json!({"id": i, "type": "movie"})).collect();
    Value::Array(v).to_string()
}

fn page_resp(page: u64, count: u64, limit: u64, items: u64, body: String) -> Response {
    resp(
        200,
        &[
            ("x-pagination-page", &page.to_string()),
            ("x-pagination-page-count", &count.to_string()),
            ("x-pagination-limit", &limit.to_string()),
            ("x-pagination-item-count", &items.to_string()),
        ],
        &body,
    )
}

fn page_of(req: &Request) -> u64 {
    query_param(&req.url, "page").and_then(|p| p.parse().ok()).unwrap_or(0)
}

/// A walk's rows as texts, with its pages and page 1's ETag (what the features build their
/// indexes from, `read_rows`).
#[derive(Debug)]
struct Listing {
    rows: Vec<String>,
    pages: u32,
    etag: Option<String>,
}

impl Listing {
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn row(&self, n: usize) -> &str {
        &self.rows[n]
    }
}

#[derive(Debug)]
enum Fetched {
    Full(Listing),
    NotModified { page_count: Option<u64>, item_count: Option<u64> },
}

fn fetch_conditional(
    c: &mut Client,
    feature: &str,
    path: &str,
    limit: u32,
    if_none_match: Option<&str>,
) -> Result<Fetched, AdapterError> {
    let mut rows = Vec::new();
    let mut read = |text: &str| {
        read_rows::<IgnoredAny>(text, &mut |_, row, _| {
            rows.push(row.to_string());
            Ok(())
        })
    };
    Ok(match for_each_page_if_changed(c, feature, path, limit, if_none_match, &mut read, &mut |_| Ok(()))? {
        Walked::Done { pages, etag } => Fetched::Full(Listing { rows, pages, etag }),
        Walked::NotModified { page_count, item_count } => Fetched::NotModified { page_count, item_count },
    })
}

fn fetch_all(c: &mut Client, feature: &str, path: &str, limit: u32) -> Result<Listing, AdapterError> {
    match fetch_conditional(c, feature, path, limit, None)? {
        Fetched::Full(listing) => Ok(listing),
        other => panic!("{other:?}"),
    }
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
    assert_eq!(listing.len(), 517);
    assert_eq!(listing.pages, 3);
    assert_eq!(serde_json::from_str::<Value>(listing.row(516)).unwrap()["id"], 516);
    let urls: Vec<String> = f.requests().iter().map(|r| r.url.clone()).collect();
    assert_eq!(
        urls,
        vec![
            "https://api.trakt.tv/sync/watchlist?page=1&limit=250",
            "https://api.trakt.tv/sync/watchlist?page=2&limit=250",
            "https://api.trakt.tv/sync/watchlist?page=3&limit=250",
        ]
    );
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
    assert_eq!(listing.len(), 140);
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
    assert_eq!(listing.len(), 4);
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
            AdapterError::Protocol(m) => {
                assert!(m.starts_with(&format!("/sync/watchlist page 2: {why}")), "{body}: {m}")
            }
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
    assert_eq!(
        err,
        AdapterError::Protocol(
            "/sync/watchlist page 1: truncated body (2 of 500 bytes); index abandoned, try again".into()
        )
    );
}

#[test]
fn limit_is_clamped_to_250_and_always_explicit() {
    let f = Fakes::new(|_| Ok(page_resp(1, 1, 250, 3, rows(0, 3))));
    let mut c = f.client(&Options::default());
    assert_eq!(fetch_all(&mut c, "watchlist", "/sync/watchlist", 1000).unwrap().len(), 3);
    assert_eq!(f.requests()[0].url, "https://api.trakt.tv/sync/watchlist?page=1&limit=250");
}

#[test]
fn rows_beyond_the_page_count_are_an_error() {
    // Page count 0 (an empty listing) yet page 1 has rows.
    let f = Fakes::new(|_| Ok(page_resp(1, 0, 250, 2, rows(0, 2))));
    let mut c = f.client(&Options::default());
    let err = fetch_all(&mut c, "watchlist", "/sync/watchlist", 250).unwrap_err();
    assert_eq!(
        err,
        AdapterError::Protocol(
            "/sync/watchlist page 1: rows beyond the last page (0); index abandoned, try again".into()
        )
    );
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
    assert!(
        matches!(&err, AdapterError::Protocol(m) if m.contains("x-pagination-limit changed from 3 to 2")),
        "{err:?}"
    );
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
    assert_eq!(
        paths,
        vec![
            "/sync/watchlist?page=1&limit=250",
            "/sync/watchlist?page=2&limit=250",
            "/sync/watchlist?page=3&limit=250",
        ]
    );
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
        Fetched::Full(l) => assert_eq!((l.len(), l.etag.as_deref()), (3, Some("\"p1\""))),
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
    let walked = for_each_page(
        &mut c,
        "history",
        "/sync/history",
        &[("start_at", "2026-01-01T00:00:00.000Z".into())],
        2,
        &mut |text| {
            let read = read_rows::<IgnoredAny>(text, &mut |_, _, _| Ok(()))?;
            seen.push(read.rows);
            Ok(read)
        },
    )
    .unwrap();
    assert!(matches!(walked, Walked::Done { pages: 2, etag: None }));
    assert_eq!(seen, vec![2, 1]);
    assert_eq!(
        f.requests()[1].url,
        "https://api.trakt.tv/sync/history?start_at=2026-01-01T00%3A00%3A00.000Z&page=2&limit=2"
    );

    // A row the reader refuses stops the walk at once.
    let mut c = f.client(&Options::default());
    let err = for_each_page(&mut c, "history", "/x", &[], 2, &mut |text| {
        read_rows::<IgnoredAny>(text, &mut |_, _, _| Err(AdapterError::Protocol("bad row".into())))
    })
    .unwrap_err();
    assert_eq!(err, AdapterError::Protocol("bad row".into()));
    assert_eq!(f.requests().len(), 3);
}

/// `read_rows` reads what splitting into `Vec<&RawValue>` reads: the same rows (texts, order,
/// digest) from every array, and a refusal of everything else, also cut at every byte.
#[test]
fn read_rows_reads_the_rows_a_split_reads_and_refuses_the_rest() {
    #[derive(serde::Deserialize, Debug)]
    struct T {
        #[allow(dead_code)]
        id: u64,
    }
    let texts = [
        "[]",
        " [ ] ",
        "\n[\t{\"id\":1} ,{\"id\": 2}\r\n]\n",
        r#"[{"id":1},{"id":"x"},[1,2],3,"s",null,true,{"id":-1},{"id":1,"id":2},{}]"#,
        r#"[{"id":1,"t":"a\"b\\","n":{"x":[{}]}}, 12.5e3 ,-0,"\u00e9"]"#,
        r#"[{"id":1},]"#,
        r#"[{"id":1}{"id":2}]"#,
        r#"[{"id":1}] x"#,
        r#"[{"id":1}]]"#,
        r#"{"id":1}"#,
        r#"[1 2]"#,
        r#"[,]"#,
        r#"[nul]"#,
        "",
    ];
    let mut cases: Vec<String> = Vec::new();
    for t in texts {
        cases.extend((0..=t.len()).filter(|&n| t.is_char_boundary(n)).map(|n| t[..n].to_string()));
    }
    for text in &cases {
        let split = serde_json::from_str::<Vec<&RawValue>>(text);
        let mut got: Vec<(usize, String, bool)> = Vec::new();
        let read = read_rows::<T>(text, &mut |n, row, typed| {
            got.push((n, row.to_string(), typed.is_some()));
            Ok(())
        });
        match (split, read) {
            (Ok(rows), Ok(read)) => {
                let want: Vec<(usize, String, bool)> = rows
                    .iter()
                    .enumerate()
                    .map(|(n, r)| {
                        (n, r.get().to_string(), r.get().starts_with('{') && serde_json::from_str::<T>(r.get()).is_ok())
                    })
                    .collect();
                assert_eq!(got, want, "{text:?}");
                let digest = rows.iter().fold(0u64, |s, r| s.wrapping_add(row_digest(r.get())));
                assert_eq!(read, PageRead { rows: rows.len(), fingerprint: digest }, "{text:?}");
            }
            (Err(_), Err(PageError::Json)) => {}
            (split, read) => panic!("{text:?}: split {split:?}, read_rows {read:?}"),
        }
    }
}

#[test]
fn empty_listing_is_fine() {
    let f = Fakes::new(|_| Ok(page_resp(1, 1, 250, 0, "[]".into())));
    let mut c = f.client(&Options::default());
    let listing = fetch_all(&mut c, "watchlist", "/sync/watchlist", 250).unwrap();
    assert_eq!(listing.len(), 0);
}

#[test]
fn a_body_that_is_not_utf8_or_ends_inside_a_character_is_refused_as_such() {
    for (body, why) in [
        (b"[{\"t\":\"\xff\"}]".to_vec(), "invalid JSON: not UTF-8 text"),
        ("[{\"t\":\"é".as_bytes()[..8].to_vec(), "truncated body: it ends inside a character"),
    ] {
        let f = Fakes::new(move |_| {
            let mut r = resp(200, &[], "");
            r.body = body.clone();
            Ok(r)
        });
        let mut c = f.client(&Options::default());
        let err = fetch_all(&mut c, "watchlist", "/sync/watchlist", 2).unwrap_err();
        match &err {
            AdapterError::Protocol(m) => assert!(m.starts_with(&format!("/sync/watchlist page 1: {why}")), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
