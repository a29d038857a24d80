//! Models described by data: each modality folder under the model directory holds its files and a
//! `manifest.json` with provenance, licence, checksums and measured accuracy.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::tier::Tier;

/// The kind of input a model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    Text,
    Audio,
    Face,
}

impl Modality {
    /// Name of the modality, also its folder under the model directory.
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Text => "text",
            Modality::Audio => "audio",
            Modality::Face => "face",
        }
    }
}

/// What a model does in its modality's pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Maps its input to emotion probabilities: a rung of the tier ladder.
    Classifier,
    /// Finds where the subject is (face boxes) before any rung runs.
    Detector,
    /// Locates points on the subject (468 face landmarks) for the feature-based rung.
    Landmarks,
    /// Finds where speech is before any rung runs.
    #[serde(rename = "voice_activity")]
    VoiceActivity,
}

/// What a model needs: its id (the key of its manifest entry), tier, role, and files inside the modality folder.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub id: String,
    pub modality: Modality,
    /// The rung it answers for; for detectors and landmark models, the highest tier that needs it.
    pub tier: Tier,
    pub role: Role,
    /// File names relative to the modality folder; empty for models compiled into the binary.
    pub files: Vec<String>,
}

impl ModelSpec {
    /// The spec of classifier `id` of `modality` at `tier`, made of `files` inside the modality folder.
    pub fn new(id: &str, modality: Modality, tier: Tier, files: &[&str]) -> Self {
        ModelSpec { id: id.to_owned(), modality, tier, role: Role::Classifier, files: files.iter().map(|f| f.to_string()).collect() }
    }

    /// The same spec with another role.
    pub fn with_role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }

    /// Full paths of the model's files under `model_dir`.
    pub fn paths(&self, model_dir: &Path) -> Vec<PathBuf> {
        let folder = model_dir.join(self.modality.as_str());
        self.files.iter().map(|f| folder.join(f)).collect()
    }
}

/// A model as listed by the API: its spec, whether it is loaded, and its manifest entry.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ModelStatus {
    pub id: String,
    pub modality: Modality,
    pub tier: Tier,
    pub role: Role,
    pub loaded: bool,
    /// Whether every file the model needs is present.
    pub available: bool,
    /// Bytes of the model's files on disk (0 for built-in models).
    pub size_bytes: u64,
    /// `version`, `licence`, `source`, `metrics` and the rest of the model's manifest entry, as written.
    pub manifest: serde_json::Value,
}

impl ModelStatus {
    /// Reads file sizes and the manifest entry for `spec` under `model_dir`.
    pub fn read(spec: &ModelSpec, model_dir: &Path, loaded: bool) -> ModelStatus {
        let sizes: Vec<Option<u64>> = spec.paths(model_dir).iter().map(|p| std::fs::metadata(p).ok().map(|m| m.len())).collect();
        ModelStatus {
            id: spec.id.clone(),
            modality: spec.modality,
            tier: spec.tier,
            role: spec.role,
            loaded,
            available: sizes.iter().all(Option::is_some),
            size_bytes: sizes.iter().flatten().sum(),
            manifest: manifest_entry(model_dir, spec.modality, &spec.id).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// The entry for `id` in `<model_dir>/<modality>/manifest.json` (`{"models": [{"id": ...}, ...]}`).
pub fn manifest_entry(model_dir: &Path, modality: Modality, id: &str) -> Option<serde_json::Value> {
    let path = model_dir.join(modality.as_str()).join("manifest.json");
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    manifest.get("models")?.as_array()?.iter().find(|m| m.get("id").and_then(|v| v.as_str()) == Some(id)).cloned()
}

/// The `version` field of a model's manifest entry, or `"unversioned"`.
pub fn manifest_version(model_dir: &Path, modality: Modality, id: &str) -> String {
    manifest_entry(model_dir, modality, id)
        .and_then(|m| m.get("version").and_then(|v| v.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "unversioned".to_owned())
}
