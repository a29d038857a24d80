//! The local HTTP server: hyper on tokio, streaming each request into the shared router.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use emosense_core::EmoSense;
use emosense_http::Api;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;

/// Logs one line per model: loaded, available (to load on first use), or why it cannot be used.
fn log_models(engine: &EmoSense) {
    for model in engine.models() {
        let (level, state) = match (&model.error, model.loaded) {
            (Some(error), _) => ("warn", format!("unavailable ({}): {}", error.kind, error.message)),
            (None, true) => ("info", "loaded".to_owned()),
            (None, false) => ("info", "available, loads on first use".to_owned()),
        };
        let line = serde_json::json!({
            "level": level,
            "message": format!("model {}: {state}", model.id),
            "model": model.id,
            "modality": model.modality,
            "tier": model.tier,
            "custom": model.custom,
        });
        eprintln!("{line}");
    }
}

/// Serves the API on `addr` until interrupted; `warmup` (or `EMOTION_WARMUP=1`) loads the models first.
pub fn serve(engine: Arc<EmoSense>, addr: SocketAddr, warmup: bool) -> Result<ExitCode, String> {
    if warmup || engine.config().warmup {
        if let Err(e) = engine.warm_up() {
            eprintln!("emosense: warm-up: {e} (requests will use a lower tier)");
        }
    }
    let config = engine.config().clone();
    let api = Arc::new(Api::new(engine));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        eprintln!("emosense: serving on http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        log_models(api.engine());
        let connections = Arc::new(Semaphore::new(config.max_connections));
        loop {
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    // Out of file descriptors, or a connection reset before it was accepted: the listener itself is
                    // fine, so wait a moment for descriptors to come back and go on.
                    Err(e) => {
                        eprintln!("{}", serde_json::json!({"level": "warn", "message": format!("accept failed: {e}")}));
                        tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                        continue;
                    }
                },
                _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            };
            let Ok(slot) = connections.clone().try_acquire_owned() else {
                tokio::spawn(refuse(stream));
                continue;
            };
            let api = api.clone();
            let header_read_timeout = config.header_read_timeout;
            tokio::spawn(async move {
                let _slot = slot;
                let service = service_fn(move |request| handle(api.clone(), request));
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_read_timeout)
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                // Connection errors (client gone, malformed HTTP, headers too slow) concern only that connection.
                let _ = connection.await;
            });
        }
    })
}

/// Pause after a failed `accept()` before the next.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Answers a connection over `MAX_CONNECTIONS` with 503 and closes it.
async fn refuse(mut stream: tokio::net::TcpStream) {
    let body = serde_json::json!({"error": {"code": "overloaded", "message": "too many open connections (MAX_CONNECTIONS); retry shortly"}}).to_string();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: {}\r\nconnection: close\r\n\r\n{body}",
        body.len(),
        emosense_http::RETRY_AFTER_SECONDS
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(response.as_bytes())).await;
}

/// The playground: a page (its style and script compiled in, nothing from elsewhere) that calls the API of the server
/// that serves it.
const PLAYGROUND: &str = include_str!("pages/playground.html");
/// The live view of `/metrics`.
const DASHBOARD: &str = include_str!("pages/dashboard.html");
/// The style both pages share.
const STYLE: &str = include_str!("pages/emosense.css");
/// What the pages may load: only from this server (and what the page makes itself: blobs, captured media).
const PAGE_POLICY: &str = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; style-src 'self' 'unsafe-inline'; script-src 'unsafe-inline'";

async fn handle(api: Arc<Api>, request: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let path = request.uri().path();
    if path.trim_end_matches('/') == emosense_http::STREAM_ROUTE {
        return Ok(crate::stream::upgrade(api, request));
    }
    if request.method() == hyper::Method::GET {
        if let Some(response) = local_page(&api, path) {
            return Ok(response);
        }
    }
    Ok(api.handle_streaming(request).await.map(Full::new))
}

/// What only the local server answers, beside the API: the playground at `/`, the metrics and their dashboard, and
/// the pages' style.
fn local_page(api: &Api, path: &str) -> Option<hyper::Response<Full<Bytes>>> {
    let (content_type, body) = match path {
        "/" => ("text/html; charset=utf-8", Bytes::from_static(PLAYGROUND.as_bytes())),
        "/dashboard" => ("text/html; charset=utf-8", Bytes::from_static(DASHBOARD.as_bytes())),
        "/emosense.css" => ("text/css; charset=utf-8", Bytes::from_static(STYLE.as_bytes())),
        "/metrics" => ("text/plain; version=0.0.4; charset=utf-8", Bytes::from(api.metrics_text())),
        _ => return None,
    };
    hyper::Response::builder()
        .header(hyper::header::CONTENT_TYPE, content_type)
        .header(hyper::header::CACHE_CONTROL, "no-cache")
        .header("content-security-policy", PAGE_POLICY)
        .body(Full::new(body))
        .ok()
}
