//! A `wasi:http/proxy` component built against wasi 0.2.4 (the `wasi` crate 0.14.4), older than
//! the host's wasi:http: it must be served all the same. Answers every request with
//! `hello from wasi 0.2.4: PATH`.

use std::io::Write as _;

use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasi::http::proxy::export!(Legacy);

struct Legacy;

impl wasi::exports::http::incoming_handler::Guest for Legacy {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let response = OutgoingResponse::new(Fields::new());
        let body = response.body().expect("body");
        ResponseOutparam::set(response_out, Ok(response));
        let mut out = body.write().expect("body stream");
        out.write_all(format!("hello from wasi 0.2.4: {path}").as_bytes())
            .expect("write");
        out.flush().expect("flush");
        drop(out);
        OutgoingBody::finish(body, None).expect("finish");
    }
}
