//! The built-in plug-ins. Each module has a `build` constructor listed in
//! [`crate::plugin::registry`].

pub mod banner;
pub mod foreign;
pub mod http;
pub mod lua;
pub mod options;
pub mod rules;
#[cfg(feature = "ssh")]
pub mod ssh;
pub mod telnet;

/// `kind = "ssh"` in a build with the `ssh` feature: the SSH plug-in ([`ssh::build`]).
#[cfg(feature = "ssh")]
pub use ssh::build as ssh_build;

/// `kind = "ssh"` in a build without the `ssh` feature: refused with the way to get it.
#[cfg(not(feature = "ssh"))]
pub fn ssh_build(
    _settings: &crate::plugin::PluginSettings<'_>,
) -> Result<std::sync::Arc<dyn crate::plugin::Plugin>, Vec<crate::plugin::OptionProblem>> {
    Err(vec![crate::plugin::OptionProblem::new(
        "kind",
        "this recce7 was built without SSH: build it with `cargo build --release --features ssh` (docs/ssh.md)",
    )])
}
