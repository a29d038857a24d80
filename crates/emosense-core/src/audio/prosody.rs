//! Fallback tier: documented prosody rules that need no model file and never fail.
//!
//! Arousal is the mean of four cues, each mapped to [-1, 1] around its median over the Emo-DB clips (spread about
//! one inter-quartile range): spectral centroid (1800 ± 400 Hz, vocal effort), mean pitch (11.5 ± 5 semitones over
//! 100 Hz), spectral flux (5.0 ± 1.2) and rate (4.6 ± 0.8 energy peaks per second). High arousal goes to anger and
//! joy (anger when the voice is also bright), low arousal to neutral, and to sadness when little of the sound is
//! voiced (below 0.7). The logits are soft, so confidence stays modest. Valence is not guessed: speech prosody
//! tells arousal far better than valence.

use super::{features, AudioModel, Window};
use crate::emotion::{Emotion, EmotionScores};
use crate::error::Result;

/// Softens the rule logits: rules are guesses and should say so in their confidence.
const LOGIT_SCALE: f32 = 0.6;

pub(super) struct ProsodyRules;

impl ProsodyRules {
    /// `(arousal, brightness, breathiness)` in [-1, 1] from a feature vector.
    fn cues(vector: &[f32]) -> (f32, f32, f32) {
        let value = |name: &str| features::names().iter().position(|n| n == name).map_or(0.0, |i| vector[i]);
        let cue = |name: &str, centre: f32, spread: f32| ((value(name) - centre) / spread).clamp(-1.0, 1.0);
        let brightness = cue("centroid_hz_mean", 1800.0, 400.0);
        let arousal = (brightness + cue("pitch_mean_semitones", 11.5, 5.0) + cue("flux_mean", 5.0, 1.2) + cue("rate_peaks_per_s", 4.6, 0.8)) / 4.0;
        (arousal, brightness, -cue("voiced_fraction", 0.7, 0.1))
    }
}

impl AudioModel for ProsodyRules {
    fn score(&self, windows: &[Window]) -> Result<Vec<EmotionScores>> {
        Ok(windows
            .iter()
            .map(|window| {
                let (a, bright, breathy) = Self::cues(&window.features);
                let mut logits = [0f32; 7];
                logits[Emotion::Anger.index()] = 2.0 * a + 0.5 * bright;
                logits[Emotion::Joy.index()] = 2.0 * a;
                logits[Emotion::Fear.index()] = a - 0.5;
                logits[Emotion::Surprise.index()] = a - 1.5;
                logits[Emotion::Sadness.index()] = -1.5 * a + breathy - 0.5;
                logits[Emotion::Neutral.index()] = 1.0 - 2.0 * a.abs();
                logits[Emotion::Disgust.index()] = -1.0;
                EmotionScores::from_logits(&logits.map(|l| l * LOGIT_SCALE))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(pairs: &[(&str, f32)]) -> Window {
        let mut features = vec![0.0; features::names().len()];
        for (name, value) in pairs {
            features[features::names().iter().position(|n| n == name).unwrap()] = *value;
        }
        Window { span: 0..16_000, features, encoder_mel: Vec::new(), samples: Vec::new() }
    }

    #[test]
    fn lively_speech_is_aroused_and_flat_speech_is_not() {
        let rules = ProsodyRules;
        let lively = window(&[("centroid_hz_mean", 2400.0), ("pitch_mean_semitones", 17.0), ("flux_mean", 6.5), ("rate_peaks_per_s", 5.5), ("voiced_fraction", 0.8)]);
        let flat = window(&[("centroid_hz_mean", 1400.0), ("pitch_mean_semitones", 7.0), ("flux_mean", 4.0), ("rate_peaks_per_s", 4.0), ("voiced_fraction", 0.55)]);
        let scores = rules.score(&[lively, flat]).unwrap();
        assert_eq!(scores[0].dominant().0, Emotion::Anger);
        assert_eq!(scores[1].dominant().0, Emotion::Sadness);
        assert!(scores.iter().all(|s| s.dominant().1 < 0.8), "rules must not be overconfident");
    }
}
