//! Face detection with face-api's TinyFaceDetector (a Tiny-YOLOv2 with five anchors): the image padded bottom/right
//! to a square and resized to 416 px; when nothing is found there, again at 224 px, which finds the faces that fill
//! the frame. Output `grid` `[1, 25, G, G]`: per anchor (tx, ty, tw, th, objectness).
//!
//! Photos get two more looks when neither size finds a face: overlapping tiles of a large image (a face that shrinks
//! below the smallest anchor when the whole image is scaled to 416 px), and the image turned a quarter either way or
//! upside down (a photo stored sideways without an EXIF orientation).

use image::{imageops, GenericImageView, RgbImage};
use tract_onnx::prelude::*;

use super::image::{resize, FaceBox};
use crate::error::LoadError;
use crate::inference::{Graph, GraphSpec, InputFact};
use crate::registry::ModelEntry;

/// Input sizes tried in turn, largest first.
pub const INPUT_SIZES: [u32; 2] = [416, 224];
/// Least objectness for a detection.
pub const SCORE_THRESHOLD: f32 = 0.5;
/// Detections overlapping a better one by more than this are dropped.
pub const NMS_IOU: f32 = 0.4;
/// Tiles per side of a large image's longer edge (the tiles overlap by a quarter).
pub const TILES_PER_SIDE: u32 = 3;
/// Turns tried, in degrees clockwise, when a photo shows no face upright.
pub const ROTATIONS: [u32; 3] = [90, 270, 180];
/// Anchor sizes in grid cells.
const ANCHORS: [(f32, f32); 5] = [(1.603231, 2.094468), (6.041143, 7.080126), (2.882459, 3.518061), (4.266906, 5.178857), (9.041765, 10.66308)];

/// A face found in an image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub face_box: FaceBox,
    pub score: f32,
}

/// Faces found in an image turned by one of [`ROTATIONS`].
pub struct Rotated {
    /// The image turned upright, which the faces' boxes refer to.
    pub image: RgbImage,
    /// Degrees clockwise the original was turned.
    pub degrees: u32,
    pub faces: Vec<Detection>,
    /// Detector input size that found them.
    pub input_size: u32,
}

/// The detector at each input size.
pub struct Detector {
    graphs: Vec<(u32, Graph)>,
}

impl Detector {
    /// Loads the graph `detector_<size>` of each of [`INPUT_SIZES`] among the entry's files.
    pub fn load(entry: &ModelEntry) -> std::result::Result<Self, LoadError> {
        let graphs = INPUT_SIZES.iter().map(|&size| Ok((size, load_graph(entry, size)?))).collect::<std::result::Result<_, LoadError>>()?;
        Ok(Detector { graphs })
    }

    /// Every face in `image`, best first, and the input size that found them (the last size tried when none).
    pub fn detect(&self, image: &RgbImage) -> TractResult<(Vec<Detection>, u32)> {
        let mut last = 0;
        for (size, graph) in &self.graphs {
            last = *size;
            let found = detect_at(graph, image, *size)?;
            if !found.is_empty() {
                return Ok((found, *size));
            }
        }
        Ok((Vec::new(), last))
    }

    /// Faces too small to be found in the whole image scaled to the detector's input: the image cut into
    /// overlapping tiles a [`TILES_PER_SIDE`]th of its longer side, each scaled to the largest input. Nothing for an
    /// image under two inputs on its longer side, where tiles would find nothing new.
    pub fn detect_in_tiles(&self, image: &RgbImage) -> TractResult<Vec<Detection>> {
        let (size, graph) = &self.graphs[0];
        let (width, height) = image.dimensions();
        if width.max(height) < 2 * size {
            return Ok(Vec::new());
        }
        let tile = width.max(height).div_ceil(TILES_PER_SIDE).max(*size);
        let mut found = Vec::new();
        for y in tile_starts(height, tile) {
            for x in tile_starts(width, tile) {
                let part = image.view(x, y, tile.min(width - x), tile.min(height - y)).to_image();
                found.extend(detect_at(graph, &part, *size)?.into_iter().map(|d| Detection { face_box: d.face_box.translated(x as f32, y as f32), ..d }));
            }
        }
        Ok(non_maximum_suppression(found, NMS_IOU))
    }

    /// Of the [`ROTATIONS`] under which faces are found, the one whose best face scores highest, with the turned
    /// image and the faces in it (a wrong turn can find a weak phantom, so every turn is tried).
    pub fn detect_rotated(&self, image: &RgbImage) -> TractResult<Option<Rotated>> {
        let mut best: Option<Rotated> = None;
        for degrees in ROTATIONS {
            let turned = rotated(image, degrees);
            let (faces, input_size) = self.detect(&turned)?;
            let top = |faces: &[Detection]| faces.first().map_or(0.0, |d| d.score);
            if !faces.is_empty() && best.as_ref().is_none_or(|b| top(&faces) > top(&b.faces)) {
                best = Some(Rotated { image: turned, degrees, faces, input_size });
            }
        }
        Ok(best)
    }
}

/// `image` turned `degrees` (a multiple of 90) clockwise.
pub fn rotated(image: &RgbImage, degrees: u32) -> RgbImage {
    match degrees % 360 {
        90 => imageops::rotate90(image),
        180 => imageops::rotate180(image),
        270 => imageops::rotate270(image),
        _ => image.clone(),
    }
}

/// Offsets of tiles of `tile` pixels covering `length`, a quarter of a tile overlapping the next; the last ends at the
/// edge.
fn tile_starts(length: u32, tile: u32) -> Vec<u32> {
    if length <= tile {
        return vec![0];
    }
    let step = (tile * 3 / 4).max(1);
    let mut starts: Vec<u32> = (0..).map(|i| i * step).take_while(|&s| s + tile < length).collect();
    starts.push(length - tile);
    starts
}

fn load_graph(entry: &ModelEntry, size: u32) -> std::result::Result<Graph, LoadError> {
    let s = size as usize;
    let spec = GraphSpec { inputs: vec![InputFact::f32(InputFact::fixed(&[1, 3, s, s]))], all_cores: true, ..GraphSpec::default() };
    Graph::load(&entry.graph(&format!("detector_{size}"))?, entry.id(), &spec, entry.inference)
}

fn detect_at(graph: &Graph, image: &RgbImage, size: u32) -> TractResult<Vec<Detection>> {
    let side = image.width().max(image.height()) as f32;
    let scale = size as f32 / side;
    let scaled_w = ((image.width() as f32 * scale).round() as u32).clamp(1, size);
    let scaled_h = ((image.height() as f32 * scale).round() as u32).clamp(1, size);
    // Shrinking by area averaging is several times faster than the triangle filter on large photos, and as smooth.
    let scaled = if scale < 1.0 { imageops::thumbnail(image, scaled_w, scaled_h) } else { resize(image, scaled_w, scaled_h) };
    let s = size as usize;
    let mut planes = vec![0f32; 3 * s * s];
    for (x, y, pixel) in scaled.enumerate_pixels() {
        let at = y as usize * s + x as usize;
        for (c, value) in pixel.0.iter().enumerate() {
            planes[c * s * s + at] = f32::from(*value);
        }
    }
    let input = tract_ndarray::Array4::from_shape_vec((1, 3, s, s), planes)?;
    let outputs = graph.run(tvec!(Tensor::from(input).into()))?;
    let grid = outputs[0].to_plain_array_view::<f32>()?;
    let cells = grid.shape()[2];
    let sigmoid = |v: f32| 1.0 / (1.0 + (-v).exp());
    let mut found = Vec::new();
    for (anchor, (anchor_w, anchor_h)) in ANCHORS.iter().enumerate() {
        let at = |k: usize, row: usize, col: usize| grid[[0, anchor * 5 + k, row, col]];
        for row in 0..cells {
            for col in 0..cells {
                let score = sigmoid(at(4, row, col));
                if score <= SCORE_THRESHOLD {
                    continue;
                }
                let g = cells as f32;
                let cx = (col as f32 + sigmoid(at(0, row, col))) / g * side;
                let cy = (row as f32 + sigmoid(at(1, row, col))) / g * side;
                let w = at(2, row, col).exp() * anchor_w / g * side;
                let h = at(3, row, col).exp() * anchor_h / g * side;
                let face_box = FaceBox { x: cx - w / 2.0, y: cy - h / 2.0, width: w, height: h }.clipped(image.width(), image.height());
                if face_box.area() > 0.0 {
                    found.push(Detection { face_box, score });
                }
            }
        }
    }
    Ok(non_maximum_suppression(found, NMS_IOU))
}

/// Keeps the best-scoring detections, dropping any that overlaps a kept one by more than `max_iou`.
pub fn non_maximum_suppression(mut detections: Vec<Detection>, max_iou: f32) -> Vec<Detection> {
    detections.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for d in detections {
        if kept.iter().all(|k| k.face_box.iou(&d.face_box) <= max_iou) {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(x: f32, score: f32) -> Detection {
        Detection { face_box: FaceBox { x, y: 0.0, width: 10.0, height: 10.0 }, score }
    }

    #[test]
    fn tiles_cover_the_length_and_overlap() {
        assert_eq!(tile_starts(300, 416), vec![0]);
        assert_eq!(tile_starts(4000, 1334), vec![0, 1000, 2000, 2666]);
        assert_eq!(tile_starts(3000, 1334), vec![0, 1000, 1666]);
        for (length, tile) in [(833, 416), (4000, 1334), (9999, 3333)] {
            let starts = tile_starts(length, tile);
            assert_eq!(starts.last().copied(), Some(length - tile));
            assert!(starts.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] <= tile * 3 / 4), "{starts:?}");
        }
    }

    #[test]
    fn rotations_turn_clockwise() {
        let mut image = RgbImage::new(3, 2);
        image.put_pixel(0, 0, image::Rgb([255, 0, 0]));
        assert_eq!(rotated(&image, 90).dimensions(), (2, 3));
        assert_eq!(rotated(&image, 90).get_pixel(1, 0).0, [255, 0, 0]);
        assert_eq!(rotated(&image, 180).get_pixel(2, 1).0, [255, 0, 0]);
        assert_eq!(rotated(&image, 270).get_pixel(0, 2).0, [255, 0, 0]);
    }

    #[test]
    fn overlapping_detections_keep_the_best() {
        let kept = non_maximum_suppression(vec![detection(0.0, 0.6), detection(1.0, 0.9), detection(30.0, 0.7)], NMS_IOU);
        assert_eq!(kept, vec![detection(1.0, 0.9), detection(30.0, 0.7)]);
    }
}
