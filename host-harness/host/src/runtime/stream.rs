//! The index text taken from the component part by part (`index-stream`, wit/adapter.wit)
//! and handed to a sink, so the host never holds the whole text (a 100,000-play history is
//! about 43 MB); `build-index-json`'s one string when the component does not export it.
//!
//! The component is untrusted: a part must not be empty (so a component cannot keep the host
//! calling for nothing), and the text may not grow past the component's memory limit (what it
//! could have returned as one string). A host that prints the text must hold the parts back
//! until the last came (cw-host spools them): a failure after some parts leaves the text
//! incomplete, never to be shown as the index.

use super::bindings::stream::exports::crosswatch::sync::index_stream::Guest as IndexStream;
use super::{Adapter, AdapterError, Feature, HostError, HostErrorKind, HostState};
use crate::imports::log::Level;

/// Where the parts of an index text go, in order. An `Err` stops the reading with that
/// message (a host error: the component is not at fault).
pub trait IndexTextSink {
    fn part(&mut self, text: String) -> Result<(), String>;
}

impl<F: FnMut(String) -> Result<(), String>> IndexTextSink for F {
    fn part(&mut self, text: String) -> Result<(), String> {
        self(text)
    }
}

impl Adapter {
    /// Whether the component exports `index-stream`.
    pub fn streams_index_json(&self) -> bool {
        self.bindings.as_ref().is_some_and(|b| b.stream.is_some())
    }

    /// The index of `feature` as the text of one JSON object, handed to `sink` in parts
    /// (`index-stream`), or in one part when the component does not export it; the text's
    /// length in bytes. The inner `Err` is the adapter's error (at the open, or a part the
    /// component could not read).
    pub fn index_json_to(
        &mut self,
        feature: Feature,
        sink: &mut dyn IndexTextSink,
    ) -> Result<Result<u64, AdapterError>, HostError> {
        if !self.streams_index_json() {
            let text = match self.build_index_json(feature)? {
                Ok(t) => t,
                Err(e) => return Ok(Err(e)),
            };
            let len = text.len() as u64;
            sink.part(text).map_err(HostError::host)?;
            return Ok(Ok(len));
        }
        let opened = self.call_stream("open-index-json", |i, s| i.call_open_index_json(s, feature))?;
        if let Err(e) = opened {
            return Ok(Err(e));
        }
        let cap = self.policy.limits.memory_bytes as u64;
        let mut total = 0u64;
        loop {
            let part = self.call_stream("next-index-json-part", |i, s| i.call_next_index_json_part(s))?;
            let text = match part {
                Ok(Some(t)) => t,
                Ok(None) => return Ok(Ok(total)),
                Err(e) => return Ok(Err(e)),
            };
            if text.is_empty() {
                let message = "next-index-json-part: the component answered an empty part (parts are never empty)";
                return Err(self.refuse(HostErrorKind::Trap, message));
            }
            total += text.len() as u64;
            if total > cap {
                let message = format!(
                    "next-index-json-part: the index text passed the component's memory limit of {} MiB",
                    cap >> 20
                );
                return Err(self.refuse(HostErrorKind::Limit, &message));
            }
            sink.part(text).map_err(HostError::host)?;
        }
    }

    /// `call` of an `index-stream` function (the caller checked `streams_index_json`).
    fn call_stream<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(&IndexStream, &mut wasmtime::Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, HostError> {
        self.call(what, |b, s| match &b.stream {
            Some(stream) => f(stream.crosswatch_sync_index_stream(), s),
            None => Err(wasmtime::Error::msg("the component does not export crosswatch:sync/index-stream")),
        })
    }

    /// Stop the instance for breaking `index-stream`'s rules (as a trap stops it).
    fn refuse(&mut self, kind: HostErrorKind, message: &str) -> HostError {
        self.bindings = None;
        self.store.data_mut().progress.finish_all();
        self.log.event(Level::Error, "module", "call_stopped", &[("kind", kind.as_str()), ("reason", message)]);
        HostError { kind, message: message.to_string() }
    }
}
