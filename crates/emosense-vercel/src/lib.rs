//! Vercel front end: requests from Vercel's Rust runtime to the shared router.
//!
//! Each route is its own function (one file under `api/` at the repository root, path = route), so a function
//! only loads the models its route needs; they load on the first request of an instance, or at start-up with
//! `EMOTION_WARMUP=1`. The runtime hands each request over HTTP from Vercel's function bridge.

use std::sync::Arc;

use emosense_http::{Api, RequestLog};
use vercel_runtime::{Request, ResponseBody};

pub use vercel_runtime::Error;

/// Reads the configuration, builds the router and serves the function's requests until the instance stops.
/// Each request logs one JSON line to stderr.
pub fn run() -> Result<(), Error> {
    let api = Arc::new(Api::from_env(RequestLog::Json)?);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(vercel_runtime::run(vercel_runtime::service_fn(move |request: Request| {
        let api = api.clone();
        async move { Ok::<_, Error>(api.handle_streaming(request).await.map(ResponseBody::from)) }
    })))
}
