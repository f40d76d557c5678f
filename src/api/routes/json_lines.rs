//! A streamed answer of JSON objects, one a line, fed from a blocking
//! thread: the progress streams of pull and push (Docker's and Podman's).
//!
//! The channel is unbounded because the registry client reports progress
//! from inside its own runtime, where a blocking send cannot wait; the
//! lines are few (one or two a layer), so a stalled client holds little.
//! A client that hangs up gets nothing more, but the work goes on to its
//! end, so that a transfer is never left half-done.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use crate::api::server::{Hold, Shared};

/// The sending end handed to the work.
pub(super) struct JsonLines(UnboundedSender<Bytes>);

impl JsonLines {
    pub(super) fn send(&self, v: &Value) {
        // Fails only when the client left; the work goes on.
        let _ = self.0.send(Bytes::from(format!("{v}\n")));
    }
}

/// 200 with `application/json`, the body being what `work` sends from a
/// blocking thread; the service counts as busy until the body ends.
pub(super) fn respond(shared: &Shared, work: impl FnOnce(JsonLines) + Send + 'static) -> Response {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    tokio::task::spawn_blocking(move || work(JsonLines(tx)));
    let hold = Hold::new(shared);
    let body = futures_util::stream::poll_fn(move |cx| {
        let _ = &hold;
        rx.poll_recv(cx).map(|b| b.map(Ok::<_, Infallible>))
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}
