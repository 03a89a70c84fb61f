//! Why an input item is unresolved: the closed set of hints a write report can carry.
//!
//! The WIT `unresolved.hint` and `item-status.unresolved` are strings, and the unresolved
//! file keeps them as its `reasons`; `as_wire` renders each variant to exactly the text the
//! hosts and earlier state files know. Code decides by matching variants, never by text.

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hint {
    // The input itself cannot be sent; trying again as is will not help.
    /// No id Trakt can look the item up by.
    MissingIds,
    /// A season or episode with show ids but not the numbers that place it.
    MissingScope,
    /// A kind the feature does not handle.
    UnsupportedType,
    /// The item's `extra` is not a JSON object.
    InvalidExtra,
    /// A history add without `watched_at`.
    MissingWatchedAt,
    InvalidWatchedAt,
    InvalidHistoryId,
    /// A rating that is not an integer 1..10.
    InvalidRating,
    InvalidRatedAt,
    /// Two inputs with one key in one call: the second is not sent.
    DuplicateKey,

    // What Trakt answered.
    /// Trakt echoed the item in `not_found`.
    NotFound,
    /// A history episode (flat or inside its show) that Trakt does not know.
    TraktEpisodeNotFound,
    /// A history episode whose show or season Trakt does not know.
    TraktParentNotFound,
    /// The account's list limit (a 420, or the known capacity is used up).
    TraktLimit,
    /// Trakt answered this error status for the request after retries.
    Http(u16),
    /// A 2xx whose body is not a JSON object: Trakt may have applied it.
    BadResponse,
    /// No answer at all.
    Transport,
    /// Trakt's answer does not account for the item, and reading back did not find it.
    Unconfirmed,

    // The adapter's own side.
    /// The history journal could not be written, so the add was not sent.
    JournalUnavailable,
    /// No outcome was recorded for the item: an adapter bug, reported rather than lost.
    NotAccounted,
}

impl Hint {
    /// The hint as it travels in WIT records and the unresolved file.
    pub fn as_wire(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Hint::MissingIds => "missing ids",
            Hint::MissingScope => "missing scope",
            Hint::UnsupportedType => "unsupported type",
            Hint::InvalidExtra => "invalid extra",
            Hint::MissingWatchedAt => "missing watched_at",
            Hint::InvalidWatchedAt => "invalid watched_at",
            Hint::InvalidHistoryId => "invalid history id",
            Hint::InvalidRating => "invalid rating",
            Hint::InvalidRatedAt => "invalid rated_at",
            Hint::DuplicateKey => "duplicate key",
            Hint::NotFound => "not_found",
            Hint::TraktEpisodeNotFound => "trakt_episode_not_found",
            Hint::TraktParentNotFound => "trakt_parent_not_found",
            Hint::TraktLimit => "trakt_limit",
            Hint::Http(status) => return Cow::Owned(format!("http:{status}")),
            Hint::BadResponse => "bad_response",
            Hint::Transport => "transport",
            Hint::Unconfirmed => "unconfirmed",
            Hint::JournalUnavailable => "journal_unavailable",
            Hint::NotAccounted => "internal: item not accounted",
        })
    }

    /// The status Trakt answered, or `Transport` when there was no answer.
    pub fn of_status(status: Option<u16>) -> Hint {
        status.map_or(Hint::Transport, Hint::Http)
    }

    /// Whether a later run may get a different outcome for the same input: Trakt may have
    /// applied the write, or it failed for a passing reason (rate limit, server, network).
    pub fn may_change(&self) -> bool {
        match self {
            Hint::Transport | Hint::Unconfirmed | Hint::JournalUnavailable | Hint::TraktLimit | Hint::BadResponse => {
                true
            }
            Hint::Http(status) => (500..=599).contains(status) || *status == 429,
            Hint::MissingIds
            | Hint::MissingScope
            | Hint::UnsupportedType
            | Hint::InvalidExtra
            | Hint::MissingWatchedAt
            | Hint::InvalidWatchedAt
            | Hint::InvalidHistoryId
            | Hint::InvalidRating
            | Hint::InvalidRatedAt
            | Hint::DuplicateKey
            | Hint::NotFound
            | Hint::TraktEpisodeNotFound
            | Hint::TraktParentNotFound
            | Hint::NotAccounted => false,
        }
    }
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_wire())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hint_renders_to_its_wire_string() {
        let all = [
            (Hint::MissingIds, "missing ids"),
            (Hint::MissingScope, "missing scope"),
            (Hint::UnsupportedType, "unsupported type"),
            (Hint::InvalidExtra, "invalid extra"),
            (Hint::MissingWatchedAt, "missing watched_at"),
            (Hint::InvalidWatchedAt, "invalid watched_at"),
            (Hint::InvalidHistoryId, "invalid history id"),
            (Hint::InvalidRating, "invalid rating"),
            (Hint::InvalidRatedAt, "invalid rated_at"),
            (Hint::DuplicateKey, "duplicate key"),
            (Hint::NotFound, "not_found"),
            (Hint::TraktEpisodeNotFound, "trakt_episode_not_found"),
            (Hint::TraktParentNotFound, "trakt_parent_not_found"),
            (Hint::TraktLimit, "trakt_limit"),
            (Hint::Http(422), "http:422"),
            (Hint::Http(503), "http:503"),
            (Hint::BadResponse, "bad_response"),
            (Hint::Transport, "transport"),
            (Hint::Unconfirmed, "unconfirmed"),
            (Hint::JournalUnavailable, "journal_unavailable"),
            (Hint::NotAccounted, "internal: item not accounted"),
        ];
        for (hint, wire) in all {
            assert_eq!(hint.as_wire(), wire);
            assert_eq!(hint.to_string(), wire);
        }
    }

    #[test]
    fn hints_that_may_change_on_a_later_run() {
        let changing =
            [Hint::Transport, Hint::Unconfirmed, Hint::JournalUnavailable, Hint::TraktLimit, Hint::BadResponse];
        for h in changing.into_iter().chain([Hint::Http(500), Hint::Http(503), Hint::Http(429)]) {
            assert!(h.may_change(), "{h}");
        }
        for h in
            [Hint::NotFound, Hint::MissingIds, Hint::Http(400), Hint::Http(422), Hint::Http(420), Hint::InvalidExtra]
        {
            assert!(!h.may_change(), "{h}");
        }
    }
}
