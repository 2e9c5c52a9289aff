//! A server-side world map of attack sources, drawn as SVG or PNG.
//!
//! The country shapes come from Natural Earth's 1:110m countries (via the
//! `world-atlas` 2.0.2 TopoJSON file, compiled in from
//! `assets/countries-110m.json`). They are decoded once into an
//! equirectangular plane, with every ring that crosses the ±180° meridian
//! split there, so that rendering is only scaling, formatting and
//! rasterizing.
//!
//! # Layout
//!
//! Both outputs share one layout, for a requested `width` (clamped to
//! [`MIN_WIDTH`]..=[`MAX_WIDTH`]):
//!
//! * the image is `width` × (`TITLE_BAND_HEIGHT` + `width / 2`) pixels;
//! * a title band [`TITLE_BAND_HEIGHT`] (24) pixels high at the top holds the
//!   title line, left-aligned 8 px from the edge, cut to the characters that
//!   fit (8 px per character, 16 px when `width` ≥ 800);
//! * below it the whole world, equirectangular: longitude −180…180 maps to
//!   x = 0…`width`, latitude 90…−90 to y = 24…24 + `width / 2`;
//! * attack points are circles whose radius grows with the logarithm of their
//!   count (capped), drawn largest first so that small ones stay visible.
//!   Points that fall into the same map pixel are merged (their counts are
//!   added; if more than 4096 circles would remain, on a coarser grid), and
//!   points with a zero count, non-finite coordinates, a
//!   latitude outside −90…90 or a longitude outside −180…180 are ignored.
//!
//! The SVG output is deterministic (same input, same bytes) and rounds
//! coordinates to 0.1 px.

use std::fmt::Write as _;
use std::sync::OnceLock;

pub use crate::error::MapError;

mod geometry;
mod layout;
mod topojson;

#[cfg(test)]
mod tests;

use geometry::{arc_lists, assemble_ring, bad_arcs, decode_arcs, split_ring};
use layout::{
    Layout, dots, draw_title_band, fit_title, hex, push_number_sep, push_tenths, push_xml_escaped,
    rgb, tenths,
};
use topojson::{RawGeometry, RawTopology};

/// Height in pixels of the title band above the map, in both SVG and PNG.
pub const TITLE_BAND_HEIGHT: u32 = 24;

/// The smallest width drawn; smaller requested widths are raised to it.
pub const MIN_WIDTH: u32 = 128;

/// The largest width drawn; larger requested widths are lowered to it
/// (a 4096-wide PNG already needs about 34 MB of pixels).
pub const MAX_WIDTH: u32 = 4096;

/// The embedded Natural Earth 1:110m countries (world-atlas 2.0.2).
static EMBEDDED_TOPOJSON: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/countries-110m.json"
));

// Colours shared by SVG and PNG, as RGB.
const BAND_RGB: [u8; 3] = [0x1f, 0x29, 0x33];
const TITLE_RGB: [u8; 3] = [0xff, 0xff, 0xff];
const OCEAN_RGB: [u8; 3] = [0xa9, 0xcc, 0xe3];
const LAND_RGB: [u8; 3] = [0xef, 0xe9, 0xd8];
const BORDER_RGB: [u8; 3] = [0x7d, 0x7a, 0x70];
const DOT_RGB: [u8; 3] = [0xd7, 0x19, 0x1c];
const DOT_EDGE_RGB: [u8; 3] = [0x8b, 0x00, 0x00];
/// Width of country borders and dot outlines, in pixels.
const LINE_WIDTH: f32 = 0.5;
/// Opacity of a dot's fill.
const DOT_FILL_OPACITY: f32 = 0.55;
/// Opacity of a dot's outline.
const DOT_EDGE_OPACITY: f32 = 0.8;
/// Left margin of the title, in pixels.
const TITLE_MARGIN: u32 = 8;
/// Longest step, in degrees, when a ring is closed along a pole line.
const POLE_STEP_DEG: f64 = 45.0;

/// One place on the map: where attacks came from, and how many.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MapPoint {
    /// Latitude in degrees, −90 (south) to 90 (north).
    pub latitude: f64,
    /// Longitude in degrees, −180 (west) to 180 (east).
    pub longitude: f64,
    /// How many attacks came from there; a zero count is not drawn.
    pub count: u64,
}

/// The country shapes, decoded once (projected to an equirectangular plane,
/// rings split at ±180°).
///
/// Coordinates are kept normalized: x = (lon + 180) / 360 and
/// y = (90 − lat) / 180, both in 0…1, so that any width is a plain scaling.
#[derive(Clone)]
pub struct WorldMap {
    /// Every ring's points, one after the other (not repeating the first
    /// point at the end).
    points: Vec<[f32; 2]>,
    /// Where each ring ends in `points` (exclusive).
    ring_ends: Vec<u32>,
    /// How many Polygon/MultiPolygon geometries gave at least one ring.
    countries: usize,
}

impl std::fmt::Debug for WorldMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorldMap")
            .field("countries", &self.countries)
            .field("rings", &self.ring_ends.len())
            .field("points", &self.points.len())
            .finish()
    }
}

impl WorldMap {
    /// The embedded Natural Earth 110m countries, decoded on first use and
    /// shared afterwards.
    pub fn embedded() -> &'static WorldMap {
        static MAP: OnceLock<WorldMap> = OnceLock::new();
        MAP.get_or_init(|| {
            WorldMap::from_topojson(EMBEDDED_TOPOJSON)
                .expect("the embedded countries-110m.json is valid TopoJSON (checked by tests)")
        })
    }

    /// Decodes a TopoJSON topology (its `countries` object, or the first
    /// object if absent).
    ///
    /// Polygon and MultiPolygon geometries are used, also inside (nested)
    /// GeometryCollections; other geometry types are skipped. Positions
    /// must be longitude/latitude degrees (quantized with a `transform`, or
    /// not).
    pub fn from_topojson(bytes: &[u8]) -> Result<WorldMap, MapError> {
        let raw: RawTopology = serde_json::from_slice(bytes)
            .map_err(|e| MapError::Topology(format!("invalid JSON: {e}")))?;
        if raw.kind != "Topology" {
            return Err(MapError::Topology(format!(
                "type is {:?}, not \"Topology\"",
                raw.kind
            )));
        }
        let arcs = decode_arcs(&raw.arcs, raw.transform.as_ref())?;
        let objects = raw.objects.0;
        let object = match objects.iter().position(|(name, _)| name == "countries") {
            Some(i) => &objects[i].1,
            None => match objects.first() {
                Some((_, geometry)) => geometry,
                None => return Err(MapError::Topology("no objects".into())),
            },
        };
        let mut map = WorldMap {
            points: Vec::new(),
            ring_ends: Vec::new(),
            countries: 0,
        };
        map.add_geometry(object, &arcs, 0)?;
        Ok(map)
    }

    /// The map as an SVG document `width` pixels wide (height = width / 2),
    /// with a title line at the top.
    ///
    /// The document is `width` × (`width / 2` + [`TITLE_BAND_HEIGHT`])
    /// pixels; see the module documentation for the layout. `width` is
    /// clamped to [`MIN_WIDTH`]..=[`MAX_WIDTH`].
    pub fn svg(&self, points: &[MapPoint], title: &str, width: u32) -> String {
        let layout = Layout::new(width);
        let dots = dots(points, &layout);
        let title = fit_title(title, &layout);
        let (w, h, band) = (layout.width, layout.map_height, TITLE_BAND_HEIGHT);
        let total = h + band;

        let mut out = String::with_capacity(96 * 1024 + dots.len() * 48);
        // `write!` into a String cannot fail; the results are ignored.
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{total}\" \
             viewBox=\"0 0 {w} {total}\">\n\
             <rect y=\"{band}\" width=\"{w}\" height=\"{h}\" fill=\"{}\"/>\n\
             <g transform=\"translate(0 {band})\">\n\
             <path fill=\"{}\" stroke=\"{}\" stroke-width=\"{LINE_WIDTH}\" \
             stroke-linejoin=\"round\" fill-rule=\"evenodd\" d=\"",
            hex(OCEAN_RGB),
            hex(LAND_RGB),
            hex(BORDER_RGB),
        );
        self.push_svg_path(&mut out, &layout);
        out.push_str("\"/>\n");
        if !dots.is_empty() {
            let _ = writeln!(
                out,
                "<g fill=\"{}\" fill-opacity=\"{DOT_FILL_OPACITY}\" stroke=\"{}\" \
                 stroke-opacity=\"{DOT_EDGE_OPACITY}\" stroke-width=\"{LINE_WIDTH}\">",
                hex(DOT_RGB),
                hex(DOT_EDGE_RGB),
            );
            for dot in &dots {
                out.push_str("<circle cx=\"");
                push_tenths(&mut out, tenths(dot.x), true);
                out.push_str("\" cy=\"");
                push_tenths(&mut out, tenths(dot.y), true);
                out.push_str("\" r=\"");
                push_tenths(&mut out, tenths(dot.r).max(1), true);
                out.push_str("\"/>\n");
            }
            out.push_str("</g>\n");
        }
        out.push_str("</g>\n");
        // The band and title come last so that dots near the pole stay under it.
        let font_size = if layout.glyph_scale == 2 { 16 } else { 12 };
        let baseline = if layout.glyph_scale == 2 { 17 } else { 16 };
        let _ = write!(
            out,
            "<rect width=\"{w}\" height=\"{band}\" fill=\"{}\"/>\n\
             <text x=\"{TITLE_MARGIN}\" y=\"{baseline}\" font-family=\"monospace\" \
             font-size=\"{font_size}\" fill=\"{}\">",
            hex(BAND_RGB),
            hex(TITLE_RGB),
        );
        push_xml_escaped(&mut out, &title);
        out.push_str("</text>\n</svg>\n");
        out
    }

    /// The same map as PNG bytes.
    ///
    /// Countries and circles are anti-aliased; the title is drawn with the
    /// public-domain 8×8 bitmap font (doubled when `width` ≥ 800). Characters
    /// the font lacks (outside Latin-1) are drawn as `?`.
    ///
    /// Encoded by the `png` crate at its fast compression (tiny-skia's own encoder spends 40 ms
    /// of a 56 ms render compressing; fast is 2 ms and 9% larger), as RGB: the ocean is opaque,
    /// so every pixel is.
    pub fn png(&self, points: &[MapPoint], title: &str, width: u32) -> Result<Vec<u8>, MapError> {
        let pixmap = self.render_pixmap(points, title, width)?;
        let rgb: Vec<u8> = pixmap
            .data()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let mut out = Vec::with_capacity(rgb.len() / 4);
        let mut encoder = png::Encoder::new(&mut out, pixmap.width(), pixmap.height());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let png_error = |e: png::EncodingError| MapError::Png(e.to_string());
        let mut writer = encoder.write_header().map_err(png_error)?;
        writer.write_image_data(&rgb).map_err(png_error)?;
        writer.finish().map_err(png_error)?;
        Ok(out)
    }

    /// Draws the map onto a new pixmap (the PNG before encoding).
    fn render_pixmap(
        &self,
        points: &[MapPoint],
        title: &str,
        width: u32,
    ) -> Result<tiny_skia::Pixmap, MapError> {
        use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, Stroke, Transform};

        let layout = Layout::new(width);
        let dots = dots(points, &layout);
        let title = fit_title(title, &layout);
        let band = TITLE_BAND_HEIGHT;
        let mut pixmap = Pixmap::new(layout.width, layout.map_height + band).ok_or_else(|| {
            MapError::Png(format!(
                "cannot allocate a {}x{} image",
                layout.width,
                layout.map_height + band
            ))
        })?;
        pixmap.fill(rgb(OCEAN_RGB, 1.0));

        let (sx, sy, dy) = (layout.width as f32, layout.map_height as f32, band as f32);
        let mut builder =
            PathBuilder::with_capacity(self.points.len() + self.ring_ends.len(), self.points.len());
        let mut start = 0usize;
        for &end in &self.ring_ends {
            let ring = &self.points[start..end as usize];
            start = end as usize;
            if let Some((first, rest)) = ring.split_first() {
                builder.move_to(first[0] * sx, first[1] * sy + dy);
                for p in rest {
                    builder.line_to(p[0] * sx, p[1] * sy + dy);
                }
                builder.close();
            }
        }
        let mut paint = Paint {
            anti_alias: true,
            ..Paint::default()
        };
        let stroke = Stroke {
            width: LINE_WIDTH,
            ..Stroke::default()
        };
        if let Some(path) = builder.finish() {
            paint.set_color(rgb(LAND_RGB, 1.0));
            pixmap.fill_path(
                &path,
                &paint,
                FillRule::EvenOdd,
                Transform::identity(),
                None,
            );
            paint.set_color(rgb(BORDER_RGB, 1.0));
            pixmap.stroke_path(&path, &paint, &stroke, Transform::identity(), None);
        }

        // Fills one by one (so overlaps darken, as in the SVG); the outlines
        // as one hairline path on top, which is much cheaper than one stroke
        // call per circle.
        paint.set_color(rgb(DOT_RGB, DOT_FILL_OPACITY));
        let mut outlines = PathBuilder::with_capacity(dots.len() * 6, dots.len() * 13);
        for dot in &dots {
            if let Some(circle) = PathBuilder::from_circle(dot.x, dot.y + dy, dot.r) {
                pixmap.fill_path(
                    &circle,
                    &paint,
                    FillRule::Winding,
                    Transform::identity(),
                    None,
                );
            }
            outlines.push_circle(dot.x, dot.y + dy, dot.r);
        }
        if let Some(path) = outlines.finish() {
            paint.set_color(rgb(DOT_EDGE_RGB, DOT_EDGE_OPACITY));
            pixmap.stroke_path(&path, &paint, &stroke, Transform::identity(), None);
        }

        draw_title_band(&mut pixmap, &title, &layout);
        Ok(pixmap)
    }

    /// Adds the rings of one geometry (recursing into collections).
    fn add_geometry(
        &mut self,
        geometry: &RawGeometry,
        arcs: &[Vec<[f64; 2]>],
        depth: usize,
    ) -> Result<(), MapError> {
        let kind = geometry.kind.as_deref().unwrap_or("");
        let polygons: Vec<Vec<Vec<i64>>> = match kind {
            "GeometryCollection" => {
                if depth > 16 {
                    return Err(MapError::Topology(
                        "GeometryCollections nested too deeply".into(),
                    ));
                }
                for child in geometry.geometries.iter().flatten() {
                    self.add_geometry(child, arcs, depth + 1)?;
                }
                return Ok(());
            }
            "Polygon" => vec![arc_lists(geometry.arcs.as_ref(), kind)?],
            "MultiPolygon" => match geometry.arcs.as_ref() {
                Some(serde_json::Value::Array(polys)) => polys
                    .iter()
                    .map(|p| arc_lists(Some(p), kind))
                    .collect::<Result<_, _>>()?,
                _ => return Err(bad_arcs(kind)),
            },
            // Points, lines and null geometries have no area to draw.
            _ => return Ok(()),
        };
        let rings_before = self.ring_ends.len();
        let mut lonlat = Vec::new();
        let mut pieces = Vec::new();
        for polygon in &polygons {
            for ring in polygon {
                assemble_ring(ring, arcs, &mut lonlat)?;
                pieces.clear();
                split_ring(&lonlat, &mut pieces);
                for piece in &pieces {
                    self.push_ring(piece);
                }
            }
        }
        if self.ring_ends.len() > rings_before {
            self.countries += 1;
        }
        Ok(())
    }

    /// Stores one ring (longitude/latitude, within ±180°) projected.
    fn push_ring(&mut self, ring: &[[f64; 2]]) {
        let start = self.points.len();
        for &[lon, lat] in ring {
            let p = [
                ((lon + 180.0) / 360.0) as f32,
                ((90.0 - lat) / 180.0) as f32,
            ];
            if self.points.len() > start && self.points.last() == Some(&p) {
                continue;
            }
            self.points.push(p);
        }
        while self.points.len() > start + 1 && self.points.last() == self.points.get(start) {
            self.points.pop();
        }
        if self.points.len() - start < 3 {
            self.points.truncate(start);
            return;
        }
        // More than 4 billion points cannot come from a JSON file we accept.
        self.ring_ends
            .push(u32::try_from(self.points.len()).unwrap_or(u32::MAX));
    }

    /// Appends the country rings as SVG path data (absolute `M` per ring,
    /// then relative `l` steps, in tenths of a pixel).
    fn push_svg_path(&self, out: &mut String, layout: &Layout) {
        let sx = f64::from(layout.width) * 10.0;
        let sy = f64::from(layout.map_height) * 10.0;
        let mut ring_tenths: Vec<(i64, i64)> = Vec::new();
        let mut start = 0usize;
        let mut first_ring = true;
        for &end in &self.ring_ends {
            let ring = &self.points[start..end as usize];
            start = end as usize;
            ring_tenths.clear();
            for p in ring {
                let q = (
                    (f64::from(p[0]) * sx).round() as i64,
                    (f64::from(p[1]) * sy).round() as i64,
                );
                if ring_tenths.last() != Some(&q) {
                    ring_tenths.push(q);
                }
            }
            while ring_tenths.len() > 1 && ring_tenths.last() == ring_tenths.first() {
                ring_tenths.pop();
            }
            if ring_tenths.len() < 3 {
                continue;
            }
            if !first_ring {
                out.push(' ');
            }
            first_ring = false;
            let (x0, y0) = ring_tenths[0];
            out.push('M');
            push_tenths(out, x0, false);
            push_number_sep(out, y0);
            push_tenths(out, y0, false);
            out.push('l');
            let mut need_sep = false;
            let mut prev = (x0, y0);
            for &(x, y) in &ring_tenths[1..] {
                for v in [x - prev.0, y - prev.1] {
                    if need_sep && v >= 0 {
                        out.push(' ');
                    }
                    push_tenths(out, v, false);
                    need_sep = true;
                }
                prev = (x, y);
            }
            out.push('z');
        }
    }
}
