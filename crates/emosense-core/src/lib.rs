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
pub mod media;
mod onnx;
mod parallel;
pub mod registry;
pub mod result;
pub mod text;
pub mod tier;

pub use budget::{Budget, CancelOnDrop};
pub use config::{Config, Device, Precision};
pub use emotion::{Emotion, EmotionScores};
pub use error::{ConfigError, Error, ErrorKind, Result};
pub use registry::{Modality, ModelStatus, Role};
pub use result::{AnalysisResult, Metadata, SegmentResult};
pub use audio::{AudioAnalyzer, AudioOptions};
pub use face::{FaceAnalyzer, FaceOptions};
pub use fusion::{FusionPriors, MultimodalInput, MultimodalOptions, MultimodalResult};
pub use media::MediaKind;
pub use text::{TextAnalyzer, TextOptions};
pub use tier::Tier;

/// The analysis engine shared by every front end.
pub struct EmoSense {
    config: Config,
    text: TextAnalyzer,
    audio: AudioAnalyzer,
    face: FaceAnalyzer,
}

impl EmoSense {
    /// An engine for `config`; no model is loaded yet.
    pub fn new(config: Config) -> Self {
        let text = TextAnalyzer::new(&config);
        let audio = AudioAnalyzer::new(&config);
        let face = FaceAnalyzer::new(&config);
        EmoSense { config, text, audio, face }
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

    /// Loads the primary models of every modality deployed here (whose model folder holds files; a serverless
    /// function carries only its own modality's) now instead of on first use (start-up time is often free on
    /// serverless platforms); on failure requests are answered by the lower tiers.
    pub fn warm_up(&self) -> std::result::Result<(), String> {
        let deployed = |models: Vec<ModelStatus>| models.iter().any(|m| m.size_bytes > 0);
        let mut failures = Vec::new();
        if deployed(self.text.models()) {
            failures.extend(self.text.warm_up().err());
        }
        if deployed(self.audio.models()) {
            failures.extend(self.audio.warm_up().err());
        }
        if deployed(self.face.models()) {
            failures.extend(self.face.warm_up().err());
        }
        if failures.is_empty() { Ok(()) } else { Err(failures.join("; ")) }
    }

    /// Ids of the models loaded so far in this process.
    pub fn loaded_models(&self) -> Vec<String> {
        [self.text.loaded_models(), self.audio.loaded_models(), self.face.loaded_models()].concat()
    }

    /// Every model of every modality.
    pub fn models(&self) -> Vec<ModelStatus> {
        [self.text.models(), self.audio.models(), self.face.models()].concat()
    }
}
