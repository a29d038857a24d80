//! Videos through the real router, with the clips under `tests/data/video` (made by
//! `tools/face/make_video_fixtures.sh`): H.264 in MP4 and an animated GIF, each 1.5 s of a smiling portrait then 1.5 s
//! of a landscape, on the face route, in `/multimodal` as `video_base64`, and uploaded to `/file`.

mod common;
#[path = "../../../tests/support/multipart.rs"]
mod multipart;

use base64::Engine;
use bytes::Bytes;
use common::{api, api_with, assert_valid_result, model_dir, post_json, send};
use emosense_core::{Config, FaceOptions, Limits, Progress};
use serde_json::{json, Value};

fn video(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}{name}", concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/video/"))).expect("fixture")
}

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn analyze_face(body: Value) -> (u16, Value) {
    send(api(), post_json("/api/v1/emotion/analyze/face", body.to_string()))
}

/// Checks the timeline of a fixture: frames every 0.5 s, a face in the first 1.5 s and none after.
fn assert_two_scenes(body: &Value) {
    assert_eq!(assert_valid_result(body), "joy", "{body}");
    let timeline = body["timeline"].as_array().expect("timeline");
    let times: Vec<f64> = timeline.iter().map(|m| m["t"].as_f64().unwrap()).collect();
    assert_eq!(times, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5], "{body}");
    let faces: Vec<u64> = timeline.iter().map(|m| m["faces"].as_u64().unwrap()).collect();
    assert_eq!(faces, [1, 1, 1, 0, 0, 0]);
    for moment in &timeline[..3] {
        assert_eq!(moment["dominant_emotion"], "joy", "{moment}");
    }
    assert_eq!(timeline[4]["dominant_emotion"], "neutral", "no face: the neutral prior");
    let metadata = &body["metadata"];
    assert_eq!((metadata["tier"].as_str(), metadata["frames_analyzed"].as_u64(), metadata["frames_with_faces"].as_u64()), (Some("primary"), Some(6), Some(3)));
    assert_eq!(metadata["faces_detected"], 1);
}

#[test]
fn an_h264_mp4_gets_a_timeline_sampled_twice_a_second() {
    let (status, body) = analyze_face(json!({"image_base64": encode(&video("faces.mp4"))}));
    assert_eq!(status, 200, "{body}");
    assert_two_scenes(&body);
    let info = &body["metadata"]["video"];
    assert_eq!((info["container"].as_str(), info["codec"].as_str(), info["width"].as_u64()), (Some("mp4"), Some("h264"), Some(320)));
    assert_eq!((info["frames_decoded"].as_u64(), info["duration_s"].as_f64()), (Some(30), Some(3.0)), "B-frames decode too");
}

#[test]
fn an_animated_gif_is_a_video() {
    let (status, body) = analyze_face(json!({"image_base64": encode(&video("faces.gif"))}));
    assert_eq!(status, 200, "{body}");
    assert_two_scenes(&body);
    assert_eq!(body["metadata"]["video"]["container"], "gif");
}

#[test]
fn the_frame_budget_spreads_samples_over_the_whole_video() {
    let two_frames = api_with(Config { model_dir: model_dir(), max_video_frames: 2, ..Config::default() });
    let (status, body) = send(&two_frames, post_json("/api/v1/emotion/analyze/face", json!({"image_base64": encode(&video("faces.mp4"))}).to_string()));
    assert_eq!(status, 200, "{body}");
    let times: Vec<f64> = body["timeline"].as_array().unwrap().iter().map(|m| m["t"].as_f64().unwrap()).collect();
    assert_eq!(times, [0.0, 1.5]);
}

#[test]
fn videos_in_multimodal_and_file_uploads() {
    let (status, body) = send(
        api(),
        post_json("/api/v1/emotion/analyze/multimodal", json!({"text": "Best day ever!", "video_base64": encode(&video("faces.mp4"))}).to_string()),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dominant_emotion"], "joy");
    assert_eq!(body["modalities"]["face"]["timeline"].as_array().map(Vec::len), Some(6));

    for analysis_type in ["video", "auto"] {
        let form = multipart::form(&[("analysis_type", None, analysis_type.as_bytes()), ("file", Some("clip.mp4"), &video("faces.mp4"))]);
        let request = http::Request::post("/api/v1/emotion/analyze/file").header("content-type", multipart::content_type()).body(Bytes::from(form)).unwrap();
        let (status, body) = send(api(), request);
        assert_eq!(status, 200, "{body}");
        assert_two_scenes(&body);
    }
}

#[test]
fn bad_videos_get_clear_json_errors() {
    let mp4 = video("faces.mp4");
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"image_base64": encode(&video("mpeg4-part2.mp4"))}), 415, "H.264"),
        (json!({"image_base64": encode(&mp4[..mp4.len() / 2])}), 422, "image_base64"),
        (json!({"image_base64": encode(&mp4[..64])}), 422, "MP4"),
        (json!({"image_base64": encode(&mp4), "landmarks": true}), 422, "timeline"),
    ];
    for (request, status, words) in cases {
        let (got, body) = analyze_face(request.clone());
        assert_eq!(got, status, "{words}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(words), "{words:?} in {body}");
    }
    let tiny = api_with(Config { model_dir: model_dir(), limits: Limits { video_frame_pixels: 50_000, ..Limits::default() }, ..Config::default() });
    let (status, body) = send(&tiny, post_json("/api/v1/emotion/analyze/face", json!({"image_base64": encode(&mp4)}).to_string()));
    assert_eq!(status, 413, "320 x 320 frames are over 50,000 pixels: {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("MAX_VIDEO_FRAME_PIXELS"));
}

#[test]
fn a_video_reports_its_progress_in_seconds_of_its_duration() {
    let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = reports.clone();
    let options = FaceOptions { progress: Progress::to(move |done, total, unit| seen.lock().unwrap().push((done, total, unit))), ..FaceOptions::default() };
    let result = api().engine().face().analyze("video", &video("faces.mp4"), &options).unwrap();
    let reports = reports.lock().unwrap();
    assert_eq!(reports.len(), result.timeline.as_ref().unwrap().len(), "one report per sampled frame: {reports:?}");
    assert!(reports.windows(2).all(|w| w[0].0 < w[1].0), "time goes forward: {reports:?}");
    assert!(reports.iter().all(|(done, total, unit)| *unit == "s" && total.is_some_and(|t| (t - 3.0).abs() < 0.2 && *done <= t)), "{reports:?}");
}
