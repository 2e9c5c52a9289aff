//! The live stream (`/v1/stream`): server-sent events, one per new session, at most
//! [`MAX_STREAMS`] at once.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::AppState;
use super::handlers::SUMMARY_TEXT_BYTES;
use super::params::{Params, Query};
use crate::ApiError;
use crate::metrics::HttpMetrics;
use crate::query;

/// Live-update streams served at once; more get a 503.
const MAX_STREAMS: i64 = 64;

/// How often the live stream looks for new sessions.
const STREAM_POLL: Duration = Duration::from_millis(500);

/// Decrements the stream gauge when a stream ends.
struct StreamGuard(Arc<HttpMetrics>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.stream_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Server-sent events: one `session` event per new session (its summary, never its rows), as
/// they are recorded. The dashboard adds each to its table and refreshes its counters at most
/// every few seconds, never the whole session list.
pub(super) async fn stream(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    Params::new(q, &[])?;
    if s.metrics.stream_clients.fetch_add(1, Ordering::Relaxed) >= MAX_STREAMS {
        s.metrics.stream_clients.fetch_sub(1, Ordering::Relaxed);
        return Err(ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!("at most {MAX_STREAMS} live streams at once"),
            parameter: None,
        });
    }
    let guard = StreamGuard(s.metrics.clone());
    let last = s.db.read(query::latest_rowid).await?;
    let db = s.db.clone();
    let stop = s.shutdown.clone();
    let events = futures_util::stream::unfold(
        (db, last, guard, Vec::<Event>::new()),
        move |(db, mut last, guard, mut pending)| {
            let stop = stop.clone();
            async move {
                loop {
                    if let Some(e) = pending.pop() {
                        return Some((Ok(e), (db, last, guard, pending)));
                    }
                    tokio::select! {
                        () = stop.cancelled() => return None,
                        () = tokio::time::sleep(STREAM_POLL) => {}
                    }
                    let after = last;
                    let Ok(new) = db
                        .read(move |c| query::sessions_after(c, after, 100, SUMMARY_TEXT_BYTES))
                        .await
                    else {
                        continue;
                    };
                    for (rowid, session) in new.into_iter().rev() {
                        last = last.max(rowid);
                        if let Ok(e) = Event::default().event("session").json_data(&session) {
                            pending.push(e);
                        }
                    }
                }
            }
        },
    );
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
