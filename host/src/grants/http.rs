//! Outbound HTTP grants (`wasi:http/outgoing-handler`): requests go out only to allowed hosts and
//! schemes; everything else is refused with wasi:http's `HTTP-request-denied`, and a log line
//! naming the plugin, the URL and the grant that would allow it.

use std::future::Future;
use std::sync::Arc;

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// An allowed HTTP destination: `[SCHEME://]HOST[:PORT]`, where HOST may hold `*` wildcards
/// (`*.example.com`). Without a scheme both `http` and `https` are allowed; without a port, any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPattern {
    scheme: Option<String>,
    host: String,
    port: Option<u16>,
}

impl HttpPattern {
    /// Parses `[SCHEME://]HOST[:PORT]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme, rest)) => {
                let scheme = scheme.to_ascii_lowercase();
                if scheme != "http" && scheme != "https" {
                    return Err(format!("`{text}`: the scheme must be http or https"));
                }
                (Some(scheme), rest)
            }
            None => (None, text),
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(format!("`{text}`: give a host, not a path"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => {
                let port = port
                    .parse()
                    .map_err(|_| format!("`{text}`: `{port}` is not a port number"))?;
                (host, Some(port))
            }
            _ => (rest, None),
        };
        if host.is_empty() {
            return Err(format!("`{text}` has no host"));
        }
        Ok(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    /// Whether every destination `other` allows is allowed by this pattern too.
    pub fn covers(&self, other: &HttpPattern) -> bool {
        let scheme = match (&self.scheme, &other.scheme) {
            (None, _) => true,
            (Some(mine), Some(theirs)) => mine == theirs,
            (Some(_), None) => false,
        };
        let port = match (self.port, other.port) {
            (None, _) => true,
            (Some(mine), Some(theirs)) => mine == theirs,
            (Some(_), None) => false,
        };
        scheme && port && crate::grants::net::wildcard_match(&self.host, &other.host)
    }

    fn allows(&self, scheme: &str, host: &str, port: u16) -> bool {
        self.scheme.as_deref().is_none_or(|s| s == scheme)
            && crate::grants::net::wildcard_match(&self.host, &host.to_ascii_lowercase())
            && self.port.is_none_or(|p| p == port)
    }
}

impl std::fmt::Display for HttpPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(scheme) = &self.scheme {
            write!(f, "{scheme}://")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
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
        let scheme = uri.scheme_str().unwrap_or("http");
        let Some(host) = uri.host() else {
            return false;
        };
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
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
            let host = uri.host().unwrap_or("?");
            tracing::warn!(
                target: crate::LOG_TARGET,
                plugin = &*self.plugin,
                "refused HTTP request to {uri}; grant it with --allow-http {host} \
                 (grants TOML: allow-http = [\"{host}\"])"
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
        assert!(permits(
            &["api.example.com"],
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
        assert!(!permits(&["*.example.com"], "https://example.org/"));
        assert!(!permits(&[], "https://api.example.com/"));
    }

    #[test]
    fn bad_patterns_are_explained() {
        assert!(
            HttpPattern::parse("ftp://x")
                .unwrap_err()
                .contains("http or https")
        );
        assert!(
            HttpPattern::parse("x/path")
                .unwrap_err()
                .contains("not a path")
        );
        assert!(
            HttpPattern::parse("x:port")
                .unwrap_err()
                .contains("port number")
        );
        assert_eq!(
            HttpPattern::parse("HTTPS://Api.Example.com:443")
                .expect("ok")
                .to_string(),
            "https://api.example.com:443"
        );
    }
}
