//! The typed `manifest.json`: the one description of every model, built in or added by an operator.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Modality;
use crate::config::Precision;
use crate::emotion::{Emotion, EmotionScores};
use crate::tier::Tier;

/// One `manifest.json`: the models of a folder.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Modality of every model in the file that does not name its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modality: Option<Modality>,
    /// Licence and credit notes that apply to every model in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// How the folder's files are rebuilt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebuild: Option<String>,
    pub models: Vec<ModelManifest>,
}

/// What runs a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    /// ONNX graphs, run by the configured inference backend (tract unless `EMOTION_INFERENCE_BACKEND` says
    /// otherwise; the name stays for manifests written before there was a choice).
    Tract,
    /// Weights in JSON read by Rust code of this crate.
    Json,
    /// Rules in Rust code of this crate; no file to load.
    Builtin,
    /// A model the program embedding this crate registered in Rust.
    InProcess,
}

/// Which implementation reads a model's files. Each belongs to one modality.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// Text: a transformer encoder with a classification head, `input_ids` and `attention_mask` in, one score per
    /// label out; its tokenizer is one of the model's files. The architecture of custom text models.
    TextEncoderClassifier,
    /// Text: logistic regression over TF-IDF word and bigram features (`linear.json`).
    TfidfLinear,
    /// Text: emotion keyword lexicon with negation handling, compiled into the binary.
    Lexicon,
    /// Speech: a pretrained speech encoder with a pooled linear head over Whisper log-mel frames.
    SpeechEncoderHead,
    /// Speech: logistic regression over the summary features of each window (`linear.json`).
    FeatureLinear,
    /// Speech: pitch, level and rate rules.
    ProsodyRules,
    /// Speech: Silero voice activity detector.
    SileroVad,
    /// Speech: one ONNX graph over the waveform of each analysis window (`[batch, samples]` at the pipeline's
    /// sample rate), one score per label out. The architecture of custom speech models.
    WaveformClassifier,
    /// Faces: tiny-YOLO face detector at two input sizes.
    TinyYoloFaceDetector,
    /// Faces: 468-point face mesh with a face-presence score.
    FaceMesh,
    /// Faces: weighted ensemble of expression classifiers, each with its mirror image.
    ExpressionEnsemble,
    /// Faces: rules over the face mesh's geometry (mouth, brows, eyes).
    GeometryRules,
    /// Faces: the label prior, answered when nothing else can.
    NeutralPrior,
    /// Faces: one ONNX graph over a patch of each face (`input.patch` describes it), one score per label out, run on
    /// the face and its mirror image. The architecture of custom face models.
    ImageClassifier,
    /// Any modality: the weighted mean of other models of the modality (`ensemble` lists them).
    Ensemble,
    /// Any modality: a model registered in Rust by the program embedding this crate.
    InProcess,
}

impl Architecture {
    /// The modality whose pipeline runs this architecture; `None` for those of any modality.
    pub fn modality(self) -> Option<Modality> {
        use Architecture::*;
        match self {
            TextEncoderClassifier | TfidfLinear | Lexicon => Some(Modality::Text),
            SpeechEncoderHead | FeatureLinear | ProsodyRules | SileroVad | WaveformClassifier => Some(Modality::Audio),
            TinyYoloFaceDetector | FaceMesh | ExpressionEnsemble | GeometryRules | NeutralPrior | ImageClassifier => Some(Modality::Face),
            Ensemble | InProcess => None,
        }
    }

    /// The architectures a custom model folder may use, one per modality: a single ONNX graph whose input contract
    /// the manifest describes.
    pub const CUSTOM: [Architecture; 3] = [Architecture::TextEncoderClassifier, Architecture::WaveformClassifier, Architecture::ImageClassifier];
}

/// What a model does in its modality's pipeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Maps its input to emotion probabilities: a rung of the tier ladder.
    #[default]
    Classifier,
    /// Finds where the subject is (face boxes) before any rung runs.
    Detector,
    /// Locates points on the subject (468 face landmarks) for the feature-based rung.
    Landmarks,
    /// Finds where speech is before any rung runs.
    VoiceActivity,
}

/// One file of a model, relative to the folder of its manifest.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file's bytes, lowercase hex; checked when the model is loaded.
    pub sha256: String,
    /// The weight precision this file is for; files without one serve every precision (tokenizers, label lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    /// Compiled into the binary: checked when the manifest is read, never read from disk.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub embedded: bool,
}

/// What a model reads. `description` says it in words for people; the other fields are checked against the graph
/// when it loads and drive the preprocessing where the architecture allows more than one form.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum InputContract {
    /// Token ids from a tokenizer file.
    Tokens {
        /// The `tokenizer.json` (Hugging Face tokenizers format) among the model's files.
        tokenizer: String,
        /// Most tokens per model run, special tokens included; longer texts are cut into windows at sentence ends.
        max_tokens: usize,
        /// Graph input names: token ids, then the attention mask (both int64 `[batch, tokens]`).
        inputs: [String; 2],
        /// What the graph's first output holds per label: logits (softmax is applied) or probabilities.
        output: ScoreKind,
        description: String,
    },
    /// Lower-cased words of the text.
    Words { description: String },
    /// Audio resampled to `sample_rate` (the pipeline's 16 kHz), silence trimmed, level normalised, cut into
    /// analysis windows.
    Speech {
        sample_rate: u32,
        /// What the model reads of each window.
        reads: SpeechInput,
        /// What a waveform classifier's output holds per label.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<ScoreKind>,
        description: String,
    },
    /// Image pixels.
    Image {
        /// The face patch an image classifier or the landmark model reads; the face detector describes its input in
        /// words, the expression ensemble per member.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        patch: Option<ImageInput>,
        /// What an image classifier's output holds per label.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output: Option<ScoreKind>,
        description: String,
    },
}

/// What a speech model reads of each analysis window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SpeechInput {
    /// The samples, float32 `[batch, samples]`, scaled as `scaling` says.
    Waveform { scaling: WaveformScaling },
    /// Whisper's normalised log-mel frames, float32 `[batch, frames, bands]`, a frame every 10 ms.
    WhisperLogMel { bands: usize },
    /// The window's named summary features (`emosense features`), `count` of them.
    SummaryFeatures { count: usize },
}

/// How a window's samples are scaled before a model reads them: as the pipeline prepares them (level normalised to
/// -20 dBFS RMS, samples in [-1, 1]), or to zero mean and unit variance per window (what wav2vec2-style feature
/// extractors do with `do_normalize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WaveformScaling {
    AsPrepared,
    ZeroMeanUnitVariance,
}

/// What a classifier's output holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScoreKind {
    Logits,
    Probabilities,
}

/// Where one of a model's labels goes among the seven emotions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum LabelTarget {
    /// All of the label's probability goes to one emotion (several labels may merge into one).
    One(Emotion),
    /// The label's probability is shared equally by these emotions.
    Shared(Vec<Emotion>),
}

/// Colour of an image classifier's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// One channel: ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B), not rounded.
    Grey,
    /// Three channels, red, green, blue.
    Rgb,
}

/// Order of an image tensor's axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `[batch, channels, height, width]`.
    Nchw,
    /// `[batch, height, width, channels]`.
    Nhwc,
}

/// How the face is cut out of the image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Crop {
    /// The face box grown by `margin` (a fraction of its size) on every side, resized to a square; an aligned face is
    /// taken as it is.
    Grown { margin: f32 },
    /// The face box centred in a square of its longer side, padded with black, resized.
    Letterbox,
    /// The square of side `scale` × the box's longer edge with the box's centre, cut from the image, resized.
    Square { scale: f32 },
}

/// How a face becomes an image classifier's input: a square patch of `side` pixels cut by `crop`, in `colour`, each
/// value `(v / divide - subtract) * multiply` for 8-bit `v`, laid out as `layout`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageInput {
    pub side: u32,
    pub colour: Colour,
    pub layout: Layout,
    pub crop: Crop,
    pub divide: f32,
    pub subtract: f32,
    pub multiply: f32,
}

impl ImageInput {
    /// Channels per pixel.
    pub fn channels(&self) -> usize {
        match self.colour {
            Colour::Grey => 1,
            Colour::Rgb => 3,
        }
    }
}

/// One classifier inside an ensemble model: a graph among the model's files, its input and labels, and its share of
/// the ensemble's mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphMember {
    /// Name in answers and reports.
    pub name: String,
    /// Its graph: the file `<graph>.<precision>.onnx` (or `<graph>.onnx`) among the model's files.
    pub graph: String,
    /// Share of the ensemble's mean; the members' sum to 1.
    pub weight: f32,
    /// Its output's labels in order: emotion names.
    pub labels: Vec<String>,
    pub input: ImageInput,
    /// Where it comes from, in words.
    pub description: String,
}

/// A member of an ensemble.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EnsembleMember {
    /// The member model's id.
    pub model: String,
    pub weight: f32,
}

/// One model's description.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelManifest {
    /// Unique among all models; what `"model"` in a request names.
    pub id: String,
    pub version: String,
    /// Defaults to the manifest file's `modality`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modality: Option<Modality>,
    pub description: String,
    /// The rung a classifier answers for; for detectors, landmark and voice activity models, the highest tier that
    /// needs them.
    pub tier: Tier,
    #[serde(default)]
    pub role: Role,
    pub runtime: Runtime,
    pub architecture: Architecture,
    pub files: Vec<ModelFile>,
    /// A classifier's labels in the order of its output; each is an emotion name or mapped by `label_map`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Where labels that are not emotion names go; `null` drops a label (the others are renormalised).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub label_map: BTreeMap<String, Option<LabelTarget>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputContract>,
    /// For an ensemble of models: its members and their weights (summing to 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ensemble: Vec<EnsembleMember>,
    /// For a model made of several graphs averaged (the face expression ensemble): each graph's contract and weight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<GraphMember>,
    /// SPDX identifier or a short statement of the terms.
    pub licence: String,
    /// Where the weights come from (packages, versions), the data they were trained on and its credits, how they
    /// were trained, and the accuracy measured: as written by the tools that built the model.
    #[serde(flatten)]
    pub provenance: BTreeMap<String, serde_json::Value>,
}

/// A manifest that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ManifestProblem(pub String);

impl ModelManifest {
    /// The description of a model registered in Rust by the program embedding this crate: a classifier with no
    /// files, answering when a request names `id`.
    pub fn in_process(id: &str, version: &str, modality: Modality, description: &str, licence: &str) -> ModelManifest {
        ModelManifest {
            id: id.to_owned(),
            version: version.to_owned(),
            modality: Some(modality),
            description: description.to_owned(),
            tier: Tier::Primary,
            role: Role::Classifier,
            runtime: Runtime::InProcess,
            architecture: Architecture::InProcess,
            files: Vec::new(),
            labels: Vec::new(),
            label_map: BTreeMap::new(),
            input: None,
            ensemble: Vec::new(),
            members: Vec::new(),
            licence: licence.to_owned(),
            provenance: BTreeMap::new(),
        }
    }

    /// The model's modality: its own or, failing that, its file's.
    pub fn modality_in(&self, file: Option<Modality>) -> Option<Modality> {
        self.modality.or(file)
    }

    /// The files to load at `precision`: those for it and those for every precision.
    pub fn files_for(&self, precision: Precision) -> impl Iterator<Item = &ModelFile> {
        self.files.iter().filter(move |f| f.precision.is_none_or(|p| p == precision))
    }

    /// The file named `name`.
    pub fn file(&self, name: &str) -> Option<&ModelFile> {
        self.files.iter().find(|f| f.name == name)
    }

    /// Checks what can be checked without loading: modality agrees with the architecture, file names stay inside
    /// the folder and carry a well-formed sha256, a classifier's labels map onto every one of the seven emotions,
    /// the input contract names its files.
    pub fn validate(&self, modality: Option<Modality>) -> Result<(), ManifestProblem> {
        let problem = |message: String| Err(ManifestProblem(format!("model {}: {message}", self.id)));
        if self.id.is_empty() || !self.id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return problem("id must be letters, digits, '-', '_' or '.'".into());
        }
        let Some(modality) = self.modality_in(modality) else {
            return problem("names no modality (neither the model nor its manifest file)".into());
        };
        if let Some(reads) = self.architecture.modality().filter(|reads| *reads != modality) {
            return problem(format!("architecture {:?} reads {}, not {}", self.architecture, reads.as_str(), modality.as_str()));
        }
        for file in &self.files {
            if file.name.is_empty() || file.name.contains(['/', '\\']) || file.name.starts_with('.') {
                return problem(format!("file name {:?} must be a plain name inside the model's folder", file.name));
            }
            if file.sha256.len() != 64 || !file.sha256.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
                return problem(format!("file {}: sha256 must be 64 lowercase hex digits", file.name));
            }
        }
        if self.role == Role::Classifier && !matches!(self.runtime, Runtime::Builtin | Runtime::InProcess) {
            self.label_mapping().map_err(|m| ManifestProblem(format!("model {}: {}", self.id, m.0)))?;
        }
        if let Some(InputContract::Tokens { tokenizer, max_tokens, .. }) = &self.input {
            if self.file(tokenizer).is_none() {
                return problem(format!("input.tokenizer {tokenizer:?} is not among its files"));
            }
            if *max_tokens < 3 {
                return problem("input.max_tokens must leave room for a token between the special tokens".into());
            }
        }
        if let Some(InputContract::Speech { sample_rate, .. }) = &self.input {
            if *sample_rate != crate::audio::MODEL_RATE {
                return problem(format!("input.sample_rate must be {} (the rate the speech pipeline prepares audio at)", crate::audio::MODEL_RATE));
            }
        }
        if let Some(InputContract::Image { patch: Some(patch), .. }) = &self.input {
            check_patch(patch).map_err(|e| ManifestProblem(format!("model {}: input.patch: {}", self.id, e.0)))?;
        }
        match (self.architecture, &self.input) {
            (Architecture::TextEncoderClassifier, Some(InputContract::Tokens { .. })) => {}
            (Architecture::TextEncoderClassifier, _) => return problem("a text-encoder-classifier needs an input of kind \"tokens\"".into()),
            (Architecture::WaveformClassifier, Some(InputContract::Speech { reads: SpeechInput::Waveform { .. }, output: Some(_), .. })) => {}
            (Architecture::WaveformClassifier, _) => {
                return problem("a waveform-classifier needs an input of kind \"speech\" that reads a waveform, with its output".into());
            }
            (Architecture::ImageClassifier, Some(InputContract::Image { patch: Some(_), output: Some(_), .. })) => {}
            (Architecture::ImageClassifier, _) => return problem("an image-classifier needs an input of kind \"image\" with patch and output".into()),
            _ => {}
        }
        if self.architecture == Architecture::ExpressionEnsemble {
            self.check_members().map_err(|m| ManifestProblem(format!("model {}: {m}", self.id)))?;
        }
        Ok(())
    }

    /// Checks an ensemble's graph members: at least one, weights summing to 1, labels that cover the seven emotions,
    /// a usable input, and a graph among the files.
    fn check_members(&self) -> Result<(), String> {
        if self.members.is_empty() {
            return Err("an expression-ensemble lists its members".into());
        }
        let total: f32 = self.members.iter().map(|m| m.weight).sum();
        if (total - 1.0).abs() > 1e-3 || self.members.iter().any(|m| !(m.weight > 0.0)) {
            return Err(format!("member weights must be positive and sum to 1 (they sum to {total})"));
        }
        for member in &self.members {
            LabelMapping::new(&member.labels, &BTreeMap::new()).map_err(|e| format!("member {}: {}", member.name, e.0))?;
            check_patch(&member.input).map_err(|e| format!("member {}: {}", member.name, e.0))?;
            let stem = |f: &ModelFile| f.name.strip_suffix(".onnx").map(|s| s.strip_suffix(".int8").or(s.strip_suffix(".fp32")).unwrap_or(s).to_owned());
            if !self.files.iter().any(|f| stem(f).as_deref() == Some(member.graph.as_str())) {
                return Err(format!("member {}: no file holds its graph {}", member.name, member.graph));
            }
        }
        Ok(())
    }

    /// How the model's labels turn into the seven emotions.
    pub fn label_mapping(&self) -> Result<LabelMapping, ManifestProblem> {
        LabelMapping::new(&self.labels, &self.label_map)
    }
}

/// Checks that a face patch can be made: a side of 1 to 1024 pixels, a positive divisor, finite scaling.
fn check_patch(input: &ImageInput) -> Result<(), ManifestProblem> {
    if input.side == 0 || input.side > 1024 || !(input.divide > 0.0) || !input.multiply.is_finite() || !input.subtract.is_finite() {
        return Err(ManifestProblem("input side must be 1 to 1024 and divide positive".into()));
    }
    let crop_fits = match input.crop {
        Crop::Grown { margin } => (0.0..=2.0).contains(&margin),
        Crop::Square { scale } => scale > 0.0 && scale <= 4.0,
        Crop::Letterbox => true,
    };
    if !crop_fits {
        return Err(ManifestProblem("a grown crop's margin must be 0 to 2, a square crop's scale over 0 and at most 4".into()));
    }
    Ok(())
}

/// How a classifier's label scores become the seven emotion probabilities: per label, the emotions it feeds and the
/// share of its probability each gets.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMapping {
    targets: Vec<Vec<(Emotion, f32)>>,
}

impl LabelMapping {
    /// Resolves every label (an emotion name, or an entry of `map`), and refuses a mapping under which one of the
    /// seven emotions could never be answered.
    pub fn new(labels: &[String], map: &BTreeMap<String, Option<LabelTarget>>) -> Result<Self, ManifestProblem> {
        let problem = |m: String| Err(ManifestProblem(m));
        if labels.is_empty() {
            return problem("a classifier needs its labels in output order".into());
        }
        if let Some(unknown) = map.keys().find(|k| !labels.contains(k)) {
            return problem(format!("label_map names {unknown:?}, which is not one of its labels"));
        }
        let mut targets = Vec::with_capacity(labels.len());
        for label in labels {
            let emotions = match map.get(label) {
                Some(None) => Vec::new(),
                Some(Some(LabelTarget::One(e))) => vec![*e],
                Some(Some(LabelTarget::Shared(es))) if !es.is_empty() => es.clone(),
                Some(Some(LabelTarget::Shared(_))) => return problem(format!("label {label:?} is mapped to an empty list (use null to drop it)")),
                None => match Emotion::from_name(label) {
                    Some(e) => vec![e],
                    None => return problem(format!("label {label:?} is not an emotion name and label_map does not map it")),
                },
            };
            let share = 1.0 / emotions.len().max(1) as f32;
            targets.push(emotions.into_iter().map(|e| (e, share)).collect::<Vec<_>>());
        }
        let unreachable: Vec<&str> =
            Emotion::ALL.iter().filter(|e| !targets.iter().flatten().any(|(t, _)| t == *e)).map(|e| e.as_str()).collect();
        if !unreachable.is_empty() {
            return problem(format!("no label maps to {} (every one of the seven emotions needs a label)", unreachable.join(", ")));
        }
        Ok(LabelMapping { targets })
    }

    /// Number of labels the model outputs.
    pub fn labels(&self) -> usize {
        self.targets.len()
    }

    /// Whether the labels are the seven emotions in [`Emotion::ALL`] order.
    pub fn is_identity(&self) -> bool {
        self.targets.len() == 7 && self.targets.iter().zip(Emotion::ALL).all(|(t, e)| t.as_slice() == [(e, 1.0)])
    }

    /// The seven emotion probabilities from one row of a classifier's output: softmax first for logits, then the
    /// labels' shares summed per emotion and renormalised (dropped labels leave out theirs).
    pub fn emotions(&self, output: ScoreKind, row: &[f32]) -> EmotionScores {
        if self.is_identity() && output == ScoreKind::Logits {
            let mut logits = [0.0f32; 7];
            logits.copy_from_slice(row);
            return EmotionScores::from_logits(&logits);
        }
        let probabilities: Vec<f32> = match output {
            ScoreKind::Logits => {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let exp: Vec<f32> = row.iter().map(|l| (l - max).exp()).collect();
                let sum: f32 = exp.iter().sum();
                exp.into_iter().map(|e| e / sum).collect()
            }
            ScoreKind::Probabilities => row.iter().map(|p| p.max(0.0)).collect(),
        };
        EmotionScores::normalized(self.weights(&probabilities))
    }

    /// The seven emotion weights from one probability per label (dropped labels leave out their share; the
    /// caller normalises).
    pub fn weights(&self, label_probabilities: &[f32]) -> [f32; 7] {
        let mut weights = [0.0f32; 7];
        for (p, targets) in label_probabilities.iter().zip(&self.targets) {
            for (emotion, share) in targets {
                weights[emotion.index()] += p * share;
            }
        }
        weights
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn emotion_names_map_to_themselves() {
        let mapping = LabelMapping::new(&labels(&Emotion::ALL.map(Emotion::as_str)), &BTreeMap::new()).unwrap();
        assert!(mapping.is_identity());
    }

    #[test]
    fn labels_merge_share_and_drop() {
        let names = labels(&["happy", "love", "angry", "disgust", "fear", "sad", "shock", "calm", "other"]);
        let map: BTreeMap<String, Option<LabelTarget>> = serde_json::from_str(
            r#"{"happy": "joy", "love": "joy", "angry": "anger", "sad": "sadness", "shock": ["surprise", "fear"], "calm": "neutral", "other": null}"#,
        )
        .unwrap();
        let mapping = LabelMapping::new(&names, &map).unwrap();
        assert!(!mapping.is_identity());
        let w = mapping.weights(&[0.1, 0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.05, 0.05]);
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        assert!(close(w[Emotion::Joy.index()], 0.3));
        assert!(close(w[Emotion::Fear.index()], 0.2), "fear alone 0.1 plus half of shock");
        assert!(close(w[Emotion::Surprise.index()], 0.1));
        assert!(close(w.iter().sum::<f32>(), 0.95), "the dropped label's share is left out");
    }

    #[test]
    fn a_mapping_that_misses_an_emotion_is_refused() {
        let names = labels(&["positive", "negative", "neutral"]);
        let map = serde_json::from_str(r#"{"positive": "joy", "negative": ["anger", "sadness"]}"#).unwrap();
        let err = LabelMapping::new(&names, &map).unwrap_err();
        assert!(err.0.contains("no label maps to disgust, fear, surprise"), "{err}");
        let err = LabelMapping::new(&labels(&["joyful"]), &BTreeMap::new()).unwrap_err();
        assert!(err.0.contains("\"joyful\" is not an emotion name"), "{err}");
        let err = LabelMapping::new(&labels(&["joy"]), &serde_json::from_str(r#"{"glee": "joy"}"#).unwrap()).unwrap_err();
        assert!(err.0.contains("not one of its labels"), "{err}");
    }
}
