//! The local HTTP server: hyper on tokio, handing each buffered request to the shared router.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use emosense_core::EmoSense;
use emosense_http::{Api, ApiError};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// Serves the API on `addr` until interrupted; `warmup` (or `EMOTION_WARMUP=1`) loads the models first.
pub fn serve(engine: Arc<EmoSense>, addr: SocketAddr, warmup: bool) -> Result<ExitCode, String> {
    if warmup || engine.config().warmup {
        if let Err(e) = engine.text().warm_up() {
            eprintln!("emosense: warm-up: {e} (requests will use a lower tier)");
        }
    }
    let api = Arc::new(Api::new(engine));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        eprintln!("emosense: serving on http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        loop {
            let (stream, _) = tokio::select! {
                accepted = listener.accept() => accepted.map_err(|e| e.to_string())?,
                _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            };
            let api = api.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| handle(api.clone(), request));
                // Connection errors (client gone, malformed HTTP) concern only that connection.
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    })
}

async fn handle(api: Arc<Api>, request: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let (method, path) = (parts.method.clone(), parts.uri.path().to_owned());
    let limit = api.max_body_bytes();
    let response = match Limited::new(body, limit as usize).collect().await {
        Ok(collected) => {
            let request = http::Request::from_parts(parts, collected.to_bytes());
            tokio::task::spawn_blocking(move || api.handle(request))
                .await
                .unwrap_or_else(|e| ApiError::Internal(format!("request handler failed: {e}")).into_response())
        }
        Err(e) if e.is::<LengthLimitError>() => ApiError::BodyTooLarge { limit }.into_response(),
        Err(e) => ApiError::BadRequest(format!("could not read the request body: {e}")).into_response(),
    };
    eprintln!(
        "{}",
        serde_json::json!({
            "method": method.as_str(),
            "path": path,
            "status": response.status().as_u16(),
            "latency_ms": (started.elapsed().as_secs_f64() * 1e5).round() / 100.0,
        })
    );
    Ok(response.map(Full::new))
}
