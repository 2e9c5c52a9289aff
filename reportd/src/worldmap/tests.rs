use super::geometry::*;
use super::layout::*;
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
    let be =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
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
    let mut ranges: Vec<([f64; 2], [f64; 2])> = pieces.iter().map(|p| lon_lat_bounds(p)).collect();
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
    assert!(
        a.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1024\" height=\"536\"")
    );
    assert!(a.ends_with("</svg>\n"));
    assert!(map.svg(&[], "", 1024).len() < 200_000);
}

#[test]
fn title_glyphs_come_from_the_font() {
    assert_eq!(glyph('A'), [0x0C, 0x1E, 0x33, 0x33, 0x3F, 0x33, 0x33, 0x00]);
    assert_eq!(glyph('\u{e9}'), font8x8::legacy::LATIN_LEGACY[0xe9 - 0xa0]);
    assert_eq!(glyph('✓'), glyph('?'));
}
