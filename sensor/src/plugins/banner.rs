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
use crate::plugin::{
    HandlerFuture, OptionProblem, Plugin, PluginSettings, integer, option_str, text,
    unknown_options,
};
use crate::plugins::foreign;
use crate::session::{Session, row};

/// A banner service: the options it was built with.
#[derive(Debug, Clone)]
pub struct BannerPlugin {
    banner: String,
    reply: String,
    protocol: String,
    max_raw_bytes: usize,
}

/// Builds a [`BannerPlugin`] from `[plugin.options]`: `banner`, `reply`, `protocol` (all optional).
pub fn build(settings: &PluginSettings<'_>) -> Result<Arc<dyn Plugin>, Vec<OptionProblem>> {
    let mut problems = Vec::new();
    unknown_options(
        settings.options,
        &["banner", "reply", "protocol"],
        &mut problems,
    );
    let banner = option_str(settings.options, "banner", &mut problems).unwrap_or("");
    let reply = option_str(settings.options, "reply", &mut problems).unwrap_or("ERR\r\n");
    let protocol = option_str(settings.options, "protocol", &mut problems).unwrap_or("tcp");
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Arc::new(BannerPlugin {
        banner: banner.to_owned(),
        reply: reply.to_owned(),
        protocol: protocol.to_owned(),
        max_raw_bytes: settings.limits.max_raw_bytes,
    }))
}

impl BannerPlugin {
    async fn converse(
        &self,
        conn: &mut Connection,
        session: &mut Session,
    ) -> Result<(), CloseReason> {
        conn.write_all(self.banner.as_bytes()).await?;
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
                    let rest = conn.take_buffer();
                    if !rest.is_empty() {
                        session.record_raw(reason.as_str(), &rest).await;
                    }
                    return Err(reason);
                }
            };
            let mut data = row([("line", escape_text(&line).into())]);
            if !line.terminated {
                data.insert("unterminated".into(), true.into());
            }
            session.record(EventType::ServiceInput, data).await;
            conn.write_all(self.reply.as_bytes()).await?;
        }
    }
}

impl Plugin for BannerPlugin {
    fn protocol(&self) -> &str {
        &self.protocol
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
        })
        .err()
        .unwrap();
        let keys: Vec<&str> = err.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["bogus", "banner"]);
    }
}
