//! AWS Lambda front end: API Gateway events (REST API v1 and HTTP API v2) to the shared router.
//!
//! Each endpoint is its own binary (`src/bin/`), so a function only ever loads the models its route needs;
//! models load lazily on the first invocation of an execution environment, or at init with `EMOTION_WARMUP=1`.

use std::sync::Arc;

use bytes::Bytes;
use emosense_http::{Api, RequestLog};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};

/// Turns a request decoded from an API Gateway event into a router request. The path is the one the client
/// called, without the API Gateway stage prefix; base64 bodies (`isBase64Encoded`) arrive decoded.
pub fn to_api_request(request: lambda_http::Request) -> http::Request<Bytes> {
    let path = route_path(&request);
    let (mut parts, body) = request.into_parts();
    let path_and_query = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    if let Ok(uri) = http::Uri::builder().path_and_query(path_and_query).build() {
        parts.uri = uri;
    }
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(binary) => Bytes::from(binary),
        _ => Bytes::new(),
    };
    http::Request::from_parts(parts, bytes)
}

/// The path without the stage: HTTP API v2 puts a named stage in `rawPath` (`/prod/api/v1/...`), REST API v1 does not.
fn route_path(request: &lambda_http::Request) -> String {
    let raw = request.raw_http_path();
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.as_deref(),
        Some(RequestContext::ApiGatewayV1(context)) => context.stage.as_deref(),
        _ => None,
    };
    stage
        .filter(|stage| *stage != "$default")
        .and_then(|stage| raw.strip_prefix(&format!("/{stage}")))
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(raw)
        .to_owned()
}

/// Turns a router response into a Lambda response (JSON answers are text bodies).
pub fn to_lambda_response(response: http::Response<Bytes>) -> lambda_http::Response<Body> {
    let (parts, bytes) = response.into_parts();
    let body = match String::from_utf8(bytes.to_vec()) {
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    lambda_http::Response::from_parts(parts, body)
}

/// Reads the configuration, builds the router and serves Lambda invocations until the environment is shut down.
/// Each request logs one JSON line that is also an Embedded Metric Format record.
pub fn run() -> Result<(), lambda_http::Error> {
    let api = Arc::new(Api::from_env(RequestLog::JsonWithMetrics)?);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(lambda_http::run(lambda_http::service_fn(move |request: lambda_http::Request| {
        let api = api.clone();
        async move { Ok::<_, std::convert::Infallible>(to_lambda_response(api.handle(to_api_request(request)))) }
    })))
}
