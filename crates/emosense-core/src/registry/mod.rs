//! Models described by data. Every model has a typed [`ModelManifest`] entry in a `manifest.json`: the built-in
//! ones in the modality folders `text/`, `audio/` and `face/` of the model directory (`EMOTION_MODEL_CACHE_DIR`),
//! custom ones in any other folder there. The registry reads and validates every manifest once per process; files are
//! checked against their sha256 when a model loads.

mod embedded;
pub mod manifest;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use manifest::{
    Architecture, Colour, Crop, EnsembleMember, GraphMember, ImageInput, InputContract, LabelMapping, LabelTarget, Layout, Manifest, ModelFile,
    ModelManifest, Role, Runtime, ScoreKind, SpeechInput, WaveformScaling,
};

use crate::config::Precision;
use crate::inference::Inference;
use crate::error::LoadError;
use crate::tier::Tier;

/// The kind of input a model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    Text,
    Audio,
    Face,
}

impl Modality {
    /// Every modality.
    pub const ALL: [Modality; 3] = [Modality::Text, Modality::Audio, Modality::Face];

    /// Name of the modality, also its folder under the model directory.
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Text => "text",
            Modality::Audio => "audio",
            Modality::Face => "face",
        }
    }

    /// The architectures a built-in manifest of this modality must describe: the stages every request runs through
    /// and the rung that needs no file.
    fn required(self) -> &'static [Architecture] {
        match self {
            Modality::Text => &[Architecture::Lexicon],
            Modality::Audio => &[Architecture::SileroVad, Architecture::ProsodyRules],
            Modality::Face => &[Architecture::TinyYoloFaceDetector, Architecture::FaceMesh, Architecture::NeutralPrior],
        }
    }
}

/// A model's manifest entry with where its files are.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    /// Shared with every `/models` listing of the model, which need not copy it.
    pub manifest: Arc<ModelManifest>,
    pub modality: Modality,
    /// The folder its manifest sits in, where its files are.
    pub folder: PathBuf,
    /// Not shipped with the build: from a folder of its own, an ensemble from configuration, or registered in code.
    pub custom: bool,
    /// The weight precision whose files are loaded.
    pub precision: Precision,
    /// What runs its ONNX graphs.
    pub inference: Inference,
}

impl ModelEntry {
    /// The entry of a model without files (an ensemble, or one registered in code), described by `manifest`.
    pub fn without_files(manifest: ModelManifest, modality: Modality) -> ModelEntry {
        ModelEntry { manifest: Arc::new(manifest), modality, folder: PathBuf::new(), custom: true, precision: Precision::Int8, inference: Inference::default() }
    }

    /// The model's id.
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    /// The model's version.
    pub fn version(&self) -> &str {
        &self.manifest.version
    }

    /// Its tier.
    pub fn tier(&self) -> Tier {
        self.manifest.tier
    }

    /// The files loaded at the configured precision.
    pub fn files(&self) -> impl Iterator<Item = &ModelFile> {
        self.manifest.files_for(self.precision)
    }

    /// Where file `file` is on disk.
    pub fn path(&self, file: &ModelFile) -> PathBuf {
        self.folder.join(&file.name)
    }

    /// The precision of the weights that answer: the configured one when the model has files for it, `None` for
    /// models whose files serve every precision (custom graphs) or that have none.
    pub fn weights_precision(&self) -> Option<Precision> {
        self.manifest.files.iter().any(|f| f.precision == Some(self.precision)).then_some(self.precision)
    }

    /// The path of the ONNX graph named `stem` (`stem.<precision>.onnx`, or `stem.onnx` for every precision).
    pub fn graph(&self, stem: &str) -> Result<PathBuf, LoadError> {
        let names = [format!("{stem}.{}.onnx", self.precision.as_str()), format!("{stem}.onnx")];
        self.files().find(|f| names.contains(&f.name)).map(|f| self.path(f)).ok_or_else(|| LoadError::NotInManifest {
            model: self.id().to_owned(),
            message: format!("lists no {} graph {stem}", self.precision.as_str()),
        })
    }

    /// The path of the model's only ONNX graph at the configured precision.
    pub fn only_graph(&self) -> Result<PathBuf, LoadError> {
        let graphs: Vec<&ModelFile> = self.files().filter(|f| f.name.ends_with(".onnx")).collect();
        match graphs.as_slice() {
            [one] => Ok(self.path(one)),
            _ => Err(LoadError::NotInManifest {
                model: self.id().to_owned(),
                message: format!("lists {} {} ONNX graphs; this architecture reads one", graphs.len(), self.precision.as_str()),
            }),
        }
    }

    /// The path of file `name`, which the manifest must list.
    pub fn named(&self, name: &str) -> Result<PathBuf, LoadError> {
        self.files().find(|f| f.name == name).map(|f| self.path(f)).ok_or_else(|| LoadError::NotInManifest {
            model: self.id().to_owned(),
            message: format!("lists no file {name}"),
        })
    }

    /// The bytes of a file compiled into the binary, checked against the manifest's sha256.
    pub fn embedded(&self, name: &str) -> Result<&'static [u8], LoadError> {
        let file = self.files().find(|f| f.name == name && f.embedded);
        let bytes = file.and_then(|_| embedded::file(self.modality, name));
        let (Some(file), Some(bytes)) = (file, bytes) else {
            return Err(LoadError::NotInManifest { model: self.id().to_owned(), message: format!("lists no embedded file {name}") });
        };
        compare_digest(&format!("{name} (compiled in)"), &file.sha256, &Sha256::digest(bytes))?;
        Ok(bytes)
    }

    /// Whether every file to load is on disk (or compiled in); reads no file.
    pub fn check_present(&self) -> Result<(), LoadError> {
        let needs_files = !matches!(self.manifest.runtime, Runtime::Builtin | Runtime::InProcess);
        if needs_files && self.manifest.files_for(self.precision).next().is_none() {
            return Err(LoadError::NotInManifest { model: self.id().to_owned(), message: format!("lists no {} files", self.precision.as_str()) });
        }
        for file in self.files().filter(|f| !f.embedded) {
            let path = self.path(file);
            if !path.is_file() {
                return Err(LoadError::MissingFile { path: path.display().to_string() });
            }
        }
        Ok(())
    }

    /// Checks the sha256 of every file on disk against the manifest (read in blocks: a large custom model is not
    /// held in memory twice).
    pub fn verify_files(&self) -> Result<(), LoadError> {
        for file in self.files().filter(|f| !f.embedded) {
            let path = self.path(file);
            let shown = path.display().to_string();
            let unreadable = |e: std::io::Error| match e.kind() {
                std::io::ErrorKind::NotFound => LoadError::MissingFile { path: shown.clone() },
                _ => LoadError::Unreadable { path: shown.clone(), message: e.to_string() },
            };
            let mut reader = std::fs::File::open(&path).map_err(unreadable)?;
            let mut hasher = Sha256::new();
            std::io::copy(&mut reader, &mut hasher).map_err(unreadable)?;
            compare_digest(&shown, &file.sha256, &hasher.finalize())?;
        }
        Ok(())
    }

    /// Bytes of the files loaded at the configured precision (compiled-in ones included).
    pub fn size_bytes(&self) -> u64 {
        self.files().map(|f| f.bytes).sum()
    }
}

fn compare_digest(path: &str, expected: &str, digest: &[u8]) -> Result<(), LoadError> {
    let actual = hex(digest);
    if actual == expected {
        Ok(())
    } else {
        Err(LoadError::ChecksumMismatch { path: path.to_owned(), expected: expected.to_owned(), actual })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A manifest or model entry the registry refused, with why.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The model's id, or the folder's name when the manifest could not be read.
    pub id: String,
    pub modality: Option<Modality>,
    /// Found in a folder of its own, not a built-in modality folder.
    pub custom: bool,
    pub error: LoadError,
}

/// Every model the model directory describes, read and validated once.
#[derive(Debug, Clone)]
pub struct Registry {
    entries: Vec<Arc<ModelEntry>>,
    refused: Vec<Refused>,
    /// Modalities whose folder holds a manifest (a serverless function carries only its own modality's).
    deployed: Vec<Modality>,
    model_dir: PathBuf,
    precision: Precision,
    inference: Inference,
}

impl Registry {
    /// Reads the manifests under `model_dir`: each modality folder's (or, where the folder has none, the copy compiled
    /// into the binary, so the rungs that need no file still answer), then every other folder holding a
    /// `manifest.json` as custom models.
    pub fn scan(model_dir: &Path, precision: Precision, inference: Inference) -> Registry {
        let mut registry = Registry { entries: Vec::new(), refused: Vec::new(), deployed: Vec::new(), model_dir: model_dir.to_owned(), precision, inference };
        for modality in Modality::ALL {
            let folder = model_dir.join(modality.as_str());
            let path = folder.join("manifest.json");
            let on_disk = match std::fs::read(&path) {
                Ok(bytes) => {
                    registry.deployed.push(modality);
                    match parse_builtin(&bytes, &path, modality) {
                        Ok(manifest) => Some(manifest),
                        Err(error) => {
                            registry.refused.push(Refused { id: format!("{}-manifest", modality.as_str()), modality: Some(modality), custom: false, error });
                            None
                        }
                    }
                }
                Err(_) => None,
            };
            let manifest = on_disk.unwrap_or_else(|| {
                parse_builtin(embedded::manifest(modality).as_bytes(), &path, modality).expect("the compiled-in manifests are valid (unit test)")
            });
            for model in manifest.models {
                registry.add(model, modality, &folder, false);
            }
        }
        let mut custom: Vec<PathBuf> = std::fs::read_dir(model_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("manifest.json").is_file())
            .filter(|p| !Modality::ALL.iter().any(|m| p.file_name() == Some(m.as_str().as_ref())))
            .collect();
        custom.sort();
        for folder in custom {
            registry.add_custom(&folder);
        }
        registry
    }

    fn add_custom(&mut self, folder: &Path) {
        let path = folder.join("manifest.json");
        let name = folder.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let manifest = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| serde_json::from_slice::<Manifest>(&bytes).map_err(|e| e.to_string()));
        match manifest {
            Ok(manifest) => {
                for model in manifest.models {
                    match model.modality_in(manifest.modality) {
                        Some(modality) => self.add(model, modality, folder, true),
                        None => self.refused.push(Refused {
                            id: model.id.clone(),
                            modality: None,
                            custom: true,
                            error: bad_manifest(&path, format!("model {}: names no modality", model.id)),
                        }),
                    }
                }
            }
            Err(message) => self.refused.push(Refused { id: name, modality: None, custom: true, error: bad_manifest(&path, message) }),
        }
    }

    fn add(&mut self, manifest: ModelManifest, modality: Modality, folder: &Path, custom: bool) {
        let path = folder.join("manifest.json");
        let refuse = |error| Refused { id: manifest.id.clone(), modality: Some(modality), custom, error };
        if let Err(problem) = manifest.validate(Some(modality)) {
            self.refused.push(refuse(bad_manifest(&path, problem.0)));
        } else if self.entries.iter().any(|e| e.id() == manifest.id) {
            self.refused.push(refuse(bad_manifest(&path, format!("model id {} is taken by another model", manifest.id))));
        } else if custom && !Architecture::CUSTOM.contains(&manifest.architecture) {
            self.refused.push(refuse(bad_manifest(
                &path,
                format!(
                    "model {}: a custom model's architecture must be text-encoder-classifier, waveform-classifier or image-classifier (the others are built in)",
                    manifest.id
                ),
            )));
        } else {
            self.entries.push(Arc::new(ModelEntry { manifest: Arc::new(manifest), modality, folder: folder.to_owned(), custom, precision: self.precision, inference: self.inference }));
        }
    }

    /// Every usable model.
    pub fn entries(&self) -> &[Arc<ModelEntry>] {
        &self.entries
    }

    /// The models the registry refused, with why.
    pub fn refused(&self) -> &[Refused] {
        &self.refused
    }

    /// Whether the modality's folder holds a manifest.
    pub fn is_deployed(&self, modality: Modality) -> bool {
        self.deployed.contains(&modality)
    }

    /// The built-in classifiers of `modality`, best tier first: its ladder.
    pub fn ladder(&self, modality: Modality) -> Vec<Arc<ModelEntry>> {
        let mut rungs: Vec<Arc<ModelEntry>> =
            self.entries.iter().filter(|e| e.modality == modality && !e.custom && e.manifest.role == Role::Classifier).cloned().collect();
        rungs.sort_by_key(|e| e.tier());
        rungs
    }

    /// The custom models of `modality`.
    pub fn custom(&self, modality: Modality) -> Vec<Arc<ModelEntry>> {
        self.entries.iter().filter(|e| e.modality == modality && e.custom).cloned().collect()
    }

    /// The built-in model of `architecture`, one of the stages a pipeline always runs. Every built-in manifest the
    /// registry keeps describes its modality's stages; should the entry still be missing (its id taken by another
    /// modality's model), the compiled-in description of the stage serves.
    pub fn stage(&self, architecture: Architecture) -> Arc<ModelEntry> {
        self.entries.iter().find(|e| !e.custom && e.manifest.architecture == architecture).cloned().unwrap_or_else(|| {
            let modality = architecture.modality().expect("stages belong to one modality");
            let compiled_in: Manifest = serde_json::from_str(embedded::manifest(modality)).expect("the compiled-in manifests are valid (unit test)");
            let manifest = compiled_in.models.into_iter().find(|m| m.architecture == architecture).expect("compiled-in manifests describe their stages (unit test)");
            let folder = self.model_dir.join(modality.as_str());
            Arc::new(ModelEntry { manifest: Arc::new(manifest), modality, folder, custom: false, precision: self.precision, inference: self.inference })
        })
    }
}

fn bad_manifest(path: &Path, message: String) -> LoadError {
    LoadError::BadManifest { path: path.display().to_string(), message }
}

/// Parses a built-in modality manifest and checks it as a whole: every model valid, ids unique, and the stages its
/// pipeline needs described. A manifest that fails is refused whole, so the compiled-in copy serves instead.
fn parse_builtin(bytes: &[u8], path: &Path, modality: Modality) -> Result<Manifest, LoadError> {
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| bad_manifest(path, e.to_string()))?;
    if manifest.modality != Some(modality) {
        return Err(bad_manifest(path, format!("its modality must be {}", modality.as_str())));
    }
    for (i, model) in manifest.models.iter().enumerate() {
        model.validate(Some(modality)).map_err(|problem| bad_manifest(path, problem.0))?;
        if manifest.models[..i].iter().any(|m| m.id == model.id) {
            return Err(bad_manifest(path, format!("model id {} appears twice", model.id)));
        }
    }
    for required in modality.required() {
        if !manifest.models.iter().any(|m| m.architecture == *required) {
            return Err(bad_manifest(path, format!("describes no {required:?} model, which the {} pipeline needs", modality.as_str())));
        }
    }
    Ok(manifest)
}

/// A model's load error as the API lists it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ModelError {
    /// `missing_file`, `checksum_mismatch`, `bad_manifest`, `not_in_manifest`, `contract_mismatch` or `unreadable`.
    pub kind: &'static str,
    pub message: String,
}

impl From<&LoadError> for ModelError {
    fn from(error: &LoadError) -> Self {
        ModelError { kind: error.kind(), message: error.to_string() }
    }
}

/// How long a model took to load, its checksums included.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct LoadTimes {
    /// Reading, checking and preparing the model, until it could answer.
    pub load_ms: f64,
    /// Computing the sha256 of its files (on a second thread while the model is read).
    pub checksum_ms: f64,
}

/// A model as the API lists it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ModelStatus {
    pub id: String,
    pub modality: Option<Modality>,
    pub tier: Option<Tier>,
    pub role: Option<Role>,
    /// Not shipped with the build: from a folder of its own, an ensemble from configuration, or registered in code.
    pub custom: bool,
    pub loaded: bool,
    /// Whether the model can be loaded as far as can be told without loading it: its manifest is valid, every file
    /// is present, and no earlier load failed.
    pub available: bool,
    /// Bytes of the files loaded at the configured precision (compiled-in ones included).
    pub size_bytes: u64,
    /// For ONNX graphs: the backend and device that run them.
    pub runs_on: Option<Inference>,
    /// The precision of the weights loaded, for models with files per precision.
    pub precision: Option<Precision>,
    /// Set once the model is loaded.
    pub load: Option<LoadTimes>,
    /// Why the model cannot be used.
    pub error: Option<ModelError>,
    /// The model's manifest entry; absent when it could not be read.
    pub manifest: Option<Arc<ModelManifest>>,
}

impl ModelStatus {
    /// The status of a model the registry refused.
    pub fn refused(refused: &Refused) -> ModelStatus {
        ModelStatus {
            id: refused.id.clone(),
            modality: refused.modality,
            tier: None,
            role: None,
            custom: refused.custom,
            loaded: false,
            available: false,
            size_bytes: 0,
            runs_on: None,
            precision: None,
            load: None,
            error: Some(ModelError::from(&refused.error)),
            manifest: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_models() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models-quantized")
    }

    #[test]
    fn compiled_in_manifests_are_valid_and_equal_the_folders() {
        for modality in Modality::ALL {
            let text = embedded::manifest(modality);
            parse_builtin(text.as_bytes(), Path::new("compiled in"), modality).unwrap();
            let on_disk = std::fs::read_to_string(repo_models().join(modality.as_str()).join("manifest.json")).unwrap();
            assert_eq!(text, on_disk);
        }
    }

    #[test]
    fn every_shipped_file_matches_its_sha256_and_size() {
        let registry = Registry::scan(&repo_models(), Precision::Int8, Inference::default());
        assert!(registry.refused().is_empty(), "{:?}", registry.refused());
        assert_eq!(registry.entries().len(), 12);
        for entry in registry.entries() {
            entry.check_present().unwrap();
            entry.verify_files().unwrap();
            for file in entry.files().filter(|f| !f.embedded) {
                assert_eq!(std::fs::metadata(entry.path(file)).unwrap().len(), file.bytes, "{}", file.name);
            }
            for file in entry.files().filter(|f| f.embedded) {
                assert_eq!(entry.embedded(&file.name).unwrap().len() as u64, file.bytes);
            }
        }
    }

    #[test]
    fn an_ensemble_whose_members_do_not_add_up_is_refused() {
        let manifest: Manifest = serde_json::from_str(embedded::manifest(Modality::Face)).unwrap();
        let mut ensemble = manifest.models.into_iter().find(|m| m.architecture == Architecture::ExpressionEnsemble).unwrap();
        ensemble.validate(Some(Modality::Face)).unwrap();
        assert_eq!(ensemble.members.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["emosense", "faceapi", "mini_xception", "human"]);
        let mut heavy = ensemble.clone();
        heavy.members[0].weight = 0.9;
        assert!(heavy.validate(Some(Modality::Face)).unwrap_err().0.contains("sum to 1"));
        let mut unknown = ensemble.clone();
        unknown.members[1].labels[0] = "calm".into();
        assert!(unknown.validate(Some(Modality::Face)).unwrap_err().0.contains("member faceapi"));
        ensemble.members[2].graph = "expression_missing".into();
        assert!(ensemble.validate(Some(Modality::Face)).unwrap_err().0.contains("no file holds its graph"));
    }

    /// A model directory holding only the manifests given, as `(modality, manifest)`.
    fn manifests_only(name: &str, manifests: &[(Modality, serde_json::Value)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("emosense-registry-{name}-{}", std::process::id()));
        for (modality, manifest) in manifests {
            std::fs::create_dir_all(dir.join(modality.as_str())).unwrap();
            std::fs::write(dir.join(modality.as_str()).join("manifest.json"), manifest.to_string()).unwrap();
        }
        dir
    }

    fn shipped(modality: Modality) -> serde_json::Value {
        serde_json::from_str(embedded::manifest(modality)).unwrap()
    }

    #[test]
    fn a_built_in_manifest_with_a_bad_entry_is_refused_whole_and_the_compiled_in_copy_serves() {
        let mut face = shipped(Modality::Face);
        face["models"][0]["files"][0]["sha256"] = "not hex".into();
        let dir = manifests_only("bad-entry", &[(Modality::Face, face)]);
        let registry = Registry::scan(&dir, Precision::Int8, Inference::default());
        let refused: Vec<(&str, &str)> = registry.refused().iter().map(|r| (r.id.as_str(), r.error.kind())).collect();
        assert_eq!(refused, [("face-manifest", "bad_manifest")]);
        assert!(registry.refused()[0].error.to_string().contains("sha256 must be 64 lowercase hex digits"));
        assert!(registry.is_deployed(Modality::Face));
        let detector = registry.stage(Architecture::TinyYoloFaceDetector);
        assert_eq!(detector.manifest.files[0].sha256.len(), 64, "the compiled-in description serves");
        assert_eq!(registry.ladder(Modality::Face).len(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_stage_whose_id_another_modality_took_comes_from_the_compiled_in_copy() {
        let mut text = shipped(Modality::Text);
        let mut clash = text["models"][1].clone();
        clash["id"] = "face-mesh".into();
        text["models"].as_array_mut().unwrap().push(clash);
        let dir = manifests_only("clash", &[(Modality::Text, text), (Modality::Face, shipped(Modality::Face))]);
        let registry = Registry::scan(&dir, Precision::Int8, Inference::default());
        assert_eq!(registry.refused().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["face-mesh"]);
        let mesh = registry.stage(Architecture::FaceMesh);
        assert_eq!((mesh.id(), mesh.modality, mesh.folder.clone()), ("face-mesh", Modality::Face, dir.join("face")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_folder_keeps_the_compiled_in_descriptions() {
        let empty = std::env::temp_dir().join(format!("emosense-registry-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let registry = Registry::scan(&empty, Precision::Int8, Inference::default());
        assert!(Modality::ALL.iter().all(|m| !registry.is_deployed(*m)));
        let ladder = registry.ladder(Modality::Text);
        assert_eq!(ladder.iter().map(|e| e.tier()).collect::<Vec<_>>(), [Tier::Primary, Tier::Secondary, Tier::Fallback]);
        assert_eq!(ladder[0].check_present().unwrap_err().kind(), "missing_file");
        ladder[2].check_present().unwrap();
        assert!(ladder[2].embedded("lexicon.json").is_ok());
        std::fs::remove_dir_all(&empty).unwrap();
    }
}
