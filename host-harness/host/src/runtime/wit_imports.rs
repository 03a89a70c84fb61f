//! The WIT imports as the component calls them: each converts WIT values, delegates to its
//! module in `imports/`, and charges the call's fuel for the call and the bytes crossing it
//! (`metering`), so time a component makes the host spend counts against its CPU budget.

use std::time::Instant;

use super::bindings::crosswatch::sync as wit;
use super::HostState;
use crate::imports::auth::AuthFault;
use crate::imports::http::{HttpFault, HttpRequest};
use crate::imports::log::Level;
use crate::imports::state::StateFault;

impl wit::types::Host for HostState {}

impl wit::http::Host for HostState {
    fn send(&mut self, req: wit::http::Request) -> Result<wit::http::Response, wit::http::HttpError> {
        self.charge_import(req.url.len() + headers_len(&req.headers) + req.body.len());
        let request = HttpRequest {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
            timeout_ms: req.timeout_ms,
            deadline: self.call_deadline,
        };
        let method = request.method.clone();
        let url_path = request.url.split('?').next().unwrap_or_default().to_string();
        let started = Instant::now();
        let result = self.http.send(request);
        self.import_time += started.elapsed();
        match result {
            Ok(r) => {
                self.charge_bytes(headers_len(&r.headers) + r.body.len());
                Ok(wit::http::Response { status: r.status, headers: r.headers, body: r.body })
            }
            Err(fault) => {
                use wit::http::HttpError as E;
                let (name, text, err) = match fault {
                    HttpFault::Denied(m) => ("denied", m.clone(), E::Denied(m)),
                    HttpFault::Timeout(m) => ("timeout", m.clone(), E::Timeout(m)),
                    HttpFault::CallDeadline(m) => {
                        self.deadline_reached = true;
                        ("timeout", m.clone(), E::Timeout(m))
                    }
                    HttpFault::Connect(m) => ("connect", m.clone(), E::Connect(m)),
                    HttpFault::ConnectionLost(m) => ("connection_lost", m.clone(), E::ConnectionLost(m)),
                    HttpFault::Tls(m) => ("tls", m.clone(), E::Tls(m)),
                    HttpFault::InvalidRequest(m) => ("invalid_request", m.clone(), E::InvalidRequest(m)),
                };
                let level = if name == "denied" { Level::Warn } else { Level::Debug };
                self.log.event(
                    level,
                    "http",
                    "request_failed",
                    &[("method", &method), ("url", &url_path), ("error", name), ("detail", &text)],
                );
                Err(err)
            }
        }
    }
}

impl wit::state::Host for HostState {
    fn read(&mut self, name: String) -> Result<Option<String>, wit::state::StateError> {
        self.charge_import(name.len());
        let found = self.state.read(&name).map_err(state_error)?;
        self.charge_bytes(found.as_ref().map_or(0, Vec::len));
        match found {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| wit::state::StateError::Io(format!("state file {name:?} is not UTF-8 text"))),
        }
    }
    fn write(&mut self, name: String, contents: String) -> Result<(), wit::state::StateError> {
        self.charge_import(name.len() + contents.len());
        self.state.write(&name, contents.as_bytes()).map_err(state_error)
    }
    fn delete(&mut self, name: String) -> Result<(), wit::state::StateError> {
        self.charge_import(name.len());
        self.state.delete(&name).map_err(state_error)
    }
    fn list_names(&mut self) -> Result<Vec<String>, wit::state::StateError> {
        self.charge_import(0);
        let names = self.state.list().map_err(state_error)?;
        self.charge_bytes(names.iter().map(String::len).sum());
        Ok(names)
    }
}

fn state_error(f: StateFault) -> wit::state::StateError {
    match f {
        StateFault::InvalidName(m) => wit::state::StateError::InvalidName(m),
        StateFault::QuotaExceeded(m) => wit::state::StateError::QuotaExceeded(m),
        StateFault::Io(m) => wit::state::StateError::Io(m),
    }
}

impl wit::auth::Host for HostState {
    fn refresh(&mut self) -> Result<(), wit::auth::AuthError> {
        self.charge_import(0);
        let started = Instant::now();
        let result = self.auth.refresh_after_401(self.http.take_401());
        self.import_time += started.elapsed();
        result.map_err(|f| match f {
            AuthFault::NotConfigured(m) => wit::auth::AuthError::NotConfigured(m),
            AuthFault::InvalidGrant(m) => wit::auth::AuthError::InvalidGrant(m),
            AuthFault::Failed(m) => wit::auth::AuthError::Failed(m),
        })
    }
}

impl wit::log::Host for HostState {
    fn event(&mut self, level: wit::log::Level, feature: String, event: String, fields: Vec<(String, String)>) {
        self.charge_import(feature.len() + event.len() + fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>());
        let level = match level {
            wit::log::Level::Trace => Level::Trace,
            wit::log::Level::Debug => Level::Debug,
            wit::log::Level::Info => Level::Info,
            wit::log::Level::Warn => Level::Warn,
            wit::log::Level::Error => Level::Error,
        };
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.log.event(level, &feature, &event, &fields);
    }
}

impl wit::progress::Host for HostState {
    fn report(&mut self, feature: String, phase: String, done: u64, total: Option<u64>) {
        self.charge_import(feature.len() + phase.len() + 16);
        self.progress.report(&feature, &phase, done, total);
    }
}

fn headers_len(headers: &[(String, String)]) -> usize {
    headers.iter().map(|(k, v)| k.len() + v.len()).sum()
}
