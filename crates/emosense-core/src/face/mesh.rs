//! MediaPipe FaceMesh: 468 face landmarks from a square crop around a detected face (side 1.5 × the box's longer
//! edge, resized to 192 px, RGB in [0, 1], NHWC). Outputs `conv2d_21` (468 × x, y, z in crop pixels) and
//! `conv2d_31` (face-presence logit).

use std::path::Path;
use std::sync::Arc;

use image::RgbImage;
use tract_onnx::prelude::*;

use super::image::{crop_resized, FaceBox};
use crate::error::LoadError;

/// Side of the model's input, in pixels.
pub const INPUT_SIZE: u32 = 192;
/// The crop around a face box is this many times its longer edge.
pub const CROP_SCALE: f32 = 1.5;
/// Number of landmarks.
pub const POINTS: usize = 468;

/// Landmarks of one face in image pixels (z in the same scale, relative to the face centre).
#[derive(Debug, Clone)]
pub struct Landmarks {
    pub points: Vec<[f32; 3]>,
    /// How sure the model is that the crop holds a face (0..1).
    pub presence: f32,
}

/// The loaded FaceMesh graph.
pub struct FaceMesh {
    plan: Arc<TypedRunnableModel>,
}

impl FaceMesh {
    /// Loads and optimises the graph at `path`.
    pub fn load(path: &Path) -> std::result::Result<Self, LoadError> {
        let plan = (|| -> TractResult<_> {
            let s = INPUT_SIZE as usize;
            let mut graph = crate::onnx::read_model(path)?;
            let outputs = ["conv2d_21", "conv2d_31"]
                .iter()
                .map(|name| graph.find_outlet_label(name).ok_or_else(|| tract_onnx::tract_core::internal::format_err!("the graph has no output {name}")))
                .collect::<TractResult<Vec<_>>>()?;
            graph.select_output_outlets(&outputs)?;
            graph.with_input_fact(0, f32::fact([1, s, s, 3]).into())?.into_optimized()?.into_runnable()
        })()
        .map_err(|e| LoadError::unreadable(path, e))?;
        Ok(FaceMesh { plan })
    }

    /// Landmarks of the face in `face_box` of `image`.
    pub fn landmarks(&self, image: &RgbImage, face_box: &FaceBox) -> TractResult<Landmarks> {
        let region = face_box.square(CROP_SCALE);
        let patch = crop_resized(image, &region, INPUT_SIZE, INPUT_SIZE);
        let s = INPUT_SIZE as usize;
        let input: Vec<f32> = patch.as_raw().iter().map(|&v| f32::from(v) / 255.0).collect();
        let input = tract_ndarray::Array4::from_shape_vec((1, s, s, 3), input)?;
        let outputs = self.plan.run(tvec!(Tensor::from(input).into()))?;
        let coords: Vec<f32> = outputs[0].to_plain_array_view::<f32>()?.iter().copied().collect();
        let presence_logit = outputs[1].to_plain_array_view::<f32>()?.iter().next().copied().unwrap_or(f32::NEG_INFINITY);
        let scale = region.width / INPUT_SIZE as f32;
        let points = coords.chunks_exact(3).take(POINTS).map(|p| [region.x + p[0] * scale, region.y + p[1] * scale, p[2] * scale]).collect();
        Ok(Landmarks { points, presence: 1.0 / (1.0 + (-presence_logit).exp()) })
    }
}
