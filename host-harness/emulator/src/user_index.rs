//! Derived lookups over the user's ratings, history and collection, kept next to the
//! [`Library`] in the server state so reads never sort or clone the data sets: the library keeps
//! ratings and history in response order (newest first), and these indexes list the positions
//! of each type in that order. Writes call the matching `rebuild_*` (O(n)).

use std::collections::HashMap;

use crate::library::{Library, MediaRef, MediaType, HISTORY_ID_BASE};

#[derive(Debug, Default)]
pub(crate) struct UserIndex {
    /// Position of each rated item in `library.ratings`.
    pub rating_pos: HashMap<MediaRef, usize>,
    /// Positions in `library.ratings` per [`MediaType`] (`kind as usize`), in list order.
    pub ratings_by_type: [Vec<u32>; 4],
    /// Positions in `library.history` of movie plays, in list order.
    pub movie_plays: Vec<u32>,
    /// Positions in `library.history` of episode plays, in list order.
    pub episode_plays: Vec<u32>,
    /// Position of each collected item in `library.collection`.
    pub collection_pos: HashMap<MediaRef, usize>,
    /// The next history id to hand out.
    pub next_history_id: u64,
}

impl UserIndex {
    pub(crate) fn build(lib: &Library) -> UserIndex {
        let mut ix = UserIndex::default();
        ix.rebuild_ratings(lib);
        ix.rebuild_history(lib);
        ix.rebuild_collection(lib);
        ix
    }

    pub(crate) fn rebuild_ratings(&mut self, lib: &Library) {
        self.rating_pos.clear();
        for v in &mut self.ratings_by_type {
            v.clear();
        }
        for (i, r) in lib.ratings.iter().enumerate() {
            self.rating_pos.insert(r.media(), i);
            self.ratings_by_type[r.kind as usize].push(i as u32);
        }
    }

    pub(crate) fn rebuild_history(&mut self, lib: &Library) {
        self.movie_plays.clear();
        self.episode_plays.clear();
        let mut max = HISTORY_ID_BASE;
        for (i, p) in lib.history.iter().enumerate() {
            match p.kind {
                MediaType::Movie => self.movie_plays.push(i as u32),
                _ => self.episode_plays.push(i as u32),
            }
            max = max.max(p.id);
        }
        // Never reuse an id, even after its play was removed.
        self.next_history_id = self.next_history_id.max(max + 1);
    }

    pub(crate) fn rebuild_collection(&mut self, lib: &Library) {
        self.collection_pos.clear();
        for (i, c) in lib.collection.iter().enumerate() {
            self.collection_pos.insert(c.media(), i);
        }
    }
}
