//! `GET /ws/emotion/stream`: a WebSocket on the local server. Each text message is answered by
//! [`Api::answer_stream_message_reporting`], in order, its progress messages sent as they come; at most [`QUEUED_MESSAGES`] wait behind the one being analysed, and while
//! the queue is full the socket is not read, so a fast client is slowed down by TCP rather than buffered without
//! bound.

use std::sync::Arc;

use bytes::Bytes;
use emosense_http::{Api, ApiError};
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Messages read ahead of the one being analysed.
const QUEUED_MESSAGES: usize = 4;

/// Answers the upgrade request with 101 and serves the socket on its own task; a request that is not a WebSocket
/// upgrade gets a JSON 400.
pub fn upgrade(api: Arc<Api>, mut request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let is_upgrade = header("upgrade") == "websocket" && header("connection").split(',').any(|t| t.trim() == "upgrade");
    let key = request.headers().get("sec-websocket-key").map(|k| derive_accept_key(k.as_bytes()));
    let (true, Some(accept), http::Method::GET) = (is_upgrade, key, request.method().clone()) else {
        let error = ApiError::BadRequest(format!("{} is a WebSocket: send GET with Upgrade: websocket", emosense_http::STREAM_ROUTE));
        return error.into_response().map(Full::new);
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        if let Ok(upgraded) = on_upgrade.await {
            let limit = usize::try_from(api.body_limit(emosense_http::STREAM_ROUTE)).ok();
            let config = WebSocketConfig::default().max_message_size(limit).max_frame_size(limit);
            let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
            serve_socket(api, socket).await;
        }
    });
    hyper::Response::builder()
        .status(http::StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::UPGRADE, "websocket")
        .header(http::header::CONNECTION, "Upgrade")
        .header("sec-websocket-accept", accept)
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

/// What the reader hands to the writer, in arrival order.
enum Queued {
    /// A request to analyse.
    Request(String),
    /// An answer ready to send (a pong, or the refusal of a binary message).
    Reply(Message),
}

async fn serve_socket<S>(api: Arc<Api>, socket: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut outgoing, mut incoming) = socket.split();
    let (queue, mut queued) = tokio::sync::mpsc::channel::<Queued>(QUEUED_MESSAGES);
    let mut reader = tokio::spawn(async move {
        while let Some(Ok(message)) = incoming.next().await {
            let item = match message {
                Message::Text(text) => Queued::Request(text.as_str().to_owned()),
                Message::Binary(_) => Queued::Reply(Message::text(binary_refused())),
                Message::Ping(payload) => Queued::Reply(Message::Pong(payload)),
                Message::Close(_) => break,
                Message::Pong(_) | Message::Frame(_) => continue,
            };
            if queue.send(item).await.is_err() {
                break;
            }
        }
    });
    'messages: while let Some(item) = queued.recv().await {
        let reply = match item {
            Queued::Request(text) => {
                // Progress messages go out while the analysis runs; when the client goes away mid-analysis, the
                // analysis is dropped, which cancels it.
                let (progress, mut progress_messages) = tokio::sync::mpsc::unbounded_channel::<String>();
                let answer = api.clone().answer_stream_message_in_turn(text, move |message| drop(progress.send(message)));
                tokio::pin!(answer);
                let answer = loop {
                    tokio::select! {
                        answer = &mut answer => break Message::text(answer),
                        Some(message) = progress_messages.recv() => {
                            if outgoing.send(Message::text(message)).await.is_err() {
                                break 'messages;
                            }
                        }
                        _ = &mut reader => break 'messages,
                    }
                };
                // Progress reported just before the answer was ready still goes out first.
                while let Ok(message) = progress_messages.try_recv() {
                    if outgoing.send(Message::text(message)).await.is_err() {
                        break 'messages;
                    }
                }
                answer
            }
            Queued::Reply(message) => message,
        };
        if outgoing.send(reply).await.is_err() {
            break;
        }
    }
    reader.abort();
    let _ = outgoing.close().await;
}

fn binary_refused() -> String {
    emosense_http::stream_error_message(&serde_json::Value::Null, &ApiError::UnsupportedMediaType("send JSON requests as text messages".into()))
}
