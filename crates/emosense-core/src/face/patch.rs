//! Face patches as a model's typed input ([`ImageInput`]) describes them: the region cut around a face box, its
//! size, colour and value scaling, and the tensor layout. The expression classifiers and the landmark model read
//! their input through here.

use image::RgbImage;
use tract_onnx::prelude::*;

use super::image::{crop_resized, letterboxed, luma, FaceBox};
use crate::registry::{Colour, Crop, ImageInput, Layout};

/// The tensor shape of a batch of `n` patches of `input`.
pub fn shape(input: &ImageInput, n: usize) -> [usize; 4] {
    let (side, channels) = (input.side as usize, input.channels());
    match input.layout {
        Layout::Nhwc => [n, side, side, channels],
        Layout::Nchw => [n, channels, side, side],
    }
}

/// The region of the image a patch of `face_box` covers, for crops cut from the image (`None` for a letterbox,
/// which pads the box itself). An aligned face is taken as it is by a grown crop.
pub fn region(input: &ImageInput, face_box: &FaceBox, aligned: bool) -> Option<FaceBox> {
    match input.crop {
        Crop::Letterbox => None,
        Crop::Grown { margin } => Some(if aligned { *face_box } else { face_box.grown(margin) }),
        Crop::Square { scale } => Some(face_box.square(scale)),
    }
}

/// The patch of `face_box` in `image`: cut as `input.crop` says and resized to `input.side`.
pub fn patch(input: &ImageInput, image: &RgbImage, face_box: &FaceBox, aligned: bool) -> RgbImage {
    match region(input, face_box, aligned) {
        Some(region) => crop_resized(image, &region, input.side, input.side),
        None => letterboxed(image, face_box, input.side),
    }
}

/// A batch of patches (each `input.side` square) as the model reads them: colour, scaling and layout of `input`.
pub fn tensor(input: &ImageInput, patches: &[RgbImage]) -> Tensor {
    let mut data = tract_ndarray::Array4::<f32>::zeros(shape(input, patches.len()));
    for (i, patch) in patches.iter().enumerate() {
        for (x, y, pixel) in patch.enumerate_pixels() {
            let (x, y) = (x as usize, y as usize);
            for c in 0..input.channels() {
                let v = match input.colour {
                    Colour::Grey => luma(pixel),
                    Colour::Rgb => f32::from(pixel.0[c]),
                };
                let at = match input.layout {
                    Layout::Nhwc => [i, y, x, c],
                    Layout::Nchw => [i, c, y, x],
                };
                data[at] = (v / input.divide - input.subtract) * input.multiply;
            }
        }
    }
    data.into()
}
