//! Routes of API v1: request parsing and validation, then a call into the core engine.

use bytes::Bytes;
use base64::Engine;
use emosense_core::{
    AnalysisResult, AudioOptions, Budget, Error, FaceOptions, Health, Limit, ModelStatus, MultimodalInput, MultimodalOptions, MultimodalResult, Progress, TextOptions,
    Tier,
};
use http::{Method, Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::log::Answered;
use crate::error::ItemError;
use crate::{json_response, upload, Api, ApiError};

/// Every route of API v1: the one table that dispatch, body limits, the OpenAPI document and the deployment
/// descriptors' checks are written against (each `match` on it names every route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    AnalyzeText,
    AnalyzeBatch,
    AnalyzeAudio,
    AnalyzeFace,
    AnalyzeMultimodal,
    AnalyzeFile,
    Health,
    Models,
    OpenApi,
}

impl Route {
    /// Every route, in the order the OpenAPI document lists them.
    pub const ALL: [Route; 9] = [
        Route::AnalyzeText,
        Route::AnalyzeBatch,
        Route::AnalyzeAudio,
        Route::AnalyzeFace,
        Route::AnalyzeMultimodal,
        Route::AnalyzeFile,
        Route::Health,
        Route::Models,
        Route::OpenApi,
    ];

    /// The route's path.
    pub fn path(self) -> &'static str {
        match self {
            Route::AnalyzeText => "/api/v1/emotion/analyze/text",
            Route::AnalyzeBatch => "/api/v1/emotion/analyze/batch",
            Route::AnalyzeAudio => "/api/v1/emotion/analyze/audio",
            Route::AnalyzeFace => "/api/v1/emotion/analyze/face",
            Route::AnalyzeMultimodal => "/api/v1/emotion/analyze/multimodal",
            Route::AnalyzeFile => "/api/v1/emotion/analyze/file",
            Route::Health => "/api/v1/health",
            Route::Models => "/api/v1/models",
            Route::OpenApi => "/api/v1/openapi.json",
        }
    }

    /// The one method the route answers (others get 405).
    pub fn method(self) -> &'static Method {
        match self {
            Route::Health | Route::Models | Route::OpenApi => &Method::GET,
            _ => &Method::POST,
        }
    }

    /// Whether the route runs an analysis (and so waits for a slot in the analysis queue).
    pub fn analyses(self) -> bool {
        *self.method() == Method::POST
    }

    /// The route a path names (a trailing slash is ignored).
    pub fn of(path: &str) -> Option<Route> {
        let path = path.trim_end_matches('/');
        Route::ALL.into_iter().find(|r| r.path() == path)
    }
}

pub(crate) fn dispatch(api: &Api, request: Request<Bytes>, budget: &Budget) -> Result<Response<Bytes>, ApiError> {
    let path = request.uri().path().to_owned();
    let Some(route) = Route::of(&path) else {
        return Err(ApiError::NotFound(path));
    };
    if request.method() != route.method() {
        return Err(ApiError::MethodNotAllowed { method: request.method().to_string(), path, allowed: route.method().as_str() });
    }
    api.check_body_size(route, request.body())?;
    match route {
        Route::AnalyzeText => analyze_text(api, &request, budget),
        Route::AnalyzeBatch => analyze_batch(api, &request, budget),
        Route::AnalyzeAudio => analyze_audio(api, &request, budget),
        Route::AnalyzeFace => analyze_face(api, &request, budget),
        Route::AnalyzeMultimodal => analyze_multimodal(api, &request, budget),
        Route::AnalyzeFile => upload::analyze(api, upload::read_buffered(api, &request)?, budget),
        Route::Health => Ok(health(api)),
        Route::Models => Ok(json_response(StatusCode::OK, &ModelsResponse { models: api.engine().models() })),
        Route::OpenApi => Ok(json_response(StatusCode::OK, crate::openapi::document())),
    }
}

/// Body of `POST /api/v1/emotion/analyze/text`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TextRequest {
    /// The text to analyse (at most `MAX_TEXT_LENGTH` characters, 5000 by default; not only whitespace).
    #[schemars(extend("pattern" = "\\S"))]
    text: String,
    /// Accepted for compatibility; must be `text` on this route.
    #[serde(default)]
    #[schemars(extend("enum" = ["text", null]))]
    model_type: Option<String>,
    #[serde(default)]
    tier: Option<Tier>,
    /// Answer with this text model only (a built-in or custom model's id, as `/api/v1/models` lists them) instead
    /// of the tier ladder; not together with `tier`.
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    sentences: bool,
}

/// Body of `POST /api/v1/emotion/analyze/batch`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchRequest {
    /// The texts, answered in this order; a text that breaks the input rules (blank, too long) gets its error in its
    /// place.
    #[schemars(length(min = 1, max = 256))]
    texts: Vec<String>,
    #[serde(default)]
    tier: Option<Tier>,
    /// Answer with this text model only (a built-in or custom model's id); not together with `tier`.
    #[serde(default)]
    model: Option<String>,
}

/// Body of `POST /api/v1/emotion/analyze/audio`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AudioRequest {
    /// An audio file (WAV incl. μ-law/A-law, FLAC, Ogg Vorbis or Opus, MP3 or M4A/AAC, told by its first bytes), base64 (standard alphabet;
    /// a `data:audio/...;base64,` prefix is allowed).
    #[schemars(length(min = 1))]
    audio_base64: String,
    #[serde(default)]
    tier: Option<Tier>,
    /// Answer with this speech model only (a built-in or custom model's id, as `/api/v1/models` lists them) instead
    /// of the tier ladder; not together with `tier`.
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    segments: bool,
    #[serde(default)]
    features: bool,
    /// Answer 422 when no speech is found, instead of the neutral prior with a warning.
    #[serde(default)]
    require_speech: bool,
}

/// Body of `POST /api/v1/emotion/analyze/face`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaceRequest {
    /// An image file (JPEG, PNG, WebP, GIF, BMP) or a video (H.264 in MP4, animated GIF), base64 (a
    /// `data:image/...;base64,` prefix is allowed).
    #[schemars(length(min = 1))]
    image_base64: String,
    #[serde(default)]
    tier: Option<Tier>,
    /// Answer with this face model only (a built-in or custom model's id, as `/api/v1/models` lists them) instead of
    /// the tier ladder; not together with `tier`.
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    landmarks: bool,
    #[serde(default)]
    annotate: bool,
    #[serde(default)]
    aligned_face: bool,
}

/// Body of `POST /api/v1/emotion/analyze/multimodal`: at least one of `text`, `audio_base64`, `video_base64`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("anyOf" = [
    {"required": ["text"], "properties": {"text": {"type": "string", "pattern": "\\S"}}},
    {"required": ["audio_base64"], "properties": {"audio_base64": {"type": "string", "minLength": 1}}},
    {"required": ["video_base64"], "properties": {"video_base64": {"type": "string", "minLength": 1}}}
]))]
pub(crate) struct MultimodalRequest {
    #[serde(default)]
    text: Option<String>,
    /// An audio file (WAV incl. μ-law/A-law, FLAC, Ogg Vorbis or Opus, MP3 or M4A/AAC), base64.
    #[serde(default)]
    audio_base64: Option<String>,
    /// An image (JPEG, PNG, WebP, GIF, BMP) or a video (H.264 in MP4, animated GIF), base64; the kind is read from
    /// its first bytes.
    #[serde(default)]
    video_base64: Option<String>,
    /// Accepted for compatibility with clients that name the modality they send: `multimodal`, or `text`,
    /// `audio` or `video` (`image` is an alias) when that field is present. The answer is the same fused result.
    #[serde(default)]
    #[schemars(extend("enum" = ["multimodal", "text", "audio", "video", "image", null]))]
    model_type: Option<String>,
    #[serde(default)]
    tier: Option<Tier>,
}

/// Answer of `POST /api/v1/emotion/analyze/batch`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct BatchResponse<'a> {
    /// One item per text, in input order: its result, or its error when the text breaks the input rules (the other
    /// texts are analysed all the same).
    results: &'a [BatchItem],
    count: usize,
    /// How many items are errors.
    errors: usize,
}

/// One text's answer in a batch.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub(crate) enum BatchItem {
    Result(AnalysisResult),
    Error(ItemError),
}

fn analyze_text(api: &Api, request: &Request<Bytes>, budget: &Budget) -> Result<Response<Bytes>, ApiError> {
    let body: TextRequest = parse_json(request)?;
    if let Some(other) = body.model_type.as_deref().filter(|m| *m != "text") {
        return Err(Error::invalid("model_type", format!("must be \"text\" on this route, not {other:?}")).into());
    }
    let options = TextOptions { tier: body.tier, model: body.model, sentences: body.sentences, budget: budget.clone() };
    let result = api.engine().text().analyze(&body.text, &options)?;
    Ok(answered(json_response(StatusCode::OK, &result), std::slice::from_ref(&result)))
}

fn analyze_batch(api: &Api, request: &Request<Bytes>, budget: &Budget) -> Result<Response<Bytes>, ApiError> {
    let body: BatchRequest = parse_json(request)?;
    let options = TextOptions { tier: body.tier, model: body.model, sentences: false, budget: budget.clone() };
    let results: Vec<BatchItem> = api
        .engine()
        .text()
        .analyze_batch(&body.texts, &options)?
        .into_iter()
        .map(|item| item.map_or_else(|e| BatchItem::Error(ApiError::from(e).item()), BatchItem::Result))
        .collect();
    let errors = results.iter().filter(|item| matches!(item, BatchItem::Error(_))).count();
    let response = json_response(StatusCode::OK, &BatchResponse { count: results.len(), errors, results: &results });
    let analysed = results.iter().filter_map(|item| match item {
        BatchItem::Result(result) => Some(result),
        BatchItem::Error(_) => None,
    });
    Ok(answered(response, analysed))
}

fn analyze_audio(api: &Api, request: &Request<Bytes>, budget: &Budget) -> Result<Response<Bytes>, ApiError> {
    let body: AudioRequest = parse_json(request)?;
    let bytes = decode_base64("audio_base64", &body.audio_base64, api.engine().config().limits.audio_file())?;
    let options = AudioOptions { tier: body.tier, model: body.model, segments: body.segments, features: body.features, require_speech: body.require_speech, budget: budget.clone(), ..AudioOptions::default() };
    let result = api.engine().audio().analyze("audio_base64", &bytes, &options)?;
    Ok(answered(json_response(StatusCode::OK, &result), std::slice::from_ref(&result)))
}

fn analyze_face(api: &Api, request: &Request<Bytes>, budget: &Budget) -> Result<Response<Bytes>, ApiError> {
    let body: FaceRequest = parse_json(request)?;
    let bytes = decode_base64("image_base64", &body.image_base64, api.engine().config().limits.media_file())?;
    let options = FaceOptions { tier: body.tier, model: body.model, landmarks: body.landmarks, annotate: body.annotate, aligned_face: body.aligned_face, budget: budget.clone(), ..FaceOptions::default() };
    let result = api.engine().face().analyze("image_base64", &bytes, &options)?;
    Ok(answered(json_response(StatusCode::OK, &result), std::slice::from_ref(&result)))
}

fn analyze_multimodal(api: &Api, request: &Request<Bytes>, budget: &Budget) -> Result<Response<Bytes>, ApiError> {
    let result = multimodal(api, parse_json(request)?, budget, Progress::default())?;
    let mut response = json_response(StatusCode::OK, &result);
    response.extensions_mut().insert(Answered::fused(&result));
    Ok(response)
}

/// Decodes the media of a multimodal request and runs the fused analysis, telling `progress` how far it is.
pub(crate) fn multimodal(api: &Api, body: MultimodalRequest, budget: &Budget, progress: Progress) -> Result<MultimodalResult, ApiError> {
    let named_field = |field: &str, present: bool| {
        if present {
            Ok(())
        } else {
            Err(Error::invalid("model_type", format!("names a modality whose field {field} the body does not hold")))
        }
    };
    match body.model_type.as_deref() {
        None | Some("multimodal") => Ok(()),
        Some("text") => named_field("text", body.text.is_some()),
        Some("audio") => named_field("audio_base64", body.audio_base64.is_some()),
        Some("video" | "image") => named_field("video_base64", body.video_base64.is_some()),
        Some(other) => Err(Error::invalid("model_type", format!("must be multimodal, text, audio, video or image, not {other:?}"))),
    }?;
    let config = api.engine().config();
    let audio = body.audio_base64.as_deref().map(|a| decode_base64("audio_base64", a, config.limits.audio_file())).transpose()?;
    let video = body.video_base64.as_deref().map(|v| decode_base64("video_base64", v, config.limits.media_file())).transpose()?;
    let input = MultimodalInput { text: body.text.as_deref(), audio: audio.as_deref(), video: video.as_deref() };
    Ok(api.engine().analyze_multimodal(&input, &MultimodalOptions { tier: body.tier, budget: budget.clone(), progress })?)
}

/// Decodes a base64 media field, refusing (413) before decoding when it would exceed `limit`.
fn decode_base64(field: &str, encoded: &str, limit: Limit) -> Result<Vec<u8>, ApiError> {
    let payload = match encoded.strip_prefix("data:") {
        Some(data_url) => data_url.split_once(";base64,").map(|(_, data)| data).ok_or_else(|| Error::invalid(field, "is a data: URL without ;base64,"))?,
        None => encoded,
    };
    // Line breaks are allowed (MIME base64); the copy without them is made only when there are some.
    let payload: std::borrow::Cow<'_, str> = if payload.bytes().any(|b| b.is_ascii_whitespace()) {
        payload.chars().filter(|c| !c.is_ascii_whitespace()).collect::<String>().into()
    } else {
        payload.into()
    };
    let decoded_len = (payload.len() as u64 / 4) * 3;
    // Up to two bytes of the last group may be padding.
    if decoded_len > limit.value + 2 {
        return Err(limit.refusal(field, decoded_len).into());
    }
    base64::engine::general_purpose::STANDARD
        .decode(payload.as_bytes())
        .map_err(|e| Error::invalid(field, format!("is not valid base64: {e}")).into())
}

/// Notes what was answered in the response for the request log.
pub(crate) fn answered<'a>(mut response: Response<Bytes>, results: impl IntoIterator<Item = &'a AnalysisResult>) -> Response<Bytes> {
    if let Some(summary) = Answered::of(results) {
        response.extensions_mut().insert(summary);
    }
    response
}

/// Answer of `GET /api/v1/health`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct HealthResponse {
    /// `ok`, or `degraded` when a modality deployed here cannot reach its primary tier (see `modalities`).
    #[serde(flatten)]
    health: Health,
    version: &'static str,
    /// Ids of the models loaded so far (the health check itself loads none).
    loaded_models: Vec<String>,
}

/// Answer of `GET /api/v1/models`.
#[derive(Serialize, JsonSchema)]
pub(crate) struct ModelsResponse {
    models: Vec<ModelStatus>,
}

fn health(api: &Api) -> Response<Bytes> {
    let body = HealthResponse { health: api.engine().health(), version: env!("CARGO_PKG_VERSION"), loaded_models: api.engine().loaded_models() };
    json_response(StatusCode::OK, &body)
}

/// Content type must be JSON (415), the body UTF-8 and valid JSON (400), and its shape that of `T` (422).
fn parse_json<T: DeserializeOwned>(request: &Request<Bytes>) -> Result<T, ApiError> {
    let content_type = request.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != "application/json" && !essence.ends_with("+json") {
        let shown = if content_type.is_empty() { "none".to_owned() } else { format!("{content_type:?}") };
        return Err(ApiError::UnsupportedMediaType(format!("expected Content-Type: application/json, got {shown}")));
    }
    let text = std::str::from_utf8(request.body())
        .map_err(|e| ApiError::BadRequest(format!("body is not valid UTF-8 (byte {})", e.valid_up_to())))?;
    // Parsed straight into the request type (no intermediate JSON tree): syntax errors are the client's JSON,
    // data errors its fields.
    serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Error::invalid("body", e.to_string()).into(),
        _ => ApiError::BadRequest(format!("body is not valid JSON: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_routes() {
        for route in Route::ALL {
            assert_eq!(Route::of(route.path()), Some(route));
            assert_eq!(Route::of(&format!("{}/", route.path())), Some(route));
        }
        assert_eq!(Route::of("/api/v2/emotion"), None);
    }

    #[test]
    fn every_route_is_deployed_on_both_platforms_and_nothing_else() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let template = std::fs::read_to_string(format!("{root}/template.yaml")).unwrap();
        let vercel = std::fs::read_to_string(format!("{root}/vercel.json")).unwrap();
        let lines: Vec<&str> = template.lines().map(str::trim).collect();
        let mut deployed: Vec<(String, String)> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if let (Some(path), Some(method)) = (line.strip_prefix("Path: "), lines.get(i + 1).and_then(|l| l.strip_prefix("Method: "))) {
                deployed.push((path.to_owned(), method.to_owned()));
            }
        }
        let expected: Vec<(String, String)> = Route::ALL.iter().map(|r| (r.path().to_owned(), r.method().to_string())).collect();
        assert_eq!(deployed, expected, "template.yaml: one API event per route, with its method");
        let vercel: serde_json::Value = serde_json::from_str(&vercel).unwrap();
        let mut functions: Vec<&str> = vercel["functions"].as_object().unwrap().keys().map(String::as_str).collect();
        let mut files: Vec<String> = Route::ALL.iter().map(|r| format!("{}.rs", &r.path()[1..])).collect();
        functions.sort_unstable();
        files.sort_unstable();
        assert_eq!(functions, files, "vercel.json: one function per route, at the route's path");
    }
}
