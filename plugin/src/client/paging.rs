//! All-or-nothing page walker for Trakt's paginated GETs.
//!
//! With "present" index semantics a partial list reads as deletions downstream, so any page
//! that fails, any malformed page and any inconsistency in the paging headers abandons the
//! whole walk (reference crosswatch.md 3.5 and 10.4; trakt-api.md 4).

use std::collections::BTreeSet;

use serde_json::value::RawValue;
use serde_json::Value;

use super::{Call, Client};
use crate::config::MAX_PAGE_LIMIT;
use crate::error::AdapterError;
use crate::log::{self, Level};

/// Safety stop: a listing longer than this many pages is treated as a server loop.
const MAX_PAGES: u32 = 10_000;

/// GET `path?<query>&page=N&limit=L` for N = 1.. until the listing is complete, handing each
/// page's text to `read` (`read_rows` reads its rows in one pass), so a long listing is never
/// held whole.
///
/// Every page carries an explicit `page` and `limit` (`limit` clamped to 1..=250). Continues
/// while `page < X-Pagination-Page-Count`; without that header, stops on an empty page or a
/// page shorter than the applied `X-Pagination-Limit` (else the requested limit). Fails on a
/// non-2xx page (after the client's retries), a truncated body, invalid or non-array JSON, a
/// page that repeats an earlier one, a page number, page count, limit or item count that
/// changes mid-walk, rows on a page beyond the page count, and a row total that differs from
/// `X-Pagination-Item-Count`. An error (from the walk or from `read`) means the caller must
/// drop whatever it built from the pages read so far: nothing of a failed walk is ever used.
pub fn for_each_page(
    client: &mut Client,
    feature: &str,
    path: &str,
    query: &[(&str, String)],
    limit: u32,
    read: &mut PageReader,
) -> Result<Walked, AdapterError> {
    let walked = walk(client, feature, path, query, limit, None, read, None);
    noted(client, feature, path, walked)
}

/// `for_each_page` with `If-None-Match: <etag>` on page 1 when `if_none_match` is given (a
/// 304 on page 1 ends the walk at once with `Walked::NotModified`), calling `before_page_2`
/// (with the client) once, after page 1 and before page 2, when the listing has more than
/// one page: the watchlist reads `last_activities` there, so what it reads next is at least
/// as new as what it vouches for. An error from it fails the walk.
pub fn for_each_page_if_changed(
    client: &mut Client,
    feature: &str,
    path: &str,
    limit: u32,
    if_none_match: Option<&str>,
    read: &mut PageReader,
    before_page_2: &mut BetweenPages,
) -> Result<Walked, AdapterError> {
    let walked = walk(client, feature, path, &[], limit, if_none_match, read, Some(before_page_2));
    noted(client, feature, path, walked)
}

/// What a page reader saw on a page: how many rows, and their order-insensitive digest
/// (the sum of `row_digest` of each row's text), by which `walk` tells a repeated page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRead {
    pub rows: usize,
    pub fingerprint: u64,
}

/// Why a page reader refused a page.
#[derive(Debug)]
pub enum PageError {
    /// The body is not a JSON array of values (`walk` says how, from the text).
    Json,
    /// A row the reader could not take: its own error, which ends the walk.
    Row(AdapterError),
}

/// What reads each page of a walk, from its body's text (checked as UTF-8), before `walk`
/// checks the page against its headers: a refused page still fails the walk, and the caller
/// drops whatever it built, so nothing read from it is ever used.
pub type PageReader<'a> = dyn FnMut(&str) -> Result<PageRead, PageError> + 'a;

/// What runs between page 1 and page 2 of a walk (`for_each_page_if_changed`).
pub type BetweenPages<'a> = dyn FnMut(&mut Client) -> Result<(), AdapterError> + 'a;

/// What a page-by-page walk saw.
#[derive(Debug)]
pub enum Walked {
    /// The whole listing went to the reader (page 1 had changed, or no `If-None-Match` was
    /// sent); `etag`: page 1's `ETag` (trimmed; none when missing or blank).
    Done { pages: u32, etag: Option<String> },
    /// Page 1 answered 304 to `If-None-Match`: page 1 is unchanged, and nothing was read.
    /// Its pagination headers say whether page 1 is the whole listing.
    NotModified { page_count: Option<u64>, item_count: Option<u64> },
}

/// One pass over the JSON array `text`: `each` gets every element's index, its text and,
/// when the element is an object that `T` reads, the element read as `T`; `None` when `T`
/// cannot read it, so the caller reads the text its own way. Against splitting the page into
/// rows first and reading each row's text again, this reads every byte once (18% fewer wasm
/// instructions on a cold history index, README "Performance").
pub fn read_rows<'a, T: serde::Deserialize<'a>>(
    text: &'a str,
    each: &mut dyn FnMut(usize, &'a str, Option<T>) -> Result<(), AdapterError>,
) -> Result<PageRead, PageError> {
    let bytes = text.as_bytes();
    let skip_ws = |mut i: usize| {
        while bytes.get(i).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        i
    };
    let mut i = skip_ws(0);
    if bytes.get(i) != Some(&b'[') {
        return Err(PageError::Json);
    }
    i = skip_ws(i + 1);
    let mut read = PageRead { rows: 0, fingerprint: 0 };
    if bytes.get(i) == Some(&b']') {
        i = skip_ws(i + 1);
    } else {
        loop {
            let rest = &text[i..];
            // Only objects: serde reads an array into a struct by position.
            let typed = if bytes.get(i) == Some(&b'{') {
                let mut values = serde_json::Deserializer::from_str(rest).into_iter::<T>();
                values.next().and_then(Result::ok).map(|v| (v, values.byte_offset()))
            } else {
                None
            };
            let (typed, len) = match typed {
                Some((v, len)) => (Some(v), len),
                None => {
                    let mut values = serde_json::Deserializer::from_str(rest).into_iter::<&RawValue>();
                    match values.next() {
                        Some(Ok(_)) => (None, values.byte_offset()),
                        _ => return Err(PageError::Json),
                    }
                }
            };
            let row = &rest[..len];
            read.fingerprint = read.fingerprint.wrapping_add(row_digest(row));
            each(read.rows, row, typed).map_err(PageError::Row)?;
            read.rows += 1;
            i = skip_ws(i + len);
            match bytes.get(i) {
                Some(b',') => i = skip_ws(i + 1),
                Some(b']') => {
                    i = skip_ws(i + 1);
                    break;
                }
                _ => return Err(PageError::Json),
            }
        }
    }
    if i == bytes.len() {
        Ok(read)
    } else {
        Err(PageError::Json)
    }
}

/// A refused page: say on its ledger entry why (the request itself succeeded) and log it.
fn noted(
    client: &mut Client,
    feature: &str,
    path: &str,
    result: Result<Walked, AdapterError>,
) -> Result<Walked, AdapterError> {
    if let Err(e @ AdapterError::Protocol(_)) = &result {
        client.note_failure(e);
        log::event(Level::Error, feature, "index_abandoned", &[("path", path.to_string()), ("error", e.to_string())]);
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn walk(
    client: &mut Client,
    feature: &str,
    path: &str,
    query: &[(&str, String)],
    limit: u32,
    if_none_match: Option<&str>,
    read_page: &mut PageReader,
    mut before_page_2: Option<&mut BetweenPages>,
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
        let bad =
            |what: String| AdapterError::Protocol(format!("{path} page {page}: {what}; index abandoned, try again"));
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
        // The reader parses what it needs from the body's text. The body is checked as UTF-8
        // once, here: parsed from a `str`, neither the rows nor their strings are checked
        // again (from bytes, serde_json checks every row and string).
        let text = match std::str::from_utf8(&resp.body) {
            Ok(t) => t,
            Err(e) if e.error_len().is_none() => return Err(bad("truncated body: it ends inside a character".into())),
            Err(e) => return Err(bad(format!("invalid JSON: not UTF-8 text ({e})"))),
        };
        let page_rows = match read_page(text) {
            Ok(read) => read,
            Err(PageError::Row(e)) => return Err(e),
            Err(PageError::Json) => return Err(bad(json_problem(text))),
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
        if page_rows.rows > 0 && !seen_pages.insert(page_rows.fingerprint) {
            return Err(bad("repeats an earlier page".into()));
        }
        let applied = applied_limit.filter(|l| *l > 0).unwrap_or(u64::from(limit));
        let empty = page_rows.rows == 0;
        let short = (page_rows.rows as u64) < applied;
        if page_rows.rows as u64 > applied {
            return Err(bad(format!("{} rows on a page of {applied}", page_rows.rows)));
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
        total += page_rows.rows as u64;
        log::progress(feature, "index", total, item_count);
        if !more {
            break;
        }
        if page == 1 {
            if let Some(f) = before_page_2.as_mut() {
                f(client)?;
            }
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

/// What is wrong with a page body that is not a JSON array, as serde_json says it.
fn json_problem(text: &str) -> String {
    match serde_json::from_str::<Vec<&RawValue>>(text) {
        Err(e) if e.is_eof() => format!("truncated body: {e}"),
        Err(e) => match serde_json::from_str::<Value>(text) {
            Ok(v) if !v.is_array() => "body is not a JSON array".into(),
            _ => format!("invalid JSON: {e}"),
        },
        // A reader refused what serde_json reads as an array of values.
        Ok(_) => "invalid JSON: not an array of values".into(),
    }
}

/// A row's digest for a page's fingerprint (`PageRead`): the sum over a page's rows needs no
/// sort and no copy of a row. XXH3, as the caches use (SipHash, std's, was slower by far in
/// wasm).
fn row_digest(row: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(row.as_bytes())
}

#[cfg(test)]
mod tests;
