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

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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

/// The sizes derived from a requested width.
struct Layout {
    /// Image width in pixels (clamped).
    width: u32,
    /// Map height in pixels (`width / 2`).
    map_height: u32,
    /// Title glyph scale: 1 (8 px) or 2 (16 px, from width 800 on).
    glyph_scale: u32,
}

impl Layout {
    fn new(width: u32) -> Layout {
        let width = width.clamp(MIN_WIDTH, MAX_WIDTH);
        Layout {
            width,
            map_height: width / 2,
            glyph_scale: if width >= 800 { 2 } else { 1 },
        }
    }

    /// Scale applied to dot radii: 1 at width 1024.
    fn dot_scale(&self) -> f64 {
        (f64::from(self.width) / 1024.0).max(0.5)
    }
}

/// One circle to draw, in map pixels (y measured from the top of the map).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Dot {
    x: f32,
    y: f32,
    r: f32,
}

/// Radius of a dot for `count` attacks at dot scale 1 (width 1024):
/// 1.5 px for one attack, growing with ln(count), capped at 14 px.
fn dot_radius(count: u64) -> f64 {
    (1.5 + 1.75 * (count.max(1) as f64).ln()).min(14.0)
}

/// The valid points as circles, largest count first.
///
/// Points in the same map pixel are merged into one circle at their
/// count-weighted centre, with their counts added. While that still leaves
/// more than [`MAX_DOTS`] circles, the merging cell is doubled (2, 4, 8 …
/// pixels), which bounds the work for huge point lists; such maps are
/// covered with dots anyway.
fn dots(points: &[MapPoint], layout: &Layout) -> Vec<Dot> {
    let w = f64::from(layout.width);
    let h = f64::from(layout.map_height);
    let mut groups: Vec<Group> = points
        .iter()
        .filter(|p| {
            p.count > 0
                && p.latitude.is_finite()
                && p.longitude.is_finite()
                && (-90.0..=90.0).contains(&p.latitude)
                && (-180.0..=180.0).contains(&p.longitude)
        })
        .map(|p| Group {
            x: (p.longitude + 180.0) / 360.0 * w,
            y: (90.0 - p.latitude) / 180.0 * h,
            count: p.count,
        })
        .collect();
    let mut cell = 1.0f64;
    loop {
        groups = merge_groups(groups, cell, layout);
        if groups.len() <= MAX_DOTS || cell >= w {
            break;
        }
        cell *= 2.0;
    }
    // Largest first (small ones stay visible on top), then top-to-bottom,
    // left-to-right: deterministic.
    groups.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.y.total_cmp(&b.y))
            .then(a.x.total_cmp(&b.x))
    });
    let scale = layout.dot_scale();
    groups
        .into_iter()
        .map(|g| Dot {
            x: g.x as f32,
            y: g.y as f32,
            r: (dot_radius(g.count) * scale) as f32,
        })
        .collect()
}

/// Most circles drawn; more points are merged on a coarser grid.
const MAX_DOTS: usize = 4096;

/// Points merged so far: their count-weighted centre (map pixels) and
/// total count.
#[derive(Debug, Clone, Copy)]
struct Group {
    x: f64,
    y: f64,
    count: u64,
}

/// Merges the groups that fall into the same `cell`-pixel square.
fn merge_groups(mut groups: Vec<Group>, cell: f64, layout: &Layout) -> Vec<Group> {
    let max_x = f64::from(layout.width - 1);
    let max_y = f64::from(layout.map_height - 1);
    // The map's right and bottom edges belong to the last pixel.
    let key = |g: &Group| {
        (
            (g.y.min(max_y) / cell).floor() as u32,
            (g.x.min(max_x) / cell).floor() as u32,
        )
    };
    groups.sort_by(|a, b| {
        key(a)
            .cmp(&key(b))
            .then(a.y.total_cmp(&b.y))
            .then(a.x.total_cmp(&b.x))
            .then(a.count.cmp(&b.count))
    });
    let mut merged: Vec<Group> = Vec::with_capacity(groups.len());
    let mut last_key = None;
    for g in groups {
        let k = key(&g);
        match merged.last_mut() {
            Some(m) if last_key == Some(k) => {
                let (wm, wg) = (m.count as f64, g.count as f64);
                m.x = (m.x * wm + g.x * wg) / (wm + wg);
                m.y = (m.y * wm + g.y * wg) / (wm + wg);
                m.count = m.count.saturating_add(g.count);
            }
            _ => merged.push(g),
        }
        last_key = Some(k);
    }
    merged
}

/// The title as drawn: control characters become spaces, characters that
/// XML forbids become `?`, and it is cut to what fits in the band.
fn fit_title(title: &str, layout: &Layout) -> String {
    let cell = 8 * layout.glyph_scale;
    let max_chars = (layout.width.saturating_sub(2 * TITLE_MARGIN) / cell) as usize;
    title
        .chars()
        .map(|c| match c {
            c if c.is_control() => ' ',
            '\u{FFFE}' | '\u{FFFF}' => '?',
            c => c,
        })
        .take(max_chars)
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// Writes `text` with the five XML special characters escaped.
fn push_xml_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// `#rrggbb` for an RGB triple.
fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A tiny-skia colour from RGB and an opacity.
fn rgb([r, g, b]: [u8; 3], opacity: f32) -> tiny_skia::Color {
    let a = (opacity.clamp(0.0, 1.0) * 255.0).round() as u8;
    tiny_skia::Color::from_rgba8(r, g, b, a)
}

/// A pixel value rounded to tenths, as an integer.
fn tenths(v: f32) -> i64 {
    (f64::from(v) * 10.0).round() as i64
}

/// Pushes a space if the next number (`v` tenths) needs one to be separated
/// from a previous number.
fn push_number_sep(out: &mut String, v: i64) {
    if v >= 0 {
        out.push(' ');
    }
}

/// Writes `v` tenths as a decimal number: `12`, `12.5`, `-0.5` / `-.5`
/// (the leading zero only when `leading_zero`).
fn push_tenths(out: &mut String, v: i64, leading_zero: bool) {
    if v < 0 {
        out.push('-');
    }
    let a = v.unsigned_abs();
    let (int, frac) = (a / 10, a % 10);
    if int != 0 || frac == 0 || leading_zero {
        let _ = write!(out, "{int}");
    }
    if frac != 0 {
        out.push('.');
        out.push(char::from(b'0' + frac as u8));
    }
}

/// Fills the title band and draws the title with the 8×8 bitmap font.
fn draw_title_band(pixmap: &mut tiny_skia::Pixmap, title: &str, layout: &Layout) {
    let width = layout.width as usize;
    let band_px = width * TITLE_BAND_HEIGHT as usize;
    let data = pixmap.data_mut();
    let band = &mut data[..band_px * 4];
    for px in band.chunks_exact_mut(4) {
        px.copy_from_slice(&[BAND_RGB[0], BAND_RGB[1], BAND_RGB[2], 255]);
    }
    let scale = layout.glyph_scale as usize;
    let top = (TITLE_BAND_HEIGHT as usize - 8 * scale) / 2;
    let white = [TITLE_RGB[0], TITLE_RGB[1], TITLE_RGB[2], 255];
    for (i, c) in title.chars().enumerate() {
        let left = TITLE_MARGIN as usize + i * 8 * scale;
        if left + 8 * scale > width {
            break;
        }
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    let y = top + row * scale + dy;
                    let x = left + col * scale;
                    let at = (y * width + x) * 4;
                    if let Some(run) = band.get_mut(at..at + 4 * scale) {
                        for px in run.chunks_exact_mut(4) {
                            px.copy_from_slice(&white);
                        }
                    }
                }
            }
        }
    }
}

/// The 8×8 glyph of a character (rows top to bottom, bit 0 leftmost);
/// `?` for characters the font lacks.
fn glyph(c: char) -> [u8; 8] {
    use font8x8::legacy::{BASIC_LEGACY, LATIN_LEGACY};
    let code = c as usize;
    match code {
        0..=0x7f => BASIC_LEGACY[code],
        0xa0..=0xff => LATIN_LEGACY[code - 0xa0],
        _ => BASIC_LEGACY[usize::from(b'?')],
    }
}

// ---------------------------------------------------------------------------
// Geometry: arcs to rings, rings split at the antimeridian.

/// Decodes all arcs to absolute longitude/latitude positions.
fn decode_arcs(
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

fn bad_arcs(kind: &str) -> MapError {
    MapError::Topology(format!("a {kind} has malformed \"arcs\""))
}

/// A polygon's arcs: a list of rings, each a list of arc indices.
fn arc_lists(value: Option<&serde_json::Value>, kind: &str) -> Result<Vec<Vec<i64>>, MapError> {
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
fn assemble_ring(
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
fn split_ring(ring: &[[f64; 2]], out: &mut Vec<Vec<[f64; 2]>>) {
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
fn unwrap_near(lon: f64, prev: f64) -> f64 {
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
fn clip_half_plane(ring: &[[f64; 2]], edge: f64, keep_right: bool) -> Vec<[f64; 2]> {
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
fn ring_area(ring: &[[f64; 2]]) -> f64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        / 2.0
}

// ---------------------------------------------------------------------------
// TopoJSON input (only what the map needs).

#[derive(Deserialize)]
struct RawTopology {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    transform: Option<RawTransform>,
    arcs: Vec<Vec<Position>>,
    objects: OrderedObjects,
}

#[derive(Deserialize)]
struct RawTransform {
    scale: [f64; 2],
    translate: [f64; 2],
}

#[derive(Deserialize)]
struct RawGeometry {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    arcs: Option<serde_json::Value>,
    #[serde(default)]
    geometries: Option<Vec<RawGeometry>>,
}

/// An arc position: its first two numbers (any further ones are ignored).
struct Position(f64, f64);

impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PositionVisitor;
        impl<'de> Visitor<'de> for PositionVisitor {
            type Value = Position;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a position [x, y]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Position, A::Error> {
                let x: f64 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let y: f64 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Position(x, y))
            }
        }
        deserializer.deserialize_seq(PositionVisitor)
    }
}

/// The `objects` member, in document order (so "the first object" is the
/// first one written, whatever its name).
struct OrderedObjects(Vec<(String, RawGeometry)>);

impl<'de> Deserialize<'de> for OrderedObjects {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectsVisitor;
        impl<'de> Visitor<'de> for ObjectsVisitor {
            type Value = OrderedObjects;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of named geometry objects")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedObjects, A::Error> {
                let mut objects = Vec::new();
                while let Some((name, geometry)) = map.next_entry::<String, RawGeometry>()? {
                    objects.push((name, geometry));
                }
                Ok(OrderedObjects(objects))
            }
        }
        deserializer.deserialize_map(ObjectsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written quantized topology: scale (0.5, 0.25), translate
    /// (10, 20). Arc 0 and arc 1 make a rectangle; the MultiPolygon uses
    /// arc 1 reversed plus arc 2, and a lone triangle (arc 3). A Point and a
    /// second object (`land`, written first) are ignored.
    const TINY: &str = r#"{
      "type": "Topology",
      "transform": {"scale": [0.5, 0.25], "translate": [10, 20]},
      "objects": {
        "land": {"type": "Polygon", "arcs": [[3]]},
        "countries": {"type": "GeometryCollection", "geometries": [
          {"type": "Polygon", "arcs": [[0, 1]], "id": "001", "properties": {"name": "A"}},
          {"type": "MultiPolygon", "arcs": [[[-2, 2]], [[3]]], "properties": {"name": "B"}},
          {"type": "Point", "coordinates": [0, 0]},
          {"type": null}
        ]}
      },
      "arcs": [
        [[0, 0], [4, 0], [0, 4]],
        [[4, 4], [-4, 0], [0, -4]],
        [[4, 4], [4, 0], [0, -4], [-8, 0]],
        [[20, 20], [4, 0], [-4, 4], [0, -4]]
      ]
    }"#;

    /// The stored rings back in longitude/latitude.
    fn rings(map: &WorldMap) -> Vec<Vec<[f64; 2]>> {
        let mut out = Vec::new();
        let mut start = 0;
        for &end in &map.ring_ends {
            out.push(
                map.points[start..end as usize]
                    .iter()
                    .map(|p| {
                        [
                            f64::from(p[0]) * 360.0 - 180.0,
                            90.0 - f64::from(p[1]) * 180.0,
                        ]
                    })
                    .collect(),
            );
            start = end as usize;
        }
        out
    }

    fn assert_ring(actual: &[[f64; 2]], expected: &[[f64; 2]]) {
        assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert!(
                (a[0] - e[0]).abs() < 1e-4 && (a[1] - e[1]).abs() < 1e-4,
                "{actual:?} vs {expected:?}"
            );
        }
    }

    fn lon_lat_bounds(ring: &[[f64; 2]]) -> ([f64; 2], [f64; 2]) {
        ring.iter().fold(
            ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]),
            |(lo, hi), p| {
                (
                    [lo[0].min(p[0]), lo[1].min(p[1])],
                    [hi[0].max(p[0]), hi[1].max(p[1])],
                )
            },
        )
    }

    fn point(latitude: f64, longitude: f64, count: u64) -> MapPoint {
        MapPoint {
            latitude,
            longitude,
            count,
        }
    }

    /// Parses the country path of an SVG (`M x y l dx dy … z`, as written
    /// by `push_svg_path`) into subpaths of absolute pixel positions.
    fn svg_subpaths(svg: &str) -> Vec<Vec<(f64, f64)>> {
        let start = svg.find(" d=\"").expect("path data") + 4;
        let d = &svg[start..start + svg[start..].find('"').expect("end of path data")];
        let mut subpaths: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut numbers: Vec<f64> = Vec::new();
        let mut command = ' ';
        let flush = |command: char, numbers: &mut Vec<f64>, subpaths: &mut Vec<Vec<(f64, f64)>>| {
            match command {
                'M' => {
                    assert_eq!(numbers.len(), 2, "M takes one pair");
                    subpaths.push(vec![(numbers[0], numbers[1])]);
                }
                'l' => {
                    assert_eq!(numbers.len() % 2, 0, "l takes pairs");
                    let current = subpaths.last_mut().expect("l after M");
                    for pair in numbers.chunks(2) {
                        let last = *current.last().expect("a start point");
                        current.push((last.0 + pair[0], last.1 + pair[1]));
                    }
                }
                'z' | ' ' => assert!(numbers.is_empty()),
                other => panic!("unexpected path command {other}"),
            }
            numbers.clear();
        };
        let mut token = String::new();
        for c in d.chars().chain(std::iter::once(' ')) {
            let starts_number = c == '-' && !token.is_empty();
            if c.is_ascii_digit() || c == '.' || (c == '-' && token.is_empty()) {
                token.push(c);
                continue;
            }
            if !token.is_empty() {
                numbers.push(token.parse().expect("a number"));
                token.clear();
            }
            if starts_number {
                token.push('-');
            } else if c.is_ascii_alphabetic() {
                flush(command, &mut numbers, &mut subpaths);
                command = c;
            }
        }
        flush(command, &mut numbers, &mut subpaths);
        subpaths
    }

    /// IHDR width and height of PNG bytes, after checking the signature.
    fn png_size(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        assert_eq!(&bytes[12..16], b"IHDR");
        let be = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        (be(16), be(20))
    }

    #[test]
    fn decodes_delta_encoded_reversed_and_multipolygon_arcs() {
        let map = WorldMap::from_topojson(TINY.as_bytes()).expect("tiny topology decodes");
        assert_eq!(map.countries, 2);
        let rings = rings(&map);
        assert_eq!(rings.len(), 3);
        // Arc 0 then arc 1 (their shared point once, the closing point dropped).
        assert_ring(
            &rings[0],
            &[[10.0, 20.0], [12.0, 20.0], [12.0, 21.0], [10.0, 21.0]],
        );
        // Arc 1 reversed, then arc 2.
        assert_ring(
            &rings[1],
            &[
                [10.0, 20.0],
                [10.0, 21.0],
                [12.0, 21.0],
                [14.0, 21.0],
                [14.0, 20.0],
            ],
        );
        // The MultiPolygon's second polygon.
        assert_ring(&rings[2], &[[20.0, 25.0], [22.0, 25.0], [20.0, 26.0]]);
    }

    #[test]
    fn uses_first_object_in_document_order_without_countries() {
        let json = r#"{"type":"Topology","objects":{
            "zeta":{"type":"Polygon","arcs":[[0]]},
            "alpha":{"type":"GeometryCollection","geometries":[]}},
          "arcs":[[[1,1],[3,1],[3,3],[1,1]]]}"#;
        let map = WorldMap::from_topojson(json.as_bytes()).expect("decodes");
        assert_eq!(map.countries, 1);
        // No transform: positions are absolute.
        assert_ring(&rings(&map)[0], &[[1.0, 1.0], [3.0, 1.0], [3.0, 3.0]]);
    }

    #[test]
    fn rejects_bad_topologies() {
        let cases = [
            "not json",
            r#"{"type":"FeatureCollection","objects":{},"arcs":[]}"#,
            r#"{"type":"Topology","objects":{},"arcs":[]}"#,
            r#"{"type":"Topology","objects":{"c":{"type":"Polygon","arcs":[[5]]}},"arcs":[[[0,0],[1,0],[1,1]]]}"#,
            r#"{"type":"Topology","objects":{"c":{"type":"Polygon","arcs":[[-7]]}},"arcs":[[[0,0],[1,0],[1,1]]]}"#,
            r#"{"type":"Topology","objects":{"c":{"type":"Polygon","arcs":[0]}},"arcs":[[[0,0],[1,0],[1,1]]]}"#,
            r#"{"type":"Topology","objects":{"c":{"type":"Polygon","arcs":[[0]]}},"arcs":[[[0,0],[1000,0],[1,1]]]}"#,
            r#"{"type":"Topology","objects":{"c":{"type":"Polygon","arcs":[[0]]}},"arcs":[[[0]]]}"#,
        ];
        for json in cases {
            match WorldMap::from_topojson(json.as_bytes()) {
                Err(MapError::Topology(message)) => assert!(!message.is_empty()),
                other => panic!("{json}: expected a topology error, got {other:?}"),
            }
        }
    }

    #[test]
    fn splits_ring_crossing_the_antimeridian() {
        // A 10° × 10° square from 170°E to 170°W, written with a jump at 180°.
        let ring = [
            [170.0, 10.0],
            [-170.0, 10.0],
            [-170.0, 20.0],
            [170.0, 20.0],
            [170.0, 10.0],
        ];
        let mut pieces = Vec::new();
        split_ring(&ring, &mut pieces);
        assert_eq!(pieces.len(), 2, "{pieces:?}");
        let mut ranges: Vec<([f64; 2], [f64; 2])> =
            pieces.iter().map(|p| lon_lat_bounds(p)).collect();
        ranges.sort_by(|a, b| a.0[0].total_cmp(&b.0[0]));
        assert_eq!(ranges[0], ([-180.0, 10.0], [-170.0, 20.0]));
        assert_eq!(ranges[1], ([170.0, 10.0], [180.0, 20.0]));
        for piece in &pieces {
            assert!((ring_area(piece).abs() - 100.0).abs() < 1e-9);
        }

        // The same through a topology (absolute positions), as stored.
        let json = r#"{"type":"Topology","objects":{"c":{"type":"Polygon","arcs":[[0]]}},
          "arcs":[[[170,10],[-170,10],[-170,20],[170,20],[170,10]]]}"#;
        let map = WorldMap::from_topojson(json.as_bytes()).expect("decodes");
        assert_eq!(map.countries, 1);
        assert_eq!(map.ring_ends.len(), 2);
        for ring in rings(&map) {
            for pair in ring.windows(2) {
                assert!((pair[1][0] - pair[0][0]).abs() <= 10.0 + 1e-4, "{ring:?}");
            }
        }
    }

    #[test]
    fn closes_a_ring_around_the_south_pole_along_the_bottom() {
        let ring = [
            [-180.0, -80.0],
            [-90.0, -70.0],
            [0.0, -75.0],
            [90.0, -70.0],
            [180.0, -80.0],
            [-180.0, -80.0],
        ];
        let mut pieces = Vec::new();
        split_ring(&ring, &mut pieces);
        assert_eq!(pieces.len(), 1, "{pieces:?}");
        let (lo, hi) = lon_lat_bounds(&pieces[0]);
        assert_eq!((lo, hi), ([-180.0, -90.0], [180.0, -70.0]));
        for pair in pieces[0].windows(2) {
            assert!((pair[1][0] - pair[0][0]).abs() <= 90.0, "{:?}", pieces[0]);
        }
        // Area between the coastline and the pole only (not the whole map).
        let area = ring_area(&pieces[0]).abs();
        assert!(area > 360.0 * 10.0 && area < 360.0 * 20.0, "area {area}");
    }

    #[test]
    fn embedded_map_has_the_countries_and_no_streaks() {
        let map = WorldMap::embedded();
        assert!((170..=180).contains(&map.countries), "{map:?}");
        assert_eq!(map.countries, 177);
        for ring in rings(map) {
            for p in &ring {
                assert!((-180.0..=180.0).contains(&p[0]) && (-90.0..=90.0).contains(&p[1]));
            }
            let n = ring.len();
            for i in 0..n {
                let (a, b) = (ring[i], ring[(i + 1) % n]);
                assert!((b[0] - a[0]).abs() <= 180.0, "segment {a:?} -> {b:?}");
            }
        }
        for width in [1024u32, 333] {
            let svg = map.svg(&[], "t", width);
            let half = f64::from(width) / 2.0;
            let subpaths = svg_subpaths(&svg);
            assert!(subpaths.len() > 177, "{} subpaths", subpaths.len());
            for sub in &subpaths {
                let closing = [sub[sub.len() - 1], sub[0]];
                for seg in sub.windows(2).chain(std::iter::once(&closing[..])) {
                    assert!(
                        (seg[1].0 - seg[0].0).abs() <= half + 1e-6,
                        "segment {:?} spans more than half of width {width}",
                        seg
                    );
                    for p in seg {
                        assert!(p.0 >= -1e-6 && p.0 <= f64::from(width) + 1e-6);
                        assert!(p.1 >= -1e-6 && p.1 <= f64::from(width / 2) + 1e-6);
                    }
                }
            }
        }
    }

    #[test]
    fn png_pixels_show_land_sea_and_antarctica() {
        let map = WorldMap::embedded();
        let width = 1024;
        let pixmap = map
            .render_pixmap(&[point(48.85, 2.35, 500)], "x", width)
            .expect("renders");
        let at = |lon: f64, lat: f64| {
            let x = ((lon + 180.0) / 360.0 * 1024.0) as u32;
            let y = ((90.0 - lat) / 180.0 * 512.0) as u32 + TITLE_BAND_HEIGHT;
            let c = pixmap.pixel(x, y).expect("inside");
            [c.red(), c.green(), c.blue()]
        };
        assert_eq!(at(-30.0, 0.0), OCEAN_RGB, "mid-Atlantic");
        assert_eq!(at(179.0, 0.0), OCEAN_RGB, "Pacific at the antimeridian");
        assert_eq!(
            at(-179.0, 30.0),
            OCEAN_RGB,
            "Pacific west of the antimeridian"
        );
        assert_eq!(at(0.0, -60.0), OCEAN_RGB, "Southern Ocean");
        assert_eq!(at(-179.5, -89.5), LAND_RGB, "Antarctica, west edge");
        assert_eq!(at(179.5, -89.5), LAND_RGB, "Antarctica, east edge");
        assert_eq!(at(-50.0, -10.0), LAND_RGB, "Brazil");
        assert_eq!(at(100.0, 60.0), LAND_RGB, "Siberia");
        let paris = at(2.35, 48.85);
        assert!(
            paris[0] > 150 && paris[1] < 150,
            "a red dot over Paris: {paris:?}"
        );
        let band = pixmap.pixel(1000, 2).expect("inside");
        assert_eq!([band.red(), band.green(), band.blue()], BAND_RGB);
    }

    #[test]
    fn svg_escapes_the_title() {
        let svg = WorldMap::embedded().svg(&[], "<script>&\"it's\"</script>\u{7}!", 640);
        assert!(svg.contains(">&lt;script&gt;&amp;&quot;it&apos;s&quot;&lt;/script&gt; !</text>"));
        assert!(!svg.contains("<script"));
        assert!(!svg.contains('\u{7}'));
        assert!(!svg.contains("<title"));
    }

    #[test]
    fn svg_title_is_cut_to_the_band() {
        let long = "x".repeat(500);
        let svg = WorldMap::embedded().svg(&[], &long, 1024);
        // 16 px per character at width 1024, 8 px margins.
        assert!(svg.contains(&format!(">{}</text>", "x".repeat(63))));
        assert!(!svg.contains(&"x".repeat(64)));
    }

    #[test]
    fn svg_has_one_circle_per_valid_point() {
        let points = [
            point(48.85, 2.35, 10),
            point(-33.9, 151.2, 1),
            point(40.7, -74.0, 1_000_000),
            point(90.0, 180.0, 3),
            point(-90.0, -180.0, 3),
            // Ignored:
            point(f64::NAN, 0.0, 1),
            point(0.0, f64::INFINITY, 1),
            point(90.5, 0.0, 1),
            point(-91.0, 0.0, 1),
            point(0.0, 180.01, 1),
            point(0.0, -200.0, 1),
            point(10.0, 10.0, 0),
        ];
        let svg = WorldMap::embedded().svg(&points, "t", 1024);
        assert_eq!(svg.matches("<circle ").count(), 5);
        assert!(svg.contains("fill-rule=\"evenodd\""));
        // Largest count first, with the capped radius (14 px at width 1024).
        let first = svg.find("<circle ").expect("a circle");
        assert!(svg[first..].starts_with("<circle cx=\"301.5\" cy=\"140.2\" r=\"14\"/>"));
        assert_eq!(
            WorldMap::embedded()
                .svg(&points[5..], "t", 1024)
                .matches("<circle")
                .count(),
            0
        );
    }

    #[test]
    fn points_in_one_pixel_are_merged() {
        let points = [
            point(10.0, 10.0, 2),
            point(10.0001, 10.0001, 3),
            point(-10.0, -10.0, 1),
        ];
        let layout = Layout::new(1024);
        let dots = dots(&points, &layout);
        assert_eq!(dots.len(), 2);
        assert_eq!(dots[0].r, dot_radius(5) as f32);
        assert_eq!(dots[1].r, dot_radius(1) as f32);
    }

    fn many_points() -> Vec<MapPoint> {
        (0..50_000u64)
            .map(|i| {
                let lat = (i % 170) as f64 - 85.0 + (i % 7) as f64 * 0.1;
                let lon = (i % 359) as f64 - 179.5 + (i % 3) as f64 * 0.2;
                point(lat, lon, i % 1000 + 1)
            })
            .collect()
    }

    #[test]
    fn many_points_are_merged_on_a_coarser_grid() {
        let points = many_points();
        let layout = Layout::new(1024);
        let groups: Vec<Group> = points
            .iter()
            .map(|p| Group {
                x: (p.longitude + 180.0) / 360.0 * 1024.0,
                y: (90.0 - p.latitude) / 180.0 * 512.0,
                count: p.count,
            })
            .collect();
        let total: u64 = points.iter().map(|p| p.count).sum();
        let merged = merge_groups(groups.clone(), 8.0, &layout);
        assert!(merged.len() < groups.len());
        assert_eq!(merged.iter().map(|g| g.count).sum::<u64>(), total);
        let dots = dots(&points, &layout);
        assert!(
            dots.len() <= MAX_DOTS && dots.len() > MAX_DOTS / 4,
            "{}",
            dots.len()
        );
        assert_eq!(dots[0].r, dot_radius(u64::MAX) as f32);
    }

    #[test]
    fn many_points_render() {
        let points = many_points();
        let map = WorldMap::embedded();
        let svg = map.svg(&points, "many", 512);
        let circles = svg.matches("<circle ").count();
        assert!(circles > 0 && circles <= MAX_DOTS, "{circles}");
        let png = map.png(&points, "many", 512).expect("renders");
        assert_eq!(png_size(&png), (512, 256 + TITLE_BAND_HEIGHT));
    }

    #[test]
    fn png_has_signature_and_size() {
        let map = WorldMap::embedded();
        for (width, expected) in [
            (640u32, 640u32),
            (1024, 1024),
            (10, MIN_WIDTH),
            (100_000, MAX_WIDTH),
        ] {
            if width == 100_000 {
                // Only the size arithmetic, through the SVG (cheap).
                assert!(
                    map.svg(&[], "", width)
                        .contains("width=\"4096\" height=\"2072\"")
                );
                continue;
            }
            let png = map
                .png(&[point(0.0, 0.0, 5)], "Ünïcödé ✓ title", width)
                .expect("renders");
            assert_eq!(png_size(&png), (expected, expected / 2 + TITLE_BAND_HEIGHT));
        }
    }

    #[test]
    fn svg_is_deterministic_and_small() {
        let map = WorldMap::embedded();
        let points: Vec<MapPoint> = (0..1000)
            .map(|i| {
                point(
                    (i % 160) as f64 - 80.0,
                    (i * 7 % 360) as f64 - 180.0,
                    i as u64 + 1,
                )
            })
            .collect();
        let a = map.svg(&points, "same", 1024);
        assert_eq!(a, map.svg(&points, "same", 1024));
        assert!(a.starts_with(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1024\" height=\"536\""
        ));
        assert!(a.ends_with("</svg>\n"));
        assert!(map.svg(&[], "", 1024).len() < 200_000);
    }

    #[test]
    fn title_glyphs_come_from_the_font() {
        assert_eq!(glyph('A'), [0x0C, 0x1E, 0x33, 0x33, 0x3F, 0x33, 0x33, 0x00]);
        assert_eq!(glyph('\u{e9}'), font8x8::legacy::LATIN_LEGACY[0xe9 - 0xa0]);
        assert_eq!(glyph('✓'), glyph('?'));
    }
}
