//! Facial emotion analysis: image → upright RGB → face boxes (TinyFaceDetector) → 468 landmarks per face
//! (FaceMesh) → geometric features → a tier ladder of expression ensemble → geometry rules → neutral prior, per face.
//! The answer is the main face's (the largest, weighed by detector confidence); every face is listed with its box,
//! emotions and geometry. A photo in which the detector finds nothing gets further looks ([`FaceSearch`]). A video
//! (H.264 in MP4, animated GIF) is sampled at a fixed rate and each sampled frame goes through the same pipeline.

mod annotate;
mod detect;
mod expression;
mod geometry;
pub mod image;
mod mesh;
mod patch;
mod video;

use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Instant;

use ::image::RgbImage;
use serde::Serialize;

use crate::budget::{Budget, Progress};
use crate::config::{Config, Precision};
use crate::limits::Limits;
use crate::emotion::{Emotion, EmotionScores};
use crate::error::{Error, LoadError, Result};
use crate::registry::{Architecture, Modality, ModelEntry, ModelManifest, ModelStatus, Registry};
use crate::parallel::parallel_map;
use crate::result::{AnalysisResult, Details, Metadata};
use crate::tier::{Ladder, Rung, Tier};

pub use self::image::{FaceBox, SourceFormat};
pub use geometry::Geometry;
pub use video::VideoInfo;

/// A face's landmarks, computed once by whichever thread needs them first.
type LandmarkCell = OnceLock<std::result::Result<mesh::Landmarks, String>>;

/// One face as a face model sees it: the image, the face's box in it, and its landmarks on demand.
pub struct FaceInput<'a> {
    image: &'a RgbImage,
    face_box: FaceBox,
    /// The whole image is the face (no margin is added around it).
    aligned: bool,
    /// The landmark model, when it loaded.
    mesh: Option<&'a mesh::FaceMesh>,
    landmarks: &'a LandmarkCell,
}

impl FaceInput<'_> {
    /// The upright image the face is in.
    pub fn image(&self) -> &RgbImage {
        self.image
    }

    /// The face's box in the image, as found.
    pub fn face_box(&self) -> FaceBox {
        self.face_box
    }

    /// Whether the whole image is the face (an aligned crop): no margin should be added around the box.
    pub fn aligned(&self) -> bool {
        self.aligned
    }

    /// The face's 468 landmarks (x, y, z in image pixels), when the landmark model can find them.
    pub fn landmark_points(&self) -> Option<&[[f32; 3]]> {
        self.landmarks().ok().map(|l| l.points.as_slice())
    }

    /// The face's landmarks (computed here unless another thread already did or is doing it), or why there are none.
    fn landmarks(&self) -> std::result::Result<&mesh::Landmarks, String> {
        let mesh = self.mesh.ok_or("the landmark model is unavailable")?;
        self.landmarks.get_or_init(|| mesh.landmarks(self.image, &self.face_box).map_err(|e| format!("{e:#}"))).as_ref().map_err(Clone::clone)
    }

    /// The face's measurements, when its landmarks could be found.
    pub fn geometry(&self) -> Option<Geometry> {
        self.landmarks().ok().and_then(|l| Geometry::from_landmarks(&l.points))
    }
}

/// One member's probabilities for each face, and its share of the rung's mean.
#[derive(Debug, Clone)]
pub struct MemberScores {
    pub name: String,
    pub weight: f32,
    pub scores: Vec<EmotionScores>,
}

/// A face model: the built-in tiers and custom models answer through it, and a program embedding this crate
/// registers its own with [`crate::EmoSense::with_face_model`]. It scores faces as one or more members whose
/// distributions are averaged with their weights ([`mean_of_members`]).
pub trait FaceModel: Send + Sync {
    /// Each member's distribution for each face, in order.
    fn score_members(&self, faces: &[FaceInput]) -> Result<Vec<MemberScores>>;
}

impl<T: FaceModel + ?Sized> FaceModel for Arc<T> {
    fn score_members(&self, faces: &[FaceInput]) -> Result<Vec<MemberScores>> {
        (**self).score_members(faces)
    }
}

/// What a face answer's metadata adds.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct FaceDetails {
    /// Faces found (in a video, the most found in one frame); 0 when a whole image was read as one face.
    pub faces_detected: usize,
    /// The image as read (photos).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageFacts>,
    /// How the faces were found: `aligned`, `detector`, `tiles`, `rotated` or `whole_image` (photos).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face_search: Option<&'static str>,
    /// Side in pixels of the detector input that found the faces (photos).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detector_input: Option<u32>,
    /// Milliseconds per stage (photos).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages_ms: Option<StageTimes>,
    /// Frames analysed (videos).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_analyzed: Option<usize>,
    /// Frames in which a face was found (videos).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames_with_faces: Option<usize>,
    /// What was read from the video (videos).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoInfo>,
}

/// A photo as read.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ImageFacts {
    pub width: u32,
    pub height: u32,
    pub format: SourceFormat,
    /// Whether an EXIF orientation turned the image upright before analysis.
    pub exif_reoriented: bool,
    /// Clockwise turn the faces were found at, when no EXIF said so (boxes refer to the turned image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotated_degrees: Option<u32>,
}

/// Options of a face analysis request.
#[derive(Debug, Clone, Default)]
pub struct FaceOptions {
    /// Start the ladder at this tier instead of the top.
    pub tier: Option<Tier>,
    /// Answer with this model only (the id of a built-in, custom or registered face model) instead of the ladder.
    pub model: Option<String>,
    /// Include the 468 landmarks of each face.
    pub landmarks: bool,
    /// Include a PNG of the image with each face's box and label drawn.
    pub annotate: bool,
    /// The image is one cropped face: skip detection.
    pub aligned_face: bool,
    /// When to stop: checked between video frames and between the stages of the pipeline.
    pub budget: Budget,
    /// Told how far a video is (seconds analysed of its duration).
    pub progress: Progress,
}

/// One face of an answer.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FaceResult {
    #[serde(rename = "box")]
    pub face_box: FaceBox,
    /// Detector confidence (1 for an aligned face, 0 for an image read as one face because none was detected).
    #[serde(serialize_with = "crate::result::serialize_prob")]
    pub score: f32,
    pub dominant_emotion: Emotion,
    #[serde(serialize_with = "crate::result::serialize_prob")]
    pub confidence: f32,
    pub emotions: EmotionScores,
    /// Measurements from the landmarks; absent when the landmark model is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geometry: Option<Geometry>,
    /// The landmark model's confidence that its crop holds a face (0..1).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "crate::result::serialize_optional_prob")]
    pub landmark_presence: Option<f32>,
    /// 468 × (x, y, z) in image pixels, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landmarks: Option<Vec<[f32; 3]>>,
}

/// The faces of one image and which models answered.
#[derive(Debug, Clone)]
pub struct FrameAnalysis {
    pub faces: Vec<FaceResult>,
    /// Index into `faces` of the face the answer is about (see [`main_face`]), if any.
    pub main_face: Option<usize>,
    pub tier: Tier,
    pub model: String,
    pub model_version: String,
    /// The precision of the weights that answered, for models with files per precision.
    pub precision: Option<Precision>,
    pub skipped: Vec<String>,
    /// Detector input size that found the faces (`None` for aligned faces).
    pub detector_input: Option<u32>,
    /// How the faces were found.
    pub search: FaceSearch,
    /// What the answer assumed that the caller should know.
    pub warnings: Vec<String>,
    /// Milliseconds spent in each stage.
    pub stages_ms: StageTimes,
}

/// How the faces of an image were found. A photo in which the detector finds nothing gets further looks, in this
/// order, until one finds a face the landmark model confirms: tiles, rotations, the whole image (when it has a face
/// crop's size and shape). Rotations are also tried when the best upright face is doubtful ([`DOUBTFUL_SCORE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceSearch {
    /// The request said the image is one aligned face.
    Aligned,
    /// The detector on the whole image.
    Detector,
    /// The detector on overlapping tiles of a large image (faces too small to be found in the whole of it).
    Tiles,
    /// The detector on the image turned this many degrees clockwise (a photo stored sideways without EXIF).
    Rotated(u32),
    /// Nothing found in a small, roughly square image in which the landmark model sees a face: the image read as one
    /// face crop.
    WholeImage,
}

impl FaceSearch {
    /// Its name in answers (`metadata.face_search`).
    pub fn as_str(self) -> &'static str {
        match self {
            FaceSearch::Aligned => "aligned",
            FaceSearch::Detector => "detector",
            FaceSearch::Tiles => "tiles",
            FaceSearch::Rotated(_) => "rotated",
            FaceSearch::WholeImage => "whole_image",
        }
    }
}

/// Longest side of an image that is read as one face crop when no face is found in it.
pub const FACE_CROP_MAX_SIDE: u32 = 160;
/// Least face presence the landmark model must see in what the further looks of [`FaceSearch`] find.
pub const FACE_PRESENCE_MIN: f32 = 0.5;
/// A photo whose best upright face scores under this is also tried turned, and the turn answers when it finds a face
/// that scores higher.
pub const DOUBTFUL_SCORE: f32 = 0.6;

/// Whether an image of `width × height` in which no face was found has the shape of a face crop: small, and no
/// longer than 4:3 either way.
fn looks_like_a_face_crop(width: u32, height: u32) -> bool {
    let (short, long) = (width.min(height), width.max(height));
    long <= FACE_CROP_MAX_SIDE && short > 0 && 3 * long <= 4 * short
}

/// What [`FaceAnalyzer::find_faces`] found.
struct Found {
    detections: Vec<detect::Detection>,
    detector_input: Option<u32>,
    search: FaceSearch,
    /// The image turned upright, when a rotation found the faces.
    turned: Option<RgbImage>,
    warnings: Vec<String>,
    skipped: Vec<String>,
}

/// The face an image's answer is about: the largest, each box's area weighed by how far its detector score clears
/// the threshold, so a large object barely taken for a face does not outweigh a clear face.
fn main_face(detections: &[detect::Detection]) -> Option<usize> {
    let prominence = |d: &detect::Detection| d.face_box.area() * ((d.score - detect::SCORE_THRESHOLD) / (1.0 - detect::SCORE_THRESHOLD)).max(0.05);
    (0..detections.len()).max_by(|&a, &b| prominence(&detections[a]).total_cmp(&prominence(&detections[b])))
}

/// One analysed frame of a video: its time and the main face's emotions (the neutral prior when it has no face).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct VideoMoment {
    /// Seconds from the start of the video.
    pub t: f64,
    /// Faces found in the frame.
    pub faces: usize,
    pub dominant_emotion: Emotion,
    #[serde(serialize_with = "crate::result::serialize_prob")]
    pub confidence: f32,
    pub emotions: EmotionScores,
}

/// Milliseconds spent in each stage of the pipeline (model loading included on first use).
#[derive(Debug, Clone, Copy, Default, Serialize, schemars::JsonSchema)]
pub struct StageTimes {
    pub decode: f64,
    pub detect: f64,
    pub landmarks: f64,
    pub expression: f64,
}

/// Milliseconds since `started`, to 0.01 ms.
fn elapsed_ms(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1e5).round() / 100.0
}

impl FrameAnalysis {
    /// The main face's distribution, or the neutral prior when no face was found.
    pub fn emotions(&self) -> EmotionScores {
        self.main_face.map_or_else(EmotionScores::neutral_prior, |i| self.faces[i].emotions)
    }
}

/// Face analysis with lazily loaded models; one per process, shared by all requests.
pub struct FaceAnalyzer {
    detector: Rung<detect::Detector>,
    mesh: Rung<mesh::FaceMesh>,
    ladder: Ladder<Box<dyn FaceModel>>,
    /// What answers for an image or video without a face.
    neutral_prior: Arc<ModelEntry>,
    limits: Limits,
    sampling: video::Sampling,
}

impl FaceAnalyzer {
    /// Builds the pipeline and ladder from the registry's face models, and the custom models a request may name;
    /// nothing is read from disk until the first analysis.
    pub fn new(config: &Config, registry: &Registry) -> Self {
        let mut ladder = Ladder::new("face", registry.ladder(Modality::Face).into_iter().map(|entry| Rung::new(entry, load)).collect());
        for entry in registry.custom(Modality::Face) {
            ladder.add_named(Rung::new(entry, load));
        }
        FaceAnalyzer {
            detector: Rung::new(registry.stage(Architecture::TinyYoloFaceDetector), detect::Detector::load),
            mesh: Rung::new(registry.stage(Architecture::FaceMesh), mesh::FaceMesh::load),
            ladder,
            neutral_prior: registry.stage(Architecture::NeutralPrior),
            limits: config.limits,
            sampling: video::Sampling { interval_s: 1.0 / config.video_sample_fps, max_frames: config.max_video_frames },
        }
    }

    /// Adds a model registered in Rust, answering when a request names `manifest.id`.
    pub fn register(&mut self, manifest: ModelManifest, model: Arc<dyn FaceModel>) -> std::result::Result<(), LoadError> {
        self.ladder.register(manifest, Modality::Face, move || Box::new(model.clone()) as Box<dyn FaceModel>)
    }

    /// Decodes an image file (JPEG, PNG, WebP, GIF, BMP) within the size and pixel limits; `field` names the request
    /// field in errors.
    pub fn decode(&self, field: &str, bytes: &[u8]) -> Result<image::Decoded> {
        self.limits.media_file().check(field, bytes.len() as u64)?;
        image::decode(field, bytes, self.limits.image())
    }

    /// Analyses one image or video file (told apart by its first bytes); `field` names the request field in errors.
    pub fn analyze(&self, field: &str, bytes: &[u8], options: &FaceOptions) -> Result<AnalysisResult> {
        let started = Instant::now();
        self.limits.media_file().check(field, bytes.len() as u64)?;
        options.budget.check()?;
        self.ladder.check_request(options.model.as_deref(), options.tier)?;
        if let Some(container) = video::Container::sniff(bytes) {
            return self.analyze_video(field, bytes, container, options, started);
        }
        let decoded = image::decode(field, bytes, self.limits.image())?;
        let decode_ms = elapsed_ms(started);
        let (source, exif_reoriented) = (decoded.source, decoded.reoriented);
        let (image, mut frame) = self.analyze_photo(decoded.rgb, options)?;
        frame.stages_ms.decode = decode_ms;
        let rotated_degrees = match frame.search {
            FaceSearch::Rotated(degrees) => Some(degrees),
            _ => None,
        };
        let details = Details {
            precision: frame.precision,
            face: Some(FaceDetails {
                faces_detected: frame.faces.iter().filter(|f| f.score > 0.0).count(),
                image: Some(ImageFacts { width: image.width(), height: image.height(), format: source, exif_reoriented, rotated_degrees }),
                face_search: Some(frame.search.as_str()),
                detector_input: frame.detector_input,
                stages_ms: Some(frame.stages_ms),
                ..FaceDetails::default()
            }),
            ..Details::default()
        };
        let annotated = options.annotate.then(|| annotate::draw(&image, &frame.faces)).transpose()?;
        let mut result = AnalysisResult::new(
            frame.emotions(),
            Metadata {
                modality: Modality::Face,
                tier: frame.tier,
                model: frame.model,
                model_version: frame.model_version,
                latency_ms: elapsed_ms(started),
                skipped_tiers: frame.skipped,
                warnings: frame.warnings,
                details,
            },
        );
        result.faces = Some(frame.faces);
        result.annotated_png = annotated;
        Ok(result)
    }

    /// Samples a video's frames, analyses each, and answers with their mean (over the frames with a face) and the
    /// timeline.
    fn analyze_video(&self, field: &str, bytes: &[u8], container: video::Container, options: &FaceOptions, started: Instant) -> Result<AnalysisResult> {
        if options.landmarks || options.annotate {
            return Err(Error::invalid(field, "is a video: landmarks and annotate are for images (a video answers with a timeline)"));
        }
        let mut timeline = Vec::new();
        let (mut first_with_face, mut skipped) = (None::<FrameAnalysis>, Vec::new());
        let limits = video::VideoLimits { frame_pixels: self.limits.video_frame(), sampling: self.sampling, budget: &options.budget, progress: &options.progress };
        let info = video::for_each_sampled_frame(field, bytes, container, &limits, |t, frame| {
            let analysis = self.analyze_frame(frame, options)?;
            let emotions = analysis.emotions();
            let (dominant_emotion, confidence) = emotions.dominant();
            timeline.push(VideoMoment { t, faces: analysis.faces.len(), dominant_emotion, confidence, emotions });
            if analysis.faces.is_empty() {
                skipped = analysis.skipped;
            } else if first_with_face.is_none() {
                first_with_face = Some(analysis);
            }
            Ok(())
        })?;
        let with_faces: Vec<&VideoMoment> = timeline.iter().filter(|m| m.faces > 0).collect();
        let emotions = if with_faces.is_empty() { EmotionScores::neutral_prior() } else { EmotionScores::weighted_mean(with_faces.iter().map(|m| (&m.emotions, 1.0))) };
        let most_faces = timeline.iter().map(|m| m.faces).max().unwrap_or(0);
        let frames_with_faces = with_faces.len();
        let (tier, model, model_version, precision) = match first_with_face {
            Some(first) => {
                skipped = first.skipped;
                (first.tier, first.model, first.model_version, first.precision)
            }
            None => (Tier::Fallback, self.neutral_prior.id().to_owned(), self.neutral_prior.version().to_owned(), None),
        };
        let details = Details {
            precision,
            face: Some(FaceDetails {
                faces_detected: most_faces,
                frames_analyzed: Some(timeline.len()),
                frames_with_faces: Some(frames_with_faces),
                video: Some(info),
                ..FaceDetails::default()
            }),
            ..Details::default()
        };
        let metadata =
            Metadata { modality: Modality::Face, tier, model, model_version, latency_ms: elapsed_ms(started), skipped_tiers: skipped, warnings: Vec::new(), details };
        let mut result = AnalysisResult::new(emotions, metadata);
        result.timeline = Some(timeline);
        Ok(result)
    }

    /// Finds and scores every face of a video frame (or the frame as one face when `aligned_face`).
    pub fn analyze_frame(&self, image: &RgbImage, options: &FaceOptions) -> Result<FrameAnalysis> {
        let started = Instant::now();
        let found = self.find_faces(image, options, false)?;
        self.score_faces(image, found, options, elapsed_ms(started))
    }

    /// Finds and scores the faces of a photo, looking harder than in a video frame when the detector finds none at
    /// first (see [`FaceSearch`]). The image returned is the one the boxes refer to: the photo turned upright when a
    /// rotation found the faces.
    fn analyze_photo(&self, image: RgbImage, options: &FaceOptions) -> Result<(RgbImage, FrameAnalysis)> {
        let started = Instant::now();
        let mut found = self.find_faces(&image, options, true)?;
        let image = found.turned.take().unwrap_or(image);
        let frame = self.score_faces(&image, found, options, elapsed_ms(started))?;
        Ok((image, frame))
    }

    /// The face boxes of an image: the whole image when `aligned_face`, else the detector's, and for a photo the
    /// further looks of [`FaceSearch`] in turn while none is found.
    fn find_faces(&self, image: &RgbImage, options: &FaceOptions, photo: bool) -> Result<Found> {
        options.budget.check()?;
        let whole = detect::Detection { face_box: FaceBox { x: 0.0, y: 0.0, width: image.width() as f32, height: image.height() as f32 }, score: 1.0 };
        let mut found = Found { detections: Vec::new(), detector_input: None, search: FaceSearch::Detector, turned: None, warnings: Vec::new(), skipped: Vec::new() };
        if options.aligned_face {
            found.detections.push(whole);
            found.search = FaceSearch::Aligned;
            return Ok(found);
        }
        let detector = match self.detector.get() {
            Ok(detector) => detector,
            Err(reason) => {
                found.skipped.push(format!("detector ({}): {reason}", self.detector.entry().id()));
                return Ok(found);
            }
        };
        let model_error = |e: tract_onnx::prelude::TractError| Error::Model { model: self.detector.entry().id().to_owned(), message: format!("{e:#}") };
        let (detections, size) = detector.detect(image).map_err(model_error)?;
        (found.detections, found.detector_input) = (detections, Some(size));
        let best_upright = found.detections.first().map_or(0.0, |d| d.score);
        if !photo || best_upright >= DOUBTFUL_SCORE {
            return Ok(found);
        }
        // The further looks run the detector over many more windows, so what they find must also be a face to the
        // landmark model.
        if found.detections.is_empty() {
            options.budget.check()?;
            found.detections = self.confirmed(image, detector.detect_in_tiles(image).map_err(model_error)?);
            if !found.detections.is_empty() {
                (found.search, found.detector_input) = (FaceSearch::Tiles, Some(detect::INPUT_SIZES[0]));
                return Ok(found);
            }
        }
        options.budget.check()?;
        if let Some(rotated) = detector.detect_rotated(image).map_err(model_error)? {
            let faces = self.confirmed(&rotated.image, rotated.faces);
            if faces.first().is_some_and(|d| d.score > best_upright) {
                found.warnings.push(format!(
                    "no clear face was found upright; faces were found with the image turned {} degrees clockwise, and their boxes refer to the turned image",
                    rotated.degrees
                ));
                (found.search, found.detections, found.detector_input) = (FaceSearch::Rotated(rotated.degrees), faces, Some(rotated.input_size));
                found.turned = Some(rotated.image);
                return Ok(found);
            }
        }
        if !found.detections.is_empty() {
            return Ok(found);
        }
        if looks_like_a_face_crop(image.width(), image.height()) && self.landmark_model_sees_a_face(image, &whole.face_box) {
            found.warnings.push(format!(
                "no face was detected; the whole {}x{} image was read as one face (send aligned_face: true when it is one)",
                image.width(),
                image.height()
            ));
            found.detections.push(detect::Detection { score: 0.0, ..whole });
            found.search = FaceSearch::WholeImage;
        }
        Ok(found)
    }

    /// The detections in which the landmark model sees a face.
    fn confirmed(&self, image: &RgbImage, detections: Vec<detect::Detection>) -> Vec<detect::Detection> {
        detections.into_iter().filter(|d| self.landmark_model_sees_a_face(image, &d.face_box)).collect()
    }

    /// Whether the landmark model finds a face filling `face_box` (presence at least [`FACE_PRESENCE_MIN`]); true when
    /// it is unavailable, so that its absence does not hide a face.
    fn landmark_model_sees_a_face(&self, image: &RgbImage, face_box: &FaceBox) -> bool {
        match self.mesh.get() {
            Ok(mesh) => mesh.landmarks(image, face_box).is_ok_and(|l| l.presence >= FACE_PRESENCE_MIN),
            Err(_) => true,
        }
    }

    /// Scores the faces `found` in `image` with the tier ladder; `detect_ms` is the time spent finding them.
    fn score_faces(&self, image: &RgbImage, found: Found, options: &FaceOptions, detect_ms: f64) -> Result<FrameAnalysis> {
        let Found { detections, detector_input, search, warnings, mut skipped, .. } = found;
        let mut stages_ms = StageTimes { detect: detect_ms, ..StageTimes::default() };
        let aligned = matches!(search, FaceSearch::Aligned | FaceSearch::WholeImage);
        if detections.is_empty() {
            return Ok(FrameAnalysis {
                faces: Vec::new(),
                main_face: None,
                tier: Tier::Fallback,
                model: self.neutral_prior.id().to_owned(),
                model_version: self.neutral_prior.version().to_owned(),
                precision: None,
                skipped,
                detector_input,
                search,
                warnings,
                stages_ms,
            });
        }
        options.budget.check()?;
        let mesh = match self.mesh.get() {
            Ok(mesh) => Some(mesh),
            Err(reason) => {
                skipped.push(format!("landmarks ({}): {reason}", self.mesh.entry().id()));
                None
            }
        };
        let cells: Vec<LandmarkCell> = detections.iter().map(|_| OnceLock::new()).collect();
        let inputs: Vec<FaceInput> = detections
            .iter()
            .zip(&cells)
            .map(|(d, landmarks)| FaceInput { image, face_box: d.face_box, aligned, mesh: mesh.as_deref(), landmarks })
            .collect();
        // Landmarks are found on a thread of their own while the expression models run.
        let (ran, landmarks_ms) = std::thread::scope(|scope| {
            let landmark_job = scope.spawn(|| {
                let started = Instant::now();
                inputs.iter().for_each(|input| drop(input.landmarks()));
                elapsed_ms(started)
            });
            let started = Instant::now();
            let ran = self.ladder.run_requested(options.model.as_deref(), options.tier, |model| Ok(mean_of_members(&model.score_members(&inputs)?)));
            stages_ms.expression = elapsed_ms(started);
            (ran, landmark_job.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        });
        stages_ms.landmarks = landmarks_ms;
        let (scores, answered) = ran?;
        skipped.extend(answered.skipped.iter().cloned());
        if let Some(reason) = inputs.iter().find_map(|input| input.landmarks().err()).filter(|_| mesh.is_some()) {
            skipped.push(format!("landmarks ({}): {reason}", self.mesh.entry().id()));
        }
        let faces: Vec<FaceResult> = detections
            .iter()
            .zip(&inputs)
            .zip(scores)
            .map(|((d, input), emotions)| {
                let (dominant_emotion, confidence) = emotions.dominant();
                let landmarks = input.landmarks().ok();
                FaceResult {
                    face_box: round_box(d.face_box),
                    score: d.score,
                    dominant_emotion,
                    confidence,
                    emotions,
                    geometry: input.geometry().map(|g| g.rounded()),
                    landmark_presence: landmarks.map(|l| l.presence),
                    landmarks: landmarks.filter(|_| options.landmarks).map(|l| l.points.iter().map(|p| p.map(|v| (v * 10.0).round() / 10.0)).collect()),
                }
            })
            .collect();
        Ok(FrameAnalysis {
            faces,
            main_face: main_face(&detections),
            tier: answered.entry.tier(),
            model: answered.entry.id().to_owned(),
            model_version: answered.entry.version().to_owned(),
            precision: answered.entry.weights_precision(),
            skipped,
            detector_input,
            search,
            warnings,
            stages_ms,
        })
    }

    /// Each member's probabilities for aligned face crops (for evaluation): the primary tier's members, or the
    /// rung at `tier`. Landmarks are computed only for rungs below the primary.
    pub fn score_aligned(&self, images: &[RgbImage], tier: Tier) -> Result<Vec<MemberScores>> {
        let mesh = if tier > Tier::Primary { Some(self.mesh.get().map_err(|reason| Error::ModelUnavailable { modality: "face", reasons: reason.to_string() })?) } else { None };
        let cells: Vec<LandmarkCell> = images.iter().map(|_| OnceLock::new()).collect();
        let inputs: Vec<FaceInput> = images
            .iter()
            .zip(&cells)
            .map(|(image, landmarks)| {
                let face_box = FaceBox { x: 0.0, y: 0.0, width: image.width() as f32, height: image.height() as f32 };
                FaceInput { image, face_box, aligned: true, mesh: mesh.as_deref(), landmarks }
            })
            .collect();
        if mesh.is_some() {
            parallel_map(&inputs, |input| drop(input.landmarks()));
        }
        let (members, answered) = self.ladder.run(Some(tier), |model| model.score_members(&inputs))?;
        if answered.entry.tier() != tier {
            return Err(Error::ModelUnavailable { modality: "face", reasons: answered.skipped.join("; ") });
        }
        Ok(members)
    }

    /// Loads the detector, landmark model and primary ensemble now.
    pub fn warm_up(&self) -> std::result::Result<(), LoadError> {
        self.detector.get()?;
        self.mesh.get()?;
        self.ladder.warm_up()
    }

    /// Ids of the face models loaded so far.
    pub fn loaded_models(&self) -> Vec<String> {
        let stages = [(self.detector.entry(), self.detector.is_loaded()), (self.mesh.entry(), self.mesh.is_loaded())];
        stages.iter().filter(|(_, loaded)| *loaded).map(|(entry, _)| entry.id().to_owned()).chain(self.ladder.loaded_models()).collect()
    }

    /// Every face model with its load state, files and manifest entry.
    pub fn models(&self) -> Vec<ModelStatus> {
        let mut models = vec![self.detector.status(), self.mesh.status()];
        models.extend(self.ladder.models());
        models
    }
}

/// The members' distributions averaged with their weights, per face: how a rung with several members answers.
pub fn mean_of_members(members: &[MemberScores]) -> Vec<EmotionScores> {
    let faces = members.first().map_or(0, |m| m.scores.len());
    (0..faces).map(|i| EmotionScores::weighted_mean(members.iter().map(|m| (&m.scores[i], m.weight)))).collect()
}

fn round_box(b: FaceBox) -> FaceBox {
    let r = |v: f32| (v * 10.0).round() / 10.0;
    FaceBox { x: r(b.x), y: r(b.y), width: r(b.width), height: r(b.height) }
}

/// Secondary tier: [`geometry::rules`] over each face's landmarks.
struct GeometryRules {
    id: String,
}

impl FaceModel for GeometryRules {
    fn score_members(&self, faces: &[FaceInput]) -> Result<Vec<MemberScores>> {
        let scores = faces
            .iter()
            .map(|f| {
                let landmarks = f.landmarks().map_err(|reason| Error::Model { model: self.id.clone(), message: format!("no landmarks: {reason}") })?;
                let geometry = Geometry::from_landmarks(&landmarks.points).ok_or_else(|| Error::Model { model: self.id.clone(), message: "the landmarks give no face width".into() })?;
                Ok(geometry::rules(&geometry))
            })
            .collect::<Result<_>>()?;
        Ok(vec![MemberScores { name: "geometry_rules".into(), weight: 1.0, scores }])
    }
}

/// Fallback tier: [`EmotionScores::neutral_prior`] for every face.
struct NeutralPrior;

impl FaceModel for NeutralPrior {
    fn score_members(&self, faces: &[FaceInput]) -> Result<Vec<MemberScores>> {
        Ok(vec![MemberScores { name: "neutral_prior".into(), weight: 1.0, scores: vec![EmotionScores::neutral_prior(); faces.len()] }])
    }
}

/// Loads a face classifier by its architecture.
fn load(entry: &ModelEntry) -> std::result::Result<Box<dyn FaceModel>, LoadError> {
    Ok(match entry.manifest.architecture {
        Architecture::ExpressionEnsemble | Architecture::ImageClassifier => Box::new(expression::Ensemble::load(entry)?),
        Architecture::GeometryRules => Box::new(GeometryRules { id: entry.id().to_owned() }),
        Architecture::NeutralPrior => Box::new(NeutralPrior),
        other => return Err(LoadError::BadManifest { path: entry.folder.display().to_string(), message: format!("{other:?} is not a face classifier") }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prior_is_neutral_and_unsure() {
        let (emotion, confidence) = EmotionScores::neutral_prior().dominant();
        assert_eq!(emotion, Emotion::Neutral);
        assert!((confidence - crate::emotion::NEUTRAL_PRIOR).abs() < 1e-6);
    }

    #[test]
    fn members_are_averaged_per_face_with_their_weights() {
        let joy = EmotionScores::from_logits(&[0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0]);
        let fear = EmotionScores::from_logits(&[0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0]);
        let member = |name: &str, weight, scores| MemberScores { name: name.into(), weight, scores };
        let mean = mean_of_members(&[member("a", 1.0, vec![joy, fear]), member("b", 1.0, vec![joy, joy])]);
        assert_eq!(mean[0].dominant().0, Emotion::Joy);
        assert!((mean[1].get(Emotion::Fear) - mean[1].get(Emotion::Joy)).abs() < 1e-6);
        let leaning = mean_of_members(&[member("a", 3.0, vec![fear]), member("b", 1.0, vec![joy])]);
        assert!((leaning[0].get(Emotion::Fear) - 3.0 * leaning[0].get(Emotion::Joy)).abs() < 1e-3);
    }

    #[test]
    fn face_crops_are_small_and_nearly_square() {
        assert!(looks_like_a_face_crop(48, 48) && looks_like_a_face_crop(120, 160));
        assert!(!looks_like_a_face_crop(150, 100) && !looks_like_a_face_crop(161, 161) && !looks_like_a_face_crop(0, 10));
    }

    #[test]
    fn the_main_face_weighs_size_by_detector_confidence() {
        let detection = |width: f32, score: f32| detect::Detection { face_box: FaceBox { x: 0.0, y: 0.0, width, height: width }, score };
        // A badge barely over the threshold does not win over a clear face because it is larger.
        assert_eq!(main_face(&[detection(300.0, 0.55), detection(150.0, 0.80)]), Some(1));
        // Of two clear faces the larger is the subject.
        assert_eq!(main_face(&[detection(100.0, 0.90), detection(200.0, 0.80)]), Some(1));
        assert_eq!(main_face(&[]), None);
    }
}
