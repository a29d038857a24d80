//! The seven emotion labels and probability distributions over them.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

/// One of the seven labels every modality answers with (Ekman's six basic emotions plus neutral).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    Anger,
    Disgust,
    Fear,
    Joy,
    Neutral,
    Sadness,
    Surprise,
}

impl Emotion {
    /// All labels, in the order model outputs use.
    pub const ALL: [Emotion; 7] = [
        Emotion::Anger,
        Emotion::Disgust,
        Emotion::Fear,
        Emotion::Joy,
        Emotion::Neutral,
        Emotion::Sadness,
        Emotion::Surprise,
    ];

    /// The label as it appears in JSON and in model label files.
    pub fn as_str(self) -> &'static str {
        match self {
            Emotion::Anger => "anger",
            Emotion::Disgust => "disgust",
            Emotion::Fear => "fear",
            Emotion::Joy => "joy",
            Emotion::Neutral => "neutral",
            Emotion::Sadness => "sadness",
            Emotion::Surprise => "surprise",
        }
    }

    /// Parses a label name.
    pub fn from_name(name: &str) -> Option<Emotion> {
        Emotion::ALL.into_iter().find(|e| e.as_str() == name)
    }

    /// Position of the label in [`Emotion::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Checks that a model file lists its labels in [`Emotion::ALL`] order.
    pub fn check_order(labels: &[String]) -> std::result::Result<(), String> {
        if labels.iter().map(String::as_str).eq(Emotion::ALL.iter().map(|e| e.as_str())) {
            Ok(())
        } else {
            Err(format!("labels {labels:?} differ from {:?}", Emotion::ALL.map(Emotion::as_str)))
        }
    }
}

/// A probability distribution over the seven emotions; always non-negative and summing to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmotionScores([f32; 7]);

/// Probability the neutral prior gives neutral; the other six share the rest.
pub const NEUTRAL_PRIOR: f32 = 0.4;

impl EmotionScores {
    /// The answer when nothing can be read (no face, no speech): neutral at [`NEUTRAL_PRIOR`], the rest shared
    /// evenly.
    pub fn neutral_prior() -> Self {
        let mut weights = [(1.0 - NEUTRAL_PRIOR) / 6.0; 7];
        weights[Emotion::Neutral.index()] = NEUTRAL_PRIOR;
        Self::normalized(weights)
    }

    /// Softmax of raw scores (logits) given in [`Emotion::ALL`] order.
    pub fn from_logits(logits: &[f32; 7]) -> Self {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp = logits.map(|l| (l - max).exp());
        Self::normalized(exp)
    }

    /// Normalises non-negative weights to sum to 1; all-zero (or invalid) weights give certainty of neutral.
    pub fn normalized(weights: [f32; 7]) -> Self {
        let clean = weights.map(|w| if w.is_finite() && w > 0.0 { w } else { 0.0 });
        let sum: f32 = clean.iter().sum();
        if sum <= 0.0 {
            let mut neutral = [0.0; 7];
            neutral[Emotion::Neutral.index()] = 1.0;
            return Self(neutral);
        }
        Self(clean.map(|w| w / sum))
    }

    /// Weighted mean of several distributions (weights need not sum to 1).
    pub fn weighted_mean<'a>(parts: impl IntoIterator<Item = (&'a EmotionScores, f32)>) -> Self {
        let mut acc = [0.0f32; 7];
        for (scores, weight) in parts {
            for (a, p) in acc.iter_mut().zip(scores.0) {
                *a += p * weight;
            }
        }
        Self::normalized(acc)
    }

    /// Probability of one emotion.
    pub fn get(&self, emotion: Emotion) -> f32 {
        self.0[emotion.index()]
    }

    /// Probabilities in [`Emotion::ALL`] order.
    pub fn as_array(&self) -> &[f32; 7] {
        &self.0
    }

    /// The most probable emotion and its probability (ties go to the earlier label).
    pub fn dominant(&self) -> (Emotion, f32) {
        let mut best = (Emotion::ALL[0], self.0[0]);
        for (emotion, p) in Emotion::ALL.into_iter().zip(self.0).skip(1) {
            if p > best.1 {
                best = (emotion, p);
            }
        }
        best
    }
}

impl Serialize for EmotionScores {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(7))?;
        for (emotion, p) in Emotion::ALL.iter().zip(self.0) {
            map.serialize_entry(emotion.as_str(), &round4(p))?;
        }
        map.end()
    }
}

impl schemars::JsonSchema for EmotionScores {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EmotionScores".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let probability = serde_json::json!({"type": "number", "minimum": 0.0, "maximum": 1.0});
        let properties: serde_json::Map<String, serde_json::Value> = Emotion::ALL.iter().map(|e| (e.as_str().to_owned(), probability.clone())).collect();
        schemars::json_schema!({
            "description": "Probability of each emotion (4 decimals; they sum to 1).",
            "type": "object",
            "properties": properties,
            "required": Emotion::ALL.map(Emotion::as_str),
            "additionalProperties": false,
        })
    }
}

/// Rounds a probability for JSON output (4 decimals keeps answers readable and sums within 1e-3 of 1).
pub(crate) fn round4(x: f32) -> f64 {
    (f64::from(x) * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_orders() {
        let s = EmotionScores::from_logits(&[0.0, 0.0, 0.0, 5.0, 1.0, 0.0, 0.0]);
        let sum: f32 = s.as_array().iter().sum();
        assert!((sum - 1.0).abs() < 1e-6);
        assert_eq!(s.dominant().0, Emotion::Joy);
    }

    #[test]
    fn zero_weights_mean_neutral() {
        let s = EmotionScores::normalized([0.0; 7]);
        assert_eq!(s.dominant(), (Emotion::Neutral, 1.0));
        let nan = EmotionScores::normalized([f32::NAN; 7]);
        assert_eq!(nan.dominant().0, Emotion::Neutral);
    }

    #[test]
    fn weighted_mean_follows_weights() {
        let joy = EmotionScores::from_logits(&[0.0, 0.0, 0.0, 9.0, 0.0, 0.0, 0.0]);
        let fear = EmotionScores::from_logits(&[0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0]);
        let mixed = EmotionScores::weighted_mean([(&joy, 3.0), (&fear, 1.0)]);
        assert_eq!(mixed.dominant().0, Emotion::Joy);
        assert!(mixed.get(Emotion::Fear) > 0.2);
    }

    #[test]
    fn labels_round_trip() {
        for e in Emotion::ALL {
            assert_eq!(Emotion::from_name(e.as_str()), Some(e));
            assert_eq!(Emotion::ALL[e.index()], e);
        }
        assert_eq!(serde_json::to_string(&Emotion::Joy).unwrap(), "\"joy\"");
    }
}
