//! The streams a command reads and writes.

use std::io::{Read, Write};

/// The process's standard streams, replaceable so the CLI can run in-process (tests, demo).
pub struct Io {
    pub stdin: Box<dyn Read>,
    pub stdout: Box<dyn Write>,
    pub stderr: Box<dyn Write + Send>,
    /// The process exits when the command returns (`cw-host` itself, not a test or the demo
    /// running it in-process): see `Io::release`.
    pub exits_after: bool,
}

impl Io {
    pub fn process() -> Io {
        Io {
            stdin: Box::new(std::io::stdin()),
            stdout: Box::new(std::io::stdout()),
            stderr: Box::new(std::io::stderr()),
            exits_after: true,
        }
    }

    /// Done with `value` (a session: its store, instance and compiled component). In a process
    /// that exits right after, it is left to the kernel, which frees the whole address space
    /// at exit anyway: dropping it first (wasmtime's type registry, code and memory mappings
    /// one by one) took about a tenth of a cached `cw-host manifest`. Output and state are
    /// written before this: nothing of a session is saved on drop.
    pub fn release<T>(&self, value: T) {
        if self.exits_after {
            std::mem::forget(value);
        } else {
            drop(value);
        }
    }
}
