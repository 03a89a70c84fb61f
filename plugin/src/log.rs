//! Thin helpers over the host's `log` and `progress` imports.
//!
//! Why a wrapper: feature code logs through `event(...)` and never touches bindings, and in
//! native unit tests (where host imports cannot be called) events go to a thread-local buffer
//! that tests can inspect. Callers never pass secrets: the plugin never holds a token anyway.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // the host's full level set
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))] // the host renders levels itself
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// One structured event: `[TRAKT:<feature>] <LEVEL> <name> k=v ...` in the reference host.
pub fn event(level: Level, feature: &str, name: &str, fields: &[(&str, String)]) {
    imp::event(level, feature, name, fields)
}

/// Progress of a long operation (`phase` e.g. "index", "add").
pub fn progress(feature: &str, phase: &str, done: u64, total: Option<u64>) {
    imp::progress(feature, phase, done, total)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Level;
    use crate::bindings::crosswatch::sync::log as host_log;
    use crate::bindings::crosswatch::sync::progress as host_progress;

    pub fn event(level: Level, feature: &str, name: &str, fields: &[(&str, String)]) {
        let level = match level {
            Level::Trace => host_log::Level::Trace,
            Level::Debug => host_log::Level::Debug,
            Level::Info => host_log::Level::Info,
            Level::Warn => host_log::Level::Warn,
            Level::Error => host_log::Level::Error,
        };
        let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
        host_log::event(level, feature, name, &fields);
    }

    pub fn progress(feature: &str, phase: &str, done: u64, total: Option<u64>) {
        host_progress::report(feature, phase, done, total);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Level;
    use std::cell::RefCell;

    thread_local! {
        static LINES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    }

    pub fn event(level: Level, feature: &str, name: &str, fields: &[(&str, String)]) {
        let mut line = format!("[TRAKT:{feature}] {} {name}", level.as_str());
        for (k, v) in fields {
            line.push_str(&format!(" {k}={v}"));
        }
        LINES.with(|l| l.borrow_mut().push(line));
    }

    pub fn progress(feature: &str, phase: &str, done: u64, total: Option<u64>) {
        let total = total.map(|t| t.to_string()).unwrap_or_else(|| "?".into());
        LINES.with(|l| l.borrow_mut().push(format!("[progress:{feature}] {phase} {done}/{total}")));
    }

    /// Every line logged on this thread so far, then clear (tests, and the native embedder
    /// which prints them).
    #[cfg(any(test, feature = "native"))]
    pub fn take() -> Vec<String> {
        LINES.with(|l| std::mem::take(&mut *l.borrow_mut()))
    }
}

#[cfg(all(any(test, feature = "native"), not(target_arch = "wasm32")))]
pub use imp::take as take_lines;
