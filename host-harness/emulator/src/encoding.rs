//! Small text encodings the server and the routes share: hex, `application/x-www-form-urlencoded`
//! and percent-encoding.

/// Lowercase hex digits of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `a=1&b=x%20y` -> `[("a","1"),("b","x y")]` (`+` is a space), by the `form_urlencoded` rules.
pub(crate) fn parse_urlencoded(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Decodes `%XX` escapes (a `%` not followed by two hex digits stays as is).
pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// Everything but ASCII letters, digits and `-_.~` (RFC 3986 unreserved) is escaped.
const NOT_UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes everything but ASCII letters, digits and `-_.~`.
pub(crate) fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}
