//! A plug-in kind's `[plugin.options]` as a typed struct: each kind declares one with serde
//! defaults (`#[serde(default, deny_unknown_fields)]`), and [`read_options`] fills it from the
//! instance's table, reporting *every* problem rather than serde's first: each unknown key
//! (`unknown option (known: ...)`) and each value of the wrong type (`expected a string,
//! found integer`), by key. A key with a bad value is left at its default so that the rest is
//! still read. Checks on the values themselves belong to the kind's own `validate`.
//!
//! This runs once per instance when the configuration is validated, never per connection.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

use crate::plugin::OptionProblem;

/// Reads `options` as `T`, with every unknown key and every value of the wrong type listed, in
/// that order (unknown keys as they appear in the table, bad values in `T`'s field order).
/// A bad value is left at its default, so that the kind can still check the others (and report
/// those problems too) before it refuses to build.
pub fn read_options<T: DeserializeOwned + Default>(
    options: &toml::Table,
) -> (T, Vec<OptionProblem>) {
    let known = field_names::<T>();
    let unknown = if known.is_empty() {
        "unknown option (this kind has no options)".to_owned()
    } else {
        format!("unknown option (known: {})", known.join(", "))
    };
    let mut problems = Vec::new();
    for key in options.keys() {
        if !known.contains(&key.as_str()) {
            problems.push(OptionProblem::new(key.clone(), unknown.clone()));
        }
    }
    // Each known key alone, so that a bad value is blamed on its key and none hides another.
    let mut good = toml::Table::new();
    for key in known {
        let Some(value) = options.get(*key) else {
            continue;
        };
        let mut alone = toml::Table::new();
        alone.insert((*key).to_owned(), value.clone());
        match T::deserialize(toml::Value::Table(alone)) {
            Ok(_) => {
                good.insert((*key).to_owned(), value.clone());
            }
            Err(e) => problems.push(OptionProblem::new(*key, reason(key, &e.to_string(), value))),
        }
    }
    match T::deserialize(toml::Value::Table(good)) {
        Ok(read) => (read, problems),
        Err(e) => {
            // Only a check across keys can fail here; each key alone was fine.
            problems.push(OptionProblem::new("-", one_line(&e.to_string())));
            (T::default(), problems)
        }
    }
}

/// `expected a string, found integer` from serde's `invalid type: integer `1`, expected a
/// string` (toml adds `` in `key` ``, which the problem's key already says); other messages
/// as they are, on one line.
fn reason(key: &str, message: &str, value: &toml::Value) -> String {
    let message = one_line(message);
    match message.rsplit_once(", expected ") {
        Some((_, expected)) if message.starts_with("invalid type: ") => {
            let in_key = format!(" in `{key}`");
            let expected = expected.trim();
            let expected = expected.strip_suffix(in_key.as_str()).unwrap_or(expected);
            format!("expected {expected}, found {}", value.type_str())
        }
        _ => message,
    }
}

/// toml's messages may span lines; one line each.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The field names of a struct that derives `Deserialize`, in declaration order (serde passes
/// them to `deserialize_struct`); empty for anything else.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// A deserializer that only notes the field names it is asked for, then stops.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("field names noted"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// The problems `build` reports for the `[plugin.options]` table `options` (TOML), as
/// `key: reason`: the option tests of every built-in plug-in share it.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn build_problems(build: crate::plugin::BuildFn, options: &str) -> Vec<String> {
    let options: toml::Table = toml::from_str(options).unwrap();
    let limits = crate::limits::Limits::default();
    let settings = crate::plugin::PluginSettings {
        name: "t",
        options: &options,
        limits: &limits,
        config_dir: std::path::Path::new("."),
        data_dir: std::path::Path::new("."),
    };
    match build(&settings) {
        Ok(_) => Vec::new(),
        Err(problems) => problems
            .iter()
            .map(|p| format!("{}: {}", p.key, p.reason))
            .collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Example {
        name: String,
        count: u32,
        on: bool,
    }

    impl Default for Example {
        fn default() -> Example {
            Example {
                name: "n".into(),
                count: 3,
                on: false,
            }
        }
    }

    fn read(text: &str) -> (Example, Vec<(String, String)>) {
        let table: toml::Table = toml::from_str(text).unwrap();
        let (read, problems) = read_options::<Example>(&table);
        (
            read,
            problems.into_iter().map(|p| (p.key, p.reason)).collect(),
        )
    }

    #[test]
    fn field_names_come_in_declaration_order() {
        assert_eq!(field_names::<Example>(), ["name", "count", "on"]);
        assert!(field_names::<String>().is_empty());
    }

    #[derive(Debug, Default, PartialEq, serde::Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Nothing {}

    #[test]
    fn a_kind_without_options_says_so() {
        let table: toml::Table = toml::from_str("x = 'y'").unwrap();
        let (_, problems) = read_options::<Nothing>(&table);
        assert_eq!(
            problems,
            [OptionProblem::new(
                "x",
                "unknown option (this kind has no options)"
            )]
        );
    }

    #[test]
    fn defaults_fill_what_is_absent() {
        assert_eq!(read(""), (Example::default(), Vec::new()));
        let (e, problems) = read("count = 7");
        assert_eq!((e.name.as_str(), e.count), ("n", 7));
        assert!(problems.is_empty());
    }

    #[test]
    fn every_unknown_key_and_every_bad_value_is_reported() {
        let (read, problems) = read("on = 1\nzz = 1\nname = 2\naa = 'x'\ncount = 9");
        // The good value is kept, the bad ones are left at their defaults.
        assert_eq!(
            read,
            Example {
                count: 9,
                ..Example::default()
            }
        );
        let expect = [
            ("aa", "unknown option (known: name, count, on)"),
            ("zz", "unknown option (known: name, count, on)"),
            ("name", "expected a string, found integer"),
            ("on", "expected a boolean, found integer"),
        ];
        let got: Vec<(&str, &str)> = problems
            .iter()
            .map(|(k, r)| (k.as_str(), r.as_str()))
            .collect();
        assert_eq!(got, expect);
    }
}
