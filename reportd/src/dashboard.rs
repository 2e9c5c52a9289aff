//! The web dashboard (`/`): one page, its script and its style sheet, embedded in the binary,
//! loading nothing from elsewhere. It reads the same API as everyone else and updates live from
//! `/v1/stream`. Also the OpenAPI document.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// The OpenAPI 3 document served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../assets/openapi.json");

const INDEX: &str = include_str!("../assets/dashboard/index.html");
const SCRIPT: &str = include_str!("../assets/dashboard/app.js");
const STYLE: &str = include_str!("../assets/dashboard/style.css");

/// `/`.
pub async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'",
            ),
        ],
        INDEX,
    )
        .into_response()
}

/// `/assets/{file}`.
pub async fn asset(Path(file): Path<String>) -> Result<Response, ApiError> {
    let (body, kind) = match file.as_str() {
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return Err(ApiError::not_found(format!("no asset {file:?}"))),
    };
    Ok(([(header::CONTENT_TYPE, kind)], body).into_response())
}
