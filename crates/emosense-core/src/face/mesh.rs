//! MediaPipe FaceMesh: 468 face landmarks from a square crop around a detected face, as the manifest's patch
//! describes it (side 1.5 × the box's longer edge, resized to 192 px, RGB in [0, 1], NHWC). Outputs `conv2d_21`
//! (468 × x, y, z in crop pixels) and `conv2d_31` (face-presence logit).

use image::RgbImage;
use tract_onnx::prelude::*;

use super::image::FaceBox;
use super::patch;
use crate::error::LoadError;
use crate::inference::{Graph, GraphSpec, InputFact};
use crate::registry::{Crop, ImageInput, InputContract, ModelEntry};

/// Number of landmarks.
pub const POINTS: usize = 468;

/// Landmarks of one face in image pixels (z in the same scale, relative to the face centre).
#[derive(Debug, Clone)]
pub struct Landmarks {
    pub points: Vec<[f32; 3]>,
    /// How sure the model is that the crop holds a face (0..1).
    pub presence: f32,
}

/// The loaded FaceMesh graph and the patch it reads.
pub struct FaceMesh {
    graph: Graph,
    input: ImageInput,
}

impl FaceMesh {
    /// Loads and optimises the entry's graph for the patch its manifest describes, a square crop around the box
    /// (landmarks are mapped back to the image through it).
    pub fn load(entry: &ModelEntry) -> std::result::Result<Self, LoadError> {
        let input = match &entry.manifest.input {
            Some(InputContract::Image { patch: Some(input), .. }) if matches!(input.crop, Crop::Square { .. }) => *input,
            _ => return Err(LoadError::ContractMismatch { model: entry.id().to_owned(), message: "its input contract is not a square image patch".into() }),
        };
        let path = entry.only_graph()?;
        let spec = GraphSpec {
            inputs: vec![InputFact::f32(InputFact::fixed(&patch::shape(&input, 1)))],
            outputs: &["conv2d_21", "conv2d_31"],
            ..GraphSpec::default()
        };
        let graph = Graph::load(&path, entry.id(), &spec, entry.inference)?;
        Ok(FaceMesh { graph, input })
    }

    /// Landmarks of the face in `face_box` of `image`.
    pub fn landmarks(&self, image: &RgbImage, face_box: &FaceBox) -> TractResult<Landmarks> {
        let region = patch::region(&self.input, face_box, false).unwrap_or(*face_box);
        let input = patch::tensor(&self.input, &[patch::patch(&self.input, image, face_box, false)]);
        let outputs = self.graph.run(tvec!(input.into()))?;
        let coords: Vec<f32> = outputs[0].to_plain_array_view::<f32>()?.iter().copied().collect();
        let presence_logit = outputs[1].to_plain_array_view::<f32>()?.iter().next().copied().unwrap_or(f32::NEG_INFINITY);
        let scale = region.width / self.input.side as f32;
        let points = coords.chunks_exact(3).take(POINTS).map(|p| [region.x + p[0] * scale, region.y + p[1] * scale, p[2] * scale]).collect();
        Ok(Landmarks { points, presence: 1.0 / (1.0 + (-presence_logit).exp()) })
    }
}
