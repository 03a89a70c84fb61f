//! Items, ids and canonical keys: pure data, no I/O.

pub mod item;
pub mod json;
pub mod keys;

pub use item::{Ids, Item, Kind};
pub use keys::{item_key, KEY_SCHEME};
