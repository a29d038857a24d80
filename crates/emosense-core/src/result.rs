//! The answer every analysis returns.

use serde::Serialize;

use crate::emotion::{round4, Emotion, EmotionScores};
use crate::audio::AudioDetails;
use crate::config::Precision;
use crate::face::FaceDetails;
use crate::registry::Modality;
use crate::text::TextDetails;
use crate::tier::Tier;

/// `{dominant_emotion, confidence, emotions, metadata}`, plus optional per-segment detail.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AnalysisResult {
    pub dominant_emotion: Emotion,
    #[serde(serialize_with = "serialize_prob")]
    pub confidence: f32,
    pub emotions: EmotionScores,
    pub metadata: Metadata,
    /// Per-sentence results, when the request asks for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentences: Option<Vec<SegmentResult>>,
    /// Per-window results of audio (a timeline), when the request asks for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments: Option<Vec<crate::audio::TimeSegment>>,
    /// The analysed frames of a video, in time order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<crate::face::VideoMoment>>,
    /// Every face found in an image, with its box, emotions and geometry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faces: Option<Vec<crate::face::FaceResult>>,
    /// The image with faces drawn, as PNG, when the request asks for it; a `data:image/png;base64,` URL in JSON.
    #[serde(rename = "annotated_image", skip_serializing_if = "Option::is_none", serialize_with = "serialize_png")]
    #[schemars(with = "Option<String>")]
    pub annotated_png: Option<Vec<u8>>,
}

impl AnalysisResult {
    /// A result whose dominant emotion and confidence are read from `emotions`.
    pub fn new(emotions: EmotionScores, metadata: Metadata) -> Self {
        let (dominant_emotion, confidence) = emotions.dominant();
        AnalysisResult { dominant_emotion, confidence, emotions, metadata, sentences: None, segments: None, timeline: None, faces: None, annotated_png: None }
    }
}

/// How an answer was produced.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Metadata {
    pub modality: Modality,
    /// The rung of the tier ladder that answered.
    pub tier: Tier,
    /// Id of the model that answered (its manifest key).
    pub model: String,
    pub model_version: String,
    pub latency_ms: f64,
    /// Why higher tiers did not answer, when the answer comes from a lower one than requested.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_tiers: Vec<String>,
    /// What the answer assumed or could not do that the caller should know (absent when nothing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Facts of the modality that answered.
    #[serde(flatten)]
    pub details: Details,
}

/// What the answering modality adds to the metadata; only its own facts are present.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Details {
    /// Weights of the graph that answered (present when a model graph answered, not rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    #[serde(flatten)]
    pub text: Option<TextDetails>,
    #[serde(flatten)]
    pub audio: Option<AudioDetails>,
    #[serde(flatten)]
    pub face: Option<FaceDetails>,
    /// The uploaded file (answers of `analyze/file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileFacts>,
}

/// An uploaded file as the answer describes it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FileFacts {
    /// The file name the form gave, if any.
    pub name: Option<String>,
    pub bytes: usize,
    /// What the form asked for: `text`, `audio`, `video`, `image` or `auto`.
    pub analysis_type: String,
    /// What the file was analysed as: `text`, `audio`, `image` or `video`.
    pub kind: String,
}

/// The result for one segment of the input (a sentence of a text).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SegmentResult {
    pub text: String,
    /// Character offsets of the segment in the input.
    pub start: usize,
    pub end: usize,
    pub dominant_emotion: Emotion,
    #[serde(serialize_with = "serialize_prob")]
    pub confidence: f32,
    pub emotions: EmotionScores,
}

pub(crate) fn serialize_prob<S: serde::Serializer>(p: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round4(*p))
}

pub(crate) fn serialize_optional_prob<S: serde::Serializer>(p: &Option<f32>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => serialize_prob(p, s),
        None => s.serialize_none(),
    }
}

fn serialize_png<S: serde::Serializer>(png: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine;
    match png {
        Some(bytes) => s.serialize_str(&format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))),
        None => s.serialize_none(),
    }
}
