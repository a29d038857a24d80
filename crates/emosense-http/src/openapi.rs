//! The OpenAPI 3.1 document of API v1, built from the request and response types themselves (their JSON Schemas
//! come from `schemars`), so it cannot drift from what the routes read and write. Served at
//! `GET /api/v1/openapi.json` and committed as `docs/openapi.json`.

use std::sync::OnceLock;

use emosense_core::{AnalysisResult, MultimodalResult, Tier};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::error::ErrorBody;
use crate::routes::{AudioRequest, BatchRequest, BatchResponse, FaceRequest, HealthResponse, ModelsResponse, MultimodalRequest, Route, TextRequest};

/// Statuses every analysis route may answer besides 200, with what they mean.
const ANALYSIS_ERRORS: &[(u16, &str)] = &[
    (400, "The body is not UTF-8, not valid JSON, or not a well-formed multipart form."),
    (408, "The body did not arrive within REQUEST_TIMEOUT (a Retry-After header says when to retry)."),
    (413, "An input, or the body, is over its configured limit (the message names the limit and its variable)."),
    (415, "The Content-Type, or the format of a media field, is not one that is read."),
    (422, "A field is missing, empty, of the wrong type, unknown, or holds data that cannot be used."),
    (503, "No tier of a modality's model ladder could answer (model_unavailable), every analysis slot and the queue \
           are busy (overloaded), or the analysis ran past REQUEST_TIMEOUT (timeout); overloaded and timeout answers \
           carry a Retry-After header."),
];

/// The document (built once).
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(build)
}

/// Schema generators whose definitions land under `#/components/schemas`: requests as deserialized, responses as
/// serialized.
fn generator(serialize: bool) -> SchemaGenerator {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    if serialize { settings.for_serialize() } else { settings.for_deserialize() }.into_generator()
}

/// One operation: its summary, request body (content type and schema) and answer schema.
struct Operation {
    summary: &'static str,
    request: Option<(&'static str, Value)>,
    response: Value,
    errors: bool,
}

fn build() -> Value {
    let mut requests = generator(false);
    let mut responses = generator(true);
    let (req, resp) = (&mut requests, &mut responses);
    let paths: Map<String, Value> = Route::ALL
        .into_iter()
        .map(|route| {
            let operation = match route {
                Route::AnalyzeText => analysis::<TextRequest, AnalysisResult>("Emotions of one text", req, resp),
                Route::AnalyzeBatch => analysis::<BatchRequest, BatchResponse<'static>>("Emotions of up to 256 texts, in order", req, resp),
                Route::AnalyzeAudio => analysis::<AudioRequest, AnalysisResult>("Emotions in speech (WAV incl. μ-law/A-law, FLAC, Ogg Vorbis or Opus, MP3 or M4A/AAC)", req, resp),
                Route::AnalyzeFace => analysis::<FaceRequest, AnalysisResult>("Emotions of every face in an image", req, resp),
                Route::AnalyzeMultimodal => {
                    analysis::<MultimodalRequest, MultimodalResult>("Text, speech and faces analysed together and fused", req, resp)
                }
                Route::AnalyzeFile => Operation {
                    summary: "Emotions of an uploaded file: text, audio, an image or a video",
                    request: Some(("multipart/form-data", file_form(req))),
                    response: resp.subschema_for::<AnalysisResult>().to_value(),
                    errors: true,
                },
                Route::Health => lookup::<HealthResponse>("Liveness, version, whether each deployed modality reaches its primary tier, and the models loaded so far", resp),
                Route::Models => lookup::<ModelsResponse>("Every model with its tier, files, load state or error, and manifest entry", resp),
                Route::OpenApi => Operation { summary: "This document", request: None, response: json!({"type": "object"}), errors: false },
            };
            (route.path().to_owned(), json!({ route.method().as_str().to_ascii_lowercase(): operation_object(route.path(), operation, resp) }))
        })
        .collect();
    let mut schemas = requests.take_definitions(true);
    schemas.extend(responses.take_definitions(true));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "EmoSense API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Emotion analysis of text, speech and faces over the labels anger, disgust, fear, joy, neutral, sadness and surprise.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"}
        },
        "servers": [{"url": "http://127.0.0.1:8080", "description": "emosense serve"}],
        "paths": paths,
        "components": {"schemas": schemas}
    })
}

/// An analysis route: a JSON body of type `Req`, an answer of type `Resp`, and the analysis errors.
fn analysis<Req: JsonSchema, Resp: JsonSchema>(summary: &'static str, requests: &mut SchemaGenerator, responses: &mut SchemaGenerator) -> Operation {
    let request = Some(("application/json", requests.subschema_for::<Req>().to_value()));
    Operation { summary, request, response: responses.subschema_for::<Resp>().to_value(), errors: true }
}

/// A GET route answering `Resp`.
fn lookup<Resp: JsonSchema>(summary: &'static str, responses: &mut SchemaGenerator) -> Operation {
    Operation { summary, request: None, response: responses.subschema_for::<Resp>().to_value(), errors: false }
}

fn operation_object(path: &str, operation: Operation, responses: &mut SchemaGenerator) -> Value {
    let json_content = |schema: Value| json!({"application/json": {"schema": schema}});
    let mut answers = Map::new();
    answers.insert("200".into(), json!({"description": "The answer", "content": json_content(operation.response)}));
    if operation.errors {
        let error = responses.subschema_for::<ErrorBody>().to_value();
        for (status, meaning) in ANALYSIS_ERRORS {
            answers.insert(status.to_string(), json!({"description": meaning, "content": json_content(error.clone())}));
        }
    }
    let id: String = path.trim_start_matches("/api/v1/").replace(['/', '.'], "_");
    let mut object = json!({"operationId": id, "summary": operation.summary, "responses": answers});
    if let Some((content_type, schema)) = operation.request {
        object["requestBody"] = json!({"required": true, "content": {content_type: {"schema": schema}}});
    }
    object
}

/// The multipart form of `/file` (read by a streaming parser rather than deserialized, so written out here).
fn file_form(requests: &mut SchemaGenerator) -> Value {
    json!({
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "contentMediaType": "application/octet-stream", "description": "The file: UTF-8 text, audio (WAV incl. μ-law/A-law, FLAC, Ogg Vorbis or Opus, MP3, M4A/AAC), an image (JPEG, PNG, WebP, GIF, BMP) or a video (H.264 MP4, animated GIF)."},
            "analysis_type": {"type": "string", "enum": ["text", "audio", "video", "image", "auto"], "default": "auto", "description": "How to read the file; `auto` reads its kind from its first bytes; images count as video."},
            "tier": requests.subschema_for::<Tier>().to_value()
        },
        "additionalProperties": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_an_operation_and_every_reference_resolves() {
        let document = document();
        for route in Route::ALL {
            assert!(document["paths"][route.path()][route.method().as_str().to_ascii_lowercase()].is_object(), "{route:?}");
        }
        let text = document.to_string();
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &reference[..reference.find('"').unwrap()];
            assert!(document["components"]["schemas"][name].is_object(), "{name} is referenced but not defined");
        }
    }

    #[test]
    fn the_committed_document_is_current() {
        let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json")).unwrap_or_default();
        let current = serde_json::to_string_pretty(document()).unwrap() + "\n";
        assert!(committed == current, "docs/openapi.json is out of date: run `cargo run -p emosense-cli -- openapi > docs/openapi.json`");
    }
}
