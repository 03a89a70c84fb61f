//! The `Transport` seam over cw-host's own HTTP broker (trakt-host's `imports::http`): the
//! same policy, signing, framing, timeouts and failure kinds the component's `http` import
//! gets, so the two runners differ only in where the plugin's code runs.

use trakt_adapter::native::{Request, Response, Transport, TransportError};
use trakt_host::imports::http::{HttpBroker, HttpFault, HttpRequest};

pub struct HttpTransport {
    broker: HttpBroker,
}

impl HttpTransport {
    pub fn new(broker: HttpBroker) -> HttpTransport {
        HttpTransport { broker }
    }
}

impl Transport for HttpTransport {
    fn send(&mut self, req: &Request) -> Result<Response, TransportError> {
        let request = HttpRequest {
            method: req.method.as_str().to_string(),
            url: req.url.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            timeout_ms: req.timeout_ms,
            deadline: None,
        };
        match self.broker.send(request) {
            Ok(r) => Ok(Response { status: r.status, headers: r.headers, body: r.body }),
            Err(HttpFault::Denied(m)) => Err(TransportError::Denied(m)),
            Err(HttpFault::Timeout(m) | HttpFault::CallDeadline(m)) => Err(TransportError::Timeout(m)),
            Err(HttpFault::Connect(m)) => Err(TransportError::Connect(m)),
            Err(HttpFault::ConnectionLost(m)) => Err(TransportError::ConnectionLost(m)),
            Err(HttpFault::Tls(m)) => Err(TransportError::Tls(m)),
            Err(HttpFault::InvalidRequest(m)) => Err(TransportError::InvalidRequest(m)),
        }
    }
}
