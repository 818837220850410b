//! A standard `wasi:http/proxy` component, written as for `wasmtime serve` with nothing from
//! Componentry: routes that answer, echo, stream, misbehave and reach for what they were not
//! granted, for the tests of serving HTTP.
//!
//! - `GET /hello`: 200, `hello from http-routes: METHOD PATH_WITH_QUERY`.
//! - `POST /echo`: the request's body back, with its `content-type`.
//! - `GET /big?KIB`: a body of KIB KiB of `x`, written in pieces.
//! - `GET /env?NAME`: the environment variable NAME, or 404 when it is not there.
//! - `GET /sleep?MS`: waits MS milliseconds in `wasi:clocks` (a host call), then 200.
//! - `GET /fetch?URL`: sends GET URL and answers with its status, or 502 and the error.
//! - `GET /spin`: loops forever. `GET /trap`: panics.
//! - anything else: 404.

use std::io::{Read as _, Write as _};

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingRequest, OutgoingResponse,
    ResponseOutparam, Scheme,
};

wasip2::http::proxy::export!(Routes);

struct Routes;

impl wasip2::exports::http::incoming_handler::Guest for Routes {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path_with_query = request.path_with_query().unwrap_or_default();
        let (path, query) = match path_with_query.split_once('?') {
            Some((path, query)) => (path.to_owned(), query.to_owned()),
            None => (path_with_query.clone(), String::new()),
        };
        match path.as_str() {
            "/hello" => {
                let method = method_name(&request.method());
                let text = format!("hello from http-routes: {method} {path_with_query}");
                respond(response_out, 200, &[], text.as_bytes());
            }
            "/echo" => {
                let content_type = request.headers().get("content-type");
                let mut body = Vec::new();
                let incoming = request.consume().expect("the body, once");
                let mut stream = incoming.stream().expect("the body's stream, once");
                stream.read_to_end(&mut body).expect("read the body");
                drop(stream);
                let headers: Vec<(&str, &[u8])> = content_type
                    .iter()
                    .map(|value| ("content-type", value.as_slice()))
                    .collect();
                respond(response_out, 200, &headers, &body);
            }
            "/big" => {
                let kib: usize = query.parse().unwrap_or(1);
                let response = OutgoingResponse::new(Fields::new());
                let body = response.body().expect("body");
                ResponseOutparam::set(response_out, Ok(response));
                let mut out = body.write().expect("body stream");
                let piece = [b'x'; 1024];
                for _ in 0..kib {
                    out.write_all(&piece).expect("write");
                }
                out.flush().expect("flush");
                drop(out);
                OutgoingBody::finish(body, None).expect("finish");
            }
            "/env" => match std::env::var(&query) {
                Ok(value) => respond(response_out, 200, &[], value.as_bytes()),
                Err(_) => respond(response_out, 404, &[], b"not set"),
            },
            "/sleep" => {
                let ms: u64 = query.parse().unwrap_or(0);
                wasip2::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
                respond(response_out, 200, &[], b"slept");
            }
            "/fetch" => match fetch(&query) {
                Ok(status) => respond(response_out, 200, &[], status.to_string().as_bytes()),
                Err(error) => respond(response_out, 502, &[], error.as_bytes()),
            },
            "/spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "/trap" => panic!("the /trap route panics"),
            _ => respond(response_out, 404, &[], b"no such route"),
        }
    }
}

fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Head => "HEAD".into(),
        Method::Other(other) => other.clone(),
        other => format!("{other:?}").to_uppercase(),
    }
}

fn respond(out: ResponseOutparam, status: u16, headers: &[(&str, &[u8])], body: &[u8]) {
    let fields = Fields::new();
    for (name, value) in headers {
        let _ = fields.append(name, value);
    }
    let response = OutgoingResponse::new(fields);
    let _ = response.set_status_code(status);
    let outgoing = response.body().expect("body");
    ResponseOutparam::set(out, Ok(response));
    let mut stream = outgoing.write().expect("body stream");
    stream.write_all(body).expect("write");
    stream.flush().expect("flush");
    drop(stream);
    OutgoingBody::finish(outgoing, None).expect("finish");
}

/// Sends `GET url` and returns the response's status.
fn fetch(url: &str) -> Result<u16, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("not a URL: {url}"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    let scheme = if scheme == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    request.set_scheme(Some(&scheme)).map_err(|()| "scheme")?;
    request
        .set_authority(Some(authority))
        .map_err(|()| "authority")?;
    request
        .set_path_with_query(Some(path))
        .map_err(|()| "path")?;
    let future = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    future.subscribe().block();
    let response = future
        .get()
        .ok_or("no response")?
        .map_err(|()| "response taken twice")?
        .map_err(|e| format!("{e:?}"))?;
    Ok(response.status())
}
