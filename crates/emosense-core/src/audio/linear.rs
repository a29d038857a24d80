//! Secondary tier: multinomial logistic regression over the standardised feature vector, in pure Rust.

use std::path::Path;

use serde::Deserialize;

use super::{features, AudioModel, Window};
use crate::emotion::{Emotion, EmotionScores};
use crate::error::{LoadError, Result};

/// `linear.json` as written by `tools/audio/train.py`.
#[derive(Deserialize)]
struct LinearFile {
    labels: Vec<String>,
    feature_names: Vec<String>,
    mean: Vec<f32>,
    scale: Vec<f32>,
    /// Row-major `[label][feature]`.
    weights: Vec<Vec<f32>>,
    bias: Vec<f32>,
}

pub(super) struct Linear {
    mean: Vec<f32>,
    scale: Vec<f32>,
    weights: Vec<Vec<f32>>,
    bias: Vec<f32>,
}

impl Linear {
    pub(super) fn load(path: &Path) -> std::result::Result<Self, LoadError> {
        let unreadable = |message: String| LoadError::unreadable(path, message);
        let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
        let file: LinearFile = serde_json::from_slice(&bytes).map_err(|e| unreadable(e.to_string()))?;
        Emotion::check_order(&file.labels).map_err(unreadable)?;
        if file.feature_names != features::names() {
            return Err(unreadable("trained on other features than this build computes".into()));
        }
        let width = file.feature_names.len();
        let sizes_agree = file.mean.len() == width
            && file.scale.len() == width
            && file.weights.len() == 7
            && file.weights.iter().all(|row| row.len() == width)
            && file.bias.len() == 7;
        if !sizes_agree {
            return Err(unreadable("mean, scale, weights and bias disagree in size".into()));
        }
        Ok(Linear { mean: file.mean, scale: file.scale, weights: file.weights, bias: file.bias })
    }
}

impl AudioModel for Linear {
    fn score(&self, windows: &[Window]) -> Result<Vec<EmotionScores>> {
        Ok(windows
            .iter()
            .map(|window| {
                let z: Vec<f32> = window.features.iter().zip(&self.mean).zip(&self.scale).map(|((v, m), s)| (v - m) / s).collect();
                let logits: [f32; 7] = std::array::from_fn(|k| self.bias[k] + self.weights[k].iter().zip(&z).map(|(w, v)| w * v).sum::<f32>());
                EmotionScores::from_logits(&logits)
            })
            .collect())
    }
}
