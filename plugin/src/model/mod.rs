//! Items, ids and canonical keys: pure data, no I/O.

pub mod hint;
pub mod index_json;
pub mod item;
pub mod json;
pub mod keys;
pub mod lenient;

pub use hint::Hint;
pub use item::{Ids, Item, Kind};
pub use keys::{item_key, KEY_SCHEME};
