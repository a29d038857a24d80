//! Text emotion analysis: a tier ladder of transformer → TF-IDF linear model → keyword lexicon, beside models a
//! request names: custom models from their own folders, ensembles from configuration, and models registered in Rust
//! ([`TextModel`], the trait every text model implements, built-in ones included).
//!
//! Every tier reads the text with emojis as their names ([`emoji`]); the answer names the language the text is
//! written in and warns when no tier was trained on it ([`language`]).

mod emoji;
mod ensemble;
pub mod language;
mod lexicon;
mod linear;
mod segment;
mod transformer;
mod words;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::budget::Budget;
use crate::config::Config;
use crate::limits::Limit;
use crate::emotion::EmotionScores;
use crate::error::{Error, LoadError, Result};
use crate::registry::{Architecture, EnsembleMember, Modality, ModelEntry, ModelManifest, ModelStatus, Refused, Registry};
use crate::result::{AnalysisResult, Details, Metadata, SegmentResult};
use crate::tier::{Answered, Ladder, Rung, Tier};


/// Most texts one batch request may hold.
pub const MAX_BATCH_TEXTS: usize = 256;

/// Languages the text tiers were trained on (English sources only).
pub const TRAINED_LANGUAGES: [whatlang::Lang; 1] = [whatlang::Lang::Eng];

/// One model's scores for one text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub scores: EmotionScores,
    /// Tokens the model saw (WordPiece tokens for the transformer, words for the others).
    pub tokens: usize,
    /// Model runs the text needed (more than one when it is longer than the window).
    pub chunks: usize,
}

/// A text model: the built-in tiers, custom and ensemble models all answer through it, and a program embedding
/// this crate registers its own with [`crate::EmoSense::with_text_model`].
pub trait TextModel: Send + Sync {
    /// Scores each text (emojis already replaced by their names), one [`Scored`] per text in order. Long texts are
    /// the model's to handle (chunked or bag-of-words); `batch_size` is how many sequences to run at once, and
    /// `budget` is to be checked between batches.
    fn score(&self, texts: &[&str], batch_size: usize, budget: &Budget) -> Result<Vec<Scored>>;
}

impl<T: TextModel + ?Sized> TextModel for Arc<T> {
    fn score(&self, texts: &[&str], batch_size: usize, budget: &Budget) -> Result<Vec<Scored>> {
        (**self).score(texts, batch_size, budget)
    }
}

/// Scores texts one by one with a whole-text scorer returning scores and a token count.
fn score_each(texts: &[&str], scorer: impl Fn(&str) -> (EmotionScores, usize)) -> Vec<Scored> {
    texts
        .iter()
        .map(|t| {
            let (scores, tokens) = scorer(t);
            Scored { scores, tokens, chunks: 1 }
        })
        .collect()
}

/// What a text answer's metadata adds.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TextDetails {
    /// Characters of the text.
    pub characters: usize,
    /// Tokens the model saw (WordPiece tokens for the transformer, words for the others).
    pub tokens: usize,
    /// Model runs the text needed (more than one when it is longer than the model's window).
    pub chunks: usize,
    /// The language the text is written in; `null` when it cannot be told (see `warnings`).
    pub language: Option<language::DetectedLanguage>,
    /// The members of the ensemble that answered, with their weights (absent for single models).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ensemble: Vec<EnsembleMember>,
}

/// Options of a text analysis request.
#[derive(Debug, Clone, Default)]
pub struct TextOptions {
    /// Start the ladder at this tier instead of the top.
    pub tier: Option<Tier>,
    /// Answer with this model only (the id of a built-in, custom, ensemble or registered model) instead of the
    /// ladder.
    pub model: Option<String>,
    /// Also score each sentence on its own.
    pub sentences: bool,
    /// When to stop: checked between batches of chunks.
    pub budget: Budget,
}

/// Text analysis with lazily loaded models; one per process, shared by all requests.
pub struct TextAnalyzer {
    ladder: Ladder<Box<dyn TextModel>>,
    /// Ensembles whose definition cannot be used.
    refused: Vec<Refused>,
    batch_size: usize,
    /// `MAX_TEXT_LENGTH`.
    limit: Limit,
}

impl TextAnalyzer {
    /// Builds the ladder from the registry's text models, and the custom models and configured ensembles a request
    /// may name; nothing is read from disk until the first analysis.
    pub fn new(config: &Config, registry: &Registry) -> Self {
        let mut ladder = Ladder::new("text", registry.ladder(Modality::Text).into_iter().map(|entry| Rung::new(entry, load)).collect());
        for entry in registry.custom(Modality::Text) {
            ladder.add_named(Rung::new(entry, load));
        }
        let mut refused = Vec::new();
        for spec in &config.ensembles {
            match ensemble::rung(spec, &ladder) {
                Ok(rung) => ladder.add_named(rung),
                Err(error) => refused.push(Refused { id: spec.name.clone(), modality: Some(Modality::Text), custom: true, error }),
            }
        }
        TextAnalyzer { ladder, refused, batch_size: config.batch_size, limit: config.limits.text() }
    }

    /// Adds a model registered in Rust, answering when a request names `manifest.id`.
    pub fn register(&mut self, manifest: ModelManifest, model: Arc<dyn TextModel>) -> std::result::Result<(), LoadError> {
        if self.refused.iter().any(|r| r.id == manifest.id) {
            return Err(LoadError::BadManifest { path: "(registered in code)".into(), message: format!("model {}: the id is taken", manifest.id) });
        }
        self.ladder.register(manifest, Modality::Text, move || Box::new(model.clone()) as Box<dyn TextModel>)
    }

    /// Checks one text against the input rules: present, not blank, within `MAX_TEXT_LENGTH` characters.
    pub fn validate(&self, field: &str, text: &str) -> Result<()> {
        if text.trim().is_empty() {
            return Err(Error::invalid(field, "must contain text (it is empty or whitespace)"));
        }
        self.limit.check(field, text.chars().count() as u64)
    }

    /// Analyses one text.
    pub fn analyze(&self, text: &str, options: &TextOptions) -> Result<AnalysisResult> {
        self.analyze_field("text", text, options)
    }

    /// Analyses one text that came in request field `field` (named in errors).
    pub fn analyze_field(&self, field: &str, text: &str, options: &TextOptions) -> Result<AnalysisResult> {
        self.validate(field, text)?;
        let started = Instant::now();
        let sentence_ranges = if options.sentences { segment::sentences(text) } else { Vec::new() };
        let mut inputs = vec![text];
        inputs.extend(sentence_ranges.iter().map(|r| &text[r.clone()]));
        let (scored, answered) = self.run_ladder(&inputs, options)?;
        let mut result = self.result(&scored[0], text, &answered, started);
        if options.sentences {
            result.sentences = Some(
                sentence_ranges
                    .iter()
                    .zip(&scored[1..])
                    .map(|(range, s)| {
                        let (dominant_emotion, confidence) = s.scores.dominant();
                        SegmentResult {
                            text: text[range.clone()].to_owned(),
                            start: text[..range.start].chars().count(),
                            end: text[..range.end].chars().count(),
                            dominant_emotion,
                            confidence,
                            emotions: s.scores,
                        }
                    })
                    .collect(),
            );
        }
        Ok(result)
    }

    /// Analyses many texts together: the model runs over batches of `EMOTION_ANALYSIS_BATCH_SIZE` chunks. A text
    /// that breaks the input rules gets its error in its place (field `texts[i]`) and the others are analysed; the
    /// batch as a whole fails only for what concerns every text (no texts, too many, the model or tier asked for).
    pub fn analyze_batch(&self, texts: &[String], options: &TextOptions) -> Result<Vec<Result<AnalysisResult>>> {
        if texts.is_empty() {
            return Err(Error::invalid("texts", "must hold at least one text"));
        }
        if texts.len() > MAX_BATCH_TEXTS {
            return Err(Error::TooLarge {
                field: "texts".into(),
                actual: texts.len() as u64,
                limit: MAX_BATCH_TEXTS as u64,
                unit: "texts",
                limit_source: "the batch limit",
            });
        }
        let started = Instant::now();
        let checked: Vec<Result<&str>> = texts.iter().enumerate().map(|(i, text)| self.validate(&format!("texts[{i}]"), text).map(|()| text.as_str())).collect();
        let valid: Vec<&str> = checked.iter().filter_map(|c| c.as_ref().ok().copied()).collect();
        self.ladder.check_request(options.model.as_deref(), options.tier)?;
        // Nothing is loaded or run when no text is valid.
        let ran = if valid.is_empty() { None } else { Some(self.run_ladder(&valid, options)?) };
        let mut scored = ran.iter().flat_map(|(scored, answered)| scored.iter().map(move |s| (s, answered)));
        Ok(checked
            .into_iter()
            .map(|c| {
                c.and_then(|text| match scored.next() {
                    Some((s, answered)) => Ok(self.result(s, text, answered, started)),
                    None => {
                        let model = ran.as_ref().map_or("text", |(_, answered)| answered.entry.id()).to_owned();
                        Err(Error::Model { model, message: "the model gave fewer answers than texts".into() })
                    }
                })
            })
            .collect())
    }

    /// Scores the inputs, emojis read as their names, with the model the request names or down the ladder from the
    /// requested tier; returns the scores and which model answered.
    fn run_ladder(&self, inputs: &[&str], options: &TextOptions) -> Result<(Vec<Scored>, Answered<'_>)> {
        let readable: Vec<Cow<'_, str>> = inputs.iter().map(|t| emoji::with_names(t)).collect();
        let readable: Vec<&str> = readable.iter().map(AsRef::as_ref).collect();
        self.ladder.run_requested(options.model.as_deref(), options.tier, |model| model.score(&readable, self.batch_size, &options.budget))
    }

    fn result(&self, scored: &Scored, text: &str, answered: &Answered<'_>, started: Instant) -> AnalysisResult {
        let mut warnings = Vec::new();
        let language = language::detect(text);
        if let Some(language) = &language {
            if language.is_none_of(&TRAINED_LANGUAGES) {
                let trained: Vec<&str> = TRAINED_LANGUAGES.iter().map(|l| l.eng_name()).collect();
                warnings.push(format!(
                    "the text reads as {} ({}); the text models were trained on {} only, so this answer is a guess",
                    language.name,
                    language.code,
                    trained.join(", ")
                ));
            }
        }
        let details = Details {
            precision: answered.entry.weights_precision(),
            text: Some(TextDetails {
                characters: text.chars().count(),
                tokens: scored.tokens,
                chunks: scored.chunks,
                language,
                ensemble: answered.entry.manifest.ensemble.clone(),
            }),
            ..Details::default()
        };
        AnalysisResult::new(
            scored.scores,
            Metadata {
                modality: Modality::Text,
                tier: answered.entry.tier(),
                model: answered.entry.id().to_owned(),
                model_version: answered.entry.version().to_owned(),
                latency_ms: (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0,
                skipped_tiers: answered.skipped.clone(),
                warnings,
                details,
            },
        )
    }

    /// Loads the model of the top rung now (for warm-up at start-up where that time is free).
    pub fn warm_up(&self) -> std::result::Result<(), LoadError> {
        self.ladder.warm_up()
    }

    /// Ids of the text models loaded so far.
    pub fn loaded_models(&self) -> Vec<String> {
        self.ladder.loaded_models()
    }

    /// Every text model with its load state, files and manifest entry.
    pub fn models(&self) -> Vec<ModelStatus> {
        self.ladder.models().into_iter().chain(self.refused.iter().map(ModelStatus::refused)).collect()
    }
}

/// Loads a text model by its architecture.
fn load(entry: &ModelEntry) -> std::result::Result<Box<dyn TextModel>, LoadError> {
    Ok(match entry.manifest.architecture {
        Architecture::TextEncoderClassifier => Box::new(transformer::Transformer::load(entry)?),
        Architecture::TfidfLinear => Box::new(linear::LinearModel::load(&entry.named("linear.json")?)?),
        Architecture::Lexicon => Box::new(lexicon::Lexicon::from_json(entry.embedded("lexicon.json")?)?),
        other => return Err(LoadError::BadManifest { path: entry.folder.display().to_string(), message: format!("{other:?} is not a text architecture") }),
    })
}
