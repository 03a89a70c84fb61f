//! [`Reply`]: a response as handlers build it, before it becomes HTTP.

use axum::body::Body;
use axum::response::Response;
use serde_json::{json, Value};

/// A response before it becomes HTTP.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: ReplyBody,
}

#[derive(Debug, Clone)]
pub(crate) enum ReplyBody {
    Empty,
    Json(Value),
    /// JSON already serialized (large pages are rendered straight to text).
    JsonText(String),
    Html(String),
    /// Bytes with an optional `Content-Type`.
    Raw {
        content_type: Option<String>,
        bytes: Vec<u8>,
    },
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply { status, headers: Vec::new(), body: ReplyBody::Json(body) }
    }

    /// Trakt's error body: `{"error": .., "error_description": ..}` (the OAuth error
    /// shape, which Trakt's API uses for its own errors too).
    pub(crate) fn error(status: u16, error: &str, description: impl Into<String>) -> Reply {
        Reply::json(status, json!({ "error": error, "error_description": description.into() }))
    }

    /// A reply whose body is JSON text rendered by the handler.
    pub(crate) fn json_text(status: u16, body: String) -> Reply {
        Reply { status, headers: Vec::new(), body: ReplyBody::JsonText(body) }
    }

    pub(crate) fn empty(status: u16) -> Reply {
        Reply { status, headers: Vec::new(), body: ReplyBody::Empty }
    }

    pub(crate) fn html(status: u16, text: impl Into<String>) -> Reply {
        Reply { status, headers: Vec::new(), body: ReplyBody::Html(text.into()) }
    }

    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub(crate) fn into_response(self) -> Response {
        let (bytes, content_type) = match self.body {
            ReplyBody::Empty => (Vec::new(), None),
            ReplyBody::Json(v) => {
                (serde_json::to_vec(&v).unwrap_or_default(), Some("application/json; charset=utf-8".to_string()))
            }
            ReplyBody::JsonText(s) => (s.into_bytes(), Some("application/json; charset=utf-8".to_string())),
            ReplyBody::Html(s) => (s.into_bytes(), Some("text/html; charset=UTF-8".to_string())),
            ReplyBody::Raw { content_type, bytes } => (bytes, content_type),
        };
        let mut b = Response::builder().status(self.status);
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        for (k, v) in &self.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        b.body(Body::from(bytes)).unwrap_or_else(|_| {
            let mut r = Response::new(Body::from("emulator: invalid response header"));
            *r.status_mut() = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            r
        })
    }
}
