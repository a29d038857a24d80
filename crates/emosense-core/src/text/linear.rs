//! Secondary tier: TF-IDF over word 1-2-grams and a multinomial logistic regression, trained by
//! `tools/text/train_linear.py`. Pure Rust inference, a few microseconds a text.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::words::words;
use super::{score_each, Scored, TextModel};
use crate::budget::Budget;
use crate::emotion::{Emotion, EmotionScores};
use crate::error::{LoadError, Result};

#[derive(Deserialize)]
struct LinearFile {
    labels: Vec<String>,
    ngram_max: usize,
    vocabulary: HashMap<String, usize>,
    idf: Vec<f32>,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// A linear classifier over sublinear TF-IDF features, L2-normalised like scikit-learn's `TfidfVectorizer`.
pub struct LinearModel {
    vocabulary: HashMap<String, usize>,
    idf: Vec<f32>,
    /// Row-major `[feature][label]`.
    weights: Vec<f32>,
    bias: [f32; 7],
    ngram_max: usize,
}

impl LinearModel {
    /// Loads `linear.json`.
    pub fn load(path: &Path) -> std::result::Result<Self, LoadError> {
        let unreadable = |message: String| LoadError::unreadable(path, message);
        let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
        let file: LinearFile = serde_json::from_slice(&bytes).map_err(|e| unreadable(e.to_string()))?;
        Emotion::check_order(&file.labels).map_err(unreadable)?;
        let features = file.idf.len();
        let bias: [f32; 7] = file.bias.try_into().map_err(|_| unreadable("bias must have 7 values".into()))?;
        if file.weights.len() != features * 7 || file.vocabulary.values().any(|&i| i >= features) || file.ngram_max == 0 {
            return Err(unreadable("vocabulary, idf and weights disagree in size".into()));
        }
        Ok(LinearModel { vocabulary: file.vocabulary, idf: file.idf, weights: file.weights, bias, ngram_max: file.ngram_max })
    }

    fn scores(&self, text: &str) -> (EmotionScores, usize) {
        let tokens = words(text);
        let mut counts: HashMap<usize, f32> = HashMap::new();
        for n in 1..=self.ngram_max.min(tokens.len()) {
            for gram in tokens.windows(n) {
                if let Some(&column) = self.vocabulary.get(&gram.join(" ")) {
                    *counts.entry(column).or_default() += 1.0;
                }
            }
        }
        let features: Vec<(usize, f32)> = counts.into_iter().map(|(c, tf)| (c, (1.0 + tf.ln()) * self.idf[c])).collect();
        let norm = features.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        let mut logits = self.bias;
        if norm > 0.0 {
            for (column, value) in features {
                let row = &self.weights[column * 7..column * 7 + 7];
                for (l, w) in logits.iter_mut().zip(row) {
                    *l += w * value / norm;
                }
            }
        }
        (EmotionScores::from_logits(&logits), tokens.len())
    }
}

impl TextModel for LinearModel {
    fn score(&self, texts: &[&str], _batch_size: usize, budget: &Budget) -> Result<Vec<Scored>> {
        budget.check()?;
        Ok(score_each(texts, |t| self.scores(t)))
    }
}
