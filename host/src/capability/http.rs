//! Outbound HTTP grants (`wasi:http/outgoing-handler`): requests go out only to allowed hosts and
//! schemes; everything else is refused with wasi:http's `HTTP-request-denied`, and a log line
//! naming the plugin, the URL and the grant that would allow it.

use std::future::Future;
use std::sync::Arc;

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::kind::{Kind, Takes, Unit, Wiring, Word, add_new, entries, list_or};
use crate::error::Result;

/// An allowed HTTP destination: `[SCHEME://]HOST[:PORT]`.
///
/// - `SCHEME` is `http` or `https`; without it, both.
/// - `HOST` is a name (`api.example.com`), `*.DOMAIN` for any subdomain of `DOMAIN` (not
///   `DOMAIN` itself), an IP address (IPv6 in brackets: `[::1]`), or `*` for any host.
/// - `PORT` is a number, or `*` for any; without it, the scheme's default port (80 for `http`,
///   443 for `https`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPattern {
    scheme: Option<Scheme>,
    host: HttpHost,
    port: PortRule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HttpHost {
    Any,
    /// `*.DOMAIN`: the lowercase domain whose subdomains match.
    Subdomains(String),
    /// A lowercase name, or an IP address's canonical text (IPv6 without brackets).
    Exact(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortRule {
    /// The scheme's default port.
    Default,
    Any,
    Exact(u16),
}

impl HttpPattern {
    /// Parses `[SCHEME://]HOST[:PORT]`.
    pub fn parse(text: &str) -> crate::Result<Self> {
        Self::parse_reason(text)
            .map_err(|reason| crate::Error::syntax("HTTP pattern", text, reason))
    }

    fn parse_reason(text: &str) -> Result<Self, String> {
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme, rest)) => {
                let scheme = Scheme::parse(scheme)
                    .ok_or_else(|| format!("`{text}`: the scheme must be http or https"))?;
                (Some(scheme), rest)
            }
            None => (None, text),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(format!("`{text}`: give a host, not a path"));
        }
        let (host, port) = split_authority(text, rest)?;
        let port = match port {
            None => PortRule::Default,
            Some("*") => PortRule::Any,
            Some(port) => PortRule::Exact(port.parse().map_err(|_| {
                format!("`{text}`: `{port}` is not a port number (0-65535) or `*`")
            })?),
        };
        Ok(Self {
            scheme,
            host: parse_host(text, host)?,
            port,
        })
    }

    /// Whether every destination `request` allows is allowed by this pattern too.
    pub fn covers(&self, request: &HttpPattern) -> bool {
        let schemes: &[Scheme] = match request.scheme {
            Some(ref scheme) => std::slice::from_ref(scheme),
            None => &[Scheme::Http, Scheme::Https],
        };
        let scheme = self.scheme.is_none() || self.scheme == request.scheme;
        let port = schemes.iter().all(|scheme| {
            let mine = self.port_of(*scheme);
            match request.port_of(*scheme) {
                None => mine.is_none(),
                Some(port) => mine.is_none_or(|m| m == port),
            }
        });
        scheme && port && self.host.covers(&request.host)
    }

    /// The one port this pattern allows for `scheme`, or `None` for any.
    fn port_of(&self, scheme: Scheme) -> Option<u16> {
        match self.port {
            PortRule::Default => Some(scheme.default_port()),
            PortRule::Any => None,
            PortRule::Exact(port) => Some(port),
        }
    }

    fn allows(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        self.scheme.is_none_or(|s| s == scheme)
            && self.port_of(scheme).is_none_or(|p| p == port)
            && self.host.matches(host)
    }
}

/// Splits `HOST[:PORT]`, insisting on brackets around IPv6 addresses.
fn split_authority<'a>(
    text: &str,
    authority: &'a str,
) -> Result<(&'a str, Option<&'a str>), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("`{text}`: an opening `[` without its `]`"))?;
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("`{text}` is not [IPV6][:PORT]")),
            },
        };
    }
    match authority.split_once(':') {
        Some((_, rest)) if rest.contains(':') => Err(format!(
            "`{text}`: write an IPv6 address in brackets, as in `[::1]` or `[::1]:8080`"
        )),
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((authority, None)),
    }
}

fn parse_host(text: &str, host: &str) -> Result<HttpHost, String> {
    if host.is_empty() {
        return Err(format!("`{text}` has no host"));
    }
    if host == "*" {
        return Ok(HttpHost::Any);
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(HttpHost::Exact(ip.to_string()));
    }
    let (subdomains, name) = match host.strip_prefix("*.") {
        Some(domain) => (true, domain),
        None => (false, host),
    };
    let valid = name.split('.').all(|label| {
        !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    });
    if !valid {
        return Err(format!(
            "`{text}`: `{host}` is not a host name, `*.DOMAIN`, an IP address or `*` \
             (`*` stands only for a whole leading part: `*.example.com`)"
        ));
    }
    let name = name.to_ascii_lowercase();
    Ok(if subdomains {
        HttpHost::Subdomains(name)
    } else {
        HttpHost::Exact(name)
    })
}

impl HttpHost {
    /// Whether the host of a request's URI (lowercase; an IPv6 address with or without
    /// brackets) matches.
    fn matches(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = match host.parse::<std::net::IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => host.to_ascii_lowercase(),
        };
        match self {
            HttpHost::Any => true,
            HttpHost::Subdomains(domain) => is_subdomain(&host, domain),
            HttpHost::Exact(name) => *name == host,
        }
    }

    fn covers(&self, request: &HttpHost) -> bool {
        match (self, request) {
            (HttpHost::Any, _) => true,
            (_, HttpHost::Any) => false,
            (HttpHost::Subdomains(mine), HttpHost::Subdomains(theirs)) => {
                mine == theirs || is_subdomain(theirs, mine)
            }
            (HttpHost::Subdomains(mine), HttpHost::Exact(theirs)) => is_subdomain(theirs, mine),
            (HttpHost::Exact(mine), HttpHost::Exact(theirs)) => mine == theirs,
            (HttpHost::Exact(_), HttpHost::Subdomains(_)) => false,
        }
    }
}

/// Whether `host` lies strictly below `domain` (`a.example.com` below `example.com`).
fn is_subdomain(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
}

impl std::fmt::Display for HttpPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(scheme) = self.scheme {
            write!(f, "{}://", scheme.name())?;
        }
        match &self.host {
            HttpHost::Any => write!(f, "*")?,
            HttpHost::Subdomains(domain) => write!(f, "*.{domain}")?,
            HttpHost::Exact(host) if host.contains(':') => write!(f, "[{host}]")?,
            HttpHost::Exact(host) => write!(f, "{host}")?,
        }
        match self.port {
            PortRule::Default => Ok(()),
            PortRule::Any => write!(f, ":*"),
            PortRule::Exact(port) => write!(f, ":{port}"),
        }
    }
}

/// The per-instance hooks that enforce the HTTP grants.
pub(crate) struct HttpHooks {
    plugin: Arc<str>,
    allowed: Vec<HttpPattern>,
}

impl HttpHooks {
    pub(crate) fn new(plugin: Arc<str>, allowed: Vec<HttpPattern>) -> Self {
        Self { plugin, allowed }
    }

    fn permits(&self, uri: &http::Uri) -> bool {
        let Some(scheme) = Scheme::parse(uri.scheme_str().unwrap_or("http")) else {
            return false;
        };
        let Some(host) = uri.host() else {
            return false;
        };
        let port = uri.port_u16().unwrap_or(scheme.default_port());
        self.allowed.iter().any(|p| p.allows(scheme, host, port))
    }
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        let uri = request.uri().clone();
        if !self.permits(&uri) {
            let host = crate::text::escape_untrusted(uri.host().unwrap_or("?")).into_owned();
            let uri = crate::text::escape_untrusted(&uri.to_string()).into_owned();
            tracing::warn!(
                target: crate::store::output::LOG_TARGET,
                plugin = &*self.plugin,
                "refused HTTP request to {uri}; grant it with --{word} {host} \
                 (grants TOML: {word} = [\"{host}\"])",
                word = ALLOW_HTTP.name
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

/// The HTTP destinations a plugin is granted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Http(pub(crate) Vec<HttpPattern>);

const ALLOW_HTTP: Word = Word {
    name: "allow-http",
    takes: Takes::List,
    value_name: "[SCHEME://]HOST[:PORT]",
    help: "Allow outbound HTTP (wasi:http) to [SCHEME://]HOST[:PORT]: HOST a name, *.DOMAIN, an \
           IP address or `*`; without a port, the scheme's default port; `:*` for any port.",
    flag: true,
};

impl Http {
    /// The hooks that hold one instance's outbound HTTP to this grant.
    pub(crate) fn hooks(&self, plugin: &Arc<str>) -> Box<dyn WasiHttpHooks + Send> {
        Box::new(HttpHooks::new(plugin.clone(), self.0.clone()))
    }
}

impl Kind for Http {
    const WORDS: &'static [Word] = &[ALLOW_HTTP];
    /// Outbound HTTP: `wasi:http`, to the granted hosts.
    const UNITS: &'static [Unit<Self>] = &[Unit {
        name: "wasi:http",
        covers: &["wasi:http/"],
        describe: |http| {
            list_or(
                http.0.iter().map(HttpPattern::to_string).collect(),
                &format!("no hosts (grant with {})", ALLOW_HTTP.hint()),
            )
        },
    }];
    type Ready = ();

    fn add(&mut self, word: &str, value: &toml::Value) -> Result<()> {
        for entry in entries(word, value)? {
            self.0.push(HttpPattern::parse(entry)?);
        }
        Ok(())
    }

    fn merge(&mut self, other: Self) {
        add_new(&mut self.0, other.0);
    }

    fn describe(&self, lines: &mut Vec<String>) {
        lines.extend(self.0.iter().map(|p| format!("{} {p}", ALLOW_HTTP.name)));
    }

    /// A pattern is covered when scheme, host and ports are all covered by an allowance.
    fn restrict(&self, allowed: &Self, excess: &mut Vec<String>) -> Self {
        let mut granted = Http::default();
        for pattern in &self.0 {
            if allowed.0.iter().any(|a| a.covers(pattern)) {
                granted.0.push(pattern.clone());
            } else {
                excess.push(format!("{} {pattern}", ALLOW_HTTP.name));
            }
        }
        granted
    }

    fn prepare(&self, _plugin: &Arc<str>) -> Result<()> {
        Ok(())
    }

    /// Nothing in the WASI context: outbound HTTP goes through the instance's [`hooks`](Http::hooks).
    fn wire(&self, (): &(), _wiring: &mut Wiring<'_>) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permits(patterns: &[&str], uri: &str) -> bool {
        let allowed = patterns
            .iter()
            .map(|p| HttpPattern::parse(p).expect("pattern"))
            .collect();
        HttpHooks::new("p".into(), allowed).permits(&uri.parse().expect("uri"))
    }

    #[test]
    fn hosts_schemes_and_ports() {
        assert!(permits(&["api.example.com"], "https://api.example.com/v1"));
        assert!(permits(&["api.example.com"], "http://api.example.com/"));
        // Without a port, the scheme's default port only; `:*` for any.
        assert!(!permits(
            &["api.example.com"],
            "http://api.example.com:8080/"
        ));
        assert!(!permits(
            &["api.example.com"],
            "https://api.example.com:80/"
        ));
        assert!(permits(
            &["api.example.com:*"],
            "http://api.example.com:8080/"
        ));
        assert!(!permits(&["api.example.com"], "https://evil.example.com/"));
        assert!(permits(
            &["https://api.example.com"],
            "https://api.example.com/"
        ));
        assert!(!permits(
            &["https://api.example.com"],
            "http://api.example.com/"
        ));
        assert!(permits(
            &["http://127.0.0.1:8080"],
            "http://127.0.0.1:8080/x"
        ));
        assert!(!permits(
            &["http://127.0.0.1:8080"],
            "http://127.0.0.1:8081/x"
        ));
        assert!(permits(&["*.example.com"], "https://a.example.com/"));
        assert!(permits(&["*.example.com"], "https://a.b.example.com/"));
        assert!(!permits(&["*.example.com"], "https://example.com/"));
        assert!(!permits(&["*.example.com"], "https://example.org/"));
        assert!(!permits(&["*.example.com"], "https://evilexample.com/"));
        assert!(!permits(&[], "https://api.example.com/"));
        assert!(permits(&["[::1]"], "http://[::1]/"));
        assert!(permits(&["[::1]:8080"], "http://[::1]:8080/"));
        assert!(permits(&["*"], "https://anything.example/"));
    }

    #[test]
    fn a_name_that_starts_like_an_allowed_address_is_not_that_address() {
        assert!(HttpPattern::parse("10.*").is_err());
        assert!(!permits(&["10.0.0.1"], "http://10.0.0.1.attacker.example/"));
    }

    #[test]
    fn bad_patterns_are_explained() {
        let err = |text: &str| HttpPattern::parse(text).unwrap_err().to_string();
        assert!(err("ftp://x").contains("http or https"));
        assert!(err("x/path").contains("not a path"));
        assert!(err("x:port").contains("port number"));
        assert!(err("::1").contains("brackets"));
        assert!(err("fe80::1:8080").contains("brackets"));
        assert!(err("a.*.example.com").contains("whole leading part"));
        assert!(err("10.*").contains("whole leading part"));
        assert!(err("").contains("no host"));
        assert_eq!(
            HttpPattern::parse("HTTPS://Api.Example.com:443")
                .expect("ok")
                .to_string(),
            "https://api.example.com:443"
        );
        for text in [
            "[::1]",
            "[::1]:8080",
            "http://[::1]:*",
            "*.example.com",
            "*",
            "h:*",
        ] {
            assert_eq!(HttpPattern::parse(text).expect("ok").to_string(), text);
        }
    }

    fn pattern(text: &str) -> HttpPattern {
        HttpPattern::parse(text).expect("pattern")
    }

    #[test]
    fn coverage() {
        assert!(pattern("*.example.com").covers(&pattern("api.example.com")));
        assert!(pattern("*.example.com").covers(&pattern("*.api.example.com")));
        assert!(!pattern("*.example.com").covers(&pattern("example.com")));
        assert!(!pattern("api.example.com").covers(&pattern("*.example.com")));
        assert!(pattern("api.example.com").covers(&pattern("https://api.example.com")));
        assert!(!pattern("https://api.example.com").covers(&pattern("api.example.com")));
        assert!(pattern("api.example.com").covers(&pattern("https://api.example.com:443")));
        assert!(!pattern("api.example.com").covers(&pattern("api.example.com:443")));
        assert!(pattern("https://api.example.com:443").covers(&pattern("https://api.example.com")));
        assert!(pattern("api.example.com:*").covers(&pattern("api.example.com:8080")));
        assert!(!pattern("api.example.com").covers(&pattern("api.example.com:*")));
        assert!(pattern("*:*").covers(&pattern("*.example.com:*")));
        assert!(!pattern("*").covers(&pattern("*.example.com:*")));
    }
}
