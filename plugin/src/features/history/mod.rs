//! Trakt watch history: every play, never a duplicate, safe across crashes (issue 5;
//! reference crosswatch.md 2.3 and 3.4, trakt-api.md 3.1 and 3.6 to 3.9).
//!
//! ## Index: one entry per play
//!
//! `GET /sync/history/movies` and `/sync/history/episodes`, all pages (all-or-nothing, like
//! every index). Each row is one play: the item (type, title, year, ids, show_ids, season,
//! episode, series_title), Trakt's `watched_at` text and the history id (`history-id`,
//! CrossWatch's `_trakt_history_id`, decimal, 64-bit). Its key is the event key
//! `<base>@<minute>`: `base` the canonical key (episodes: from the show ids + numbers, e.g.
//! `tmdb:1396#s01e05`), `minute` the Unix seconds of `watched_at` floored to the minute. A
//! play at the epoch (Trakt's "unknown" date) is `<base>@0`. Two plays of one base in one
//! minute: the smallest history id keeps the plain key, each other gets
//! `<base>@<minute>~h<history id>`. Rows that are not a play with a time and an id fail the
//! index (`protocol`).
//!
//! ## Cache (`trakt_history.index.json`) and its request counts
//!
//! `{"schema": 1, "generated_at": ISO, "wm": ISO, "counts": {"movies": n, "episodes": n},
//! "items": {event key: item with watched_at and _trakt_history_id}}`; `wm` is the newest of
//! `last_activities` `movies.watched_at` / `episodes.watched_at` read before the live read.
//! A cache whose keys or counts do not match its items is ignored. An index:
//!
//! 1. `GET /sync/last_activities`.
//! 2. Activities not newer than `wm`: `GET /sync/history/movies?page=1&limit=1` and
//!    `.../episodes?page=1&limit=1`; both `X-Pagination-Item-Count` equal the cached counts:
//!    the cache is the index. **3 requests.**
//! 3. Activities newer (plays added or removed since): `GET /sync/history?start_at=<wm - 5
//!    min>` (both types, all pages), whose rows replace every cached play from that minute
//!    on, then the two count reads. Equal: saved with the new `wm`. **4 requests** when the
//!    new plays fit one page (250).
//! 4. Otherwise (no or unusable cache, counts differ at 2 or 3): a full read, saved with the
//!    activities' `wm` (not saved when they could not be read). Any failed page fails the
//!    index and leaves the cache alone.
//!
//! `start_at` filters on the play's time, not on when it was recorded, so a back-dated play
//! added elsewhere is missed by 3 and caught by its count check: the cost is a full read,
//! never a wrong index (only a removal and an addition elsewhere that cancel out in both
//! counts and both fall before the window could hide, a limit shared with CrossWatch).
//!
//! After this adapter's own writes the cache is patched, not dropped (a full read of a long
//! history costs hundreds of requests): confirmed plays are added without a history id
//! (Trakt's add answer carries none) and removed plays are dropped. Our writes move the
//! activities, so the next index takes path 3 and re-checks the counts; after a successful
//! delta it reads the minutes of the plays still without an id back (windows as the journal's,
//! usually one request per kind) and gives them their ids, so an index hands out history ids
//! for every play. A write whose outcome stays unknown, or a confirmed `released` play (its
//! minute is Trakt's), drops the cache instead.
//!
//! ## Add
//!
//! Each input is one play at its `watched_at`: ISO 8601 with or without offset (none =
//! UTC), epoch seconds, or milliseconds from 13 digits on; `released` / `unknown` for
//! episodes. Missing: `missing watched_at` (never sent "now"); anything else, a movie with
//! `released`/`unknown`, or a time outside 1970..9999: `invalid watched_at`. Sent as
//! `YYYY-MM-DDTHH:MM:00.000Z` (UTC, floored). Show and season inputs: `unsupported type`
//! (one input must be one play). Report keys are the inputs' event keys (`<base>@<minute>`,
//! `<base>@0` for unknown, the bare base for `released` and inputs without a valid time).
//!
//! Before sending, the index (this run's, else refreshed as above) is checked at minute
//! precision: a play of the item (matched by key or any strong id) in that minute is
//! `skipped` and not sent; the same play twice in one call, the second is `skipped`. A
//! `released` play is skipped when the item has any play. Movies and episodes with a trakt
//! or tvdb episode id go flat `{ids, watched_at}`; other episodes with show ids, season and
//! number go `shows -> seasons -> episodes` when `history_number_fallback` (alias
//! `number_fallback`, default on) is on, else flat with their other ids, else `missing ids`.
//!
//! Bodies of up to `history_chunk_size` plays (default 250), one `POST /sync/history` each,
//! non-idempotent (resent by the client only after a connect error or a 429), deadline at
//! least 60 s. The size adapts (`add::chunk`): after a 5xx, timeout, lost connection or
//! unreadable answer on a body of N plays (read back first, see below), the rest goes in
//! bodies of N/2, never below 25 (or the configured size when smaller), logged `chunk_shrunk
//! from= to= failed_body=`; after 4 answered bodies in a row the size doubles up to the
//! configured one (`chunk_grown from= to=`).
//! Answer: `not_found` matched back by scope (flat movie `not_found`, flat or nested episode
//! `trakt_episode_not_found`, a show or season echoed without its episodes
//! `trakt_parent_not_found`); per type `added` covering the remaining plays confirms them;
//! fewer reads the plays back (window read): found `confirmed`, else `unconfirmed`. A 4xx,
//! 420 or auth failure refused the batch (`http:<status>`, `trakt_limit`, ...).
//!
//! ## Crash journal (`trakt_history.journal.json`, see `journal`)
//!
//! Every batch is journaled before its POST and removed once an answer decided it. A 5xx,
//! timeout, lost connection or unreadable answer leaves the outcome unknown: the batch's
//! minutes are read back at once (`GET /sync/history/{type}?start_at=..&end_at=..+59s`, all
//! pages, close minutes in one window): plays found are `confirmed`, missing ones are sent
//! again (journaled again) at the front of the next bodies, in the smaller size. At the floor
//! size they are sent once more; if that outcome is unknown too they stay unresolved and later
//! chunks are not sent. If the read-back fails the batch stays in the journal (`unconfirmed`).
//! Every add and every index first reconciles batches an earlier run left: found plays are
//! confirmed when they are also in this call's input (else logged), missing ones are sent
//! (with this call's input, or alone: a batch carried in the journal until they went out),
//! logged as `journal_reconcile batches= landed= resent=`. A journal that cannot be written:
//! the chunk is `journal_unavailable` and nothing more is sent. Dry runs neither reconcile
//! nor send.
//!
//! ## Options
//!
//! `history_chunk_size` (1..1000, default 250): the most plays per add POST (adaptive, see
//! Add), history ids per remove POST. `history_number_fallback` / `number_fallback` (default true). `history_collection` /
//! `add_collections` (default false) and `history_collection_types` / `collection_types` (a
//! list or a comma string of "movies", "shows"; default movies). CrossWatch's key wins when
//! both spellings are given.
//!
//! ## Collection side-write
//!
//! With `history_collection` (alias `add_collections`), after each chunk the confirmed plays'
//! titles go to `POST /sync/collection` (`history_collection_types` / `collection_types`:
//! "movies", "shows"; default movies) with `collected_at` = the play's time, one entry per
//! title. Idempotent; a failure is logged `collection_failed status=` (and in the ledger) and
//! never changes the history report (the WIT report has no place for it).
//!
//! ## Remove
//!
//! By history id when the input has one (`{"ids": [...]}`, `history_chunk_size` ids per
//! POST): ids in `not_found.ids` are `skipped` (already gone); the others are `confirmed`
//! only when `deleted` (all types) equals their number, else all `unconfirmed`. Without an id
//! but with `watched_at`: the index's play keyed `<base>@<minute>` (smallest id of that
//! minute; a play not read back yet is looked up with a one-minute window read) is removed by
//! its id; none: `skipped`. With neither: the caller asks for the item's removal, every play
//! goes by coordinates, one item per POST so `deleted` is that item's: `not_found` unresolved,
//! `deleted` > 0 `confirmed`, 0 `skipped`. Removes are idempotent writes (`send_bodies`).

mod add;
#[cfg(test)]
mod fake;
pub mod index;
pub mod journal;
mod remove;
#[cfg(test)]
mod tests;
mod windows;

use crate::error::AdapterError;
use crate::features::stream::{next_slice, part_error, text_error};
use crate::features::{Ctx, Op, WriteReport};
use crate::model::Item;
use index::text::Render;
use index::{CachedParts, CachedText, Refreshed};

pub const FEATURE: &str = "history";

/// The history index's text being handed out (`index-stream`).
pub enum Text {
    /// An unchanged cache's parts.
    Parts(CachedParts),
    /// An unchanged cache's whole text (a file of the older one-file form), from `at` on.
    Whole { text: String, at: usize },
    /// Written from this run's index (`History::index`).
    Render(Render),
}

#[derive(Default)]
pub struct History {
    /// This run's complete index, patched after writes; `None` when not read yet or when a
    /// write's outcome is unknown.
    index: Option<index::Index>,
    /// Journal batch ids of this run.
    batch_seq: u32,
}

impl History {
    pub fn build_index(&mut self, ctx: &mut Ctx) -> Result<Vec<(String, Item)>, AdapterError> {
        let index = self.refresh(ctx)?;
        Ok(index.entries())
    }

    /// `build_index` as the text of one JSON object: the cache's text when Trakt confirms
    /// it (no index built), else written from the index (and saved as the cache).
    pub fn build_index_json(&mut self, ctx: &mut Ctx) -> Result<String, AdapterError> {
        match self.open_index_json(ctx)? {
            Text::Parts(parts) => match parts.join(ctx.state) {
                Ok(text) => Ok(text),
                // A damaged part (logged; the cache is gone now): read Trakt in full.
                Err(_) => match self.open_index_json(ctx)? {
                    Text::Render(render) => render.join(self.index()?, ctx.state).map_err(text_error),
                    _ => Err(AdapterError::Internal("history index: the cache stayed after a damaged part".into())),
                },
            },
            Text::Whole { text, .. } => Ok(text),
            Text::Render(render) => render.join(self.index()?, ctx.state).map_err(text_error),
        }
    }

    /// `build_index_json` to be read in parts (`next_index_json`): the index is read (or
    /// the cache checked) now, the text written or read a part at a time.
    pub fn open_index_json(&mut self, ctx: &mut Ctx) -> Result<Text, AdapterError> {
        self.reconcile_first(ctx)?;
        match index::refresh_as(ctx, true)? {
            Refreshed::Cached(text) => {
                self.index = None;
                Ok(match text {
                    CachedText::Parts(parts) => Text::Parts(parts),
                    CachedText::Whole(text) => Text::Whole { text, at: 0 },
                })
            }
            Refreshed::Index { index, fresh } => {
                let render = Render::new(&index, ctx.state, fresh);
                self.index = Some(*index);
                Ok(Text::Render(render))
            }
        }
    }

    /// The next part of `text` (`None` after the last).
    pub fn next_index_json(&mut self, text: &mut Text, ctx: &mut Ctx) -> Result<Option<String>, AdapterError> {
        match text {
            Text::Parts(parts) => parts.next(ctx.state).map_err(part_error),
            Text::Whole { text, at } => Ok(next_slice(text, at)),
            Text::Render(render) => render.next(self.index()?, ctx.state).map_err(text_error),
        }
    }

    fn index(&self) -> Result<&index::Index, AdapterError> {
        self.index.as_ref().ok_or_else(|| AdapterError::Internal("history index: none read".into()))
    }

    /// The complete index, kept for this run's writes.
    fn refresh(&mut self, ctx: &mut Ctx) -> Result<&index::Index, AdapterError> {
        self.reconcile_first(ctx)?;
        Ok(self.index.insert(index::refresh(ctx)?))
    }

    /// Reconcile (and finish) what an earlier run left before reading.
    fn reconcile_first(&mut self, ctx: &mut Ctx) -> Result<(), AdapterError> {
        if !journal::pending(ctx.state).is_empty() {
            self.add(&[], false, ctx)?;
        }
        Ok(())
    }

    pub fn write(&mut self, op: Op, items: &[Item], dry_run: bool, ctx: &mut Ctx) -> Result<WriteReport, AdapterError> {
        match op {
            Op::Add => self.add(items, dry_run, ctx),
            Op::Remove => self.remove(items, dry_run, ctx),
        }
    }
}
