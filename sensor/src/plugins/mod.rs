//! The built-in plug-ins. Each module has a `build` constructor listed in
//! [`crate::plugin::registry`].

pub mod banner;
pub mod foreign;
pub mod http;
pub mod lua;
pub mod options;
pub mod rules;
pub mod ssh;
pub mod telnet;
