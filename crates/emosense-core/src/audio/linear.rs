//! Secondary tier: multinomial logistic regression over the standardised feature vector, in pure Rust.

use std::path::Path;

use serde::Deserialize;

use super::{features, AudioModel, Window};
use crate::emotion::{Emotion, EmotionScores};
use crate::error::Result;

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
    version: String,
}

impl Linear {
    pub(super) fn load(path: &Path, version: String) -> std::result::Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file: LinearFile = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        Emotion::check_order(&file.labels)?;
        if file.feature_names != features::names() {
            return Err(format!("{}: trained on other features than this build computes", path.display()));
        }
        let width = file.feature_names.len();
        let sizes_agree = file.mean.len() == width
            && file.scale.len() == width
            && file.weights.len() == 7
            && file.weights.iter().all(|row| row.len() == width)
            && file.bias.len() == 7;
        if !sizes_agree {
            return Err(format!("{}: mean, scale, weights and bias disagree in size", path.display()));
        }
        Ok(Linear { mean: file.mean, scale: file.scale, weights: file.weights, bias: file.bias, version })
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

    fn version(&self) -> &str {
        &self.version
    }
}
