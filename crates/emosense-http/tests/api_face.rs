//! `POST /api/v1/emotion/analyze/face` through the real router with the images under `tests/data/images`: faces found
//! in a portrait and a group photo, none in a landscape, EXIF orientation, the tier ladder, landmarks, annotation,
//! aligned faces, and every class of bad input.

mod common;

use std::io::Cursor;

use base64::Engine;
use common::{api, api_with, assert_valid_result, model_dir, post_json, send};
use emosense_core::{Config, Limits};
use serde_json::{json, Value};

const ROUTE: &str = "/api/v1/emotion/analyze/face";

fn image(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}{name}", concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/images/"))).expect("fixture")
}

fn encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn analyze(body: Value) -> (u16, Value) {
    send(api(), post_json(ROUTE, body.to_string()))
}

fn faces(body: &Value) -> &Vec<Value> {
    body["faces"].as_array().expect("faces array")
}

#[test]
fn a_portrait_has_one_smiling_face_with_geometry() {
    for name in ["portrait.jpg", "portrait.png"] {
        let (status, body) = analyze(json!({"image_base64": encode(&image(name))}));
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(assert_valid_result(&body), "joy", "{name}: {body}");
        let metadata = &body["metadata"];
        assert_eq!((metadata["modality"].as_str(), metadata["tier"].as_str()), (Some("face"), Some("primary")));
        assert_eq!(metadata["faces_detected"], 1);
        assert_eq!(metadata["image"]["format"], if name.ends_with("png") { "png" } else { "jpeg" });
        let face = &faces(&body)[0];
        assert_valid_result(&json!({"emotions": face["emotions"], "dominant_emotion": face["dominant_emotion"], "confidence": face["confidence"], "metadata": metadata}));
        // The face of the 512 px astronaut portrait sits around x 160-280, y 75-185 (half that in the 256 px PNG).
        let scale = if name.ends_with("png") { 0.5 } else { 1.0 };
        let (x, y, w) = (face["box"]["x"].as_f64().unwrap(), face["box"]["y"].as_f64().unwrap(), face["box"]["width"].as_f64().unwrap());
        assert!((140.0 * scale..190.0 * scale).contains(&x) && (55.0 * scale..100.0 * scale).contains(&y) && (90.0 * scale..150.0 * scale).contains(&w), "{face}");
        let geometry = &face["geometry"];
        assert!(geometry["smile"].as_f64().unwrap() > 0.02, "a smile lifts the mouth corners: {geometry}");
        assert!(geometry["roll_degrees"].as_f64().unwrap().abs() < 10.0);
        assert!(face.get("landmarks").is_none(), "landmarks only on request");
    }
}

#[test]
fn a_group_photo_has_five_faces_and_the_answer_is_the_main_face() {
    let (status, body) = analyze(json!({"image_base64": encode(&image("group.jpg"))}));
    assert_eq!(status, 200, "{body}");
    assert_valid_result(&body);
    assert_eq!(body["metadata"]["faces_detected"], 5);
    let faces = faces(&body);
    assert_eq!(faces.len(), 5);
    // The largest box, each weighed by how far its score clears the detector's 0.5 threshold.
    let prominence = |f: &Value| f["box"]["width"].as_f64().unwrap() * f["box"]["height"].as_f64().unwrap() * ((f["score"].as_f64().unwrap() - 0.5) / 0.5).max(0.05);
    let main = faces.iter().max_by(|a, b| prominence(a).total_cmp(&prominence(b))).unwrap();
    assert_eq!(body["emotions"], main["emotions"]);
    for face in faces {
        assert!(face["score"].as_f64().unwrap() > 0.5 && face["geometry"].is_object(), "{face}");
    }
}

#[test]
fn no_face_is_not_an_error_but_a_neutral_fallback() {
    let (status, body) = analyze(json!({"image_base64": encode(&image("landscape.jpg"))}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(assert_valid_result(&body), "neutral");
    assert_eq!(body["metadata"]["faces_detected"], 0);
    assert_eq!(body["metadata"]["tier"], "fallback");
    assert!(body["confidence"].as_f64().unwrap() <= 0.5);
    assert!(faces(&body).is_empty());
}

#[test]
fn exif_orientation_is_honoured() {
    let (status, body) = analyze(json!({"image_base64": encode(&image("portrait_exif_rotated.jpg"))}));
    assert_eq!(status, 200, "{body}");
    let metadata = &body["metadata"];
    assert_eq!(metadata["image"]["exif_reoriented"], true);
    // Stored 256 wide by 256 high but turned: upright again, the face is in the upper half as in the original.
    assert_eq!(metadata["faces_detected"], 1, "{body}");
    assert!(faces(&body)[0]["box"]["y"].as_f64().unwrap() < 100.0, "{body}");
    assert_eq!(body["dominant_emotion"], "joy");
}

fn png(image: &image::RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    bytes
}

#[test]
fn photos_stored_sideways_without_exif_are_turned_until_a_face_shows() {
    let portrait = image::load_from_memory(&image("portrait.png")).unwrap().into_rgb8();
    // Turned a quarter to the left, a quarter clockwise brings it back; and the other way round. Upside down, the
    // detector finds a weak phantom upright, and the turned image's clear face wins over it.
    let turns = [(image::imageops::rotate270(&portrait), 90), (image::imageops::rotate90(&portrait), 270), (image::imageops::rotate180(&portrait), 180)];
    for (stored, turned_back) in turns {
        let (status, body) = analyze(json!({"image_base64": encode(&png(&stored))}));
        assert_eq!(status, 200, "{body}");
        let metadata = &body["metadata"];
        assert_eq!((metadata["face_search"].as_str(), metadata["image"]["rotated_degrees"].as_u64()), (Some("rotated"), Some(turned_back)), "{body}");
        assert_eq!(body["dominant_emotion"], "joy", "{body}");
        assert!(metadata["warnings"][0].as_str().unwrap().contains("turned"), "{body}");
        // The box refers to the upright image: the face in its upper half.
        assert!(faces(&body)[0]["box"]["y"].as_f64().unwrap() < 100.0, "{body}");
    }
}

#[test]
fn a_small_face_on_a_large_canvas_is_found_in_tiles() {
    // The portrait scaled so its face is about 200 px wide, on a 4000 x 3000 grey canvas: 20 px at the detector's
    // 416 px view of the whole image, below its smallest anchor.
    let portrait = image::load_from_memory(&image("portrait.jpg")).unwrap().into_rgb8();
    let scaled = image::imageops::resize(&portrait, 900, 900, image::imageops::FilterType::Triangle);
    let mut canvas = image::RgbImage::from_pixel(4000, 3000, image::Rgb([128, 128, 128]));
    image::imageops::replace(&mut canvas, &scaled, 1500, 1000);
    let mut jpeg = Vec::new();
    canvas.write_to(&mut Cursor::new(&mut jpeg), image::ImageFormat::Jpeg).unwrap();
    let (status, body) = analyze(json!({"image_base64": encode(&jpeg)}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["metadata"]["face_search"], "tiles", "{body}");
    assert_eq!(body["metadata"]["faces_detected"], 1, "{body}");
    let face_box = &faces(&body)[0]["box"];
    let x = face_box["x"].as_f64().unwrap();
    assert!((1500.0 + 140.0 * 900.0 / 512.0..1500.0 + 200.0 * 900.0 / 512.0).contains(&x), "{body}");
    assert_eq!(body["dominant_emotion"], "joy", "{body}");
}

#[test]
fn a_small_image_with_no_face_detected_is_read_as_one_face_and_says_so() {
    let (status, body) = analyze(json!({"image_base64": encode(&image("face_48.png"))}));
    assert_eq!(status, 200, "{body}");
    let metadata = &body["metadata"];
    assert_eq!((metadata["face_search"].as_str(), metadata["tier"].as_str()), (Some("whole_image"), Some("primary")), "{body}");
    assert_eq!(metadata["faces_detected"], 0);
    assert!(metadata["warnings"][0].as_str().unwrap().contains("aligned_face"), "{body}");
    assert_eq!(faces(&body)[0]["score"], 0.0);
    assert_eq!(body["dominant_emotion"], "joy", "{body}");
    // Landscape thumbnails are not face crops: one too far from square, and in a square one the landmark model sees no
    // face.
    let landscape = image::load_from_memory(&image("landscape.jpg")).unwrap();
    for thumbnail in [landscape.thumbnail(150, 100), landscape.resize_exact(96, 96, image::imageops::FilterType::Triangle)] {
        let (status, body) = analyze(json!({"image_base64": encode(&png(&thumbnail.into_rgb8()))}));
        assert_eq!(status, 200, "{body}");
        assert_eq!((body["metadata"]["tier"].as_str(), body["metadata"]["face_search"].as_str()), (Some("fallback"), Some("detector")), "{body}");
    }
}

#[test]
fn each_tier_answers_when_pinned_and_missing_models_fall_back() {
    let portrait = encode(&image("portrait.png"));
    for tier in ["primary", "secondary", "fallback"] {
        let (status, body) = analyze(json!({"image_base64": portrait, "tier": tier}));
        assert_eq!(status, 200, "{body}");
        assert_valid_result(&body);
        assert_eq!(body["metadata"]["tier"], tier);
        assert_eq!(body["metadata"]["faces_detected"], 1);
    }
    let (_, secondary) = analyze(json!({"image_base64": portrait, "tier": "secondary"}));
    assert_eq!(secondary["dominant_emotion"], "joy", "the geometry rules see the smile: {secondary}");
    let empty = std::env::temp_dir().join(format!("emosense-no-face-models-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let bare = api_with(Config { model_dir: empty, ..Config::default() });
    let (status, body) = send(&bare, post_json(ROUTE, json!({"image_base64": portrait}).to_string()));
    assert_eq!((status, body["metadata"]["tier"].as_str()), (200, Some("fallback")), "{body}");
    assert!(body["metadata"]["skipped_tiers"][0].as_str().unwrap().starts_with("detector"), "{body}");
}

#[test]
fn landmarks_annotation_and_aligned_faces_on_request() {
    let (status, body) = analyze(json!({"image_base64": encode(&image("portrait.png")), "landmarks": true, "annotate": true}));
    assert_eq!(status, 200, "{body}");
    let landmarks = faces(&body)[0]["landmarks"].as_array().expect("landmarks");
    assert_eq!(landmarks.len(), 468);
    assert!(landmarks.iter().all(|p| p.as_array().unwrap().len() == 3));
    let png = body["annotated_image"].as_str().unwrap().strip_prefix("data:image/png;base64,").expect("PNG data URL");
    let drawn = image::load_from_memory(&base64::engine::general_purpose::STANDARD.decode(png).unwrap()).unwrap();
    assert_eq!((drawn.width(), drawn.height()), (256, 256));

    // The face alone, cropped by the caller: no detection, the whole image is the face.
    let portrait = image::load_from_memory(&image("portrait.jpg")).unwrap();
    let mut crop = Vec::new();
    portrait.crop_imm(150, 60, 140, 140).write_to(&mut Cursor::new(&mut crop), image::ImageFormat::Png).unwrap();
    let (status, body) = analyze(json!({"image_base64": encode(&crop), "aligned_face": true}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dominant_emotion"], "joy");
    assert_eq!(faces(&body)[0]["box"], json!({"x": 0.0, "y": 0.0, "width": 140.0, "height": 140.0}));
    assert!(body["metadata"].get("detector_input").is_none());
}

#[test]
fn bad_images_get_clear_json_errors() {
    let good = image("portrait.jpg");
    let cases = [
        (json!({"image_base64": "%%% not base64"}), 422, "invalid_input", "base64"),
        (json!({"image_base64": ""}), 422, "invalid_input", "empty"),
        (json!({"image_base64": encode(b"just some text, not a picture")}), 415, "unsupported_media_type", "not an image"),
        (json!({"image_base64": encode(b"\0\0\0\x18ftypmp42\0\0\0\0isommp42")}), 422, "invalid_input", "MP4"),
        (json!({"image_base64": encode(&good[..good.len() / 3])}), 422, "invalid_input", "truncated"),
        (json!({"image_base64": encode(&image("portrait.png")[..30_000])}), 422, "invalid_input", "decoded"),
        (json!({"image_base64": encode(&good[..20])}), 422, "invalid_input", "decoded"),
        (json!({"image": encode(&good)}), 422, "invalid_input", "unknown field"),
        (json!({"image_base64": encode(&good), "tier": "best"}), 422, "invalid_input", "unknown variant"),
    ];
    for (request, status, code, message) in cases {
        let (got, body) = analyze(request.clone());
        assert_eq!((got, body["error"]["code"].as_str()), (status, Some(code)), "{message}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().contains(message), "{message:?} in {body}");
    }
}

#[test]
fn images_over_the_limits_are_refused() {
    let small = api_with(Config { model_dir: model_dir(), limits: Limits { media_bytes: 10_000, image_pixels: 100_000, ..Limits::default() }, ..Config::default() });
    let (status, body) = send(&small, post_json(ROUTE, json!({"image_base64": encode(&image("portrait.jpg"))}).to_string()));
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("MAX_VIDEO_FILE_SIZE"), "{body}");
    // 256 x 256 = 65,536 pixels fits; 512 x 512 = 262,144 declared in the header does not, whatever the file size.
    let (status, _) = send(&small, post_json(ROUTE, json!({"image_base64": encode(&image("portrait_exif_rotated.jpg"))}).to_string()));
    assert_eq!(status, 413, "the 21 kB file is over 10,000 bytes");
    let pixels = api_with(Config { model_dir: model_dir(), limits: Limits { image_pixels: 100_000, ..Limits::default() }, ..Config::default() });
    let (status, body) = send(&pixels, post_json(ROUTE, json!({"image_base64": encode(&image("portrait.jpg"))}).to_string()));
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("MAX_IMAGE_PIXELS"), "{body}");
    let (status, body) = send(&pixels, post_json(ROUTE, json!({"image_base64": encode(&image("portrait.png"))}).to_string()));
    assert_eq!(status, 200, "{body}");
}
