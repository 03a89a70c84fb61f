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

/// CrossWatch's text format. Values with spaces, quotes, `=` or `:` are JSON-quoted so a line
/// always splits back into its fields; empty values are left out.
pub fn format_line(level: Level, feature: &str, event: &str, fields: &[(&str, &str)]) -> String {
    let mut line = format!("[TRAKT:{feature}] {} {event}", level.as_str());
    for (k, v) in fields {
        if v.is_empty() {
            continue;
        }
        let needs_quotes = v.chars().any(|c| c.is_whitespace() || matches!(c, '"' | '=' | ':'));
        if needs_quotes {
            line.push_str(&format!(" {k}={}", serde_json::Value::String((*v).to_string())));
        } else {
            line.push_str(&format!(" {k}={v}"));
        }
    }
    line
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
}
