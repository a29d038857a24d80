//! The local HTTP server: hyper on tokio, streaming each request into the shared router.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use emosense_core::EmoSense;
use emosense_http::Api;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

/// Serves the API on `addr` until interrupted; `warmup` (or `EMOTION_WARMUP=1`) loads the models first.
pub fn serve(engine: Arc<EmoSense>, addr: SocketAddr, warmup: bool) -> Result<ExitCode, String> {
    if warmup || engine.config().warmup {
        if let Err(e) = engine.warm_up() {
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
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades().await;
            });
        }
    })
}

async fn handle(api: Arc<Api>, request: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    if request.uri().path().trim_end_matches('/') == emosense_http::STREAM_ROUTE {
        return Ok(crate::stream::upgrade(api, request));
    }
    Ok(api.handle_streaming(request).await.map(Full::new))
}
