//! The `log` import and the host's own log lines: `[TRAKT:<feature>] LEVEL event k=v ...`
//! on stderr (or any writer, so tests and embedders can capture them).

use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }

    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "trace" => Level::Trace,
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warn" | "warning" => Level::Warn,
            "error" => Level::Error,
            _ => return None,
        })
    }
}

/// Where log lines go. Cloning shares the writer.
#[derive(Clone)]
pub struct LogSink {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    min: Level,
}

impl LogSink {
    pub fn stderr(min: Level) -> LogSink {
        LogSink::to_writer(Box::new(std::io::stderr()), min)
    }

    pub fn to_writer(out: Box<dyn Write + Send>, min: Level) -> LogSink {
        LogSink { out: Arc::new(Mutex::new(out)), min }
    }

    pub fn enabled(&self, level: Level) -> bool {
        level >= self.min
    }

    pub fn event(&self, level: Level, feature: &str, event: &str, fields: &[(&str, &str)]) {
        if !self.enabled(level) {
            return;
        }
        let line = format_line(level, feature, event, fields);
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

/// CrossWatch's text format. Values with spaces, quotes, `=` or `:` are quoted so a line
/// always splits back into its fields; empty values are left out.
///
/// Nothing the component sends can forge a line or reach the terminal as a control sequence:
/// in the feature, the event, the keys and the values every control character (C0, DEL,
/// C1: newlines, carriage returns, ANSI escapes), every line or paragraph separator and
/// every bidirectional override is written as an escape (`\n`, `\r`, `\t`, `\u001b`); a
/// feature, event or key that needs escaping, or holds a space, quote, `=` or bracket, is
/// written quoted, like a value.
pub fn format_line(level: Level, feature: &str, event: &str, fields: &[(&str, &str)]) -> String {
    let mut line = format!("[TRAKT:{}] {} {}", bare(feature), level.as_str(), bare(event));
    for (k, v) in fields {
        if v.is_empty() {
            continue;
        }
        let needs_quotes = v.chars().any(|c| c.is_whitespace() || matches!(c, '"' | '=' | ':') || needs_escape(c));
        if needs_quotes {
            line.push_str(&format!(" {}={}", bare(k), quoted(v)));
        } else {
            line.push_str(&format!(" {}={v}", bare(k)));
        }
    }
    line
}

/// Characters never written as they are: controls, line/paragraph separators, bidi controls.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A feature, event or key as is when it is plain, else quoted and escaped.
fn bare(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || matches!(c, '"' | '=' | '[' | ']' | '\\') || needs_escape(c));
    if plain {
        s.to_string()
    } else {
        quoted(s)
    }
}

/// `"..."` with `"` and `\` backslash-escaped and every character of [`needs_escape`]
/// written as `\n`, `\r`, `\t` or `\uXXXX` (JSON's escapes, applied to C1 and the
/// separators too).
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_crosswatch_format() {
        let l = format_line(Level::Info, "watchlist", "index_done", &[("count", "8"), ("source", "live"), ("e", "")]);
        assert_eq!(l, "[TRAKT:watchlist] INFO index_done count=8 source=live");
        let l = format_line(Level::Warn, "http", "retry", &[("url", "http://x/y z")]);
        assert_eq!(l, r#"[TRAKT:http] WARN retry url="http://x/y z""#);
    }

    #[test]
    fn control_characters_are_escaped_everywhere() {
        let forged = "x\n[TRAKT:auth] INFO token_refreshed\u{1b}[2J\u{9b}31m\u{7f}\u{202e}";
        let l = format_line(Level::Info, forged, forged, &[(forged, forged), ("k", "a\rb")]);
        assert!(!l.chars().any(|c| c.is_control() || c == '\u{202e}'), "{l:?}");
        assert!(
            l.starts_with(r#"[TRAKT:"x\n[TRAKT:auth] INFO token_refreshed\u001b[2J\u009b31m\u007f\u202e"] INFO "#),
            "{l}"
        );
        assert!(l.ends_with(r#" k="a\rb""#), "{l}");
        assert_eq!(format_line(Level::Info, "", "e", &[]), r#"[TRAKT:""] INFO e"#);
    }
}
