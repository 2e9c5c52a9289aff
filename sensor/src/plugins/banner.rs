//! The example plug-in (`kind = "banner"`): sends a banner, then records every line it receives
//! and answers each with a fixed reply. It is the smallest complete plug-in, and the pattern
//! docs/plugins.md walks through: options read and checked in `build`, columns declared,
//! a handler that reads with [`Connection::read_line`], records with [`Session::record`] and
//! writes with [`Connection::write_all`]. Lines keep their exact bytes ([`escape_text`]); a last
//! line cut off by the end of the connection is recorded with `unterminated`; input that is
//! not text at all (a TLS hello, an HTTP request, binary noise) is recorded raw
//! ([`foreign::screen_first_line`]).
//!
//! ```toml
//! [[plugin]]
//! name = "ftp"
//! kind = "banner"
//! port = 2121
//! table = "ftp"
//! [plugin.options]
//! banner = "220 (vsFTPd 3.0.3)\r\n"
//! reply = "530 Please login with USER and PASS.\r\n"
//! ```

use std::sync::Arc;

use store::{Column, EventType, escape_text};

use crate::connection::{CloseReason, Connection};
use serde::Deserialize;

use crate::plugin::{HandlerFuture, OptionProblem, Plugin, PluginSettings, integer, text};
use crate::plugins::foreign;
use crate::plugins::options::read_options;
use crate::session::{Session, row};

/// `[plugin.options]` of a banner instance; every key is optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BannerOptions {
    /// Sent as soon as a peer connects, exactly as written (end lines with `\r\n`). Default:
    /// nothing.
    pub banner: String,
    /// Sent after every line received. Default: `ERR\r\n`.
    pub reply: String,
    /// The protocol recorded in every event. Default: `tcp`.
    pub protocol: String,
}

impl Default for BannerOptions {
    fn default() -> BannerOptions {
        BannerOptions {
            banner: String::new(),
            reply: "ERR\r\n".into(),
            protocol: "tcp".into(),
        }
    }
}

/// A banner service: the options it was built with.
#[derive(Debug, Clone)]
pub struct BannerPlugin {
    options: BannerOptions,
    max_raw_bytes: usize,
}

/// Builds a [`BannerPlugin`] from `[plugin.options]` ([`BannerOptions`]).
pub fn build(settings: &PluginSettings<'_>) -> Result<Arc<dyn Plugin>, Vec<OptionProblem>> {
    let (options, problems) = read_options::<BannerOptions>(settings.options);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Arc::new(BannerPlugin {
        options,
        max_raw_bytes: settings.limits.max_raw_bytes,
    }))
}

impl BannerPlugin {
    async fn converse(
        &self,
        conn: &mut Connection,
        session: &mut Session,
    ) -> Result<(), CloseReason> {
        conn.write_all(self.options.banner.as_bytes()).await?;
        if foreign::screen_first_line(
            conn,
            session,
            self.max_raw_bytes,
            "not the service's protocol",
            "not the service's protocol",
        )
        .await
        {
            return Ok(());
        }
        loop {
            let line = match conn.read_line().await {
                Ok(line) => line,
                Err(reason) => {
                    // Only a line over the limit leaves input behind: keep it raw.
                    foreign::record_unread(conn, session, reason.as_str()).await;
                    return Err(reason);
                }
            };
            let mut data = row([("line", escape_text(&line).into())]);
            if !line.terminated {
                data.insert("unterminated".into(), true.into());
            }
            session.record(EventType::ServiceInput, data).await;
            conn.write_all(self.options.reply.as_bytes()).await?;
        }
    }
}

impl Plugin for BannerPlugin {
    fn protocol(&self) -> &str {
        &self.options.protocol
    }

    fn columns(&self) -> Vec<Column> {
        vec![text("line"), integer("unterminated")]
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut Connection,
        session: &'a mut Session,
    ) -> HandlerFuture<'a> {
        Box::pin(self.converse(conn, session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Limits;

    #[test]
    fn options_are_checked() {
        let options: toml::Table = toml::from_str("banner = 1\nbogus = 'x'").unwrap();
        let limits = Limits::default();
        let err = build(&PluginSettings {
            name: "x",
            options: &options,
            limits: &limits,
            config_dir: std::path::Path::new("."),
            data_dir: std::path::Path::new("."),
        })
        .err()
        .unwrap();
        let keys: Vec<&str> = err.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["bogus", "banner"]);
    }
}
