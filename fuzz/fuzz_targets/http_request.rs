//! Any bytes as a request body: the first byte picks the route (JSON routes, the multipart upload, a stream
//! message), the rest is the body, parsed and validated by the router as a client's would be; any answer but a 500
//! is fine.
#![no_main]

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use emosense_core::Budget;
use emosense_http::Api;
use libfuzzer_sys::fuzz_target;

#[path = "support.rs"]
mod support;

const ROUTES: [&str; 6] = [
    "/api/v1/emotion/analyze/text",
    "/api/v1/emotion/analyze/batch",
    "/api/v1/emotion/analyze/audio",
    "/api/v1/emotion/analyze/face",
    "/api/v1/emotion/analyze/multimodal",
    "/api/v1/emotion/analyze/file",
];

fuzz_target!(|data: &[u8]| {
    static API: OnceLock<Api> = OnceLock::new();
    let api = API.get_or_init(|| {
        support::tolerate_caught_panics();
        Api::new(Arc::new(support::engine())).with_request_log(emosense_http::RequestLog::Off)
    });
    let Some((&selector, body)) = data.split_first() else { return };
    if usize::from(selector) % (ROUTES.len() + 1) == ROUTES.len() {
        let _ = api.answer_stream_message(&String::from_utf8_lossy(body), &Budget::unlimited());
        return;
    }
    let route = ROUTES[usize::from(selector) % (ROUTES.len() + 1)];
    let content_type = if route.ends_with("/file") { "multipart/form-data; boundary=X" } else { "application/json" };
    let request = http::Request::post(route).header("content-type", content_type).body(Bytes::copy_from_slice(body)).unwrap();
    // A 500 is a panic the router caught: a bug, whatever the input.
    assert_ne!(api.handle(request).status(), 500, "the router answered 500");
});
