//! The `emosense` binary: command-line analysis, configuration errors, and the HTTP server over a real socket.

#[path = "../../../tests/support/raw_http.rs"]
mod raw_http;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn emosense() -> Command {
    Command::new(env!("CARGO_BIN_EXE_emosense"))
}

#[test]
fn analyze_text_prints_one_result() {
    let out = emosense().args(["analyze", "text", "--tier", "secondary", "Thank you, this made my day!"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["dominant_emotion"], "joy");
    assert_eq!(result["metadata"]["tier"], "secondary");
}

#[test]
fn analyze_video_and_multimodal_print_timeline_and_fusion() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/");
    let out = emosense().args(["analyze", "video", &format!("{data}video/faces.mp4")]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((result["dominant_emotion"].as_str(), result["timeline"].as_array().map(Vec::len)), (Some("joy"), Some(6)));
    let out = emosense()
        .args(["analyze", "multimodal", "--text", "Such a happy day!", "--video", &format!("{data}images/portrait.jpg")])
        .output()
        .unwrap();
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["metadata"]["modalities_used"], serde_json::json!(["text", "face"]), "{result}");
    let out = emosense().args(["analyze", "multimodal"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "no modality is an error");
}

#[test]
fn analyze_image_prints_the_faces_and_writes_the_drawing() {
    let images = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/images/");
    let drawing = std::env::temp_dir().join(format!("emosense-cli-faces-{}.png", std::process::id()));
    let out = emosense().args(["analyze", "image", &format!("{images}group.jpg"), "--annotate"]).arg(&drawing).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["metadata"]["faces_detected"], 5);
    assert!(result.get("annotated_image").is_none(), "the drawing goes to the file, not into the JSON");
    assert!(std::fs::read(&drawing).unwrap().starts_with(b"\x89PNG"));
    std::fs::remove_file(&drawing).unwrap();

    let out = emosense().args(["analyze", "image", "--aligned", &format!("{images}portrait.png")]).output().unwrap();
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((result["metadata"]["faces_detected"].as_u64(), result["metadata"].get("detector_input")), (Some(1), None));

    let out = emosense().args(["analyze", "image", &format!("{images}README.md")]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(result["error"]["message"].as_str().unwrap().contains("not an image"), "{result}");
}

#[test]
fn eval_face_scores_a_listed_subset_and_writes_each_members_probabilities() {
    let root = std::env::temp_dir().join(format!("emosense-eval-face-{}", std::process::id()));
    let face = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/images/face_48.png")).unwrap();
    for folder in ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"] {
        let dir = root.join("mini").join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        for name in ["a.png", "b.png"] {
            std::fs::write(dir.join(name), &face).unwrap();
        }
    }
    let (list, probabilities) = (root.join("list.txt"), root.join("probabilities.jsonl"));
    std::fs::write(&list, "happy/a.png\nsad/b.png\n").unwrap();
    let out = emosense()
        .args(["eval-face", "--split", "mini", "--data"])
        .arg(&root)
        .arg("--files")
        .arg(&list)
        .arg("--probabilities")
        .arg(&probabilities)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["data"].as_str(), report["rows"].as_u64()), (Some("mini"), Some(2)), "{report}");
    // The smiling face is right under happy/ and wrong under sad/.
    assert_eq!(report["models"]["ensemble"]["accuracy"], 0.5, "{report}");
    let lines: Vec<Value> = std::fs::read_to_string(&probabilities).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().map(|l| l["label"].as_str().unwrap()).collect::<Vec<_>>(), ["joy", "sadness"]);
    for member in ["ensemble", "emosense", "faceapi", "mini_xception", "human"] {
        let probabilities: Vec<f64> = lines[0][member].as_array().unwrap_or_else(|| panic!("{member}")).iter().map(|p| p.as_f64().unwrap()).collect();
        assert!(probabilities.len() == 7 && (probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-3, "{member}: {probabilities:?}");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn jsonl_answers_every_line_and_reports_bad_ones() {
    let mut child = emosense()
        .args(["analyze", "text", "--jsonl", "--tier", "fallback"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"I love it\n   \nso scared right now\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["dominant_emotion"], "joy");
    assert!(lines[1]["error"]["message"].as_str().unwrap().contains("empty"));
    assert_eq!((lines[1]["error"]["code"].as_str(), lines[1]["error"]["status"].as_u64()), (Some("invalid_input"), Some(422)));
    assert_eq!(lines[2]["dominant_emotion"], "fear");
}

#[test]
fn jsonl_keeps_the_input_order_on_every_core() {
    // Each text one character longer than the one before, so the answers' lengths give their order.
    let texts: Vec<String> = (0..60)
        .map(|i| {
            let base = if i % 3 == 0 { "I am so happy" } else { "I am terrified" };
            format!("{base}{}", "!".repeat(100 + i - base.len()))
        })
        .collect();
    let mut child = emosense().args(["analyze", "text", "--jsonl"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{}\n", texts.join("\n")).as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
    let characters: Vec<u64> = lines.iter().map(|l| l["metadata"]["characters"].as_u64().unwrap()).collect();
    assert_eq!(characters, texts.iter().map(|t| t.chars().count() as u64).collect::<Vec<_>>(), "answers in input order");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["dominant_emotion"], if i % 3 == 0 { "joy" } else { "fear" }, "line {i}: {line}");
    }
}

#[test]
fn bad_configuration_stops_with_the_variable_named() {
    let out = emosense().args(["analyze", "text", "hi"]).env("MAX_AUDIO_FILE_SIZE", "huge").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MAX_AUDIO_FILE_SIZE"));
}

/// A server on a free port, stopped when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(envs: &[(&str, &str)]) -> Server {
        Server::spawn(emosense().args(["serve", "--addr", "127.0.0.1:0"]), envs)
    }

    /// A server that may hold at most `limit` open file descriptors.
    fn start_with_open_files(limit: u32, envs: &[(&str, &str)]) -> Server {
        let script = format!("ulimit -n {limit} && exec \"$0\" serve --addr 127.0.0.1:0");
        Server::spawn(Command::new("sh").args(["-c", &script, env!("CARGO_BIN_EXE_emosense")]), envs)
    }

    fn spawn(command: &mut Command, envs: &[(&str, &str)]) -> Server {
        let mut child = command.envs(envs.iter().copied()).stderr(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stderr.as_mut().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().rsplit("http://").next().unwrap().to_owned();
        Server { child, addr }
    }

    /// Sends raw HTTP/1.1 and returns status and body.
    fn request(&self, head: &str, body: &[u8]) -> (u16, Value) {
        raw_http::request(&self.addr, head, body)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn server_answers_over_http_and_refuses_oversized_bodies() {
    let server = Server::start(&[("MAX_AUDIO_FILE_SIZE", "1KB"), ("MAX_VIDEO_FILE_SIZE", "1KB")]);
    let (status, body) = server.request("GET /api/v1/health HTTP/1.1", b"");
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));

    let json = br#"{"text": "What a wonderful surprise!", "tier": "fallback"}"#;
    let (status, body) = server.request("POST /api/v1/emotion/analyze/text HTTP/1.1\r\nContent-Type: application/json", json);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["tier"], "fallback");

    // The text route takes at most MAX_TEXT_LENGTH x 12 bytes and 64 KiB of other fields; a larger body is
    // refused before it is buffered.
    let big = vec![b'x'; 5000 * 12 + (64 << 10) + 1];
    let (status, body) = server.request("POST /api/v1/emotion/analyze/text HTTP/1.1\r\nContent-Type: application/json", &big);
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "payload_too_large");
}

#[test]
fn websocket_stream_answers_in_order_and_survives_bad_messages() {
    use tungstenite::Message;
    let server = Server::start(&[]);
    let (mut socket, response) = tungstenite::connect(format!("ws://{}/ws/emotion/stream", server.addr)).expect("WebSocket handshake");
    assert_eq!(response.status().as_u16(), 101);
    let messages = [
        serde_json::json!({"id": 1, "text": "I love this, thank you so much!"}).to_string(),
        "{not json".to_owned(),
        serde_json::json!({"id": "empty", "text": "   "}).to_string(),
        serde_json::json!({"id": [3], "text": "I am terrified of what comes next.", "tier": "fallback"}).to_string(),
    ];
    for message in &messages {
        socket.send(Message::text(message.as_str())).unwrap();
    }
    socket.send(Message::binary(vec![1u8, 2, 3])).unwrap();
    let mut answers = Vec::new();
    while answers.len() < 5 {
        if let Message::Text(text) = socket.read().unwrap() {
            answers.push(serde_json::from_str::<Value>(text.as_str()).unwrap());
        }
    }
    assert_eq!((answers[0]["id"].as_i64(), answers[0]["dominant_emotion"].as_str()), (Some(1), Some("joy")), "{}", answers[0]);
    assert_eq!(answers[0]["metadata"]["modalities_used"], serde_json::json!(["text"]));
    assert_eq!((answers[1]["id"].is_null(), answers[1]["error"]["code"].as_str()), (true, Some("bad_request")), "{}", answers[1]);
    assert_eq!((answers[2]["id"].as_str(), answers[2]["error"]["status"].as_u64()), (Some("empty"), Some(422)), "{}", answers[2]);
    assert_eq!(answers[3]["id"], serde_json::json!([3]));
    assert_eq!((answers[3]["dominant_emotion"].as_str(), answers[3]["modalities"]["text"]["metadata"]["tier"].as_str()), (Some("fear"), Some("fallback")));
    assert_eq!(answers[4]["error"]["code"], "unsupported_media_type", "binary messages are refused: {}", answers[4]);
    socket.close(None).unwrap();

    let (status, body) = server.request("GET /ws/emotion/stream HTTP/1.1", b"");
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("bad_request")), "a plain GET is not an upgrade");
}

#[test]
fn a_video_on_the_stream_sends_progress_before_its_answer() {
    use tungstenite::Message;
    let server = Server::start(&[]);
    let (mut socket, _) = tungstenite::connect(format!("ws://{}/ws/emotion/stream", server.addr)).expect("WebSocket handshake");
    let video = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/video/faces.mp4")).unwrap();
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, video);
    socket.send(Message::text(serde_json::json!({"id": "clip", "video_base64": encoded}).to_string())).unwrap();
    let mut progress = Vec::new();
    let answer = loop {
        let Message::Text(text) = socket.read().unwrap() else { continue };
        let message: Value = serde_json::from_str(text.as_str()).unwrap();
        assert_eq!(message["id"], "clip");
        match message.get("progress") {
            Some(p) => progress.push((p["done"].as_f64().unwrap(), p["total"].as_f64(), p["unit"].as_str().unwrap().to_owned())),
            None => break message,
        }
    };
    assert!(answer["modalities"]["face"]["timeline"].is_array(), "{answer}");
    assert_eq!(progress.len(), answer["modalities"]["face"]["timeline"].as_array().unwrap().len(), "one progress message per frame: {progress:?}");
    assert!(progress.iter().all(|(_, total, unit)| unit == "s" && total.is_some_and(|t| t > 2.5)), "{progress:?}");
    socket.close(None).unwrap();
}

/// Opens `count` connections that send nothing (as many as the server lets in).
fn idle_connections(addr: &str, count: usize) -> Vec<std::net::TcpStream> {
    (0..count).filter_map(|_| std::net::TcpStream::connect(addr).ok()).collect()
}

#[test]
fn the_server_outlives_descriptor_exhaustion_and_closes_idle_connections() {
    use std::io::Read;
    let server = Server::start_with_open_files(64, &[("HEADER_READ_TIMEOUT", "1s")]);
    // More connections than the server has descriptors: accept() fails until the idle ones time out.
    let idle = idle_connections(&server.addr, 150);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (status, body) = server.request("GET /api/v1/health HTTP/1.1", b"");
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")), "the server still serves");
    // Connections that never sent a request were closed after HEADER_READ_TIMEOUT.
    let mut first = idle.into_iter().next().expect("a connection was accepted");
    first.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let mut rest = Vec::new();
    assert!(matches!(first.read_to_end(&mut rest), Ok(_)), "closed by the server");
}

#[test]
fn connections_over_the_limit_get_503() {
    use std::io::Read;
    let server = Server::start(&[("MAX_CONNECTIONS", "4")]);
    let _held = idle_connections(&server.addr, 4);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut extra = std::net::TcpStream::connect(&server.addr).unwrap();
    extra.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let mut answer = String::new();
    extra.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1") && answer.contains("MAX_CONNECTIONS"), "{answer}");
}

#[test]
fn an_oversize_websocket_message_closes_only_its_socket() {
    use tungstenite::Message;
    let server = Server::start(&[("MAX_AUDIO_FILE_SIZE", "1KB"), ("MAX_VIDEO_FILE_SIZE", "1KB"), ("MAX_TEXT_LENGTH", "100")]);
    let (mut socket, _) = tungstenite::connect(format!("ws://{}/ws/emotion/stream", server.addr)).expect("WebSocket handshake");
    let huge = serde_json::json!({"text": "x".repeat(1 << 20)}).to_string();
    let _ = socket.send(Message::text(huge));
    let outcome = loop {
        match socket.read() {
            Ok(Message::Close(frame)) => break frame.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(_) => break None,
        }
    };
    assert!(matches!(outcome, Some(1009) | None), "closed as too big: {outcome:?}");
    let (status, _) = server.request("GET /api/v1/health HTTP/1.1", b"");
    assert_eq!(status, 200, "the server still serves");
}

#[test]
fn the_playground_page_is_served_at_the_root_with_nothing_from_elsewhere() {
    let server = Server::start(&[]);
    let (status, headers, page) = raw_http::exchange(&server.addr, "GET / HTTP/1.1", b"");
    assert_eq!(status, 200);
    assert!(headers.to_ascii_lowercase().contains("content-type: text/html; charset=utf-8"), "{headers}");
    assert!(page.contains("<title>EmoSense playground</title>") && page.contains("/emotion/analyze/multimodal"));
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"), "every asset is in the page");
    let (status, body) = server.request("POST / HTTP/1.1\r\nContent-Type: application/json", b"{}");
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")), "the API still answers other requests: {body}");
    assert_eq!(body["error"]["message"], "no route for /");
}

/// The samples of a `/metrics` answer, parsed by a Prometheus text-format parser, as (name, labels, value).
fn scrape(server: &Server) -> Vec<(String, std::collections::BTreeMap<String, String>, f64)> {
    let (status, headers, text) = raw_http::exchange(&server.addr, "GET /metrics HTTP/1.1", b"");
    assert_eq!(status, 200);
    assert!(headers.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{headers}");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format");
    assert!(scrape.docs.contains_key("emosense_requests_total"), "HELP lines: {:?}", scrape.docs);
    scrape
        .samples
        .into_iter()
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
                prometheus_parse::Value::Summary(_) => f64::NAN,
            };
            (s.metric, s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(), value)
        })
        .collect()
}

fn sample(samples: &[(String, std::collections::BTreeMap<String, String>, f64)], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, _, v)| v)
        .sum()
}

#[test]
fn metrics_count_requests_errors_latency_emotions_and_models() {
    let server = Server::start(&[]);
    let text_route = "/api/v1/emotion/analyze/text";
    let before = scrape(&server);
    assert_eq!(sample(&before, "emosense_requests_total", &[("route", text_route)]), 0.0);
    for text in ["I am so happy today", "what a wonderful surprise, I love it"] {
        let (status, _) = server.request(&format!("POST {text_route} HTTP/1.1\r\nContent-Type: application/json"), format!("{{\"text\": \"{text}\"}}").as_bytes());
        assert_eq!(status, 200);
    }
    let (status, _) = server.request(&format!("POST {text_route} HTTP/1.1\r\nContent-Type: application/json"), b"{\"text\": \"  \"}");
    assert_eq!(status, 422);
    let after = scrape(&server);
    assert_eq!(sample(&after, "emosense_requests_total", &[("route", text_route), ("status", "200")]), 2.0);
    assert_eq!(sample(&after, "emosense_requests_total", &[("route", text_route), ("status", "422")]), 1.0);
    assert_eq!(sample(&after, "emosense_errors_total", &[("route", text_route), ("code", "invalid_input")]), 1.0);
    assert_eq!(sample(&after, "emosense_request_duration_seconds", &[("route", text_route), ("modality", "text"), ("tier", "primary")]), 2.0);
    assert_eq!(sample(&after, "emosense_emotions_total", &[("modality", "text"), ("emotion", "joy")]), 2.0);
    assert_eq!(sample(&after, "emosense_model_loaded", &[("model", "text-minilm-goemotions")]), 1.0);
    assert_eq!(sample(&after, "emosense_model_loaded", &[("model", "face-mesh")]), 0.0);

    let (status, headers, page) = raw_http::exchange(&server.addr, "GET /dashboard HTTP/1.1", b"");
    assert_eq!(status, 200);
    assert!(headers.to_ascii_lowercase().contains("text/html") && page.contains("fetch(\"/metrics\""), "{headers}");
}

#[test]
fn an_answer_from_a_lower_tier_because_models_are_missing_is_said_on_stderr() {
    let empty = std::env::temp_dir().join(format!("emosense-cli-no-models-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let out = emosense().args(["analyze", "text", "I am so happy today"]).env("EMOTION_MODEL_CACHE_DIR", &empty).output().unwrap();
    assert!(out.status.success());
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["metadata"]["tier"], "fallback");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: answered from a lower tier: primary (text-minilm-goemotions)") && stderr.contains("file not found"), "{stderr}");
    let out = emosense().args(["analyze", "text", "I am so happy today", "--tier", "fallback"]).output().unwrap();
    assert!(out.status.success() && out.stderr.is_empty(), "a pinned tier is no warning: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&empty).unwrap();
}
