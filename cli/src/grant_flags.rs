//! The grant flags shared by `run`, `watch` and `inspect`: the CLI spelling of
//! `componentry::Grants`.

use std::path::PathBuf;

use clap::Args;
use componentry::{DEFAULT_SEED, Grants};

use crate::exit::Failure;

/// What the plugin may reach. Nothing unless granted here.
#[derive(Args, Debug, Default)]
pub struct GrantFlags {
    /// Grant a host directory read-only, seen by the plugin at GUEST (default: the same path).
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,

    /// Grant a host directory read-write.
    #[arg(long = "dir-rw", value_name = "HOST[::GUEST]")]
    dirs_rw: Vec<String>,

    /// Grant an environment variable: NAME takes the host's value, NAME=VALUE sets one.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,

    /// Allow TCP connections to, and UDP datagrams with, HOST:PORT. HOST is an IP address
    /// ([::1] for IPv6), a network (10.0.0.0/8), an IPv4 pattern (10.0.*), a name (resolved
    /// once, at load) or `*`; PORT a number, a range A-B or `*`. Does not allow listening.
    #[arg(long = "allow-net", value_name = "HOST:PORT")]
    allow_net: Vec<String>,

    /// Allow binding and listening on the local address ADDR:PORT (same patterns as
    /// --allow-net).
    #[arg(long = "allow-listen", value_name = "ADDR:PORT")]
    allow_listen: Vec<String>,

    /// Allow outbound HTTP (wasi:http) to [SCHEME://]HOST[:PORT]: HOST a name, *.DOMAIN, an IP
    /// address or `*`; without a port, the scheme's default port; `:*` for any port.
    #[arg(long = "allow-http", value_name = "HOST")]
    allow_http: Vec<String>,

    /// Allow name lookup (wasi:sockets/ip-name-lookup).
    #[arg(long)]
    allow_name_lookup: bool,

    /// Let the plugin read this process's stdin.
    #[arg(long)]
    stdin: bool,

    /// Virtual clocks and seeded randomness, for reproducible runs.
    #[arg(long)]
    deterministic: bool,

    /// The seed of --deterministic.
    #[arg(long, value_name = "N", requires = "deterministic")]
    seed: Option<u64>,

    /// Read grants from a TOML file (same vocabulary as these flags); flags add to it.
    #[arg(long = "grants", value_name = "FILE.toml")]
    grants_file: Option<PathBuf>,
}

impl GrantFlags {
    /// The grants these flags describe.
    pub fn to_grants(&self) -> Result<Grants, Failure> {
        let mut grants = match &self.grants_file {
            Some(path) => Grants::from_toml_file(path)?,
            None => Grants::none(),
        };
        // The flags are the grants vocabulary's words: one parser for both.
        for (word, values) in [
            ("dir", &self.dirs),
            ("dir-rw", &self.dirs_rw),
            ("env", &self.env),
            ("allow-net", &self.allow_net),
            ("allow-listen", &self.allow_listen),
            ("allow-http", &self.allow_http),
        ] {
            for value in values {
                grants = grants
                    .add(word, value)
                    .map_err(|e| Failure::Usage(format!("--{word}: {e}")))?;
            }
        }
        if self.allow_name_lookup {
            grants = grants.allow_name_lookup(true);
        }
        if self.stdin {
            grants = grants.inherit_stdin(true);
        }
        if self.deterministic {
            grants = grants.deterministic(self.seed.unwrap_or(DEFAULT_SEED));
        }
        Ok(grants)
    }
}
