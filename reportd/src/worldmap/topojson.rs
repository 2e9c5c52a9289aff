//! TopoJSON input (only what the map needs).

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

#[derive(Deserialize)]
pub(super) struct RawTopology {
    #[serde(rename = "type")]
    pub(super) kind: String,
    #[serde(default)]
    pub(super) transform: Option<RawTransform>,
    pub(super) arcs: Vec<Vec<Position>>,
    pub(super) objects: OrderedObjects,
}

#[derive(Deserialize)]
pub(super) struct RawTransform {
    pub(super) scale: [f64; 2],
    pub(super) translate: [f64; 2],
}

#[derive(Deserialize)]
pub(super) struct RawGeometry {
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    #[serde(default)]
    pub(super) arcs: Option<serde_json::Value>,
    #[serde(default)]
    pub(super) geometries: Option<Vec<RawGeometry>>,
}

/// An arc position: its first two numbers (any further ones are ignored).
pub(super) struct Position(pub(super) f64, pub(super) f64);

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
pub(super) struct OrderedObjects(pub(super) Vec<(String, RawGeometry)>);

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
