//! The errors of the report service: what stops it from starting ([`ReportError`]), what a
//! query on the database can fail with ([`QueryError`]), and the JSON error answer a request
//! gets ([`ApiError`]).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Everything that stops the service from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The database cannot be opened.
    #[error("cannot open the database {path}: {reason}")]
    Open {
        /// The path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        reason: String,
    },
    /// The listen address is not loopback and there is no token.
    #[error("refusing to serve on {addr}: token {reason}")]
    Exposed {
        /// The address.
        addr: std::net::SocketAddr,
        /// The rule broken.
        reason: String,
    },
    /// The server failed while running.
    #[error("serving: {0}")]
    Serve(String),
    /// The configuration has problems.
    #[error(transparent)]
    Config(#[from] roleconfig::ConfigProblems),
}

/// An error answer: a status and a JSON body that names the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What is wrong, for a person.
    pub message: String,
    /// The query or path parameter at fault, if one is.
    pub parameter: Option<String>,
}

impl ApiError {
    /// A 400 naming the parameter.
    pub fn bad_parameter(parameter: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            parameter: Some(parameter.to_owned()),
        }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            parameter: None,
        }
    }

    /// A 503: the store does not exist yet (reportd started before the sensor or the
    /// normalizer that creates it).
    pub fn store_not_created() -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "the store does not exist yet: the sensor or the normalizer creates it when it starts".into(),
            parameter: None,
        }
    }

    /// A 500 (the database failed); the detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %detail, "database error");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "database error (see the service's log)".into(),
            parameter: None,
        }
    }
}

/// Why a query on the database failed. The queries take already-checked parameters (cursors
/// are parsed by the API), so the database is all that can fail.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// SQLite failed, or stopped a query that ran past `query_timeout_ms`.
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    /// The store's own tables (`storeMeta`) could not be read.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> ApiError {
        match e {
            QueryError::Sql(e) | QueryError::Store(store::StoreError::Sqlite(e)) => {
                ApiError::from(e)
            }
            QueryError::Store(e) => ApiError::internal(e),
        }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(e: rusqlite::Error) -> ApiError {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted) {
            return ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "the query took longer than query_timeout_ms and was stopped; ask for a shorter window or fewer rows".into(),
                parameter: None,
            };
        }
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "error": self.message,
            "status": self.status.as_u16(),
        });
        if let Some(p) = &self.parameter {
            body["parameter"] = serde_json::Value::String(p.clone());
        }
        (self.status, Json(body)).into_response()
    }
}

/// Why a map could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The TopoJSON topology could not be decoded or is not usable.
    #[error("bad TopoJSON topology: {0}")]
    Topology(String),
    /// The PNG could not be produced.
    #[error("cannot encode PNG: {0}")]
    Png(String),
}
