//! `index-stream` (wit/adapter.wit): an index's text handed out in parts. History renders its
//! parts from the index, or reads them from its cache, one at a time; the other features'
//! texts are small (10,000 ratings are about 3 MB) and are handed out in slices.

use super::history;
use crate::error::AdapterError;

/// About this many bytes per slice of a text at hand.
const SLICE_BYTES: usize = 2 << 20;

/// An opened index text.
pub enum Opened {
    /// A whole text, handed out from `at` on.
    Text {
        text: String,
        at: usize,
    },
    History(history::Text),
}

impl Opened {
    pub fn text(text: String) -> Opened {
        Opened::Text { text, at: 0 }
    }
}

/// A text up to this long goes as one part, moved out rather than copied.
const WHOLE_BYTES: usize = 8 << 20;

/// The next slice of `text` from `at` (cut at a character boundary), `None` at its end; an
/// empty text is one part, `{}` never being empty.
pub fn next_slice(text: &mut String, at: &mut usize) -> Option<String> {
    if *at >= text.len() {
        return None;
    }
    if *at == 0 && text.len() <= WHOLE_BYTES {
        *at = text.len();
        return Some(std::mem::take(text));
    }
    let mut cut = (*at + SLICE_BYTES).min(text.len());
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    let part = text[*at..cut].to_string();
    *at = cut;
    Some(part)
}

/// A part of the component's own cache that could not be read.
pub fn part_error(e: String) -> AdapterError {
    AdapterError::State(e)
}

/// An index whose text could not be written (as `build-index-json` has always said it).
pub fn text_error(e: String) -> AdapterError {
    AdapterError::Internal(format!("index to JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_join_to_the_text_and_cut_between_characters() {
        let text = format!("{{\"a\": \"{}\"}}", "é".repeat(WHOLE_BYTES / 2 + SLICE_BYTES / 2));
        let mut held = text.clone();
        let mut at = 0;
        let mut parts = Vec::new();
        while let Some(p) = next_slice(&mut held, &mut at) {
            assert!(!p.is_empty());
            parts.push(p);
        }
        assert_eq!(parts.len(), 6, "{} bytes in slices of {SLICE_BYTES}", text.len());
        assert_eq!(parts.concat(), text);
        assert_eq!(next_slice(&mut held, &mut at), None, "nothing after the end");

        // A text of up to WHOLE_BYTES is one part, moved out.
        let mut small = "{\"é\": 1}".to_string();
        let mut at = 0;
        assert_eq!(next_slice(&mut small, &mut at).as_deref(), Some("{\"é\": 1}"));
        assert_eq!(next_slice(&mut small, &mut at), None);
    }
}
