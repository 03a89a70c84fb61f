//! The streams a command reads and writes.

use std::io::{Read, Write};

/// The process's standard streams, replaceable so the CLI can run in-process (tests, demo).
pub struct Io {
    pub stdin: Box<dyn Read>,
    pub stdout: Box<dyn Write>,
    pub stderr: Box<dyn Write + Send>,
}

impl Io {
    pub fn process() -> Io {
        Io {
            stdin: Box::new(std::io::stdin()),
            stdout: Box::new(std::io::stdout()),
            stderr: Box::new(std::io::stderr()),
        }
    }
}
