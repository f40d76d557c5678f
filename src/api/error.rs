//! Errors as the APIs answer them: Docker's `{"message": "..."}` and
//! libpod's `{"cause", "message", "response"}`, with the status the engine
//! error's kind gives (404 not found, 409 conflict or invalid state, 400 bad
//! input, 500 otherwise). Clients show `message` to their users, so it is
//! the same one line the CLI prints.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::prefix::ApiVersion;
use crate::engine;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// The innermost cause, for libpod's `cause` field.
    pub cause: String,
    pub flavor: ApiVersion,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>, flavor: ApiVersion) -> ApiError {
        let message = message.into();
        ApiError {
            status,
            cause: message.clone(),
            message,
            flavor,
        }
    }

    pub fn from_engine(e: &engine::Error, flavor: ApiVersion) -> ApiError {
        let status = StatusCode::from_u16(e.kind().http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let cause = e.chain().last().map(|c| c.to_string()).unwrap_or_default();
        ApiError {
            status,
            message: e.text(),
            cause,
            flavor,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.flavor {
            ApiVersion::Docker(..) => serde_json::json!({ "message": self.message }),
            ApiVersion::Libpod => serde_json::json!({
                "cause": self.cause,
                "message": self.message,
                "response": self.status.as_u16(),
            }),
        };
        (self.status, Json(body)).into_response()
    }
}
