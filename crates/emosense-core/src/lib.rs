//! EmoSense core: emotion analysis with no HTTP or cloud types.
//!
//! [`EmoSense`] holds the configuration and one analyzer per modality. Each analyzer owns a tier ladder whose
//! models load lazily on first use, once per process.

pub mod audio;
pub mod budget;
pub mod config;
pub mod container;
pub mod emotion;
pub mod error;
pub mod face;
pub mod fusion;
pub mod inference;
pub mod limits;
pub mod media;
mod onnx;
mod parallel;
pub mod registry;
pub mod result;
pub mod text;
pub mod tier;

pub use budget::{Budget, CancelOnDrop, Progress};
pub use config::{Config, EnsembleSpec, Precision};
pub use inference::{Backend, Device, Inference};
pub use limits::{Limit, Limits};
pub use emotion::{Emotion, EmotionScores};
pub use error::{ConfigError, Error, ErrorKind, LoadError, Result};
pub use registry::{Modality, ModelManifest, ModelStatus, Registry, Role};
pub use result::{AnalysisResult, Details, FileFacts, Metadata, SegmentResult};
pub use audio::{AudioAnalyzer, AudioModel, AudioOptions, Window};
pub use face::{FaceAnalyzer, FaceInput, FaceModel, FaceOptions, MemberScores};
pub use fusion::{FusionPriors, MultimodalInput, MultimodalOptions, MultimodalResult};
pub use media::MediaKind;
pub use text::{Scored, TextAnalyzer, TextModel, TextOptions};
pub use tier::Tier;

/// The analysis engine shared by every front end.
pub struct EmoSense {
    config: Config,
    registry: Registry,
    text: TextAnalyzer,
    audio: AudioAnalyzer,
    face: FaceAnalyzer,
}

impl EmoSense {
    /// An engine for `config`: the model directory's manifests are read and checked; no model is loaded yet.
    pub fn new(config: Config) -> Self {
        let registry = Registry::scan(&config.model_dir, config.precision, config.inference);
        let text = TextAnalyzer::new(&config, &registry);
        let audio = AudioAnalyzer::new(&config, &registry);
        let face = FaceAnalyzer::new(&config, &registry);
        EmoSense { config, registry, text, audio, face }
    }

    /// The same engine with `model`, registered in Rust, answering text requests that name `manifest.id` (see
    /// [`ModelManifest::in_process`]); refused when the id is taken.
    pub fn with_text_model(mut self, manifest: ModelManifest, model: std::sync::Arc<dyn TextModel>) -> std::result::Result<Self, LoadError> {
        self.text.register(manifest, model)?;
        Ok(self)
    }

    /// The same engine with `model`, registered in Rust, answering speech requests that name `manifest.id`.
    pub fn with_audio_model(mut self, manifest: ModelManifest, model: std::sync::Arc<dyn AudioModel>) -> std::result::Result<Self, LoadError> {
        self.audio.register(manifest, model)?;
        Ok(self)
    }

    /// The same engine with `model`, registered in Rust, answering face requests that name `manifest.id`.
    pub fn with_face_model(mut self, manifest: ModelManifest, model: std::sync::Arc<dyn FaceModel>) -> std::result::Result<Self, LoadError> {
        self.face.register(manifest, model)?;
        Ok(self)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Text analysis.
    pub fn text(&self) -> &TextAnalyzer {
        &self.text
    }

    /// Speech analysis.
    pub fn audio(&self) -> &AudioAnalyzer {
        &self.audio
    }

    /// Facial analysis of images.
    pub fn face(&self) -> &FaceAnalyzer {
        &self.face
    }

    /// Loads the primary models of every modality deployed here (whose folder holds a manifest; a serverless
    /// function carries only its own modality's) now instead of on first use (start-up time is often free on
    /// serverless platforms); on failure requests are answered by the lower tiers.
    pub fn warm_up(&self) -> std::result::Result<(), String> {
        let mut failures = Vec::new();
        if self.registry.is_deployed(Modality::Text) {
            failures.extend(self.text.warm_up().err());
        }
        if self.registry.is_deployed(Modality::Audio) {
            failures.extend(self.audio.warm_up().err());
        }
        if self.registry.is_deployed(Modality::Face) {
            failures.extend(self.face.warm_up().err());
        }
        if failures.is_empty() { Ok(()) } else { Err(failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")) }
    }

    /// Ids of the models loaded so far in this process.
    pub fn loaded_models(&self) -> Vec<String> {
        [self.text.loaded_models(), self.audio.loaded_models(), self.face.loaded_models()].concat()
    }

    /// Every model of every modality, and every manifest entry the registry refused.
    pub fn models(&self) -> Vec<ModelStatus> {
        let refused = self.registry.refused().iter().map(ModelStatus::refused);
        [self.text.models(), self.audio.models(), self.face.models()].concat().into_iter().chain(refused).collect()
    }

    /// Whether each deployed modality can answer with its primary tier, as far as can be told without loading a
    /// model (files present, no earlier load failure).
    pub fn health(&self) -> Health {
        let models = self.models();
        let modalities: Vec<ModalityHealth> = Modality::ALL
            .iter()
            .filter(|m| self.registry.is_deployed(**m))
            .map(|&modality| {
                let missing: Vec<String> = models
                    .iter()
                    .filter(|s| s.modality == Some(modality) && !s.custom && s.tier == Some(Tier::Primary) && !s.available)
                    .map(|s| s.id.clone())
                    .collect();
                ModalityHealth { modality, primary_ready: missing.is_empty(), missing }
            })
            .collect();
        let degraded = modalities.iter().any(|m| !m.primary_ready);
        Health {
            status: if degraded { HealthStatus::Degraded } else { HealthStatus::Ok },
            inference: self.config.inference,
            precision: self.config.precision,
            modalities,
            model_errors: models
                .iter()
                .filter(|s| s.custom || s.modality.is_none_or(|m| self.registry.is_deployed(m)))
                .filter_map(|s| s.error.as_ref().map(|e| format!("{}: {}", s.id, e.message)))
                .collect(),
        }
    }
}

/// Overall state of the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Every deployed modality can reach its primary tier.
    Ok,
    /// A deployed modality answers from a lower tier: one of its primary-tier models is missing or failed to load.
    Degraded,
}

/// What [`EmoSense::health`] reports.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Health {
    pub status: HealthStatus,
    /// What runs the ONNX graphs (`EMOTION_INFERENCE_BACKEND`, `EMOTION_MODEL_DEVICE`).
    pub inference: Inference,
    /// The weight precision configured (`EMOTION_MODEL_PRECISION`); each model's own is in `/models`.
    pub precision: Precision,
    /// Each modality whose models are deployed here.
    pub modalities: Vec<ModalityHealth>,
    /// One line per model of a deployed modality, or custom model, that cannot be used, with why.
    pub model_errors: Vec<String>,
}

/// One deployed modality's state.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct ModalityHealth {
    pub modality: Modality,
    /// Whether every primary-tier model (the classifier and the stages it needs) is available.
    pub primary_ready: bool,
    /// Ids of the primary-tier models that are not.
    pub missing: Vec<String>,
}
