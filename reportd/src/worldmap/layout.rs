//! The layout of a map of a given width, the attack dots on it, and the drawing helpers the
//! SVG and the PNG share (colours, numbers, the title band and its 8×8 glyphs).

use std::fmt::Write as _;

use super::{BAND_RGB, MAX_WIDTH, MIN_WIDTH, MapPoint, TITLE_BAND_HEIGHT, TITLE_MARGIN, TITLE_RGB};

/// The sizes derived from a requested width.
pub(super) struct Layout {
    /// Image width in pixels (clamped).
    pub(super) width: u32,
    /// Map height in pixels (`width / 2`).
    pub(super) map_height: u32,
    /// Title glyph scale: 1 (8 px) or 2 (16 px, from width 800 on).
    pub(super) glyph_scale: u32,
}

impl Layout {
    pub(super) fn new(width: u32) -> Layout {
        let width = width.clamp(MIN_WIDTH, MAX_WIDTH);
        Layout {
            width,
            map_height: width / 2,
            glyph_scale: if width >= 800 { 2 } else { 1 },
        }
    }

    /// Scale applied to dot radii: 1 at width 1024.
    pub(super) fn dot_scale(&self) -> f64 {
        (f64::from(self.width) / 1024.0).max(0.5)
    }
}

/// One circle to draw, in map pixels (y measured from the top of the map).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Dot {
    pub(super) x: f32,
    pub(super) y: f32,
    pub(super) r: f32,
}

/// Radius of a dot for `count` attacks at dot scale 1 (width 1024):
/// 1.5 px for one attack, growing with ln(count), capped at 14 px.
pub(super) fn dot_radius(count: u64) -> f64 {
    (1.5 + 1.75 * (count.max(1) as f64).ln()).min(14.0)
}

/// The valid points as circles, largest count first.
///
/// Points in the same map pixel are merged into one circle at their
/// count-weighted centre, with their counts added. While that still leaves
/// more than [`MAX_DOTS`] circles, the merging cell is doubled (2, 4, 8 …
/// pixels), which bounds the work for huge point lists; such maps are
/// covered with dots anyway.
pub(super) fn dots(points: &[MapPoint], layout: &Layout) -> Vec<Dot> {
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
pub(super) const MAX_DOTS: usize = 4096;

/// Points merged so far: their count-weighted centre (map pixels) and
/// total count.
#[derive(Debug, Clone, Copy)]
pub(super) struct Group {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) count: u64,
}

/// Merges the groups that fall into the same `cell`-pixel square.
pub(super) fn merge_groups(mut groups: Vec<Group>, cell: f64, layout: &Layout) -> Vec<Group> {
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
pub(super) fn fit_title(title: &str, layout: &Layout) -> String {
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
pub(super) fn push_xml_escaped(out: &mut String, text: &str) {
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
pub(super) fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A tiny-skia colour from RGB and an opacity.
pub(super) fn rgb([r, g, b]: [u8; 3], opacity: f32) -> tiny_skia::Color {
    let a = (opacity.clamp(0.0, 1.0) * 255.0).round() as u8;
    tiny_skia::Color::from_rgba8(r, g, b, a)
}

/// A pixel value rounded to tenths, as an integer.
pub(super) fn tenths(v: f32) -> i64 {
    (f64::from(v) * 10.0).round() as i64
}

/// Pushes a space if the next number (`v` tenths) needs one to be separated
/// from a previous number.
pub(super) fn push_number_sep(out: &mut String, v: i64) {
    if v >= 0 {
        out.push(' ');
    }
}

/// Writes `v` tenths as a decimal number: `12`, `12.5`, `-0.5` / `-.5`
/// (the leading zero only when `leading_zero`).
pub(super) fn push_tenths(out: &mut String, v: i64, leading_zero: bool) {
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
pub(super) fn draw_title_band(pixmap: &mut tiny_skia::Pixmap, title: &str, layout: &Layout) {
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
pub(super) fn glyph(c: char) -> [u8; 8] {
    use font8x8::legacy::{BASIC_LEGACY, LATIN_LEGACY};
    let code = c as usize;
    match code {
        0..=0x7f => BASIC_LEGACY[code],
        0xa0..=0xff => LATIN_LEGACY[code - 0xa0],
        _ => BASIC_LEGACY[usize::from(b'?')],
    }
}
