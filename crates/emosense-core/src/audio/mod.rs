//! Speech emotion analysis: WAV (PCM, μ-law, A-law), FLAC, Ogg Vorbis or Opus, MP3 or M4A → 16 kHz mono, silence
//! trimmed, level normalised → voice activity detection → 4 s windows that hold speech → Whisper's log-mel frames
//! and a feature vector per window → a tier ladder of pretrained speech encoder with a trained head → logistic
//! regression over the features → prosody rules, averaged over the windows by their speech. Audio without speech
//! answers the neutral prior with a warning.

mod decode;
mod encoder;
mod features;
mod linear;
mod prosody;
mod resample;
mod vad;
mod waveform;
mod whisper_mel;

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::budget::{Budget, Progress};
use crate::config::Config;
use crate::limits::Limit;
use crate::emotion::{Emotion, EmotionScores};
use crate::error::{Error, LoadError, Result};
use crate::registry::{Architecture, InputContract, Modality, ModelEntry, ModelManifest, ModelStatus, Registry, SpeechInput, WaveformScaling};
use crate::result::{AnalysisResult, Details, Metadata};
use crate::tier::{Ladder, Rung, Tier};

pub use decode::{sniff, SourceFormat, MAX_AUDIO_SECONDS};
pub use features::{names as feature_names, RATE as MODEL_RATE};
pub use whisper_mel::BANDS as ENCODER_MEL_BANDS;

/// Length of an analysis window, in seconds; longer audio is cut into overlapping windows.
pub const WINDOW_SECONDS: f32 = 4.0;
/// Step between windows, in seconds.
pub const WINDOW_STEP_SECONDS: f32 = 3.0;
/// Least sound (after trimming silence) that can be analysed, in seconds.
pub const MIN_SOUND_SECONDS: f32 = 0.25;
/// Audio whose loudest 20 ms is quieter than this (dBFS) is silent.
const SILENCE_DBFS: f32 = -60.0;
/// Frames more than this many dB below the loudest are silence at the ends.
const TRIM_BELOW_PEAK_DB: f32 = 40.0;
/// Level every clip is normalised to (RMS, dBFS).
const TARGET_RMS_DBFS: f32 = -20.0;

/// A speech model: the built-in tiers and custom models answer through it, and a program embedding this crate
/// registers its own with [`crate::EmoSense::with_audio_model`].
pub trait AudioModel: Send + Sync {
    /// Scores each analysis window (speech only, at [`MODEL_RATE`]), one distribution per window in order; the
    /// clip's answer is their mean weighed by the speech each holds.
    fn score(&self, windows: &[Window]) -> Result<Vec<EmotionScores>>;
}

impl<T: AudioModel + ?Sized> AudioModel for Arc<T> {
    fn score(&self, windows: &[Window]) -> Result<Vec<EmotionScores>> {
        (**self).score(windows)
    }
}

/// Scores consecutive windows of equal `length` as one batch each (every window of a long clip is as long as the
/// others, so a clip is usually one batch).
fn score_in_batches(
    windows: &[Window],
    length: impl Fn(&Window) -> usize,
    mut score_batch: impl FnMut(&[Window]) -> Result<Vec<EmotionScores>>,
) -> Result<Vec<EmotionScores>> {
    let mut scores = Vec::with_capacity(windows.len());
    for batch in windows.chunk_by(|a, b| length(a) == length(b)) {
        scores.extend(score_batch(batch)?);
    }
    Ok(scores)
}

/// Options of an audio analysis request.
#[derive(Debug, Clone, Default)]
pub struct AudioOptions {
    /// Start the ladder at this tier instead of the top.
    pub tier: Option<Tier>,
    /// Answer with this model only (the id of a built-in, custom or registered speech model) instead of the ladder.
    pub model: Option<String>,
    /// Also return each window's result as a timeline.
    pub segments: bool,
    /// Also return the clip's feature summary under `metadata.features`.
    pub features: bool,
    /// Refuse audio in which no speech is found (an invalid-input error) instead of answering the neutral prior.
    pub require_speech: bool,
    /// When to stop: checked after decoding and between analysis windows.
    pub budget: Budget,
    /// Told how far the analysis is (windows prepared of those that hold speech).
    pub progress: Progress,
}

/// What a speech answer's metadata adds.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AudioDetails {
    /// Length of the audio as sent, in seconds.
    pub duration_s: f64,
    /// Seconds left after trimming silence at the ends.
    pub sound_s: f64,
    /// Seconds of speech the voice activity detector found; absent when it could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speech_s: Option<f64>,
    /// The file's format as read from its header.
    pub source: SourceFormat,
    /// Analysis windows scored (0 when no speech was found).
    pub windows: usize,
    /// The clip's summary features by name, when asked for (`features: true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<std::collections::BTreeMap<String, f64>>,
}

/// One window of a timeline.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TimeSegment {
    /// Start and end in seconds of the original audio.
    pub start_s: f64,
    pub end_s: f64,
    pub dominant_emotion: Emotion,
    #[serde(serialize_with = "crate::result::serialize_prob")]
    pub confidence: f32,
    pub emotions: EmotionScores,
}

/// One analysis window of prepared audio and what the models read from it.
#[derive(Debug, Clone)]
pub struct Window {
    /// Span in samples of the prepared audio.
    pub span: Range<usize>,
    /// The window's samples at [`MODEL_RATE`], level normalised (-20 dBFS RMS over the clip's sound), in [-1, 1].
    pub samples: Vec<f32>,
    /// Summary features, named by [`feature_names`].
    pub features: Vec<f32>,
    /// The speech encoder's input: Whisper's normalised log-mel frames `[frame][band]` (10 ms hop,
    /// [`ENCODER_MEL_BANDS`] bands), an even number of them.
    pub encoder_mel: Vec<[f32; ENCODER_MEL_BANDS]>,
}

/// Audio ready for the models: 16 kHz mono, trimmed and normalised, with where it sat in the original.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub samples: Vec<f32>,
    /// Seconds of the original audio before the first kept sample.
    pub offset_s: f32,
    pub duration_s: f32,
    pub source: SourceFormat,
}

/// Speech analysis with lazily loaded models; one per process, shared by all requests.
pub struct AudioAnalyzer {
    vad: Rung<vad::VoiceActivity>,
    ladder: Ladder<Box<dyn AudioModel>>,
    /// `MAX_AUDIO_FILE_SIZE`.
    limit: Limit,
}

impl AudioAnalyzer {
    /// Builds the ladder from the registry's speech models, and the custom models a request may name; nothing is
    /// read from disk until the first analysis.
    pub fn new(config: &Config, registry: &Registry) -> Self {
        let vad = Rung::new(registry.stage(Architecture::SileroVad), |entry| {
            check_reads(entry, SpeechInput::Waveform { scaling: WaveformScaling::AsPrepared })?;
            vad::VoiceActivity::load(entry)
        });
        let rungs = registry.ladder(Modality::Audio).into_iter().map(|entry| Rung::new(entry, load)).collect();
        let mut ladder = Ladder::new("audio", rungs);
        for entry in registry.custom(Modality::Audio) {
            ladder.add_named(Rung::new(entry, load));
        }
        AudioAnalyzer { vad, ladder, limit: config.limits.audio_file() }
    }

    /// Adds a model registered in Rust, answering when a request names `manifest.id`.
    pub fn register(&mut self, manifest: ModelManifest, model: Arc<dyn AudioModel>) -> std::result::Result<(), LoadError> {
        self.ladder.register(manifest, Modality::Audio, move || Box::new(model.clone()) as Box<dyn AudioModel>)
    }

    /// Decodes, resamples, trims and normalises an audio file; `field` names the request field in errors.
    pub fn prepare(&self, field: &str, bytes: &[u8]) -> Result<Prepared> {
        self.limit.check(field, bytes.len() as u64)?;
        let decoded = decode::decode(field, bytes)?;
        let samples = resample::resample(&decoded.samples, decoded.sample_rate, MODEL_RATE);
        let (start, end) = sound_span(&samples).ok_or_else(|| Error::invalid(field, format!("is silent (no 20 ms louder than {SILENCE_DBFS} dBFS)")))?;
        let sound = &samples[start..end];
        if (sound.len() as f32) < MIN_SOUND_SECONDS * MODEL_RATE as f32 {
            return Err(Error::invalid(field, format!("holds less than {MIN_SOUND_SECONDS} s of sound")));
        }
        let rms = (sound.iter().map(|s| s * s).sum::<f32>() / sound.len() as f32).sqrt().max(1e-6);
        let gain = 10f32.powf(TARGET_RMS_DBFS / 20.0) / rms;
        Ok(Prepared {
            samples: sound.iter().map(|s| (s * gain).clamp(-1.0, 1.0)).collect(),
            offset_s: start as f32 / MODEL_RATE as f32,
            duration_s: decoded.samples.len() as f32 / decoded.sample_rate as f32,
            source: decoded.source,
        })
    }

    /// The analysis windows of prepared audio with what the models read from each.
    pub fn windows(prepared: &Prepared) -> Vec<Window> {
        Self::windows_where(prepared, |_| true, &Progress::default())
    }

    /// The analysis windows whose span `keep` accepts, with what the models read from each.
    /// `progress` is told of each window prepared.
    fn windows_where(prepared: &Prepared, keep: impl Fn(&Range<usize>) -> bool, progress: &Progress) -> Vec<Window> {
        let spans: Vec<Range<usize>> = window_spans(prepared.samples.len()).into_iter().filter(keep).collect();
        let total = spans.len() as f64;
        spans
            .into_iter()
            .enumerate()
            .map(|(i, span)| {
                let samples = &prepared.samples[span.clone()];
                let mut encoder_mel = whisper_mel::log_mel(samples);
                encoder_mel.truncate(encoder_mel.len() / 2 * 2);
                progress.report((i + 1) as f64, Some(total), "windows");
                Window { features: features::summarize(samples), encoder_mel, samples: samples.to_vec(), span }
            })
            .collect()
    }

    /// Speech spans of prepared audio, or why the detector cannot run.
    fn speech(&self, prepared: &Prepared) -> std::result::Result<Vec<Range<usize>>, String> {
        let detector = self.vad.get().map_err(|e| e.to_string())?;
        let probabilities = detector.probabilities(&prepared.samples).map_err(|e| e.to_string())?;
        Ok(vad::speech_spans(&probabilities, prepared.samples.len()))
    }

    /// Analyses one audio file; `field` names the request field in errors.
    pub fn analyze(&self, field: &str, bytes: &[u8], options: &AudioOptions) -> Result<AnalysisResult> {
        let started = Instant::now();
        options.budget.check()?;
        self.ladder.check_request(options.model.as_deref(), options.tier)?;
        let prepared = self.prepare(field, bytes)?;
        options.budget.check()?;
        let mut warnings = Vec::new();
        let speech = match self.speech(&prepared) {
            Ok(spans) => Some(spans),
            Err(reason) => {
                warnings.push(format!("voice activity detection is unavailable ({reason}): every window was analysed as speech"));
                None
            }
        };
        let mut details = AudioDetails {
            duration_s: round3(prepared.duration_s),
            sound_s: round3(prepared.samples.len() as f32 / MODEL_RATE as f32),
            speech_s: speech.as_ref().map(|spans| round3(spans.iter().map(|s| s.len()).sum::<usize>() as f32 / MODEL_RATE as f32)),
            source: prepared.source,
            windows: 0,
            features: options.features.then(|| features::names().iter().cloned().zip(features::summarize(&prepared.samples).into_iter().map(round3)).collect()),
        };
        if speech.as_ref().is_some_and(Vec::is_empty) {
            if options.require_speech {
                return Err(Error::invalid(field, "holds no speech (the voice activity detector found none)"));
            }
            return Ok(self.no_speech(details, warnings, started));
        }
        // Windows weigh by the speech they hold; those without any are left out.
        let speech_in = |span: &Range<usize>| match &speech {
            Some(spans) => spans.iter().map(|s| s.end.min(span.end).saturating_sub(s.start.max(span.start))).sum::<usize>(),
            None => span.len(),
        };
        let windows = Self::windows_where(&prepared, |span| speech_in(span) > 0, &options.progress);
        options.budget.check()?;
        let (scores, answered) = self.ladder.run_requested(options.model.as_deref(), options.tier, |model| model.score(&windows))?;
        let overall = EmotionScores::weighted_mean(scores.iter().zip(windows.iter().map(|w| speech_in(&w.span) as f32)));
        details.windows = windows.len();
        let details = Details {
            precision: answered.entry.weights_precision(),
            audio: Some(details),
            ..Details::default()
        };
        let mut result = AnalysisResult::new(
            overall,
            Metadata {
                modality: Modality::Audio,
                tier: answered.entry.tier(),
                model: answered.entry.id().to_owned(),
                model_version: answered.entry.version().to_owned(),
                latency_ms: latency_ms(started),
                skipped_tiers: answered.skipped.clone(),
                warnings,
                details,
            },
        );
        if options.segments {
            let seconds = |sample: usize| round3(prepared.offset_s + sample as f32 / MODEL_RATE as f32);
            result.segments = Some(
                windows
                    .iter()
                    .zip(&scores)
                    .map(|(window, s)| {
                        let (dominant_emotion, confidence) = s.dominant();
                        TimeSegment { start_s: seconds(window.span.start), end_s: seconds(window.span.end), dominant_emotion, confidence, emotions: *s }
                    })
                    .collect(),
            );
        }
        Ok(result)
    }

    /// The answer for audio without speech: the neutral prior from the voice activity detector, no windows, a warning.
    fn no_speech(&self, details: AudioDetails, mut warnings: Vec<String>, started: Instant) -> AnalysisResult {
        warnings.push("no speech was found in the audio: the answer is the neutral prior, not a reading of the clip (send require_speech: true to be refused instead)".into());
        AnalysisResult::new(
            EmotionScores::neutral_prior(),
            Metadata {
                modality: Modality::Audio,
                tier: Tier::Fallback,
                model: self.vad.entry().id().to_owned(),
                model_version: self.vad.entry().version().to_owned(),
                latency_ms: latency_ms(started),
                skipped_tiers: Vec::new(),
                warnings,
                details: Details { audio: Some(details), ..Details::default() },
            },
        )
    }

    /// Loads the model of the top rung now.
    pub fn warm_up(&self) -> std::result::Result<(), LoadError> {
        self.vad.get()?;
        self.ladder.warm_up()
    }

    /// Ids of the audio models loaded so far.
    pub fn loaded_models(&self) -> Vec<String> {
        let vad = self.vad.is_loaded().then(|| self.vad.entry().id().to_owned());
        vad.into_iter().chain(self.ladder.loaded_models()).collect()
    }

    /// Every audio model with its load state, files and manifest entry.
    pub fn models(&self) -> Vec<ModelStatus> {
        let mut models = vec![self.vad.status()];
        models.extend(self.ladder.models());
        models
    }
}

/// Loads a speech model by its architecture, after checking that its manifest says it reads what the pipeline
/// gives that architecture.
fn load(entry: &ModelEntry) -> std::result::Result<Box<dyn AudioModel>, LoadError> {
    let summary = SpeechInput::SummaryFeatures { count: features::names().len() };
    Ok(match entry.manifest.architecture {
        Architecture::SpeechEncoderHead => {
            check_reads(entry, SpeechInput::WhisperLogMel { bands: ENCODER_MEL_BANDS })?;
            Box::new(encoder::SpeechEncoder::load(entry)?)
        }
        Architecture::FeatureLinear => {
            check_reads(entry, summary)?;
            Box::new(linear::Linear::load(&entry.named("linear.json")?)?)
        }
        Architecture::ProsodyRules => {
            check_reads(entry, summary)?;
            Box::new(prosody::ProsodyRules)
        }
        Architecture::WaveformClassifier => Box::new(waveform::WaveformClassifier::load(entry)?),
        other => return Err(LoadError::BadManifest { path: entry.folder.display().to_string(), message: format!("{other:?} is not a speech classifier") }),
    })
}

/// Checks that the entry's manifest says its model reads `expected` of each analysis window.
fn check_reads(entry: &ModelEntry, expected: SpeechInput) -> std::result::Result<(), LoadError> {
    let says = match &entry.manifest.input {
        Some(InputContract::Speech { reads, .. }) if *reads == expected => return Ok(()),
        Some(InputContract::Speech { reads, .. }) => format!("{reads:?}"),
        Some(_) => "an input that is not speech".to_owned(),
        None => "no input".to_owned(),
    };
    Err(LoadError::ContractMismatch {
        model: entry.id().to_owned(),
        message: format!("the pipeline gives this architecture {expected:?} of each window; the manifest's input says {says}"),
    })
}

/// Sample range from the first to the last 20 ms frame within [`TRIM_BELOW_PEAK_DB`] of the loudest, or `None`
/// when no frame reaches [`SILENCE_DBFS`].
fn sound_span(samples: &[f32]) -> Option<(usize, usize)> {
    let frame = MODEL_RATE as usize / 50;
    let levels: Vec<f32> = samples
        .chunks(frame)
        .map(|c| 10.0 * (c.iter().map(|s| s * s).sum::<f32>() / c.len() as f32).max(1e-12).log10())
        .collect();
    let peak = levels.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if peak < SILENCE_DBFS {
        return None;
    }
    let threshold = (peak - TRIM_BELOW_PEAK_DB).max(SILENCE_DBFS);
    let first = levels.iter().position(|&l| l >= threshold)?;
    let last = levels.iter().rposition(|&l| l >= threshold)?;
    Some((first * frame, ((last + 1) * frame).min(samples.len())))
}

/// Window spans over `len` samples: one window when short, else [`WINDOW_SECONDS`] every [`WINDOW_STEP_SECONDS`],
/// the last one ending at the end.
fn window_spans(len: usize) -> Vec<Range<usize>> {
    let size = (WINDOW_SECONDS * MODEL_RATE as f32) as usize;
    let step = (WINDOW_STEP_SECONDS * MODEL_RATE as f32) as usize;
    if len <= size {
        return vec![0..len];
    }
    let mut spans: Vec<_> = (0..).map(|i| i * step).take_while(|start| start + size < len).map(|start| start..start + size).collect();
    spans.push(len - size..len);
    spans
}

fn latency_ms(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1e5).round() / 100.0
}

fn round3(value: f32) -> f64 {
    (f64::from(value) * 1000.0).round() / 1000.0
}

/// Uniform white noise in [-0.5, 0.5) from a fixed linear congruential sequence, for tests.
#[cfg(test)]
pub(crate) fn test_noise(len: usize) -> Vec<f32> {
    let mut state = 12345u32;
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_long_audio_with_overlap() {
        let rate = MODEL_RATE as usize;
        assert_eq!(window_spans(3 * rate), vec![0..3 * rate]);
        assert_eq!(window_spans(10 * rate), vec![0..4 * rate, 3 * rate..7 * rate, 6 * rate..10 * rate]);
    }

    #[test]
    fn a_speech_model_whose_manifest_reads_other_features_is_refused_at_load() {
        let registry = Registry::scan(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models-quantized").as_path(), crate::Precision::Int8, crate::Inference::default());
        let encoder = registry.ladder(Modality::Audio).into_iter().find(|e| e.manifest.architecture == Architecture::SpeechEncoderHead).unwrap();
        check_reads(&encoder, SpeechInput::WhisperLogMel { bands: ENCODER_MEL_BANDS }).unwrap();
        let mut manifest = (*encoder.manifest).clone();
        if let Some(InputContract::Speech { reads, .. }) = &mut manifest.input {
            *reads = SpeechInput::WhisperLogMel { bands: 40 };
        }
        let changed = ModelEntry { manifest: std::sync::Arc::new(manifest), ..(*encoder).clone() };
        let error = load(&changed).err().unwrap();
        assert_eq!(error.kind(), "contract_mismatch");
        assert!(error.to_string().contains("bands: 40"), "{error}");
    }

    #[test]
    fn silence_is_trimmed_from_both_ends() {
        let mut samples = vec![0.0f32; 8000];
        samples.extend((0..16_000).map(|i| 0.3 * (i as f32 * 0.07).sin()));
        samples.extend(vec![0.0001f32; 8000]);
        let (start, end) = sound_span(&samples).unwrap();
        assert!((7_680..=8_000).contains(&start), "{start}");
        assert!((24_000..=24_320).contains(&end), "{end}");
        assert_eq!(sound_span(&[0.0; 16_000]), None);
    }
}
