//! Real API Gateway events (HTTP API v2 and REST API v1, tests/data/lambda/) decoded by `lambda_http`, through the
//! Lambda adapter and the shared router, back to a Lambda response.

#[path = "../../emosense-http/tests/common/mod.rs"]
mod common;

use emosense_lambda::{to_api_request, to_lambda_response};
use lambda_http::Body;
use serde_json::Value;

/// Decodes the event file as the Lambda runtime would and answers it.
fn invoke(event_file: &str) -> (u16, Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/lambda").join(event_file);
    let event = std::fs::read_to_string(&path).unwrap();
    let request = lambda_http::request::from_str(&event).unwrap();
    let response = to_lambda_response(common::api().handle(to_api_request(request)));
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("expected a text body, got {other:?}"),
    };
    (response.status().as_u16(), body)
}

#[test]
fn http_api_v2_text() {
    let (status, body) = invoke("apigw-v2-analyze-text.json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(common::assert_valid_result(&body), "joy");
    assert_eq!(body["metadata"]["tier"], "primary");
}

#[test]
fn http_api_v2_base64_body_is_decoded() {
    let (status, body) = invoke("apigw-v2-analyze-text-base64.json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(common::assert_valid_result(&body), "joy");
    assert_eq!(body["metadata"]["tier"], "secondary");
}

#[test]
fn stage_prefix_is_not_part_of_the_route() {
    let (status, body) = invoke("apigw-v2-analyze-text-stage.json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(common::assert_valid_result(&body), "fear");
}

#[test]
fn rest_api_v1_text_and_models() {
    let (status, body) = invoke("apigw-v1-analyze-text.json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(common::assert_valid_result(&body), "sadness");
    let (status, body) = invoke("apigw-v1-models.json");
    assert_eq!(status, 200);
    assert_eq!(body["models"].as_array().unwrap().len(), 12, "three text models; the voice activity detector and three audio models; the face detector, landmarks and three face tiers");
}

#[test]
fn http_api_v2_audio() {
    let (status, body) = invoke("apigw-v2-analyze-audio.json");
    assert_eq!(status, 200, "{body}");
    common::assert_valid_result(&body);
    assert_eq!((body["metadata"]["modality"].as_str(), body["metadata"]["source"]["bits_per_sample"].as_u64()), (Some("audio"), Some(8)));
}

#[test]
fn http_api_v2_face() {
    let (status, body) = invoke("apigw-v2-analyze-face.json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(common::assert_valid_result(&body), "joy");
    assert_eq!((body["metadata"]["modality"].as_str(), body["metadata"]["faces_detected"].as_u64()), (Some("face"), Some(1)));
    assert_eq!(body["metadata"]["image"]["exif_reoriented"], true);
}

#[test]
fn http_api_v2_multimodal() {
    let (status, body) = invoke("apigw-v2-analyze-multimodal.json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dominant_emotion"], "joy");
    assert_eq!(body["metadata"]["modalities_used"], serde_json::json!(["text", "face"]));
}

#[test]
fn http_api_v2_file_upload_arrives_base64_encoded() {
    let (status, body) = invoke("apigw-v2-analyze-file.json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(common::assert_valid_result(&body), "joy");
    assert_eq!((body["metadata"]["file"]["name"].as_str(), body["metadata"]["faces_detected"].as_u64()), (Some("portrait.jpg"), Some(1)));
}

#[test]
fn openapi_document() {
    let (status, body) = invoke("apigw-v2-openapi.json");
    assert_eq!((status, body["openapi"].as_str()), (200, Some("3.1.0")));
    assert!(body["paths"]["/api/v1/emotion/analyze/multimodal"]["post"].is_object());
}

#[test]
fn batch_and_health() {
    let (status, body) = invoke("apigw-v2-analyze-batch.json");
    assert_eq!(status, 200, "{body}");
    let dominant: Vec<String> = body["results"].as_array().unwrap().iter().map(common::assert_valid_result).collect();
    assert_eq!(dominant, ["joy", "anger"]);
    let (status, body) = invoke("apigw-v2-health.json");
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
}

#[test]
fn errors_keep_their_status_through_lambda() {
    for (event, status, code) in [
        ("apigw-v2-analyze-text-empty.json", 422, "invalid_input"),
        ("apigw-v2-analyze-text-form.json", 415, "unsupported_media_type"),
        ("apigw-v1-analyze-text-malformed.json", 400, "bad_request"),
    ] {
        let (actual, body) = invoke(event);
        assert_eq!((actual, body["error"]["code"].as_str().unwrap()), (status, code), "{event}: {body}");
    }
}
