//! The Vercel function binaries under Vercel's runtime protocol: each is started as the function bridge starts it
//! (`VERCEL_IPC_PATH` names a Unix socket that receives `server-started` with the HTTP port, then one `end` message
//! per invocation) and sent requests as the bridge forwards them, with its invocation headers.

#![cfg(unix)]

#[path = "support/raw_http.rs"]
mod raw_http;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// A running function, stopped when dropped.
struct Function {
    child: Child,
    addr: String,
    ipc: BufReader<UnixStream>,
    socket: PathBuf,
    next_request_id: u64,
}

impl Function {
    fn start(binary: &str, envs: &[(&str, &str)]) -> Function {
        let socket = std::env::temp_dir().join(format!("emosense-{}-{binary}.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(binary_path(binary))
            .env("VERCEL_IPC_PATH", &socket)
            .env("VERCEL_DEV_PORT", port.to_string())
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if Instant::now() < deadline && child.try_wait().unwrap().is_none() => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => panic!("{binary} never connected to the IPC socket: {e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut function = Function { child, addr: format!("127.0.0.1:{port}"), ipc: BufReader::new(stream), socket, next_request_id: 1 };
        let started = function.ipc_message();
        assert_eq!(started["type"], "server-started");
        assert_eq!(started["payload"]["httpPort"], port);
        function
    }

    /// The next NUL-terminated JSON message on the IPC socket.
    fn ipc_message(&mut self) -> Value {
        let mut message = Vec::new();
        self.ipc.read_until(0, &mut message).unwrap();
        message.pop();
        serde_json::from_slice(&message).unwrap_or_else(|e| panic!("bad IPC message {:?}: {e}", String::from_utf8_lossy(&message)))
    }

    /// Sends one invocation as the bridge forwards it and checks that the runtime reports its end.
    fn invoke(&mut self, request_line: &str, headers: &str, body: &[u8]) -> (u16, Value) {
        let id = self.next_request_id;
        self.next_request_id += 1;
        let head = format!(
            "{request_line}\r\nx-vercel-internal-invocation-id: inv-{id}\r\nx-vercel-internal-request-id: {id}\r\n\
             x-vercel-id: fra1::iad1::{id}\r\nx-forwarded-for: 203.0.113.7\r\nx-forwarded-proto: https{headers}"
        );
        let answer = raw_http::request(&self.addr, &head, body);
        let end = self.ipc_message();
        assert_eq!(end["type"], "end");
        assert_eq!(end["payload"]["context"], json!({"invocationId": format!("inv-{id}"), "requestId": id}));
        answer
    }

    /// Stops the function and returns the JSON lines it logged.
    fn stop(mut self) -> Vec<Value> {
        let _ = self.child.kill();
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        stderr.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("log line {line:?} is not JSON: {e}"))).collect()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn binary_path(name: &str) -> &'static str {
    match name {
        "vercel-analyze-text" => env!("CARGO_BIN_EXE_vercel-analyze-text"),
        "vercel-analyze-batch" => env!("CARGO_BIN_EXE_vercel-analyze-batch"),
        "vercel-analyze-audio" => env!("CARGO_BIN_EXE_vercel-analyze-audio"),
        "vercel-analyze-face" => env!("CARGO_BIN_EXE_vercel-analyze-face"),
        "vercel-analyze-multimodal" => env!("CARGO_BIN_EXE_vercel-analyze-multimodal"),
        "vercel-analyze-file" => env!("CARGO_BIN_EXE_vercel-analyze-file"),
        "vercel-health" => env!("CARGO_BIN_EXE_vercel-health"),
        "vercel-models" => env!("CARGO_BIN_EXE_vercel-models"),
        "vercel-openapi" => env!("CARGO_BIN_EXE_vercel-openapi"),
        other => panic!("no function {other}"),
    }
}

const JSON: &str = "\r\nContent-Type: application/json";

#[test]
fn text_function_answers_refuses_bad_input_and_logs_without_content() {
    let mut function = Function::start("vercel-analyze-text", &[("MAX_AUDIO_FILE_SIZE", "1KB"), ("MAX_VIDEO_FILE_SIZE", "1KB")]);
    let route = "POST /api/v1/emotion/analyze/text HTTP/1.1";

    let (status, body) = function.invoke(route, JSON, br#"{"text": "What a wonderful day, I am so happy!"}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["dominant_emotion"].as_str(), body["metadata"]["tier"].as_str()), (Some("joy"), Some("primary")));

    let (status, body) = function.invoke(route, JSON, br#"{"text": "#);
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")));
    let (status, body) = function.invoke(route, "\r\nContent-Type: text/plain", b"hello");
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")));
    let (status, body) = function.invoke(route, JSON, br#"{"text": "   "}"#);
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid_input")));
    let (status, body) = function.invoke("GET /api/v1/emotion/analyze/text HTTP/1.1", "", b"");
    assert_eq!((status, body["error"]["code"].as_str()), (405, Some("method_not_allowed")));
    // The limit is max(audio, video) * 4/3 + 1 MiB; Vercel's own 4.5 MB limit applies before it in production.
    let (status, body) = function.invoke(route, JSON, &vec![b'x'; (1 << 20) + 4096]);
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")));

    let lines = function.stop();
    let statuses: Vec<u64> = lines.iter().filter_map(|l| l["status"].as_u64()).collect();
    assert_eq!(statuses, [200, 400, 415, 422, 405, 413]);
    assert_eq!(lines[0]["route"], "/api/v1/emotion/analyze/text");
    assert_eq!((lines[0]["tier"].as_str(), lines[0]["dominant_emotion"].as_str()), (Some("primary"), Some("joy")));
    assert_eq!(lines[3]["error_code"], "invalid_input");
    let logged = serde_json::to_string(&lines).unwrap();
    assert!(!logged.contains("wonderful"), "the log must not contain the text sent: {logged}");
}

#[test]
fn every_route_has_its_own_function() {
    let mut batch = Function::start("vercel-analyze-batch", &[]);
    let (status, body) = batch.invoke(
        "POST /api/v1/emotion/analyze/batch HTTP/1.1",
        JSON,
        br#"{"texts": ["I love this!", "This is disgusting."], "tier": "secondary"}"#,
    );
    assert_eq!((status, body["count"].as_u64()), (200, Some(2)), "{body}");
    assert_eq!(body["results"][0]["dominant_emotion"], "joy");

    // The audio request of the Lambda fixtures: the spoken sentence as an 8-bit WAV, base64 inside JSON.
    let event: Value = serde_json::from_str(&std::fs::read_to_string("tests/data/lambda/apigw-v2-analyze-audio.json").unwrap()).unwrap();
    let mut audio = Function::start("vercel-analyze-audio", &[]);
    let (status, body) = audio.invoke("POST /api/v1/emotion/analyze/audio HTTP/1.1", JSON, event["body"].as_str().unwrap().as_bytes());
    assert_eq!((status, body["metadata"]["modality"].as_str()), (200, Some("audio")), "{body}");
    assert_eq!(body["segments"].as_array().map(Vec::len), Some(1));

    // The face request of the Lambda fixtures: a portrait stored turned, with its EXIF orientation.
    let event: Value = serde_json::from_str(&std::fs::read_to_string("tests/data/lambda/apigw-v2-analyze-face.json").unwrap()).unwrap();
    let mut face = Function::start("vercel-analyze-face", &[]);
    let (status, body) = face.invoke("POST /api/v1/emotion/analyze/face HTTP/1.1", JSON, event["body"].as_str().unwrap().as_bytes());
    assert_eq!((status, body["metadata"]["modality"].as_str()), (200, Some("face")), "{body}");
    assert_eq!(body["metadata"]["faces_detected"], 1);

    // The multimodal and file requests of the Lambda fixtures (the upload is multipart, base64 in the event).
    let event: Value = serde_json::from_str(&std::fs::read_to_string("tests/data/lambda/apigw-v2-analyze-multimodal.json").unwrap()).unwrap();
    let mut multimodal = Function::start("vercel-analyze-multimodal", &[]);
    let (status, body) = multimodal.invoke("POST /api/v1/emotion/analyze/multimodal HTTP/1.1", JSON, event["body"].as_str().unwrap().as_bytes());
    assert_eq!((status, body["metadata"]["modality"].as_str()), (200, Some("multimodal")), "{body}");
    let event: Value = serde_json::from_str(&std::fs::read_to_string("tests/data/lambda/apigw-v2-analyze-file.json").unwrap()).unwrap();
    let form = base64::engine::general_purpose::STANDARD.decode(event["body"].as_str().unwrap()).unwrap();
    let mut file = Function::start("vercel-analyze-file", &[]);
    let multipart = format!("\r\ncontent-type: {}", event["headers"]["content-type"].as_str().unwrap());
    let (status, body) = file.invoke("POST /api/v1/emotion/analyze/file HTTP/1.1", &multipart, &form);
    assert_eq!((status, body["metadata"]["faces_detected"].as_u64()), (200, Some(1)), "{body}");

    let mut health = Function::start("vercel-health", &[]);
    let (status, body) = health.invoke("GET /api/v1/health HTTP/1.1", "", b"");
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    assert_eq!(body["loaded_models"], json!([]), "a function loads no model before it needs one");

    let mut openapi = Function::start("vercel-openapi", &[]);
    let (status, body) = openapi.invoke("GET /api/v1/openapi.json HTTP/1.1", "", b"");
    assert_eq!((status, body["openapi"].as_str()), (200, Some("3.1.0")));

    let mut models = Function::start("vercel-models", &[]);
    let (status, body) = models.invoke("GET /api/v1/models HTTP/1.1", "", b"");
    assert_eq!(status, 200);
    assert!(body["models"].as_array().is_some_and(|m| m.len() >= 12), "text, audio and face models: {body}");
}
