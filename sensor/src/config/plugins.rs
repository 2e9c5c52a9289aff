//! `[[plugin]]`: one table per plug-in instance, validated alone (name, table, port, kind,
//! options, columns) and against the others (names, tables and ports are unique).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use store::{Column, ColumnType, TableSpec, is_safe_identifier};

use super::Problems;
use crate::limits::Limits;
use crate::plugin::{Plugin, PluginKind, PluginSettings, find_kind, registry};

/// One `[[plugin]]` table: a plug-in instance.
#[derive(Debug, Clone, Deserialize)]
pub struct PluginConfig {
    /// Unique instance name (in every event's `plugin`).
    pub name: String,
    /// Which plug-in (`telnet`, `http`, `banner`, ...).
    pub kind: String,
    /// The TCP port, 1..65535.
    pub port: i64,
    /// The table its rows go to (a safe SQL identifier, unique).
    pub table: String,
    /// A disabled instance gets no listener and no table.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The table's columns after the fixed ones, as `[name, type]` pairs (RECCE7's
    /// `tableColumns`). Absent: exactly the columns the plug-in records.
    pub columns: Option<Vec<(String, String)>>,
    /// Options of the plug-in kind (`[plugin.options]`).
    #[serde(default)]
    pub options: toml::Table,
}

fn yes() -> bool {
    true
}

/// A plug-in instance ready to run.
#[derive(Clone)]
pub struct Instance {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Its port.
    pub port: u16,
    /// Its table and columns.
    pub table: TableSpec,
    /// The built plug-in.
    pub plugin: Arc<dyn Plugin>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("port", &self.port)
            .field("table", &self.table)
            .finish()
    }
}

/// What the instances seen so far use, so that a second use is reported with the first.
#[derive(Default)]
struct Taken<'a> {
    names: HashMap<&'a str, usize>,
    tables: HashMap<String, usize>,
    ports: HashMap<u16, usize>,
}

/// Checks every instance and builds the enabled ones, in file order.
pub(super) fn validate_plugins(
    plugins: &[PluginConfig],
    limits: &Limits,
    config_dir: &Path,
    data_dir: &Path,
    problems: &mut Problems,
) -> Vec<Instance> {
    if plugins.iter().all(|p| !p.enabled) {
        problems.push(("plugin".into(), "no enabled [[plugin]] instance".into()));
    }
    let mut taken = Taken::default();
    let mut instances = Vec::new();
    for (i, p) in plugins.iter().enumerate() {
        if let Some(instance) = p.validate(i, limits, config_dir, data_dir, &mut taken, problems) {
            instances.push(instance);
        }
    }
    instances
}

impl PluginConfig {
    /// Checks instance `i`; the instance when it is enabled and good enough to build.
    fn validate<'a>(
        &'a self,
        i: usize,
        limits: &Limits,
        config_dir: &Path,
        data_dir: &Path,
        taken: &mut Taken<'a>,
        problems: &mut Problems,
    ) -> Option<Instance> {
        let at = |key: &str| format!("plugin[{i}].{key}");
        self.check_name(i, taken, problems);
        self.check_table(i, taken, problems);
        let enabled_port = self.check_port(i, taken, problems);
        let Some(kind) = find_kind(&self.kind) else {
            let known: Vec<&str> = registry().iter().map(|k| k.name).collect();
            problems.push((
                at("kind"),
                format!("unknown kind {:?} (known: {})", self.kind, known.join(", ")),
            ));
            return None;
        };
        let plugin = self.build(i, kind, limits, config_dir, data_dir, problems)?;
        let columns = self.columns(i, plugin.columns(), problems);
        Some(Instance {
            name: self.name.clone(),
            kind: kind.name,
            port: enabled_port?,
            table: TableSpec {
                name: self.table.clone(),
                columns,
            },
            plugin,
        })
    }

    fn check_name<'a>(&'a self, i: usize, taken: &mut Taken<'a>, problems: &mut Problems) {
        if self.name.trim().is_empty() || self.name.len() > 64 {
            problems.push((format!("plugin[{i}].name"), "must be 1 to 64 bytes".into()));
        } else if self.name == crate::capture::PLUGIN {
            problems.push((
                format!("plugin[{i}].name"),
                format!(
                    "{:?} is the packet capture's name in events (docs/capture.md)",
                    self.name
                ),
            ));
        } else if let Some(first) = taken.names.insert(&self.name, i) {
            problems.push((
                format!("plugin[{i}].name"),
                format!("{:?} is also the name of plugin[{first}]", self.name),
            ));
        }
    }

    fn check_table(&self, i: usize, taken: &mut Taken<'_>, problems: &mut Problems) {
        let reason = if !is_safe_identifier(&self.table) {
            format!(
                "{:?} is not a safe SQL identifier (letters, digits, _; not a keyword; at most 64)",
                self.table
            )
        } else if store::schema::is_reserved_table(&self.table) {
            format!("{:?} is one of the store's own tables", self.table)
        } else if let Some(first) = taken.tables.insert(self.table.to_ascii_lowercase(), i) {
            format!("{:?} is also the table of plugin[{first}]", self.table)
        } else {
            return;
        };
        problems.push((format!("plugin[{i}].table"), reason));
    }

    /// The port, when it is valid and the instance enabled: only enabled instances bind, so
    /// only they can clash.
    fn check_port(&self, i: usize, taken: &mut Taken<'_>, problems: &mut Problems) -> Option<u16> {
        let port = match u16::try_from(self.port) {
            Ok(port) if port >= 1 => port,
            _ => {
                problems.push((
                    format!("plugin[{i}].port"),
                    format!("{} is outside 1..65535", self.port),
                ));
                return None;
            }
        };
        if !self.enabled {
            return None;
        }
        if let Some(first) = taken.ports.insert(port, i) {
            problems.push((
                format!("plugin[{i}].port"),
                format!("{} is also the port of plugin[{first}]", self.port),
            ));
        }
        Some(port)
    }

    /// Builds the plug-in, which checks its options: each problem as `plugin[i].options.KEY`.
    fn build(
        &self,
        i: usize,
        kind: &PluginKind,
        limits: &Limits,
        config_dir: &Path,
        data_dir: &Path,
        problems: &mut Problems,
    ) -> Option<Arc<dyn Plugin>> {
        let built = (kind.build)(&PluginSettings {
            name: &self.name,
            options: &self.options,
            limits,
            config_dir,
            data_dir,
        });
        built
            .map_err(|option_problems| {
                for op in option_problems {
                    problems.push((format!("plugin[{i}].options.{}", op.key), op.reason));
                }
            })
            .ok()
    }

    /// The table's columns: the configured ones (each a new, safe name of a known type, and
    /// together including every column the plug-in records), or exactly what it records.
    fn columns(&self, i: usize, records: Vec<Column>, problems: &mut Problems) -> Vec<Column> {
        let Some(pairs) = &self.columns else {
            return records;
        };
        let mut cols: Vec<Column> = Vec::new();
        for (j, (name, ty)) in pairs.iter().enumerate() {
            let key = format!("plugin[{i}].columns[{j}]");
            if !is_safe_identifier(name) {
                problems.push((
                    key.clone(),
                    format!("{name:?} is not a safe SQL identifier"),
                ));
            } else if store::schema::is_fixed_column(name) {
                problems.push((
                    key.clone(),
                    format!("{name:?} is one of the fixed columns every table starts with"),
                ));
            } else if cols.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
                problems.push((key.clone(), format!("{name:?} is listed twice")));
            }
            match ColumnType::parse(ty) {
                Some(kind) => cols.push(Column::new(name.clone(), kind)),
                None => problems.push((
                    key,
                    format!("unknown column type {ty:?} (TEXT, INTEGER, REAL, BLOB)"),
                )),
            }
        }
        for needed in &records {
            if !cols.iter().any(|c| c.name == needed.name) {
                problems.push((
                    format!("plugin[{i}].columns"),
                    format!(
                        "the {} plug-in records column {:?} ({}), which is not listed",
                        self.kind, needed.name, needed.kind
                    ),
                ));
            }
        }
        cols
    }
}
