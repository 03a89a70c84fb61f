//! The history index as text, in key order: written part by part (`index-stream`, and the
//! cache's part files saved on the way, `cache::Saver`), so the whole text is never built
//! unless a caller joins the parts (`build-index-json`).

use super::cache::{part_bytes, Head, Saver};
use super::Index;
use crate::model::index_json::{EntryJson, TextParts, TitleHead};
use crate::state::Store;

/// The parts of an index's text, written as they are asked for; with a saver, each is also
/// written as a part file of the cache and the cache file is written after the last.
pub struct Render {
    /// Entries written so far (a position in the index's key order).
    at: usize,
    head: TitleHead,
    out: TextParts,
    done: bool,
    saver: Option<Saver>,
    saved: bool,
}

impl Render {
    /// The text of `index`; with `save` (and a watermark: a cache is kept only with one),
    /// saved as the cache on the way.
    pub fn new(index: &Index, store: &mut dyn Store, save: bool) -> Render {
        let saver = if save && index.wm.is_some() { Saver::begin(store) } else { None };
        Render {
            at: 0,
            head: TitleHead::default(),
            out: TextParts::new(part_bytes()),
            done: false,
            saver,
            saved: false,
        }
    }

    /// Whether the cache was saved (after the last part).
    pub fn saved(&self) -> bool {
        self.saved
    }

    /// The next part (`None` after the last). A failure leaves no cache behind.
    pub fn next(&mut self, index: &Index, store: &mut dyn Store) -> Result<Option<String>, String> {
        if self.done {
            return Ok(None);
        }
        let part = match self.write(index) {
            Ok(p) => p,
            Err(e) => {
                self.done = true;
                if let Some(saver) = self.saver.take() {
                    saver.abandon(store);
                }
                return Err(e);
            }
        };
        if let Some(saver) = &mut self.saver {
            saver.part(store, &part);
        }
        if self.done {
            if let Some(saver) = self.saver.take() {
                self.saved = saver.finish(store, Head::of(index));
            }
        }
        Ok(Some(part))
    }

    /// Entries from where the last part ended until the part is full or the index ends.
    fn write(&mut self, index: &Index) -> Result<String, String> {
        let (keys, order) = (index.keys(), index.key_order());
        while self.at < order.len() && !self.out.full() {
            let i = order[self.at] as usize;
            let p = &index.plays[i];
            let item = &index.title(p).item;
            // A title's plays follow one another: its head is written once for all of them.
            if self.head.take(p.title, item)? {
                self.out.play(&keys[i], &self.head, &p.watched_at, p.id);
            } else {
                self.out.entry(&keys[i], &EntryJson { item, play: Some((p.watched_at.as_str(), p.id)) })?;
            }
            self.at += 1;
        }
        self.done = self.at == order.len();
        Ok(self.out.take(self.done))
    }

    /// Every part joined: the whole text, in a buffer sized from the first part (one that
    /// doubles as it grows would take up to twice the text in the component's memory,
    /// which never shrinks).
    pub fn join(mut self, index: &Index, store: &mut dyn Store) -> Result<String, String> {
        let first = self.next(index, store)?.unwrap_or_default();
        let per = first.len() / self.at.max(1);
        let rest = (index.plays.len() - self.at).saturating_mul(per + per / 8);
        let mut text = String::with_capacity(first.len().saturating_add(rest).saturating_add(16));
        text.push_str(&first);
        drop(first);
        while let Some(part) = self.next(index, store)? {
            text.push_str(&part);
        }
        Ok(text)
    }
}
