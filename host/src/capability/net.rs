//! Network grants: which addresses a plugin may connect (or send datagrams) to, which local
//! addresses it may listen on, and whether it may look names up. Everything else is refused, with
//! a log line naming the plugin, the address and the grant that would allow it.
//!
//! Directions are separate grants: `allow-net` lets a plugin open TCP connections to, and
//! exchange UDP datagrams with, matching peers; `allow-listen` lets it bind matching local
//! addresses and accept connections on them. The ephemeral bind that precedes every outgoing
//! connection needs no grant of its own.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use wasmtime_wasi::sockets::SocketAddrUse;

use super::kind::{Kind, Takes, Unit, Wiring, Word, add_new, entries, list_or, switch};
use crate::error::Result;

/// A pattern `HOST:PORT` that a socket address may match.
///
/// `HOST` is one of:
/// - `*`: any address;
/// - an IP address: `127.0.0.1`, `[::1]` (IPv6 in brackets);
/// - a network in CIDR notation: `10.0.0.0/8`, `[fd00::/8]`;
/// - an IPv4 pattern with `*` for whole or partial octets: `10.0.*`, `192.168.*.1`;
/// - a host name (`localhost`, `db.internal`), resolved once when the plugin loads.
///
/// `PORT` is a number, a range `8000-8099`, or `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetPattern {
    host: HostPattern,
    ports: (u16, u16),
}

/// What a network pattern's host part stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Ip(IpAddr),
    Network(IpAddr, u8),
    /// An IPv4 pattern of digits, dots and `*`, matched against an address's dotted text.
    Ipv4Wildcard(String),
    /// A name, lowercase; what it stands for is looked up once, at load.
    Name(String),
}

impl NetPattern {
    /// Parses `HOST:PORT`.
    pub fn parse(text: &str) -> crate::Result<Self> {
        Self::parse_reason(text)
            .map_err(|reason| crate::Error::syntax("network pattern", text, reason))
    }

    fn parse_reason(text: &str) -> Result<Self, String> {
        let (host, port) = split_host_port(text)?;
        let ports = parse_ports(text, port)?;
        let host = parse_host(text, host)?;
        Ok(Self { host, ports })
    }

    /// Whether every address `request` can match is matched by this pattern too.
    ///
    /// A name is covered only by the same name or by `*`: what a name resolves to can change, so
    /// an address pattern never covers it, and a name never covers an address.
    pub fn covers(&self, request: &NetPattern) -> bool {
        let ports = self.ports.0 <= request.ports.0 && request.ports.1 <= self.ports.1;
        ports && self.host.covers(&request.host)
    }

    /// Whether `addr` matches, given the addresses the pattern's name (if any) resolved to.
    fn matches(&self, addr: &SocketAddr, resolved: &[IpAddr]) -> bool {
        (self.ports.0..=self.ports.1).contains(&addr.port())
            && self.host.matches(canonical(addr.ip()), resolved)
    }

    /// The addresses a name pattern stands for, looked up now. Other patterns need no lookup.
    fn resolve(&self) -> std::io::Result<Vec<IpAddr>> {
        match &self.host {
            HostPattern::Name(name) => (name.as_str(), 0)
                .to_socket_addrs()
                .map(|addrs| addrs.map(|a| canonical(a.ip())).collect()),
            _ => Ok(Vec::new()),
        }
    }
}

impl HostPattern {
    fn covers(&self, request: &HostPattern) -> bool {
        use HostPattern::*;
        match (self, request) {
            (Any, _) => true,
            (_, Any) => false,
            (Name(mine), Name(theirs)) => mine == theirs,
            (Name(_), _) | (_, Name(_)) => false,
            (mine, Ip(ip)) => mine.matches(*ip, &[]),
            (Ip(mine), Network(net, bits)) => full_length(*net) == *bits && mine == net,
            (Network(net, bits), Network(other, other_bits)) => {
                other_bits >= bits && in_network(*other, *net, *bits)
            }
            // A wildcard is covered by a wildcard that matches its text (a `*` of the request can
            // only be consumed by a `*` of the allowance, so every address it matches is matched).
            (Ipv4Wildcard(mine), Ipv4Wildcard(theirs)) => wildcard_match(mine, theirs),
            // Mixed forms are judged conservatively: not covered.
            _ => false,
        }
    }

    fn matches(&self, ip: IpAddr, resolved: &[IpAddr]) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Ip(mine) => *mine == ip,
            HostPattern::Network(net, bits) => in_network(ip, *net, *bits),
            HostPattern::Ipv4Wildcard(pattern) => {
                ip.is_ipv4() && wildcard_match(pattern, &ip.to_string())
            }
            HostPattern::Name(_) => resolved.contains(&ip),
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostPattern::Any => write!(f, "*"),
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            HostPattern::Ip(ip) => write!(f, "{ip}"),
            HostPattern::Network(IpAddr::V6(ip), bits) => write!(f, "[{ip}/{bits}]"),
            HostPattern::Network(ip, bits) => write!(f, "{ip}/{bits}"),
            HostPattern::Ipv4Wildcard(text) | HostPattern::Name(text) => write!(f, "{text}"),
        }
    }
}

impl std::fmt::Display for NetPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ports {
            (0, u16::MAX) => write!(f, "{}:*", self.host),
            (low, high) if low == high => write!(f, "{}:{low}", self.host),
            (low, high) => write!(f, "{}:{low}-{high}", self.host),
        }
    }
}

/// Splits `HOST:PORT`, insisting on brackets around IPv6 addresses.
fn split_host_port(text: &str) -> Result<(&str, &str), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("`{text}`: an opening `[` without its `]`"))?;
        let port = after
            .strip_prefix(':')
            .ok_or_else(|| format!("`{text}` is not [IPV6]:PORT"))?;
        return Ok((host, port));
    }
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("`{text}` is not HOST:PORT"))?;
    if host.contains(':') {
        return Err(format!(
            "`{text}`: write an IPv6 address in brackets, as in `[::1]:PORT`"
        ));
    }
    Ok((host, port))
}

fn parse_ports(text: &str, port: &str) -> Result<(u16, u16), String> {
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
    Ok(ports)
}

fn parse_port(text: &str, port: &str) -> Result<u16, String> {
    port.parse()
        .map_err(|_| format!("`{text}`: `{port}` is not a port number (0-65535) or `*`"))
}

fn parse_host(text: &str, host: &str) -> Result<HostPattern, String> {
    if host.is_empty() {
        return Err(format!("`{text}` has no host (use `*` for any)"));
    }
    if host == "*" {
        return Ok(HostPattern::Any);
    }
    if let Some((address, bits)) = host.split_once('/') {
        let ip: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}`: `{address}` is not an IP address"))?;
        let bits: u8 = bits
            .parse()
            .ok()
            .filter(|b| *b <= full_length(ip))
            .ok_or_else(|| format!("`{text}`: `/{bits}` is not a prefix length for {ip}"))?;
        return Ok(HostPattern::Network(canonical(ip), bits));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(HostPattern::Ip(canonical(ip)));
    }
    if host.contains('*') {
        let ipv4_like = host
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '*');
        if !ipv4_like || host.split('.').count() > 4 {
            return Err(format!(
                "`{text}`: `*` may stand only for IPv4 octets (`10.0.*`); a name is matched \
                 exactly, and resolved once when the plugin loads"
            ));
        }
        return Ok(HostPattern::Ipv4Wildcard(host.to_owned()));
    }
    let valid_name = host.split('.').all(|label| {
        !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if !valid_name || host.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!(
            "`{text}`: `{host}` is not an IP address, a network (CIDR), an IPv4 pattern or a host name"
        ));
    }
    Ok(HostPattern::Name(host.to_ascii_lowercase()))
}

/// An IPv4-mapped IPv6 address as the IPv4 address it stands for; other addresses unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn full_length(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let prefix = |value: u128, width: u8| {
        if bits == 0 {
            0
        } else {
            value >> (width - bits)
        }
    };
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            prefix(u128::from(u32::from(ip)), 32) == prefix(u128::from(u32::from(net)), 32)
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            prefix(u128::from(ip), 128) == prefix(u128::from(net), 128)
        }
        _ => false,
    }
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

/// A plugin's network grants with their names looked up: made once per plugin, at load, and
/// shared by all its instances.
#[derive(Debug, Default)]
pub(crate) struct ResolvedNet {
    connect: Vec<(NetPattern, Vec<IpAddr>)>,
    listen: Vec<(NetPattern, Vec<IpAddr>)>,
}

impl ResolvedNet {
    /// Looks up the names among the patterns; a name that does not resolve is logged and then
    /// matches nothing.
    pub(crate) fn resolve(plugin: &str, connect: &[NetPattern], listen: &[NetPattern]) -> Self {
        let resolve_all = |patterns: &[NetPattern]| -> Vec<(NetPattern, Vec<IpAddr>)> {
            patterns
                .iter()
                .map(|pattern| {
                    let addresses = pattern.resolve().unwrap_or_else(|e| {
                        tracing::warn!(
                            target: crate::store::output::LOG_TARGET,
                            plugin,
                            "cannot look up the granted host `{}`: {e}; the grant matches no address",
                            pattern.host
                        );
                        Vec::new()
                    });
                    (pattern.clone(), addresses)
                })
                .collect()
        };
        Self {
            connect: resolve_all(connect),
            listen: resolve_all(listen),
        }
    }

    fn is_empty(&self) -> bool {
        self.connect.is_empty() && self.listen.is_empty()
    }

    /// Whether `usage` of `addr` is allowed, and if not, the flag that would allow it.
    fn judge(&self, addr: SocketAddr, usage: SocketAddrUse) -> Result<(), &'static str> {
        let any = |rules: &[(NetPattern, Vec<IpAddr>)]| {
            rules
                .iter()
                .any(|(pattern, ips)| pattern.matches(&addr, ips))
        };
        let ephemeral = addr.ip().is_unspecified() && addr.port() == 0;
        match usage {
            // The implicit bind before a connection or a first datagram picks an ephemeral port
            // on any interface; what follows it (connect, send, listen) is checked itself.
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind if ephemeral => Ok(()),
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind | SocketAddrUse::TcpListen => {
                if any(&self.listen) {
                    Ok(())
                } else {
                    Err(ALLOW_LISTEN.name)
                }
            }
            // A peer connecting to a listener whose address was granted.
            SocketAddrUse::TcpAccept => Ok(()),
            SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend | SocketAddrUse::UdpReceive => {
                if any(&self.connect) {
                    Ok(())
                } else {
                    Err(ALLOW_NET.name)
                }
            }
        }
    }
}

/// The network a plugin is granted: the addresses it may connect to and exchange datagrams with,
/// the local addresses it may listen on, and whether it may look names up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Net {
    pub(crate) connect: Vec<NetPattern>,
    pub(crate) listen: Vec<NetPattern>,
    pub(crate) name_lookup: bool,
}

const ALLOW_NET: Word = Word {
    name: "allow-net",
    takes: Takes::List,
    value_name: "HOST:PORT",
    help: "Allow TCP connections to, and UDP datagrams with, HOST:PORT. HOST is an IP address \
           ([::1] for IPv6), a network (10.0.0.0/8), an IPv4 pattern (10.0.*), a name (resolved \
           once, at load) or `*`; PORT a number, a range A-B or `*`. Does not allow listening.",
    flag: true,
};

const ALLOW_LISTEN: Word = Word {
    name: "allow-listen",
    takes: Takes::List,
    value_name: "ADDR:PORT",
    help: "Allow binding and listening on the local address ADDR:PORT (same patterns as \
           --allow-net).",
    flag: true,
};

const ALLOW_NAME_LOOKUP: Word = Word {
    name: "allow-name-lookup",
    takes: Takes::Switch,
    value_name: "",
    help: "Allow name lookup (wasi:sockets/ip-name-lookup).",
    flag: true,
};

impl Kind for Net {
    const WORDS: &'static [Word] = &[ALLOW_NET, ALLOW_LISTEN, ALLOW_NAME_LOOKUP];
    const UNITS: &'static [Unit<Self>] = &[
        // Name lookup: `wasi:sockets/ip-name-lookup`.
        Unit {
            name: "wasi:sockets/ip-name-lookup",
            covers: &["wasi:sockets/ip-name-lookup"],
            describe: |net| match net.name_lookup {
                true => (true, "name lookup".to_owned()),
                false => (
                    false,
                    format!("no name lookup (grant with {})", ALLOW_NAME_LOOKUP.hint()),
                ),
            },
        },
        // Sockets: `wasi:sockets`, to and on the granted addresses.
        Unit {
            name: "wasi:sockets",
            covers: &["wasi:sockets/"],
            describe: |net| {
                let connect = net.connect.iter().map(NetPattern::to_string);
                let listen = net.listen.iter().map(|p| format!("listen {p}"));
                list_or(
                    connect.chain(listen).collect(),
                    &format!(
                        "no addresses (grant with {} or {})",
                        ALLOW_NET.hint(),
                        ALLOW_LISTEN.hint()
                    ),
                )
            },
        },
    ];
    /// The names among the patterns, looked up once per load.
    type Ready = Arc<ResolvedNet>;

    fn add(&mut self, word: &str, value: &toml::Value) -> Result<()> {
        if word == ALLOW_NAME_LOOKUP.name {
            self.name_lookup = switch(word, value)?;
            return Ok(());
        }
        let into = match word {
            "allow-listen" => &mut self.listen,
            _ => &mut self.connect,
        };
        for entry in entries(word, value)? {
            into.push(NetPattern::parse(entry)?);
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        add_new(&mut self.connect, other.connect);
        add_new(&mut self.listen, other.listen);
        self.name_lookup |= other.name_lookup;
    }

    fn describe(&self, lines: &mut Vec<String>) {
        lines.extend(self.connect.iter().map(|p| format!("allow-net {p}")));
        lines.extend(self.listen.iter().map(|p| format!("allow-listen {p}")));
        if self.name_lookup {
            lines.push(ALLOW_NAME_LOOKUP.name.to_owned());
        }
    }

    /// A pattern is covered when every address it can match is matched by an allowance.
    fn restrict(&self, allowed: &Self, excess: &mut Vec<String>) -> Self {
        let mut granted = Net::default();
        for (requested, allowances, into, word) in [
            (
                &self.connect,
                &allowed.connect,
                &mut granted.connect,
                ALLOW_NET,
            ),
            (
                &self.listen,
                &allowed.listen,
                &mut granted.listen,
                ALLOW_LISTEN,
            ),
        ] {
            for pattern in requested {
                if allowances.iter().any(|a| a.covers(pattern)) {
                    into.push(pattern.clone());
                } else {
                    excess.push(format!("{} {pattern}", word.name));
                }
            }
        }
        granted.name_lookup = self.name_lookup && allowed.name_lookup;
        if self.name_lookup && !allowed.name_lookup {
            excess.push(ALLOW_NAME_LOOKUP.name.to_owned());
        }
        granted
    }

    fn prepare(&self, plugin: &Arc<str>) -> Result<Self::Ready> {
        Ok(Arc::new(ResolvedNet::resolve(
            plugin,
            &self.connect,
            &self.listen,
        )))
    }

    fn wire(&self, resolved: &Self::Ready, wiring: &mut Wiring<'_>) -> Result<()> {
        let builder = &mut *wiring.builder;
        builder.allow_ip_name_lookup(self.name_lookup);
        if resolved.is_empty() {
            builder.allow_tcp(false).allow_udp(false);
            return Ok(());
        }
        builder.allow_tcp(true).allow_udp(true);
        let resolved = resolved.clone();
        let plugin = wiring.plugin.clone();
        builder.socket_addr_check(move |addr, usage| {
            let verdict = resolved.judge(addr, usage);
            if let Err(flag) = verdict {
                // A datagram from a peer not granted is dropped silently by WASI; logging each
                // would let any sender on the network flood the host's log.
                if !matches!(usage, SocketAddrUse::UdpReceive) {
                    tracing::warn!(
                        target: crate::store::output::LOG_TARGET,
                        plugin = &*plugin,
                        "refused network access ({usage:?}) to {addr}; grant it with --{flag} {addr} \
                         (grants TOML: {flag} = [\"{addr}\"])"
                    );
                }
            }
            Box::pin(async move { verdict.is_ok() })
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(connect: &[&str], listen: &[&str]) -> ResolvedNet {
        let parse = |patterns: &[&str]| -> Vec<NetPattern> {
            patterns
                .iter()
                .map(|p| NetPattern::parse(p).expect("pattern"))
                .collect()
        };
        ResolvedNet::resolve("test", &parse(connect), &parse(listen))
    }

    fn allowed(patterns: &[&str], addr: &str, usage: SocketAddrUse) -> bool {
        resolved(patterns, &[])
            .judge(addr.parse().expect("addr"), usage)
            .is_ok()
    }

    fn pattern(text: &str) -> NetPattern {
        NetPattern::parse(text).expect("pattern")
    }

    #[test]
    fn exact_address_and_port() {
        use SocketAddrUse::TcpConnect;
        assert!(allowed(&["127.0.0.1:8080"], "127.0.0.1:8080", TcpConnect));
        assert!(!allowed(&["127.0.0.1:8080"], "127.0.0.1:8081", TcpConnect));
        assert!(!allowed(&["127.0.0.1:8080"], "127.0.0.2:8080", TcpConnect));
        assert!(allowed(
            &["127.0.0.1:8080"],
            "[::ffff:127.0.0.1]:8080",
            TcpConnect
        ));
    }

    #[test]
    fn wildcards_networks_and_ranges() {
        use SocketAddrUse::{TcpConnect, UdpSend};
        assert!(allowed(&["127.0.0.*:*"], "127.0.0.9:1", TcpConnect));
        assert!(allowed(&["*:443"], "93.184.216.34:443", TcpConnect));
        assert!(!allowed(&["*:443"], "93.184.216.34:80", TcpConnect));
        assert!(allowed(&["10.0.0.1:8000-8099"], "10.0.0.1:8050", UdpSend));
        assert!(!allowed(&["10.0.0.1:8000-8099"], "10.0.0.1:8100", UdpSend));
        assert!(allowed(&["[::1]:22"], "[::1]:22", TcpConnect));
        assert!(allowed(&["10.0.0.0/8:5432"], "10.200.3.4:5432", TcpConnect));
        assert!(!allowed(&["10.0.0.0/8:5432"], "11.0.0.1:5432", TcpConnect));
        assert!(allowed(&["[fd00::/8]:443"], "[fd12::1]:443", TcpConnect));
        assert!(!allowed(&["[fd00::/8]:443"], "[fe80::1]:443", TcpConnect));
    }

    #[test]
    fn names_are_resolved_once() {
        assert!(allowed(
            &["localhost:80"],
            "127.0.0.1:80",
            SocketAddrUse::TcpConnect
        ));
        // A name that does not resolve matches nothing (and was logged).
        assert!(!allowed(
            &["no-such-host.invalid:80"],
            "127.0.0.1:80",
            SocketAddrUse::TcpConnect
        ));
    }

    #[test]
    fn connecting_does_not_grant_listening() {
        use SocketAddrUse::{TcpAccept, TcpBind, TcpListen, UdpBind};
        // The ephemeral bind before a connection needs no grant...
        assert!(allowed(&["127.0.0.1:80"], "0.0.0.0:0", TcpBind));
        assert!(allowed(&["127.0.0.1:80"], "0.0.0.0:0", UdpBind));
        // ...but listening, and binding anything else, needs allow-listen.
        assert!(!allowed(&["*:*"], "0.0.0.0:0", TcpListen));
        assert!(!allowed(&["*:*"], "0.0.0.0:40000", TcpListen));
        assert!(!allowed(&["*:*"], "0.0.0.0:9000", TcpBind));
        assert!(!allowed(&["*:*"], "127.0.0.1:9000", UdpBind));
        let listen = resolved(&[], &["127.0.0.1:9000"]);
        assert!(
            listen
                .judge("127.0.0.1:9000".parse().expect("addr"), TcpBind)
                .is_ok()
        );
        assert!(
            listen
                .judge("127.0.0.1:9000".parse().expect("addr"), TcpListen)
                .is_ok()
        );
        assert!(
            listen
                .judge("127.0.0.1:9001".parse().expect("addr"), TcpListen)
                .is_err()
        );
        assert!(
            listen
                .judge("10.0.0.1:5555".parse().expect("addr"), TcpAccept)
                .is_ok()
        );
        assert_eq!(
            listen.judge(
                "127.0.0.1:80".parse().expect("addr"),
                SocketAddrUse::TcpConnect
            ),
            Err("allow-net")
        );
    }

    #[test]
    fn bad_patterns_are_explained() {
        let err = |text: &str| NetPattern::parse(text).unwrap_err().to_string();
        assert!(err("example.com").contains("HOST:PORT"));
        assert!(err("example.com:http").contains("port number"));
        assert!(err(":80").contains("no host"));
        assert!(err("h:90-80").contains("empty"));
        assert!(err("::1").contains("brackets"), "{}", err("::1"));
        assert!(err("fe80::1:22").contains("brackets"));
        assert!(err("[::1").contains("`]`"));
        assert!(err("*.example.com:443").contains("IPv4 octets"));
        assert!(err("10.0.0.0/33:1").contains("prefix length"));
        assert!(err("bad_name:1").contains("host name"));
        assert!(err("1.2.3:1").contains("host name"));
    }

    #[test]
    fn patterns_print_as_written() {
        for text in [
            "127.0.0.1:80",
            "*:*",
            "[::1]:22",
            "h:1-2",
            "10.0.0.0/8:5432",
            "[fd00::/8]:443",
            "10.0.*:1",
        ] {
            assert_eq!(pattern(text).to_string(), text);
        }
    }

    #[test]
    fn coverage_is_judged_on_what_the_patterns_mean_not_their_text() {
        // The hostile review's case: a name that merely starts like an allowed address.
        assert!(!pattern("10.*:5432").covers(&pattern("10.0.0.1.attacker.example:5432")));
        assert!(!pattern("10.0.0.0/8:5432").covers(&pattern("10.0.0.1.attacker.example:5432")));
        assert!(pattern("10.*:5432").covers(&pattern("10.0.0.1:5432")));
        assert!(pattern("10.*:5432").covers(&pattern("10.0.*:5432")));
        assert!(!pattern("10.0.*:5432").covers(&pattern("10.*:5432")));
        assert!(pattern("10.0.0.0/8:*").covers(&pattern("10.1.0.0/16:80")));
        assert!(!pattern("10.1.0.0/16:*").covers(&pattern("10.0.0.0/8:80")));
        assert!(pattern("*:*").covers(&pattern("db.internal:5432")));
        assert!(pattern("db.internal:5432").covers(&pattern("DB.internal:5432")));
        assert!(!pattern("db.internal:5432").covers(&pattern("10.0.0.1:5432")));
        assert!(!pattern("127.0.0.1:*").covers(&pattern("localhost:80")));
        assert!(!pattern("127.0.0.1:80").covers(&pattern("127.0.0.1:80-81")));
        assert!(pattern("127.0.0.1:80").covers(&pattern("127.0.0.1/32:80")));
    }
}
