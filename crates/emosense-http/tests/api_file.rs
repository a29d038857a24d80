//! `POST /api/v1/emotion/analyze/file` through the real router: multipart uploads of every analysis type, detection
//! by magic bytes, wrong types, and oversize files refused while they stream in.

mod common;
#[path = "../../../tests/support/multipart.rs"]
mod multipart;
#[path = "../../../tests/support/wav.rs"]
mod wav;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use common::{api, api_with, assert_valid_result, model_dir, parts, send};
use emosense_core::{Config, Limits};
use emosense_http::Api;
use http::Request;
use multipart::{content_type, form};
use serde_json::Value;
use wav::{speech_like, wav};

const ROUTE: &str = "/api/v1/emotion/analyze/file";

fn image(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}{name}", concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/images/"))).expect("fixture")
}

fn speech() -> Vec<u8> {
    wav(&speech_like(2.5, 16_000, 180.0, 260.0, 4.0), 16_000, 1, 16, false)
}

fn upload(api: &Api, analysis_type: Option<&str>, file_name: &str, file: &[u8]) -> (u16, Value) {
    let mut fields: Vec<(&str, Option<&str>, &[u8])> = Vec::new();
    if let Some(kind) = analysis_type {
        fields.push(("analysis_type", None, kind.as_bytes()));
    }
    fields.push(("file", Some(file_name), file));
    send(api, Request::post(ROUTE).header("content-type", content_type()).body(Bytes::from(form(&fields))).unwrap())
}

#[test]
fn every_analysis_type_answers_with_its_modality() {
    let text = "The whole team cheered, we won the final!".as_bytes();
    let cases: [(&str, &str, Vec<u8>, &str); 4] = [
        ("text", "note.txt", text.to_vec(), "text"),
        ("audio", "clip.wav", speech(), "audio"),
        ("video", "portrait.jpg", image("portrait.jpg"), "face"),
        ("image", "portrait.png", image("portrait.png"), "face"),
    ];
    for (analysis_type, name, file, modality) in cases {
        let (status, body) = upload(api(), Some(analysis_type), name, &file);
        assert_eq!(status, 200, "{analysis_type}: {body}");
        assert_valid_result(&body);
        assert_eq!(body["metadata"]["modality"], modality);
        assert_eq!(body["metadata"]["file"]["name"], name);
        assert_eq!(body["metadata"]["file"]["bytes"], file.len());
        let echoed = if analysis_type == "image" { "video" } else { analysis_type };
        assert_eq!(body["metadata"]["file"]["analysis_type"], echoed, "images count as video");
    }
}

#[test]
fn auto_reads_the_kind_from_magic_bytes_not_the_name() {
    let m4a = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/audio/tone.m4a")).expect("fixture");
    let cases: [(Vec<u8>, &str); 4] =
        [("J'adore ce film, quelle joie !".as_bytes().to_vec(), "text"), (speech(), "audio"), (m4a, "audio"), (image("group.jpg"), "video")];
    for (file, kind) in cases {
        for analysis_type in [Some("auto"), None] {
            let (status, body) = upload(api(), analysis_type, "misleading-name.mp3", &file);
            assert_eq!(status, 200, "{kind}: {body}");
            assert_eq!(body["metadata"]["file"]["kind"], kind);
            assert_eq!(body["metadata"]["file"]["analysis_type"], "auto");
        }
    }
    let (status, body) = upload(api(), None, "archive.zip", b"PK\x03\x04\x14\0\0\0\0\0binary\0\0");
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")), "{body}");
}

#[test]
fn wrong_types_and_malformed_forms_get_clear_errors() {
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (Some("audio"), image("portrait.jpg"), 415, "not audio"),
        (Some("video"), speech(), 415, "WAV"),
        (Some("text"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), 415, "not UTF-8"),
        (Some("text"), Vec::new(), 422, "must contain text"),
        (Some("video"), Vec::new(), 422, "empty"),
        (None, Vec::new(), 422, "empty"),
        (Some("pdf"), b"%PDF-1.7".to_vec(), 422, "analysis_type"),
    ];
    for (analysis_type, file, status, words) in cases {
        let (got, body) = upload(api(), analysis_type, "f", &file);
        assert_eq!(got, status, "{analysis_type:?}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(words), "{message:?} should mention {words:?}");
    }
    let send_form = |content_type: &str, body: Vec<u8>| send(api(), Request::post(ROUTE).header("content-type", content_type).body(Bytes::from(body)).unwrap());
    let no_file = form(&[("analysis_type", None, b"text")]);
    let (status, body) = send_form(&content_type(), no_file);
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("file: is missing"));
    let (status, _) = send_form(&content_type(), form(&[("file", Some("a"), b"hi"), ("file", Some("b"), b"there")]));
    assert_eq!(status, 422, "one file per request");
    let (status, body) = send_form(&content_type(), form(&[("file", Some("a"), b"hi"), ("comment", None, b"x")]));
    assert_eq!(status, 422, "{body}");
    let (status, body) = send_form("application/json", b"{}".to_vec());
    assert_eq!((status, body["error"]["code"].as_str()), (415, Some("unsupported_media_type")));
    let (status, _) = send_form("multipart/form-data", form(&[("file", Some("a"), b"hi")]));
    assert_eq!(status, 400, "no boundary");
    let mut cut = form(&[("file", Some("a"), b"hello there")]);
    cut.truncate(cut.len() - 30);
    let (status, body) = send_form(&content_type(), cut);
    assert_eq!(status, 400, "{body}");
}

#[test]
fn each_kind_has_its_own_size_limit() {
    let small = api_with(Config { model_dir: model_dir(), limits: Limits { audio_bytes: 20_000, text_chars: 10, ..Limits::default() }, ..Config::default() });
    let (status, body) = upload(&small, Some("audio"), "clip.wav", &speech());
    assert_eq!(status, 413, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("MAX_AUDIO_FILE_SIZE"));
    let (status, body) = upload(&small, None, "clip.wav", &speech());
    assert_eq!(status, 413, "auto-detected audio gets the audio limit: {body}");
    let (status, body) = upload(&small, Some("text"), "long.txt", "far more than ten characters of text".as_bytes());
    assert_eq!(status, 413, "{body}");
    let (status, body) = upload(&small, Some("video"), "portrait.jpg", &image("portrait.jpg"));
    assert_eq!(status, 200, "the video limit is separate: {body}");
}

#[test]
fn an_oversize_upload_is_refused_while_streaming() {
    let config = Config { model_dir: model_dir(), limits: Limits { media_bytes: 1 << 20, ..Limits::default() }, ..Config::default() };
    let api = Arc::new(api_with(config));
    // A 1 GiB upload produced lazily, 64 KiB at a time: counting what the server pulls shows it stops at the limit.
    let sent = Arc::new(AtomicU64::new(0));
    let head = format!(
        "--{}\r\nContent-Disposition: form-data; name=\"analysis_type\"\r\n\r\nvideo\r\n--{}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.png\"\r\n\r\n",
        multipart::BOUNDARY,
        multipart::BOUNDARY
    );
    let counter = sent.clone();
    let png_signature: &[u8] = b"\x89PNG\r\n\x1a\n";
    let head = Bytes::from([head.as_bytes(), png_signature].concat());
    let chunks = futures_util::stream::iter(std::iter::once(head).chain((0..16_384).map(move |_| {
        counter.fetch_add(65_536, Ordering::SeqCst);
        Bytes::from(vec![0u8; 65_536])
    })));
    let body = http_body_util::StreamBody::new(futures_util::StreamExt::map(chunks, |b| Ok::<_, std::convert::Infallible>(http_body::Frame::data(b))));
    let request = Request::post(ROUTE).header("content-type", content_type()).body(body).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (status, answer) = parts(runtime.block_on(api.handle_streaming(request)));
    assert_eq!(status, 413, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("MAX_VIDEO_FILE_SIZE"), "{answer}");
    let pulled = sent.load(Ordering::SeqCst);
    assert!(pulled < 3 << 20, "stopped reading after {pulled} bytes of 1 GiB");
}

#[test]
fn streamed_uploads_are_analysed_like_buffered_ones() {
    let body = form(&[("analysis_type", None, b"video"), ("file", Some("group.jpg"), &image("group.jpg"))]);
    let chunks: Vec<Result<http_body::Frame<Bytes>, std::convert::Infallible>> =
        body.chunks(7_000).map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c)))).collect();
    let request = Request::post(ROUTE).header("content-type", content_type()).body(http_body_util::StreamBody::new(futures_util::stream::iter(chunks))).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let api = Arc::new(api_with(Config { model_dir: model_dir(), ..Config::default() }));
    let (status, answer) = parts(runtime.block_on(api.handle_streaming(request)));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["metadata"]["faces_detected"], 5);
}
