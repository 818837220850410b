//! The grant flags shared by `run` and `inspect`: the CLI spelling of `componentry::Grants`.

use std::path::PathBuf;

use clap::Args;
use componentry::{DEFAULT_SEED, DirGrant, Grants, HttpPattern, NetPattern};

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

    /// Allow connecting to (or binding) HOST:PORT; `*` wildcards, port ranges A-B.
    #[arg(long = "allow-net", value_name = "HOST:PORT")]
    allow_net: Vec<String>,

    /// Allow outbound HTTP (wasi:http) to [SCHEME://]HOST[:PORT]; `*` wildcards in HOST.
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
        for (specs, writable, flag) in [
            (&self.dirs, false, "--dir"),
            (&self.dirs_rw, true, "--dir-rw"),
        ] {
            for spec in specs {
                let dir = DirGrant::parse(spec, writable)
                    .map_err(|e| Failure::Usage(format!("{flag}: {e}")))?;
                grants = if writable {
                    grants.dir_rw(dir.host, dir.guest)
                } else {
                    grants.dir(dir.host, dir.guest)
                };
            }
        }
        for spec in &self.env {
            if spec.is_empty() || spec.starts_with('=') {
                return Err(Failure::Usage(format!(
                    "--env: `{spec}` is not NAME or NAME=VALUE"
                )));
            }
            grants = grants.env_spec(spec);
        }
        for spec in &self.allow_net {
            let pattern =
                NetPattern::parse(spec).map_err(|e| Failure::Usage(format!("--allow-net: {e}")))?;
            grants = grants.allow_net(pattern);
        }
        for spec in &self.allow_http {
            let pattern = HttpPattern::parse(spec)
                .map_err(|e| Failure::Usage(format!("--allow-http: {e}")))?;
            grants = grants.allow_http(pattern);
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
