//! The `progress` import: progress bars on an interactive stderr, nothing otherwise (logs
//! already tell the story in pipes and CI).

use std::collections::HashMap;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct ProgressSink {
    enabled: bool,
    bars: HashMap<(String, String), ProgressBar>,
    /// Number of reports received, for diagnostics and tests.
    pub reports: u64,
}

impl ProgressSink {
    /// Bars only when stderr is a terminal.
    pub fn auto() -> ProgressSink {
        ProgressSink { enabled: std::io::stderr().is_terminal(), bars: HashMap::new(), reports: 0 }
    }

    pub fn disabled() -> ProgressSink {
        ProgressSink { enabled: false, bars: HashMap::new(), reports: 0 }
    }

    pub fn report(&mut self, feature: &str, phase: &str, done: u64, total: Option<u64>) {
        self.reports += 1;
        if !self.enabled {
            return;
        }
        let bar = self.bars.entry((feature.to_string(), phase.to_string())).or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{prefix} {bar:30} {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_prefix(format!("[TRAKT:{feature}] {phase}"));
            bar
        });
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(done);
        if total.is_some_and(|t| done >= t) {
            bar.finish_and_clear();
        }
    }

    /// Clear any bar left unfinished (a failed call), so it does not linger over later output.
    pub fn finish_all(&mut self) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
    }
}
