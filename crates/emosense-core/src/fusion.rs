//! Multimodal fusion: every modality present runs at the same time, then their distributions are averaged with
//! weights that start from per-modality priors and shrink for unsure modalities and lower tiers.
//!
//! weight(m) = prior(m) × (0.05 + certainty(m)) × trust(tier(m)), normalised to sum to 1, where certainty is
//! 1 − entropy / ln 7 (0 for a uniform distribution, 1 for a certain one) and trust is 1 for the primary tier,
//! 0.5 for the secondary and 0.25 for the fallback (keyword and rule answers are confident more often than right).
//! Agreement is 1 − the mean pairwise Jensen–Shannon divergence (base 2, so each lies in 0..1).

use std::time::Instant;

use serde::Serialize;

use crate::emotion::{Emotion, EmotionScores};
use crate::error::{Error, Result};
use crate::registry::Modality;
use crate::result::{serialize_prob, AnalysisResult};
use crate::tier::Tier;
use crate::{AudioOptions, Budget, EmoSense, FaceOptions, Progress, TextOptions};

/// Added to every certainty so that a modality that is unsure on all counts still has a say in proportion to its
/// prior (and weights never all vanish).
const CERTAINTY_FLOOR: f32 = 0.05;

/// How much of its weight a modality keeps when it answers from a lower tier.
pub fn tier_trust(tier: Tier) -> f32 {
    match tier {
        Tier::Primary => 1.0,
        Tier::Secondary => 0.5,
        Tier::Fallback => 0.25,
    }
}

/// Starting weight of each modality before certainty and tier adjust it (`EMOTION_FUSION_PRIORS`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FusionPriors {
    pub text: f32,
    pub audio: f32,
    pub face: f32,
}

impl Default for FusionPriors {
    /// Text carries the most explicit signal; speech (69 % on its speaker-independent test) and faces (62 % on
    /// FER2013) count a little less.
    fn default() -> Self {
        FusionPriors { text: 0.4, audio: 0.3, face: 0.3 }
    }
}

impl FusionPriors {
    /// The prior of one modality.
    pub fn of(&self, modality: Modality) -> f32 {
        match modality {
            Modality::Text => self.text,
            Modality::Audio => self.audio,
            Modality::Face => self.face,
        }
    }

    /// Parses `text=0.4,audio=0.3,face=0.3` (any subset; unnamed modalities keep their default).
    pub fn parse(value: &str) -> std::result::Result<Self, String> {
        let mut priors = FusionPriors::default();
        for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, number) = part.split_once('=').ok_or_else(|| format!("{part:?} is not name=weight"))?;
            let weight: f32 = number.trim().parse().map_err(|_| format!("{number:?} is not a number"))?;
            if !(weight.is_finite() && weight > 0.0) {
                return Err(format!("{} must be positive", name.trim()));
            }
            match name.trim() {
                "text" => priors.text = weight,
                "audio" => priors.audio = weight,
                "face" => priors.face = weight,
                other => return Err(format!("unknown modality {other:?} (text, audio or face)")),
            }
        }
        Ok(priors)
    }
}

/// What a multimodal request holds: at least one of text, an audio file, an image or video file.
#[derive(Debug, Clone, Copy, Default)]
pub struct MultimodalInput<'a> {
    pub text: Option<&'a str>,
    /// An audio file (field `audio_base64`).
    pub audio: Option<&'a [u8]>,
    /// An image or video file (field `video_base64`).
    pub video: Option<&'a [u8]>,
}

/// Options of a multimodal request.
#[derive(Debug, Clone, Default)]
pub struct MultimodalOptions {
    /// Start every modality's ladder at this tier instead of the top.
    pub tier: Option<Tier>,
    /// When every modality stops.
    pub budget: Budget,
    /// Told how far speech (windows) and video (seconds) are.
    pub progress: Progress,
}

/// Each modality's own answer.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ModalityResults {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<AnalysisResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<AnalysisResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub face: Option<AnalysisResult>,
}

impl ModalityResults {
    /// The results present, in the order text, audio, face.
    pub fn present(&self) -> Vec<(Modality, &AnalysisResult)> {
        [(Modality::Text, &self.text), (Modality::Audio, &self.audio), (Modality::Face, &self.face)]
            .into_iter()
            .filter_map(|(m, r)| r.as_ref().map(|r| (m, r)))
            .collect()
    }
}

/// How one modality counted in the fused answer.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct FusionWeight {
    pub modality: Modality,
    /// The share of the fused distribution that came from this modality (all shares sum to 1).
    #[serde(serialize_with = "serialize_prob")]
    pub weight: f32,
    #[serde(serialize_with = "serialize_prob")]
    pub prior: f32,
    /// 1 − normalised entropy of the modality's distribution.
    #[serde(serialize_with = "serialize_prob")]
    pub certainty: f32,
    /// The tier that answered and the trust it carries.
    pub tier: Tier,
    #[serde(serialize_with = "serialize_prob")]
    pub tier_trust: f32,
}

/// How the fused answer was made.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FusionMetadata {
    /// Always `multimodal`.
    pub modality: &'static str,
    pub modalities_used: Vec<Modality>,
    /// One entry per modality used, in the order of `modalities_used`.
    pub weights: Vec<FusionWeight>,
    /// 1 − mean pairwise Jensen–Shannon divergence of the modalities' distributions; `null` with one modality.
    #[serde(serialize_with = "crate::result::serialize_optional_prob")]
    pub agreement: Option<f32>,
    /// Modalities that answered from a lower tier than requested (a model missing or failing).
    pub degraded_modalities: Vec<Modality>,
    pub latency_ms: f64,
}

/// The fused answer and every modality's own.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MultimodalResult {
    pub dominant_emotion: Emotion,
    #[serde(serialize_with = "serialize_prob")]
    pub confidence: f32,
    pub emotions: EmotionScores,
    pub modalities: ModalityResults,
    pub metadata: FusionMetadata,
}


impl EmoSense {
    /// Analyses every modality present in `input` concurrently and fuses the answers. A modality that fails on its
    /// input fails the whole request (the error names that field); at least one modality is required.
    pub fn analyze_multimodal(&self, input: &MultimodalInput<'_>, options: &MultimodalOptions) -> Result<MultimodalResult> {
        if input.text.is_none() && input.audio.is_none() && input.video.is_none() {
            return Err(Error::invalid("body", "holds no modality: send at least one of text, audio_base64, video_base64"));
        }
        let started = Instant::now();
        let (tier, budget, progress) = (options.tier, &options.budget, &options.progress);
        let (text, audio, face) = std::thread::scope(|scope| {
            let text = input.text.map(|t| {
                scope.spawn(move || self.text().analyze(t, &TextOptions { tier, budget: budget.clone(), ..TextOptions::default() }))
            });
            let audio = input.audio.map(|a| {
                let options = AudioOptions { tier, budget: budget.clone(), progress: progress.clone(), ..AudioOptions::default() };
                scope.spawn(move || self.audio().analyze("audio_base64", a, &options))
            });
            let face = input.video.map(|v| {
                let options = FaceOptions { tier, budget: budget.clone(), progress: progress.clone(), ..FaceOptions::default() };
                self.face().analyze("video_base64", v, &options)
            });
            let join = |handle: Option<std::thread::ScopedJoinHandle<'_, Result<AnalysisResult>>>, modality: &str| {
                handle
                    .map(|h| h.join().unwrap_or_else(|_| Err(Error::Model { model: modality.to_owned(), message: "analysis panicked".into() })))
                    .transpose()
            };
            (join(text, "text"), join(audio, "audio"), face.transpose())
        });
        let modalities = ModalityResults { text: text?, audio: audio?, face: face? };
        Ok(fuse(&self.config().fusion_priors, modalities, tier, started))
    }
}

/// Fuses the modalities' answers (at least one) into one result, weighting each from `priors`.
pub fn fuse(priors: &FusionPriors, modalities: ModalityResults, requested_tier: Option<Tier>, started: Instant) -> MultimodalResult {
    let present = modalities.present();
    let raw: Vec<FusionWeight> = present
        .iter()
        .map(|(modality, result)| {
            let (prior, certainty, tier) = (priors.of(*modality), certainty(&result.emotions), result.metadata.tier);
            let weight = prior * (CERTAINTY_FLOOR + certainty) * tier_trust(tier);
            FusionWeight { modality: *modality, weight, prior, certainty, tier, tier_trust: tier_trust(tier) }
        })
        .collect();
    let total: f32 = raw.iter().map(|w| w.weight).sum();
    let weights: Vec<FusionWeight> = raw.into_iter().map(|w| FusionWeight { weight: w.weight / total, ..w }).collect();
    let emotions = EmotionScores::weighted_mean(present.iter().zip(&weights).map(|((_, r), w)| (&r.emotions, w.weight)));
    let distributions: Vec<&EmotionScores> = present.iter().map(|(_, r)| &r.emotions).collect();
    let requested = requested_tier.unwrap_or(Tier::Primary);
    let metadata = FusionMetadata {
        modality: "multimodal",
        modalities_used: present.iter().map(|(m, _)| *m).collect(),
        weights,
        agreement: agreement(&distributions),
        degraded_modalities: present.iter().filter(|(_, r)| r.metadata.tier > requested).map(|(m, _)| *m).collect(),
        latency_ms: (started.elapsed().as_secs_f64() * 1e5).round() / 100.0,
    };
    let (dominant_emotion, confidence) = emotions.dominant();
    MultimodalResult { dominant_emotion, confidence, emotions, modalities, metadata }
}

/// 1 − entropy / ln 7: 0 for the uniform distribution, 1 for certainty.
pub fn certainty(scores: &EmotionScores) -> f32 {
    let entropy: f32 = scores.as_array().iter().filter(|&&p| p > 0.0).map(|&p| -p * p.ln()).sum();
    (1.0 - entropy / (Emotion::ALL.len() as f32).ln()).clamp(0.0, 1.0)
}

/// Jensen–Shannon divergence in bits (0 for equal distributions, 1 for disjoint ones).
pub fn jensen_shannon(p: &EmotionScores, q: &EmotionScores) -> f32 {
    let kl = |a: &[f32; 7], m: &[f32; 7]| -> f32 { a.iter().zip(m).filter(|(&a, _)| a > 0.0).map(|(&a, &m)| a * (a / m).log2()).sum() };
    let (p, q) = (p.as_array(), q.as_array());
    let m: [f32; 7] = std::array::from_fn(|i| (p[i] + q[i]) / 2.0);
    ((kl(p, &m) + kl(q, &m)) / 2.0).clamp(0.0, 1.0)
}

/// 1 − mean pairwise Jensen–Shannon divergence; `None` for fewer than two distributions.
pub fn agreement(distributions: &[&EmotionScores]) -> Option<f32> {
    let pairs: Vec<f32> = distributions
        .iter()
        .enumerate()
        .flat_map(|(i, p)| distributions[i + 1..].iter().map(move |q| jensen_shannon(p, q)))
        .collect();
    (!pairs.is_empty()).then(|| 1.0 - pairs.iter().sum::<f32>() / pairs.len() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Metadata;

    fn peaked(emotion: Emotion, logit: f32) -> EmotionScores {
        let mut logits = [0.0; 7];
        logits[emotion.index()] = logit;
        EmotionScores::from_logits(&logits)
    }

    fn result(modality: Modality, tier: Tier, emotions: EmotionScores) -> AnalysisResult {
        let metadata = Metadata {
            modality,
            tier,
            model: "m".into(),
            model_version: "1".into(),
            latency_ms: 0.0,
            skipped_tiers: Vec::new(),
            warnings: Vec::new(),
            details: crate::result::Details::default(),
        };
        AnalysisResult::new(emotions, metadata)
    }

    fn weight_of(fused: &MultimodalResult, modality: Modality) -> f32 {
        fused.metadata.weights.iter().find(|w| w.modality == modality).map(|w| w.weight).unwrap()
    }

    #[test]
    fn certainty_spans_uniform_to_certain() {
        assert!(certainty(&EmotionScores::normalized([1.0; 7])) < 1e-6);
        assert!(certainty(&peaked(Emotion::Joy, 30.0)) > 0.99);
        assert!(certainty(&peaked(Emotion::Joy, 4.0)) > certainty(&peaked(Emotion::Joy, 2.0)));
    }

    #[test]
    fn divergence_is_zero_for_equal_and_one_for_disjoint() {
        let joy = peaked(Emotion::Joy, 40.0);
        let fear = peaked(Emotion::Fear, 40.0);
        assert!(jensen_shannon(&joy, &joy) < 1e-6);
        assert!((jensen_shannon(&joy, &fear) - 1.0).abs() < 1e-3);
        assert_eq!(agreement(&[&joy]), None);
        assert!(agreement(&[&joy, &joy]).unwrap() > 0.999);
        let mixed = agreement(&[&joy, &joy, &fear]).unwrap();
        assert!((mixed - 1.0 / 3.0).abs() < 1e-2, "two of three pairs disagree fully: {mixed}");
    }

    #[test]
    fn one_modality_passes_through() {
        let text = result(Modality::Text, Tier::Primary, peaked(Emotion::Sadness, 3.0));
        let fused = fuse(&FusionPriors::default(), ModalityResults { text: Some(text.clone()), ..Default::default() }, None, Instant::now());
        assert_eq!(fused.emotions, text.emotions);
        assert_eq!(fused.metadata.modalities_used, vec![Modality::Text]);
        assert!((weight_of(&fused, Modality::Text) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn weight_shifts_toward_the_confident_modality() {
        let unsure_joy = result(Modality::Text, Tier::Primary, peaked(Emotion::Joy, 0.8));
        let sure_anger = result(Modality::Face, Tier::Primary, peaked(Emotion::Anger, 6.0));
        let modalities = ModalityResults { text: Some(unsure_joy), face: Some(sure_anger), ..Default::default() };
        let fused = fuse(&FusionPriors::default(), modalities, None, Instant::now());
        assert!(weight_of(&fused, Modality::Face) > 0.8, "{:?}", fused.metadata.weights);
        assert_eq!(fused.dominant_emotion, Emotion::Anger);
        let total: f32 = fused.metadata.weights.iter().map(|w| w.weight).sum();
        assert!((total - 1.0).abs() < 1e-5);
    }

    #[test]
    fn lower_tiers_count_less_and_are_reported() {
        let scores = peaked(Emotion::Joy, 3.0);
        let modalities = ModalityResults {
            text: Some(result(Modality::Text, Tier::Primary, scores)),
            audio: Some(result(Modality::Audio, Tier::Fallback, scores)),
            ..Default::default()
        };
        let priors = FusionPriors { text: 0.5, audio: 0.5, face: 0.5 };
        let fused = fuse(&priors, modalities, None, Instant::now());
        assert!((weight_of(&fused, Modality::Text) - 0.8).abs() < 1e-5, "trust 1 against 0.25");
        assert_eq!(fused.metadata.degraded_modalities, vec![Modality::Audio]);
        assert!(fused.metadata.agreement.unwrap() > 0.999);
        let pinned = fuse(&priors, fused.modalities.clone(), Some(Tier::Fallback), Instant::now());
        assert!(pinned.metadata.degraded_modalities.is_empty(), "a pinned tier is not a degradation");
    }

    #[test]
    fn priors_parse_and_refuse() {
        assert_eq!(FusionPriors::parse("").unwrap(), FusionPriors::default());
        assert_eq!(FusionPriors::parse("audio=1").unwrap(), FusionPriors { audio: 1.0, ..FusionPriors::default() });
        assert!(FusionPriors::parse("video=1").is_err());
        assert!(FusionPriors::parse("text=0").is_err());
    }
}
