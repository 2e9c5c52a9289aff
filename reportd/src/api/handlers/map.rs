//! The world map (`/v1/worldmap`): the window's places, drawn server-side as SVG or PNG, one
//! map at a time.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::ApiError;
use crate::api::params::{Params, Query, WINDOW_PARAMS};
use crate::api::{ApiResult, AppState};
use crate::query;
use crate::window::Window;

/// Maps drawn at once; more requests wait for their turn.
static MAP_RENDERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// A map to draw, and where its bytes go.
type Drawing = Box<dyn FnOnce() + Send>;

/// The one thread that draws maps. Drawn one at a time on whichever blocking thread was free,
/// each map's buffers were freed into that thread's allocator arena and taken again from the
/// next thread's: eight maps in a row grew the process by up to 54 MB instead of 19 (glibc keeps
/// an arena per thread). One thread reuses one arena's memory.
fn renderer() -> &'static std::sync::mpsc::SyncSender<Drawing> {
    static RENDERER: std::sync::OnceLock<std::sync::mpsc::SyncSender<Drawing>> =
        std::sync::OnceLock::new();
    RENDERER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Drawing>(1);
        let spawned = std::thread::Builder::new()
            .name("map-renderer".into())
            .spawn(move || {
                for draw in rx {
                    draw();
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the map renderer thread");
        }
        tx
    })
}

/// The widest PNG map drawn.
const MAX_PNG_WIDTH: u32 = 2048;

/// The map of the window's attack sources (`format=svg|png`, `width`).
pub(in crate::api) async fn worldmap(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let known: Vec<&str> = WINDOW_PARAMS
        .iter()
        .copied()
        .chain(["sensor", "format", "width", "_"])
        .collect();
    let p = Params::new(q, &known)?;
    let (window, filter) = p.filter()?;
    let png = match p.get("format") {
        None | Some("svg") => false,
        Some("png") => true,
        Some(other) => {
            return Err(ApiError::bad_parameter(
                "format",
                format!("{other:?} is not svg or png"),
            ));
        }
    };
    // A PNG is drawn here, pixel by pixel (a 2048-pixel one is an 8 MB canvas); an SVG is text
    // the browser draws.
    let max_width = if png { MAX_PNG_WIDTH } else { 4096 };
    let width = match p.get("width") {
        None => 1024,
        Some(w) => w
            .parse::<u32>()
            .ok()
            .filter(|w| (256..=max_width).contains(w))
            .ok_or_else(|| {
                ApiError::bad_parameter(
                    "width",
                    format!(
                        "{w:?} is not a width from 256 to {max_width}{}",
                        if png { " (for a PNG)" } else { "" }
                    ),
                )
            })?,
    };
    let (places, unique, total) = s.db.read(move |c| query::places(c, &filter)).await?;
    // Short enough for the title band (63 characters at the default width).
    let plural = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let title = format!(
        "last {}: {}, {}",
        window_words(&window),
        plural(unique, "unique address", "unique addresses"),
        plural(total, "attack", "attacks")
    );
    let points: Vec<crate::worldmap::MapPoint> = places
        .iter()
        .map(|p| crate::worldmap::MapPoint {
            latitude: p.latitude,
            longitude: p.longitude,
            count: p.count,
        })
        .collect();
    // Maps are drawn one at a time: sixteen concurrent 4096-pixel PNGs took `recce7 up` to
    // 964 MB (the sensor shares that process), and a Pi has 512 MB.
    let turn = MAP_RENDERS.acquire().await.map_err(ApiError::internal)?;
    let (done, drawn) = tokio::sync::oneshot::channel();
    let draw: Drawing = Box::new(move || {
        // The turn ends when the map is drawn, not when the request ends: a client that asks
        // and goes away cannot queue map after map behind the renderer.
        let _turn = turn;
        let map = crate::worldmap::WorldMap::embedded();
        let result = if png {
            map.png(&points, &title, width).map(|b| ("image/png", b))
        } else {
            Ok((
                "image/svg+xml",
                map.svg(&points, &title, width).into_bytes(),
            ))
        };
        let _ = done.send(result);
    });
    // The turn is ours until the map is drawn, so the renderer is idle and its one-slot queue
    // empty: this never waits.
    renderer()
        .send(draw)
        .map_err(|_| ApiError::internal("the map renderer thread is gone"))?;
    let drawn = drawn
        .await
        .map_err(|_| ApiError::internal("the map renderer dropped a map"))?
        .map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, drawn.0),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        drawn.1,
    )
        .into_response())
}

/// `days=7` as "7 days".
fn window_words(w: &Window) -> String {
    let (unit, n) = w.label.split_once('=').unwrap_or(("days", "1"));
    let unit = if n == "1" {
        unit.trim_end_matches('s')
    } else {
        unit
    };
    format!("{n} {unit}")
}
