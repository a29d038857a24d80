//! Small hostile inputs through the real router: each must get a documented 4xx or 503 within its budget, with
//! resident memory growing by less than 100 MB, and leave the process serving. The fixtures are made here from the
//! shipped media (a count or a size field changed) or written byte by byte.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use common::{api_with, model_dir, parts, post_json, send};
use emosense_core::Config;
use emosense_http::Api;
use http::Request;
use serde_json::{json, Value};

/// Resident memory a request may add at its peak.
const MAX_GROWTH_MIB: f64 = 100.0;

/// The tests of this file take turns, so each one's memory peak is its own.
static TURN: Mutex<()> = Mutex::new(());

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An API over the shipped models with every model loaded, so loading is not counted as a request's memory.
fn warm_api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        let api = api_with(Config { model_dir: model_dir(), ..Config::default() });
        api.engine().warm_up().expect("models load");
        api
    })
}

fn status_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

/// Runs `work` and returns its output with the peak resident memory it added, in MiB, and the time it took.
fn measured<T>(work: impl FnOnce() -> T) -> (T, f64, Duration) {
    let before = status_kib("VmRSS:");
    // Resets the peak (VmHWM) to the current size.
    std::fs::write("/proc/self/clear_refs", "5").expect("the peak can be reset");
    let started = Instant::now();
    let out = work();
    let elapsed = started.elapsed();
    (out, status_kib("VmHWM:").saturating_sub(before) as f64 / 1024.0, elapsed)
}

/// Sends `body` to `route` and checks the answer's status and error code, its memory and its time.
fn assert_refused(api: &Api, route: &str, body: Value, status: u16, code: &str, within: Duration) -> Value {
    let body = body.to_string();
    let ((got, answer), growth, elapsed) = measured(|| send(api, post_json(route, body)));
    assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{route}: {answer}");
    assert!(growth < MAX_GROWTH_MIB, "{route}: resident memory grew by {growth:.0} MiB");
    assert!(elapsed < within, "{route}: answered after {elapsed:?}");
    answer
}

/// `bytes` with the 4-byte field `offset` bytes after the first `marker` set to `value`.
fn patched(mut bytes: Vec<u8>, marker: &[u8], offset: usize, value: &[u8]) -> Vec<u8> {
    let at = bytes.windows(marker.len()).position(|w| w == marker).expect("marker in fixture") + offset;
    bytes[at..at + value.len()].copy_from_slice(value);
    bytes
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| (0..8).fold(crc ^ u32::from(b), |c, _| if c & 1 == 1 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 }))
}

/// A GIF of `frames` 1x1 frames on a `width` x `height` canvas (43 bytes for one frame).
fn gif_of_tiny_frames(width: u16, height: u16, frames: usize) -> Vec<u8> {
    let frame: &[u8] = b"\x21\xf9\x04\0\0\0\0\0\x2c\0\0\0\0\x01\0\x01\0\0\x02\x02\x4c\x01\0";
    [&b"GIF89a"[..], &width.to_le_bytes(), &height.to_le_bytes(), b"\x80\0\0\0\0\0\xff\xff\xff", &frame.repeat(frames), b"\x3b"].concat()
}

#[test]
fn m4a_tables_declaring_four_billion_entries_are_refused() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let api = warm_api();
    for table in [&b"stsc"[..], b"stts", b"stco", b"stsz"] {
        // The entry count follows the box type and its version/flags (for stsz, the common sample size).
        let offset = if table == b"stsz" { 12 } else { 8 };
        let m4a = patched(fixture("audio/tone.m4a"), table, offset, &[0xFF; 4]);
        let audio = encode(&m4a);
        let answer = assert_refused(api, "/api/v1/emotion/analyze/audio", json!({"audio_base64": audio}), 422, "invalid_input", Duration::from_secs(2));
        assert!(answer["error"]["message"].as_str().unwrap().contains("4294967295 entries"), "{answer}");
        assert_refused(api, "/api/v1/emotion/analyze/multimodal", json!({"audio_base64": audio}), 422, "invalid_input", Duration::from_secs(2));
    }
}

#[test]
fn a_43_byte_gif_declaring_60000_by_60000_pixels_is_refused_from_its_header() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let gif = gif_of_tiny_frames(60000, 60000, 1);
    assert_eq!(gif.len(), 43);
    let answer = assert_refused(warm_api(), "/api/v1/emotion/analyze/face", json!({"image_base64": encode(&gif)}), 413, "payload_too_large", Duration::from_secs(1));
    assert!(answer["error"]["message"].as_str().unwrap().contains("MAX_IMAGE_PIXELS"), "{answer}");
    let animated = gif_of_tiny_frames(60000, 60000, 2);
    let answer = assert_refused(warm_api(), "/api/v1/emotion/analyze/face", json!({"image_base64": encode(&animated)}), 413, "payload_too_large", Duration::from_secs(1));
    assert!(answer["error"]["message"].as_str().unwrap().contains("MAX_VIDEO_FRAME_PIXELS"), "{answer}");
}

#[test]
fn a_zero_size_box_inside_an_mp4_track_is_refused_instead_of_read_forever() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    // The edts box header (its size and type) becomes a zero-size box of an unknown type.
    let mut video = fixture("video/faces.mp4");
    let at = video.windows(4).position(|w| w == b"edts").expect("an edit box in the fixture");
    video[at - 4..at + 4].copy_from_slice(b"\0\0\0\0zzzz");
    let answer = assert_refused(warm_api(), "/api/v1/emotion/analyze/face", json!({"image_base64": encode(&video)}), 422, "invalid_input", Duration::from_secs(2));
    assert!(answer["error"]["message"].as_str().unwrap().contains("size 0"), "{answer}");
}

#[test]
fn inputs_the_fuzzers_found_are_refused() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let api = warm_api();
    let esds = encode(&fixture("fuzz/m4a-esds-without-descriptor.m4a"));
    assert_refused(api, "/api/v1/emotion/analyze/audio", json!({"audio_base64": esds}), 422, "invalid_input", Duration::from_secs(2));
    let metadata_loop = encode(&fixture("fuzz/mp4-zero-size-box-in-metadata.mp4"));
    let answer = assert_refused(api, "/api/v1/emotion/analyze/face", json!({"image_base64": metadata_loop}), 422, "invalid_input", Duration::from_secs(2));
    assert!(answer["error"]["message"].as_str().unwrap().contains("size 0"), "{answer}");
}

#[test]
fn hundreds_of_frames_on_a_huge_gif_canvas_are_refused_from_the_header() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let gif = gif_of_tiny_frames(7000, 7000, 300);
    assert!(gif.len() < 7 << 10);
    assert_refused(warm_api(), "/api/v1/emotion/analyze/face", json!({"image_base64": encode(&gif)}), 413, "payload_too_large", Duration::from_secs(1));
}

#[test]
fn long_work_stops_at_the_request_deadline() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let config = Config { model_dir: model_dir(), request_timeout: Duration::from_secs(1), ..Config::default() };
    let api = api_with(config);
    api.engine().warm_up().expect("models load");
    let within = Duration::from_millis(2500);
    // Thousands of frames on a canvas within the frame limit: decoding and analysing them all takes many seconds.
    let gif = gif_of_tiny_frames(1920, 1080, 3000);
    let answer = assert_refused(&api, "/api/v1/emotion/analyze/face", json!({"image_base64": encode(&gif)}), 503, "timeout", within);
    assert!(answer["error"]["message"].as_str().unwrap().contains("REQUEST_TIMEOUT"), "{answer}");
    // Sixteen texts of 5,000 CJK characters: hundreds of model runs.
    let texts: Vec<String> = (0..16).map(|i| "我今天很高兴也很难过".chars().cycle().skip(i).take(5000).collect()).collect();
    assert_refused(&api, "/api/v1/emotion/analyze/batch", json!({"texts": texts}), 503, "timeout", within);
}

#[test]
fn a_flac_declaring_655350_hz_is_refused_before_decoding() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    // Made by tools/audio/make_fixtures.sh with the reference encoder: 0.1 s at the highest rate FLAC declares.
    let flac = fixture("audio/rate-655350.flac");
    let answer = assert_refused(warm_api(), "/api/v1/emotion/analyze/audio", json!({"audio_base64": encode(&flac)}), 422, "invalid_input", Duration::from_secs(1));
    assert!(answer["error"]["message"].as_str().unwrap().contains("655350 Hz"), "{answer}");
}

#[test]
fn large_images_cost_a_bounded_amount_of_memory() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let api = warm_api();
    // A PNG header declaring 7000 x 7000 pixels: refused before any pixel is decoded.
    let mut png = patched(fixture("images/portrait.png"), b"IHDR", 4, &7000u32.to_be_bytes());
    png = patched(png, b"IHDR", 8, &7000u32.to_be_bytes());
    let at = png.windows(4).position(|w| w == b"IHDR").unwrap();
    let crc = crc32(&png[at..at + 17]).to_be_bytes();
    png[at + 17..at + 21].copy_from_slice(&crc);
    for aligned_face in [false, true] {
        let body = json!({"image_base64": encode(&png), "aligned_face": aligned_face});
        assert_refused(api, "/api/v1/emotion/analyze/face", body, 413, "payload_too_large", Duration::from_secs(1));
    }
    // A 16-megapixel photo read whole as one face: decoded once, crops resized straight from it.
    let mut jpeg = Vec::new();
    let photo = image::RgbImage::from_fn(4000, 4000, |x, y| image::Rgb([(x / 16) as u8, (y / 16) as u8, 120]));
    photo.write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
    drop(photo);
    let body = json!({"image_base64": encode(&jpeg), "aligned_face": true}).to_string();
    let ((status, answer), growth, _) = measured(|| send(api, post_json("/api/v1/emotion/analyze/face", body)));
    assert_eq!(status, 200, "{answer}");
    assert!(growth < MAX_GROWTH_MIB, "a 16-megapixel aligned face grew resident memory by {growth:.0} MiB");
}

/// A body produced lazily in 64 KiB chunks up to `total` bytes, counting what the server pulls.
fn lazy_body(prefix: &'static [u8], total: u64, pulled: Arc<AtomicU64>) -> impl http_body::Body<Data = Bytes, Error = std::convert::Infallible> + Send + 'static {
    let chunks = std::iter::once(Bytes::from_static(prefix)).chain((0..total / 65_536).map(move |_| {
        pulled.fetch_add(65_536, Ordering::SeqCst);
        Bytes::from(vec![b'A'; 65_536])
    }));
    http_body_util::StreamBody::new(futures_util::StreamExt::map(futures_util::stream::iter(chunks), |b| Ok(http_body::Frame::data(b))))
}

#[test]
fn oversize_bodies_are_refused_before_they_are_read() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let api = Arc::new(api_with(Config { model_dir: model_dir(), ..Config::default() }));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Declared: a Content-Length of 1 GiB is refused from the header, before one byte is pulled.
    let pulled = Arc::new(AtomicU64::new(0));
    let request = Request::post("/api/v1/emotion/analyze/face")
        .header("content-type", "application/json")
        .header("content-length", (1u64 << 30).to_string())
        .body(lazy_body(b"{\"image_base64\": \"", 1 << 30, pulled.clone()))
        .unwrap();
    let ((status, answer), growth, _) = measured(|| parts(runtime.block_on(api.clone().handle_streaming(request))));
    assert_eq!(status, 413, "{answer}");
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
    assert!(growth < MAX_GROWTH_MIB, "{growth:.0} MiB");
    // Undeclared: a 70 MB text request stops at the text route's limit (a few hundred KB), not the media routes'.
    let pulled = Arc::new(AtomicU64::new(0));
    let request = Request::post("/api/v1/emotion/analyze/text")
        .header("content-type", "application/json")
        .body(lazy_body(b"{\"text\": \"", 70 << 20, pulled.clone()))
        .unwrap();
    let ((status, answer), growth, _) = measured(|| parts(runtime.block_on(api.clone().handle_streaming(request))));
    assert_eq!(status, 413, "{answer}");
    let read = pulled.load(Ordering::SeqCst);
    assert!(read <= api.body_limit("/api/v1/emotion/analyze/text") + 65_536, "read {read} bytes");
    assert!(growth < MAX_GROWTH_MIB, "{growth:.0} MiB");
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let config = Config { model_dir: model_dir(), max_concurrent_analyses: 1, max_queued_analyses: 1, ..Config::default() };
    let api = Arc::new(api_with(config));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let texts: Vec<String> = (0..64).map(|i| format!("Request {i}: I can't believe how well this went, I am so happy!")).collect();
    let body = Bytes::from(json!({"texts": texts}).to_string());
    let responses = runtime.block_on(async {
        let requests = (0..6).map(|_| {
            let request = Request::post("/api/v1/emotion/analyze/batch").header("content-type", "application/json").body(http_body_util::Full::new(body.clone())).unwrap();
            tokio::spawn(api.clone().handle_streaming(request))
        });
        futures_util::future::join_all(requests).await
    });
    let statuses: Vec<u16> = responses.iter().map(|r| r.as_ref().unwrap().status().as_u16()).collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    let refused: Vec<_> = responses.iter().map(|r| r.as_ref().unwrap()).filter(|r| r.status() == 503).collect();
    assert!(!refused.is_empty(), "one running and one waiting: the rest are refused, {statuses:?}");
    for response in refused {
        assert_eq!(response.headers()["retry-after"], "1");
        let body: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(body["error"]["code"], "overloaded");
    }
}

#[test]
fn a_dropped_request_cancels_its_analysis() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let config = Config { model_dir: model_dir(), max_concurrent_analyses: 1, ..Config::default() };
    let api = Arc::new(api_with(config));
    api.engine().warm_up().expect("models load");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let texts: Vec<String> = (0..16).map(|i| "我今天很高兴也很难过".chars().cycle().skip(i).take(5000).collect()).collect();
    let body = Bytes::from(json!({"texts": texts}).to_string());
    let started = Instant::now();
    runtime.block_on(async {
        let request = Request::post("/api/v1/emotion/analyze/batch").header("content-type", "application/json").body(http_body_util::Full::new(body)).unwrap();
        // The client gives up after 300 ms: the future is dropped, as the server drops it when a connection closes.
        let gave_up = tokio::time::timeout(Duration::from_millis(300), api.clone().handle_streaming(request)).await;
        assert!(gave_up.is_err(), "the batch takes far longer than 300 ms");
        // The only slot is free again as soon as the analysis notices, long before the batch would have finished.
        let request = post_json("/api/v1/emotion/analyze/text", json!({"text": "fine"}).to_string()).map(http_body_util::Full::new);
        let response = api.clone().handle_streaming(request).await;
        assert_eq!(response.status(), 200);
    });
    assert!(started.elapsed() < Duration::from_secs(5), "the cancelled batch went on for {:?}", started.elapsed());
}
