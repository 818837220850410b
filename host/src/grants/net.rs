//! Network grants: which `host:port` a plugin may connect to or bind, and whether it may look
//! names up. Everything else is refused, with a log line naming the plugin, the address and the
//! grant that would allow it.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::sockets::SocketAddrUse;

/// A pattern `HOST:PORT` that a socket address may match.
///
/// `HOST` is an IP address (`127.0.0.1`, `[::1]`), a name resolved when the plugin's instance is
/// created (`localhost`), or a pattern with `*` wildcards matched against the address's text
/// (`*`, `10.0.*`). `PORT` is a number, a range `8000-8099`, or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetPattern {
    host: String,
    ports: (u16, u16),
}

impl NetPattern {
    /// Parses `HOST:PORT`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| format!("`{text}` is not HOST:PORT"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("`{text}` has no host (use `*` for any)"));
        }
        let ports = match port {
            "*" => (0, u16::MAX),
            _ => match port.split_once('-') {
                Some((low, high)) => (parse_port(text, low)?, parse_port(text, high)?),
                None => {
                    let port = parse_port(text, port)?;
                    (port, port)
                }
            },
        };
        if ports.0 > ports.1 {
            return Err(format!("`{text}`: the port range is empty"));
        }
        Ok(Self {
            host: host.to_owned(),
            ports,
        })
    }

    /// Whether every address `other` matches is matched by this pattern too (judged on the
    /// patterns' text: a name is not resolved).
    pub fn covers(&self, other: &NetPattern) -> bool {
        wildcard_match(&self.host, &other.host)
            && self.ports.0 <= other.ports.0
            && other.ports.1 <= self.ports.1
    }

    fn matches(&self, addr: &SocketAddr, resolved: &[IpAddr]) -> bool {
        let port_ok = (self.ports.0..=self.ports.1).contains(&addr.port());
        port_ok
            && (resolved.contains(&addr.ip()) || wildcard_match(&self.host, &addr.ip().to_string()))
    }

    /// The addresses a name pattern stands for, looked up now.
    fn resolve(&self) -> Vec<IpAddr> {
        if self.host.contains('*') {
            return Vec::new();
        }
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return vec![ip];
        }
        (self.host.as_str(), 0)
            .to_socket_addrs()
            .map(|addrs| addrs.map(|a| a.ip()).collect())
            .unwrap_or_default()
    }
}

impl std::fmt::Display for NetPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.ports {
            (0, u16::MAX) => write!(f, "{host}:*"),
            (low, high) if low == high => write!(f, "{host}:{low}"),
            (low, high) => write!(f, "{host}:{low}-{high}"),
        }
    }
}

fn parse_port(text: &str, port: &str) -> Result<u16, String> {
    port.parse()
        .map_err(|_| format!("`{text}`: `{port}` is not a port number (0-65535) or `*`"))
}

/// `*` matches any run of characters; everything else matches itself.
pub(crate) fn wildcard_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            let Some(tail) = text.strip_prefix(prefix) else {
                return false;
            };
            (0..=tail.len())
                .filter(|i| tail.is_char_boundary(*i))
                .any(|i| wildcard_match(rest, &tail[i..]))
        }
    }
}

pub(crate) fn apply(
    builder: &mut WasiCtxBuilder,
    plugin: &Arc<str>,
    patterns: &[NetPattern],
    name_lookup: bool,
) {
    builder.allow_ip_name_lookup(name_lookup);
    if patterns.is_empty() {
        builder.allow_tcp(false).allow_udp(false);
        return;
    }
    builder.allow_tcp(true).allow_udp(true);
    let resolved: Vec<(NetPattern, Vec<IpAddr>)> =
        patterns.iter().map(|p| (p.clone(), p.resolve())).collect();
    let plugin = plugin.clone();
    builder.socket_addr_check(move |addr, usage| {
        let allowed = is_allowed(&resolved, addr, usage);
        if !allowed {
            tracing::warn!(
                target: crate::LOG_TARGET,
                plugin = &*plugin,
                "refused network access ({usage:?}) to {addr}; grant it with --allow-net {addr} \
                 (grants TOML: allow-net = [\"{addr}\"])"
            );
        }
        Box::pin(async move { allowed })
    });
}

fn is_allowed(
    patterns: &[(NetPattern, Vec<IpAddr>)],
    addr: SocketAddr,
    usage: SocketAddrUse,
) -> bool {
    let matches = || patterns.iter().any(|(p, ips)| p.matches(&addr, ips));
    match usage {
        // The ephemeral bind that precedes every outgoing connection: the connection itself is
        // checked next.
        SocketAddrUse::TcpBind | SocketAddrUse::UdpBind
            if addr.ip().is_unspecified() && addr.port() == 0 =>
        {
            true
        }
        // Accepting a peer on a listener whose address was already checked.
        SocketAddrUse::TcpAccept => true,
        _ => matches(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(patterns: &[&str], addr: &str, usage: SocketAddrUse) -> bool {
        let patterns: Vec<_> = patterns
            .iter()
            .map(|p| {
                let p = NetPattern::parse(p).expect("pattern");
                let ips = p.resolve();
                (p, ips)
            })
            .collect();
        is_allowed(&patterns, addr.parse().expect("addr"), usage)
    }

    #[test]
    fn exact_address_and_port() {
        assert!(allowed(
            &["127.0.0.1:8080"],
            "127.0.0.1:8080",
            SocketAddrUse::TcpConnect
        ));
        assert!(!allowed(
            &["127.0.0.1:8080"],
            "127.0.0.1:8081",
            SocketAddrUse::TcpConnect
        ));
        assert!(!allowed(
            &["127.0.0.1:8080"],
            "127.0.0.2:8080",
            SocketAddrUse::TcpConnect
        ));
    }

    #[test]
    fn wildcards_and_ranges() {
        assert!(allowed(
            &["127.0.0.*:*"],
            "127.0.0.9:1",
            SocketAddrUse::TcpConnect
        ));
        assert!(allowed(
            &["*:443"],
            "93.184.216.34:443",
            SocketAddrUse::TcpConnect
        ));
        assert!(!allowed(
            &["*:443"],
            "93.184.216.34:80",
            SocketAddrUse::TcpConnect
        ));
        assert!(allowed(
            &["10.0.0.1:8000-8099"],
            "10.0.0.1:8050",
            SocketAddrUse::UdpSend
        ));
        assert!(!allowed(
            &["10.0.0.1:8000-8099"],
            "10.0.0.1:8100",
            SocketAddrUse::UdpSend
        ));
        assert!(allowed(
            &["[::1]:22"],
            "[::1]:22",
            SocketAddrUse::TcpConnect
        ));
    }

    #[test]
    fn names_are_resolved() {
        assert!(allowed(
            &["localhost:80"],
            "127.0.0.1:80",
            SocketAddrUse::TcpConnect
        ));
    }

    #[test]
    fn binds_and_listens_need_a_grant_except_the_ephemeral_one() {
        assert!(allowed(
            &["127.0.0.1:80"],
            "0.0.0.0:0",
            SocketAddrUse::TcpBind
        ));
        assert!(!allowed(
            &["127.0.0.1:80"],
            "0.0.0.0:0",
            SocketAddrUse::TcpListen
        ));
        assert!(!allowed(
            &["127.0.0.1:80"],
            "0.0.0.0:9000",
            SocketAddrUse::TcpBind
        ));
        assert!(allowed(
            &["0.0.0.0:9000"],
            "0.0.0.0:9000",
            SocketAddrUse::TcpBind
        ));
    }

    #[test]
    fn bad_patterns_are_explained() {
        assert!(
            NetPattern::parse("example.com")
                .unwrap_err()
                .contains("HOST:PORT")
        );
        assert!(
            NetPattern::parse("example.com:http")
                .unwrap_err()
                .contains("port number")
        );
        assert!(NetPattern::parse(":80").unwrap_err().contains("no host"));
        assert!(NetPattern::parse("h:90-80").unwrap_err().contains("empty"));
    }

    #[test]
    fn patterns_print_as_written() {
        for text in ["127.0.0.1:80", "*:*", "[::1]:22", "h:1-2"] {
            assert_eq!(NetPattern::parse(text).expect("pattern").to_string(), text);
        }
    }
}
