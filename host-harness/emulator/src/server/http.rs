//! The axum glue: every request is read whole and handed to `Shared::process`; the answer
//! leaves as the fault in force says (delayed, dropped, truncated).

use std::sync::Arc;

use axum::response::Response;

use crate::faults::ConnHandle;
use crate::reply::Reply;

use super::dispatch::{Outcome, Transport};
use super::request::Incoming;
use super::shared::Shared;

/// The axum entry point: every request goes through [`Shared::process`]; connection-level faults
/// act through the connection's [`ConnHandle`].
pub(crate) async fn handle(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    axum::extract::ConnectInfo(conn): axum::extract::ConnectInfo<ConnHandle>,
    req: axum::extract::Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, 64 << 20).await {
        Ok(b) => b.to_vec(),
        Err(e) => {
            return Reply::error(400, "bad_request", format!("could not read the request body: {e}")).into_response()
        }
    };
    let incoming = Incoming {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    };
    let Outcome { reply, transport } = shared.process(incoming);
    match transport {
        Transport::Normal => {}
        Transport::Delay(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
        Transport::Drop => conn.drop_response(),
        Transport::Truncate => {
            let response = reply.into_response();
            let len = axum::body::HttpBody::size_hint(response.body()).exact().unwrap_or(0);
            conn.truncate_response((len / 2) as usize);
            return response;
        }
    }
    reply.into_response()
}
