//! Geometry: arcs to rings, rings split at the antimeridian.

use super::topojson::{Position, RawTransform};
use super::{MapError, POLE_STEP_DEG};

/// Decodes all arcs to absolute longitude/latitude positions.
pub(super) fn decode_arcs(
    raw: &[Vec<Position>],
    transform: Option<&RawTransform>,
) -> Result<Vec<Vec<[f64; 2]>>, MapError> {
    let mut arcs = Vec::with_capacity(raw.len());
    for (i, arc) in raw.iter().enumerate() {
        let mut out = Vec::with_capacity(arc.len());
        let (mut x, mut y) = (0.0f64, 0.0f64);
        for &Position(px, py) in arc {
            let (lon, lat) = match transform {
                Some(t) => {
                    x += px;
                    y += py;
                    (
                        x * t.scale[0] + t.translate[0],
                        y * t.scale[1] + t.translate[1],
                    )
                }
                None => (px, py),
            };
            if !(lon.is_finite() && lat.is_finite()) || lon.abs() > 540.0 || lat.abs() > 90.000_001
            {
                return Err(MapError::Topology(format!(
                    "arc {i} has position ({lon}, {lat}), not longitude/latitude degrees"
                )));
            }
            out.push([lon, lat.clamp(-90.0, 90.0)]);
        }
        arcs.push(out);
    }
    Ok(arcs)
}

pub(super) fn bad_arcs(kind: &str) -> MapError {
    MapError::Topology(format!("a {kind} has malformed \"arcs\""))
}

/// A polygon's arcs: a list of rings, each a list of arc indices.
pub(super) fn arc_lists(
    value: Option<&serde_json::Value>,
    kind: &str,
) -> Result<Vec<Vec<i64>>, MapError> {
    let Some(serde_json::Value::Array(rings)) = value else {
        return Err(bad_arcs(kind));
    };
    rings
        .iter()
        .map(|ring| match ring {
            serde_json::Value::Array(ids) => ids
                .iter()
                .map(|id| id.as_i64().ok_or_else(|| bad_arcs(kind)))
                .collect(),
            _ => Err(bad_arcs(kind)),
        })
        .collect()
}

/// Concatenates the arcs of one ring into `out` (longitude/latitude);
/// a negative index `~i` means arc `i` reversed.
pub(super) fn assemble_ring(
    ids: &[i64],
    arcs: &[Vec<[f64; 2]>],
    out: &mut Vec<[f64; 2]>,
) -> Result<(), MapError> {
    out.clear();
    for &id in ids {
        let (index, reversed) = if id < 0 { (!id, true) } else { (id, false) };
        let arc = usize::try_from(index)
            .ok()
            .and_then(|i| arcs.get(i))
            .ok_or_else(|| {
                MapError::Topology(format!("arc index {id} out of range ({} arcs)", arcs.len()))
            })?;
        // Consecutive arcs share their joining position: skip the repeat.
        let skip = usize::from(!out.is_empty());
        if reversed {
            out.extend(arc.iter().rev().skip(skip));
        } else {
            out.extend(arc.iter().skip(skip));
        }
    }
    Ok(())
}

/// Splits a ring (longitude/latitude, possibly crossing ±180°) into rings
/// that lie within −180…180, appended to `out`.
///
/// The ring is first unwrapped (longitudes made continuous, so no step
/// exceeds 180°). A ring that then winds once around a pole (Antarctica) is
/// closed along that pole's line. The result is cut into the −180…180
/// window, also shifted by ±360° for the parts beyond the edges, by
/// clipping — which walks the cut along the map edge.
pub(super) fn split_ring(ring: &[[f64; 2]], out: &mut Vec<Vec<[f64; 2]>>) {
    let mut pts: &[[f64; 2]] = ring;
    while pts.len() > 1 && pts.first() == pts.last() {
        pts = &pts[..pts.len() - 1];
    }
    if pts.len() < 3 {
        return;
    }
    let mut unwrapped: Vec<[f64; 2]> = Vec::with_capacity(pts.len() + 16);
    unwrapped.push(pts[0]);
    for p in &pts[1..] {
        let prev = unwrapped[unwrapped.len() - 1][0];
        unwrapped.push([unwrap_near(p[0], prev), p[1]]);
    }
    // The step back to the first point tells whether the ring winds around a pole.
    let last = unwrapped[unwrapped.len() - 1];
    let closing = unwrap_near(pts[0][0], last[0]);
    let winding = closing - pts[0][0];
    if winding.abs() > 180.0 {
        // Close along the pole the ring is nearest to (its mean latitude's side).
        let mean_lat = pts.iter().map(|p| p[1]).sum::<f64>() / pts.len() as f64;
        let pole = if mean_lat < 0.0 { -90.0 } else { 90.0 };
        unwrapped.push([closing, pts[0][1]]);
        let steps = (winding.abs() / POLE_STEP_DEG).ceil().max(1.0) as usize;
        for k in 0..=steps {
            let lon = closing - winding * (k as f64 / steps as f64);
            unwrapped.push([lon, pole]);
        }
    }

    let (min, max) = unwrapped
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p[0]), hi.max(p[0]))
        });
    let mut shifted = Vec::with_capacity(unwrapped.len());
    for turn in -2i32..=2 {
        let shift = 360.0 * f64::from(turn);
        if max + shift <= -180.0 || min + shift >= 180.0 {
            continue;
        }
        shifted.clear();
        shifted.extend(unwrapped.iter().map(|p| [p[0] + shift, p[1]]));
        let piece = if min + shift >= -180.0 && max + shift <= 180.0 {
            shifted.clone()
        } else {
            let left = clip_half_plane(&shifted, -180.0, true);
            clip_half_plane(&left, 180.0, false)
        };
        if piece.len() >= 3 && ring_area(&piece).abs() > 1e-9 {
            out.push(piece);
        }
    }
}

/// `lon` moved by whole turns to within 180° of `prev`.
pub(super) fn unwrap_near(lon: f64, prev: f64) -> f64 {
    let mut lon = lon;
    while lon - prev > 180.0 {
        lon -= 360.0;
    }
    while lon - prev < -180.0 {
        lon += 360.0;
    }
    lon
}

/// Sutherland–Hodgman clipping of a ring against the vertical line
/// x = `edge`, keeping x ≥ edge (`keep_right`) or x ≤ edge.
pub(super) fn clip_half_plane(ring: &[[f64; 2]], edge: f64, keep_right: bool) -> Vec<[f64; 2]> {
    let inside = |p: &[f64; 2]| {
        if keep_right {
            p[0] >= edge
        } else {
            p[0] <= edge
        }
    };
    let mut out = Vec::with_capacity(ring.len() + 8);
    let Some(mut prev) = ring.last().copied() else {
        return out;
    };
    for &cur in ring {
        let (cur_in, prev_in) = (inside(&cur), inside(&prev));
        if cur_in != prev_in {
            let t = (edge - prev[0]) / (cur[0] - prev[0]);
            out.push([edge, prev[1] + t * (cur[1] - prev[1])]);
        }
        if cur_in {
            out.push(cur);
        }
        prev = cur;
    }
    out
}

/// Signed area (shoelace) of a ring, in square degrees.
pub(super) fn ring_area(ring: &[[f64; 2]]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        / 2.0
}
