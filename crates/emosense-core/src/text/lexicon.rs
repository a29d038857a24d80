//! Fallback tier: an emotion keyword lexicon with negation handling, derived from GoEmotions and XED English by
//! `tools/text/build_lexicon.py` and compiled into the binary (checked against its manifest's sha256), so this rung
//! always loads.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::words::words;
use super::{score_each, Scored, TextModel};
use crate::budget::Budget;
use crate::emotion::{Emotion, EmotionScores};
use crate::error::{LoadError, Result};

#[derive(Deserialize)]
struct LexiconFile {
    labels: Vec<String>,
    bias: [f32; 7],
    negators: Vec<String>,
    negation_scope: usize,
    negation_weight: f32,
    negated: HashMap<String, String>,
    cues: HashMap<String, (String, f32)>,
}

/// Keyword scoring: each cue word adds its weight to its emotion; a cue shortly after a negator ("not happy")
/// adds its weight to the emotion it turns into instead (joy to sadness, the others to neutral).
pub struct Lexicon {
    cues: HashMap<String, (Emotion, f32)>,
    negators: Vec<String>,
    negation_scope: usize,
    negation_weight: f32,
    negated: [Emotion; 7],
    /// Starting score of each emotion (neutral's carries texts without cues; the rest corrects label priors).
    bias: [f32; 7],
}

impl Lexicon {
    /// Parses a lexicon file.
    pub fn from_json(json: &[u8]) -> std::result::Result<Self, LoadError> {
        let unreadable = |message: String| LoadError::unreadable(Path::new("lexicon.json"), message);
        let file: LexiconFile = serde_json::from_slice(json).map_err(|e| unreadable(e.to_string()))?;
        Emotion::check_order(&file.labels).map_err(unreadable)?;
        let emotion = |name: &str| Emotion::from_name(name).ok_or_else(|| unreadable(format!("unknown label {name}")));
        let mut negated = Emotion::ALL;
        for (from, to) in &file.negated {
            negated[emotion(from)?.index()] = emotion(to)?;
        }
        let cues = file
            .cues
            .into_iter()
            .map(|(word, (label, weight))| Ok((word, (emotion(&label)?, weight))))
            .collect::<std::result::Result<_, LoadError>>()?;
        Ok(Lexicon {
            cues,
            negators: file.negators,
            negation_scope: file.negation_scope,
            negation_weight: file.negation_weight,
            negated,
            bias: file.bias,
        })
    }

    fn is_negator(&self, word: &str) -> bool {
        word.ends_with("n't") || self.negators.iter().any(|n| n == word)
    }

    fn scores(&self, text: &str) -> (EmotionScores, usize) {
        let mut raw = self.bias;
        let mut since_negator = self.negation_scope + 1;
        let tokens = words(text);
        for word in &tokens {
            if self.is_negator(word) {
                since_negator = 0;
                continue;
            }
            since_negator += 1;
            if let Some(&(emotion, weight)) = self.cues.get(word) {
                if since_negator <= self.negation_scope {
                    raw[self.negated[emotion.index()].index()] += self.negation_weight * weight;
                } else {
                    raw[emotion.index()] += weight;
                }
            }
        }
        (EmotionScores::from_logits(&raw), tokens.len())
    }
}

impl TextModel for Lexicon {
    fn score(&self, texts: &[&str], _batch_size: usize, budget: &Budget) -> Result<Vec<Scored>> {
        budget.check()?;
        Ok(score_each(texts, |t| self.scores(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        Lexicon::from_json(include_bytes!("../../../../models-quantized/text/lexicon.json")).unwrap()
    }

    fn dominant(text: &str) -> Emotion {
        lexicon().scores(text).0.dominant().0
    }

    #[test]
    fn cues_and_negation() {
        assert_eq!(dominant("I am so happy and thankful"), Emotion::Joy);
        assert_eq!(dominant("I am not happy at all"), Emotion::Sadness);
        assert_eq!(dominant("The meeting is at noon"), Emotion::Neutral);
        assert_eq!(dominant("I'm so scared and afraid"), Emotion::Fear);
    }
}
