//! The registrar's errors: what stops it from starting or serving ([`RegistrarError`]), what
//! the registry (the SQLite file shared with the broker) can fail with ([`RegistryError`]), and
//! the JSON answer a refused request gets ([`ApiError`], MHN's `{"error": "..."}`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// MHN's answer to a wrong or missing deploy key or admin token (`mhn/api/errors.py`).
pub const NOT_AUTHORIZED: &str = "Not authorized to perform this request.";

/// MHN's answer to an unknown sensor.
pub const NOT_FOUND: &str = "Requested resource was not found.";

/// Everything that stops the registrar from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum RegistrarError {
    /// The broker's auth store cannot be opened or prepared.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        reason: String,
    },
    /// The server failed while running.
    #[error("serving: {0}")]
    Serve(String),
    /// The configuration has problems.
    #[error(transparent)]
    Config(#[from] roleconfig::ConfigProblems),
}

/// Why the registry failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The file cannot be created with restrictive permissions.
    #[error("cannot create {path}: {reason}")]
    Create {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// SQLite failed.
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    /// The OS random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    /// The blocking task that ran the query failed (a panic).
    #[error("the registry task failed: {0}")]
    Task(String),
    /// The name is taken by a sensor that is not revoked.
    #[error("taken")]
    Taken,
    /// `limits.max_sensors` sensors are registered and not revoked.
    #[error("full")]
    Full,
}

/// A refused request: a status and MHN's JSON body `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What is wrong, for a person (never a secret, never an internal cause).
    pub message: String,
    /// Seconds to wait before trying again (429 only).
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401 with MHN's text.
    pub fn not_authorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, NOT_AUTHORIZED)
    }

    /// 404 with MHN's text.
    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, NOT_FOUND)
    }

    /// 500; the cause goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "registry error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "registry error (see the registrar's log)",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
