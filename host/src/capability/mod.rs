//! What a plugin is allowed to reach. Everything is denied unless granted.
//!
//! Defaults: no arguments, no environment variables, stdin closed, stdout and stderr into the
//! host's log (capped at 1 MiB each per call), no directories, no network, no
//! name lookup, no application host interfaces. Clocks and randomness are the host's real ones unless
//! [`Grants::deterministic`] replaces them.
//!
//! The same grants can be written in TOML ([`Grants::parse`], [`Grants::from_file`]), with the vocabulary of the
//! CLI's flags:
//!
//! ```toml
//! dir = ["/srv/data::/data"]        # read-only, HOST[::GUEST]
//! dir-rw = ["/tmp/out::/out"]       # read-write
//! env = ["HOME", "MODE=fast"]       # NAME takes the host's value; NAME=VALUE sets one
//! args = ["--verbose"]
//! allow-net = ["127.0.0.1:8080", "10.0.0.0/8:5432"]   # connect to / send to
//! allow-listen = ["127.0.0.1:9000"]  # bind and listen on
//! allow-name-lookup = true
//! allow-http = ["api.example.com", "http://127.0.0.1:8080", "*.example.org:*"]
//! stdin = true                      # inherit the host's stdin
//! stdout = "log"                    # "log", "prefixed", "inherit" or "discard"
//! stderr = "inherit"
//! output-cap = 65536                # bytes per call of stdout, of stderr and of the log interface
//! deterministic = 42                # true, or a seed
//! interfaces = ["acme:app/kv@1.0.0"]
//! ```

//!
//! Each kind of capability is a file of its own (`args`, `env`, `fs`, `stdio`, `net`, `http`,
//! `determinism`, `interfaces`) implementing `kind::Kind`; `registry` lists the kinds once, and
//! [`Grants`] holds one field per kind.

mod args;
pub(crate) mod determinism;
mod env;
pub(crate) mod framework;
pub(crate) mod fs;
mod grants;
mod http;
pub(crate) mod interfaces;
mod kind;
mod net;
mod prepared;
mod registry;
mod stdio;

pub use env::EnvGrant;
pub use fs::DirGrant;
pub use http::HttpPattern;
pub use kind::{Takes, Word};
pub use net::NetPattern;
pub(crate) use net::wildcard_match;
pub(crate) use prepared::PreparedGrants;
pub use registry::{Grants, words};
pub use stdio::Output;
