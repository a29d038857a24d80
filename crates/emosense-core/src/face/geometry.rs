//! Geometric features of a face from its FaceMesh landmarks, each divided by the face's width so that they do not
//! depend on image size, and the secondary tier: documented rules mapping their departures from a neutral face to
//! emotions (the facial actions of FACS: lip-corner pull for joy, brow raise and jaw drop for surprise, ...).

use serde::Serialize;

use crate::emotion::{Emotion, EmotionScores};

/// FaceMesh indices used (MediaPipe's canonical numbering; "left"/"right" are the subject's).
mod point {
    pub const UPPER_LIP: usize = 13;
    pub const LOWER_LIP: usize = 14;
    pub const MOUTH_RIGHT: usize = 61;
    pub const MOUTH_LEFT: usize = 291;
    pub const RIGHT_EYE_TOP: usize = 159;
    pub const RIGHT_EYE_BOTTOM: usize = 145;
    pub const LEFT_EYE_TOP: usize = 386;
    pub const LEFT_EYE_BOTTOM: usize = 374;
    pub const RIGHT_BROW: usize = 105;
    pub const LEFT_BROW: usize = 334;
    pub const RIGHT_EYE_OUTER: usize = 33;
    pub const LEFT_EYE_OUTER: usize = 263;
    pub const RIGHT_CHEEK: usize = 234;
    pub const LEFT_CHEEK: usize = 454;
}

/// Face measurements, as fractions of the face's width (cheek to cheek) except the roll.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Geometry {
    /// Height of the mouth corners above the middle of the lips (positive: corners lifted, as in a smile).
    pub smile: f32,
    /// Distance between the mouth corners.
    pub mouth_width: f32,
    /// Gap between the inner lips.
    pub mouth_open: f32,
    /// Gap between the eyelids of the subject's left eye.
    pub eye_open_left: f32,
    /// Gap between the eyelids of the subject's right eye.
    pub eye_open_right: f32,
    /// Height of the brows above the upper eyelids, both sides averaged.
    pub brow_raise: f32,
    /// Angle of the eye line from horizontal, in degrees, clockwise in the image.
    pub roll_degrees: f32,
}

impl Geometry {
    /// Measures a face from its 468 landmarks (image pixels); `None` when there are too few points or the face
    /// has no width.
    pub fn from_landmarks(points: &[[f32; 3]]) -> Option<Geometry> {
        if points.len() < 468 {
            return None;
        }
        let p = |i: usize| (points[i][0], points[i][1]);
        let distance = |a: usize, b: usize| (p(a).0 - p(b).0).hypot(p(a).1 - p(b).1);
        let face_width = distance(point::RIGHT_CHEEK, point::LEFT_CHEEK);
        if !(face_width > 1e-3) {
            return None;
        }
        let eye_line = (p(point::LEFT_EYE_OUTER).0 - p(point::RIGHT_EYE_OUTER).0, p(point::LEFT_EYE_OUTER).1 - p(point::RIGHT_EYE_OUTER).1);
        let length = eye_line.0.hypot(eye_line.1).max(1e-6);
        let down = (-eye_line.1 / length, eye_line.0 / length);
        let below = |upper: (f32, f32), lower: (f32, f32)| ((lower.0 - upper.0) * down.0 + (lower.1 - upper.1) * down.1) / face_width;
        let midpoint = |a: usize, b: usize| ((p(a).0 + p(b).0) / 2.0, (p(a).1 + p(b).1) / 2.0);
        Some(Geometry {
            smile: below(midpoint(point::MOUTH_RIGHT, point::MOUTH_LEFT), midpoint(point::UPPER_LIP, point::LOWER_LIP)),
            mouth_width: distance(point::MOUTH_RIGHT, point::MOUTH_LEFT) / face_width,
            mouth_open: distance(point::UPPER_LIP, point::LOWER_LIP) / face_width,
            eye_open_left: distance(point::LEFT_EYE_TOP, point::LEFT_EYE_BOTTOM) / face_width,
            eye_open_right: distance(point::RIGHT_EYE_TOP, point::RIGHT_EYE_BOTTOM) / face_width,
            brow_raise: (below(p(point::RIGHT_BROW), p(point::RIGHT_EYE_TOP)) + below(p(point::LEFT_BROW), p(point::LEFT_EYE_TOP))) / 2.0,
            roll_degrees: eye_line.1.atan2(eye_line.0).to_degrees(),
        })
    }

    /// The same measurements rounded for JSON.
    pub fn rounded(&self) -> Geometry {
        let r = |v: f32| (v * 1e4).round() / 1e4;
        Geometry {
            smile: r(self.smile),
            mouth_width: r(self.mouth_width),
            mouth_open: r(self.mouth_open),
            eye_open_left: r(self.eye_open_left),
            eye_open_right: r(self.eye_open_right),
            brow_raise: r(self.brow_raise),
            roll_degrees: (self.roll_degrees * 10.0).round() / 10.0,
        }
    }
}

/// A neutral face's measurements and how far each typically moves in an expression (the unit of the rules). Set by
/// hand from FaceMesh on the public-domain portraits under `tests/data/images`, not fitted to any labelled data.
#[derive(Debug, Clone, Copy)]
struct Neutral {
    value: f32,
    spread: f32,
}

const SMILE: Neutral = Neutral { value: 0.0, spread: 0.02 };
const MOUTH_WIDTH: Neutral = Neutral { value: 0.40, spread: 0.04 };
const MOUTH_OPEN: Neutral = Neutral { value: 0.01, spread: 0.05 };
const EYE_OPEN: Neutral = Neutral { value: 0.065, spread: 0.015 };
const BROW_RAISE: Neutral = Neutral { value: 0.15, spread: 0.025 };

/// The secondary tier's rules: each emotion's score is a sum of the facial actions that mark it (in units of their
/// typical movement), and the distribution is their softmax with neutral as the constant baseline.
pub fn rules(g: &Geometry) -> EmotionScores {
    let z = |value: f32, n: Neutral| ((value - n.value) / n.spread).clamp(-4.0, 4.0);
    let up = |v: f32| v.max(0.0);
    let down = |v: f32| (-v).max(0.0);
    let smile = z(g.smile, SMILE);
    let wide = z(g.mouth_width, MOUTH_WIDTH);
    let open = z(g.mouth_open, MOUTH_OPEN);
    let eyes = z((g.eye_open_left + g.eye_open_right) / 2.0, EYE_OPEN);
    let brows = z(g.brow_raise, BROW_RAISE);
    let mut logits = [0.0f32; 7];
    logits[Emotion::Joy.index()] = 1.2 * up(smile) + 0.6 * up(wide) - 0.3 * up(brows);
    logits[Emotion::Surprise.index()] = 0.9 * up(open) + 0.8 * up(brows) + 0.5 * up(eyes) - 0.5 * up(smile);
    logits[Emotion::Fear.index()] = 0.6 * up(eyes) + 0.5 * up(brows) + 0.4 * up(wide) + 0.3 * up(open) - 0.6 * up(smile);
    logits[Emotion::Anger.index()] = 0.9 * down(brows) + 0.5 * down(eyes) - 0.4 * up(smile) - 0.3 * up(open);
    logits[Emotion::Sadness.index()] = 0.9 * down(smile) + 0.3 * down(eyes) - 0.3 * up(open);
    logits[Emotion::Disgust.index()] = 0.5 * down(smile) + 0.4 * down(eyes) + 0.4 * down(brows) - 0.3 * up(open);
    logits[Emotion::Neutral.index()] = 1.0;
    EmotionScores::from_logits(&logits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schematic frontal face 200 px wide: cheeks at x = 0 and 200, eyes at y = 80, mouth at y = 150.
    fn face(smile_lift: f32, mouth_gap: f32, eye_gap: f32, brow_height: f32) -> Vec<[f32; 3]> {
        let mut points = vec![[100.0, 100.0, 0.0]; 468];
        let mut set = |i: usize, x: f32, y: f32| points[i] = [x, y, 0.0];
        set(point::RIGHT_CHEEK, 0.0, 100.0);
        set(point::LEFT_CHEEK, 200.0, 100.0);
        set(point::RIGHT_EYE_OUTER, 40.0, 80.0);
        set(point::LEFT_EYE_OUTER, 160.0, 80.0);
        set(point::RIGHT_EYE_TOP, 60.0, 80.0 - eye_gap / 2.0);
        set(point::RIGHT_EYE_BOTTOM, 60.0, 80.0 + eye_gap / 2.0);
        set(point::LEFT_EYE_TOP, 140.0, 80.0 - eye_gap / 2.0);
        set(point::LEFT_EYE_BOTTOM, 140.0, 80.0 + eye_gap / 2.0);
        set(point::RIGHT_BROW, 60.0, 80.0 - eye_gap / 2.0 - brow_height);
        set(point::LEFT_BROW, 140.0, 80.0 - eye_gap / 2.0 - brow_height);
        set(point::UPPER_LIP, 100.0, 150.0 - mouth_gap / 2.0);
        set(point::LOWER_LIP, 100.0, 150.0 + mouth_gap / 2.0);
        set(point::MOUTH_RIGHT, 60.0, 150.0 - smile_lift);
        set(point::MOUTH_LEFT, 140.0, 150.0 - smile_lift);
        points
    }

    #[test]
    fn measurements_are_fractions_of_face_width() {
        let g = Geometry::from_landmarks(&face(4.0, 10.0, 12.0, 22.0)).unwrap();
        assert!((g.smile - 0.02).abs() < 1e-6, "{g:?}");
        assert!((g.mouth_width - 0.4).abs() < 1e-6);
        assert!((g.mouth_open - 0.05).abs() < 1e-6);
        assert!((g.eye_open_left - 0.06).abs() < 1e-6 && (g.eye_open_right - 0.06).abs() < 1e-6);
        assert!((g.brow_raise - 0.11).abs() < 1e-6);
        assert_eq!(g.roll_degrees, 0.0);
    }

    #[test]
    fn roll_does_not_change_the_measurements() {
        let upright = Geometry::from_landmarks(&face(4.0, 10.0, 12.0, 22.0)).unwrap();
        let angle = 20f32.to_radians();
        let turned: Vec<[f32; 3]> =
            face(4.0, 10.0, 12.0, 22.0).iter().map(|&[x, y, z]| [x * angle.cos() - y * angle.sin(), x * angle.sin() + y * angle.cos(), z]).collect();
        let g = Geometry::from_landmarks(&turned).unwrap();
        assert!((g.roll_degrees - 20.0).abs() < 1e-3, "{g:?}");
        assert!((g.smile - upright.smile).abs() < 1e-5 && (g.brow_raise - upright.brow_raise).abs() < 1e-5);
    }

    #[test]
    fn rules_read_the_expressions_they_describe() {
        let dominant = |points: Vec<[f32; 3]>| rules(&Geometry::from_landmarks(&points).unwrap()).dominant().0;
        assert_eq!(dominant(face(0.0, 2.0, 13.0, 30.0)), Emotion::Neutral);
        assert_eq!(dominant(face(12.0, 4.0, 13.0, 30.0)), Emotion::Joy);
        assert_eq!(dominant(face(0.0, 40.0, 18.0, 40.0)), Emotion::Surprise);
        assert_eq!(dominant(face(0.0, 2.0, 9.0, 20.0)), Emotion::Anger);
        assert_eq!(dominant(face(-8.0, 2.0, 12.0, 30.0)), Emotion::Sadness);
    }
}
