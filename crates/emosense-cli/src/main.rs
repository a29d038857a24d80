//! `emosense`: the local server and command-line analysis over the shared engine and router.

mod eval;
mod progress;
mod serve;
mod stream;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use emosense_core::{
    AnalysisResult, AudioAnalyzer, AudioOptions, Config, EmoSense, FaceOptions, MultimodalInput, MultimodalOptions, MultimodalResult, TextOptions, Tier,
};

#[derive(Parser)]
#[command(name = "emosense", version, about = "Emotion analysis of text, speech and faces: local API server and command line")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: std::net::SocketAddr,
        /// Load the models at start-up instead of on the first request.
        #[arg(long)]
        warmup: bool,
    },
    /// Analyse input and print JSON results.
    Analyze {
        #[command(subcommand)]
        input: AnalyzeInput,
    },
    /// Print what the audio models read: a first line `{"feature_names": [...]}`, then one line per file
    /// `{"file", "windows": [{"features": [...], "encoder_mel": [[80 bands], ...]}, ...]}` (or `{"file", "error"}`),
    /// for training and checks.
    Features {
        /// Audio files (WAV incl. μ-law/A-law, FLAC, Ogg Vorbis or Opus, MP3, M4A).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the OpenAPI 3.1 document of the HTTP API (the one served at /api/v1/openapi.json).
    Openapi,
    /// Evaluate a text tier on a labelled source's split and print accuracy, macro-F1, expected calibration error,
    /// reliability bins and detected languages as JSON.
    Eval {
        /// Split to read (`dev` or `test`).
        #[arg(long, default_value = "test")]
        split: String,
        /// `goemotions` (GoEmotions-Ekman), `xed-en` (XED English) or `xed-<language>` (XED projections, e.g.
        /// `xed-de`: every line, whatever the split).
        #[arg(long, default_value = "goemotions")]
        source: String,
        /// Folder holding `goemotions/ekman/{split}.tsv` and `xed/`.
        #[arg(long, default_value = "../shared/data")]
        data: PathBuf,
        #[arg(long, value_enum)]
        tier: Option<TierArg>,
    },
    /// Evaluate the face expression models on FER2013 (48 x 48 aligned faces, one folder per label) and print
    /// accuracy and macro-F1 per model and for the ensemble as JSON.
    EvalFace {
        /// Folder holding `<split>/<label>/*.jpg`.
        #[arg(long, default_value = "../shared/data")]
        data: PathBuf,
        /// The split's folder under `--data`.
        #[arg(long, default_value = "fer2013-publictest")]
        split: String,
        /// Only the faces listed in this file, one `<label>/<file name>` per line.
        #[arg(long)]
        files: Option<PathBuf>,
        /// Also write every face's probabilities from each model as JSON lines to this file.
        #[arg(long)]
        probabilities: Option<PathBuf>,
        /// Also evaluate the secondary tier (landmarks and geometry rules; slower) and the fallback.
        #[arg(long)]
        all_tiers: bool,
    },
    /// Evaluate every speech tier on a folder of clips sorted into label folders (`Angry`, `Calm`, `Happy`, `Sad`,
    /// or the emotion names) and print accuracy, unweighted average recall and per-label recall as JSON; each
    /// answer is the largest probability among the labels present.
    EvalAudio {
        /// Folder holding `<label>/*.wav` (any format the API reads).
        #[arg(long, default_value = "../shared/data/turev-eval")]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum AnalyzeInput {
    /// Analyse a text given as argument, or one text per line of standard input with `--jsonl`.
    Text {
        /// The text to analyse.
        text: Option<String>,
        /// Read one text per line from standard input and write one JSON result per line.
        #[arg(long)]
        jsonl: bool,
        /// Start the tier ladder at this tier.
        #[arg(long, value_enum)]
        tier: Option<TierArg>,
        /// Answer with this model only (a built-in, custom or ensemble model's id) instead of the tier ladder.
        #[arg(long, conflicts_with = "tier")]
        model: Option<String>,
        /// Include per-sentence results.
        #[arg(long)]
        sentences: bool,
    },
    /// Analyse an audio file of speech (WAV incl. μ-law/A-law, FLAC, Ogg Vorbis or Opus, MP3, M4A).
    Audio {
        file: PathBuf,
        /// Start the tier ladder at this tier.
        #[arg(long, value_enum)]
        tier: Option<TierArg>,
        /// Answer with this model only (a built-in or custom model's id) instead of the tier ladder.
        #[arg(long, conflicts_with = "tier")]
        model: Option<String>,
        /// Include the per-window timeline.
        #[arg(long)]
        segments: bool,
        /// Include the feature summary under `metadata.features`.
        #[arg(long)]
        features: bool,
    },
    /// Analyse the faces of an image (JPEG, PNG, WebP, GIF, BMP).
    Image {
        file: PathBuf,
        /// Start the tier ladder at this tier.
        #[arg(long, value_enum)]
        tier: Option<TierArg>,
        /// Answer with this model only (a built-in or custom model's id) instead of the tier ladder.
        #[arg(long, conflicts_with = "tier")]
        model: Option<String>,
        /// The image is one cropped face: skip detection.
        #[arg(long)]
        aligned: bool,
        /// Include the 468 landmarks of each face.
        #[arg(long)]
        landmarks: bool,
        /// Write the image with boxes and labels drawn to this PNG file.
        #[arg(long)]
        annotate: Option<PathBuf>,
    },
    /// Analyse the faces of a video (H.264 in MP4/QuickTime, animated GIF): frames sampled at VIDEO_SAMPLE_FPS, the
    /// mean over frames with a face, and the timeline.
    Video {
        file: PathBuf,
        /// Start the tier ladder at this tier.
        #[arg(long, value_enum)]
        tier: Option<TierArg>,
        /// Answer with this model only (a built-in or custom model's id) instead of the tier ladder.
        #[arg(long, conflicts_with = "tier")]
        model: Option<String>,
    },
    /// Analyse text, speech and a face image together and print the fused result with each modality's own.
    Multimodal {
        #[arg(long)]
        text: Option<String>,
        /// An audio file of speech.
        #[arg(long)]
        audio: Option<PathBuf>,
        /// An image or video with a face.
        #[arg(long)]
        video: Option<PathBuf>,
        /// Start every modality's tier ladder at this tier.
        #[arg(long, value_enum)]
        tier: Option<TierArg>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum TierArg {
    Primary,
    Secondary,
    Fallback,
}

impl From<TierArg> for Tier {
    fn from(t: TierArg) -> Tier {
        match t {
            TierArg::Primary => Tier::Primary,
            TierArg::Secondary => Tier::Secondary,
            TierArg::Fallback => Tier::Fallback,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("emosense: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(note) = &config.device_note {
        eprintln!("emosense: {note}");
    }
    let engine = Arc::new(EmoSense::new(config));
    let outcome = match cli.command {
        Command::Serve { addr, warmup } => serve::serve(engine, addr, warmup),
        Command::Analyze { input: AnalyzeInput::Text { text, jsonl, tier, model, sentences } } => {
            let options = TextOptions { tier: tier.map(Tier::from), model, sentences, ..TextOptions::default() };
            analyze_text(&engine, text, jsonl, &options)
        }
        Command::Analyze { input: AnalyzeInput::Audio { file, tier, model, segments, features } } => {
            let options = AudioOptions { tier: tier.map(Tier::from), model, segments, features, ..AudioOptions::default() };
            analyze_audio(&engine, &file, &options)
        }
        Command::Analyze { input: AnalyzeInput::Image { file, tier, model, aligned, landmarks, annotate } } => {
            let options = FaceOptions { tier: tier.map(Tier::from), model, landmarks, annotate: annotate.is_some(), aligned_face: aligned, ..FaceOptions::default() };
            analyze_faces(&engine, &file, &options, annotate.as_deref())
        }
        Command::Analyze { input: AnalyzeInput::Video { file, tier, model } } => {
            analyze_faces(&engine, &file, &FaceOptions { tier: tier.map(Tier::from), model, ..FaceOptions::default() }, None)
        }
        Command::Analyze { input: AnalyzeInput::Multimodal { text, audio, video, tier } } => {
            analyze_multimodal(&engine, text.as_deref(), audio.as_deref(), video.as_deref(), tier.map(Tier::from))
        }
        Command::Features { files } => print_features(&engine, &files),
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(emosense_http::openapi_document()).unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval { split, source, data, tier } => eval::eval_text(&engine, &data, &source, &split, tier.map(Tier::from)),
        Command::EvalAudio { data } => eval::eval_audio(&engine, &data),
        Command::EvalFace { data, split, files, probabilities, all_tiers } => {
            eval::eval_face(&engine, &eval::FaceEvalSet { data: &data, split: &split, files: files.as_deref() }, probabilities.as_deref(), all_tiers)
        }
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("emosense: {message}");
            ExitCode::FAILURE
        }
    }
}

fn analyze_text(engine: &EmoSense, text: Option<String>, jsonl: bool, options: &TextOptions) -> Result<ExitCode, String> {
    let to_json = |result: emosense_core::Result<emosense_core::AnalysisResult>| match result {
        Ok(r) => serde_json::to_string(&r).unwrap_or_default(),
        Err(e) => error_line(e),
    };
    match (text, jsonl) {
        (Some(text), false) => print_result(engine.text().analyze(&text, options)),
        (None, true) => {
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
            let analyse = |line: &str| to_json(engine.text().analyze(line, options));
            let bar = progress::Bar::beside_output("texts");
            let written = |count: usize| bar.update(count as f64, None, "texts");
            in_order_on_threads(std::io::BufReader::new(std::io::stdin()), std::io::stdout().lock(), workers, analyse, written)?;
            Ok(ExitCode::SUCCESS)
        }
        _ => Err("give either a TEXT argument or --jsonl (texts on standard input)".into()),
    }
}

/// Answers each line of `input` with `answer` on `workers` threads and writes the answers to `output` in input
/// order, each as soon as it and those before it are ready (lines that trickle in are answered as they come);
/// `written` is told how many are written so far.
fn in_order_on_threads(
    input: impl BufRead + Send,
    mut output: impl Write,
    workers: usize,
    answer: impl Fn(&str) -> String + Sync,
    written: impl Fn(usize),
) -> Result<(), String> {
    let (line_tx, line_rx) = std::sync::mpsc::sync_channel::<(usize, String)>(workers * 4);
    let (answer_tx, answer_rx) = std::sync::mpsc::channel::<(usize, String)>();
    // The workers own the receiving end: when they stop (the output failed), the reader's next send fails and it stops.
    let line_rx = Arc::new(std::sync::Mutex::new(line_rx));
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> Result<(), String> {
            for (i, line) in input.lines().enumerate() {
                let line = line.map_err(|e| format!("reading standard input: {e}"))?;
                if line_tx.send((i, line)).is_err() {
                    break;
                }
            }
            Ok(())
        });
        for _ in 0..workers.max(1) {
            let (answer_tx, line_rx, answer) = (answer_tx.clone(), Arc::clone(&line_rx), &answer);
            scope.spawn(move || loop {
                let next = line_rx.lock().map_or(None, |rx| rx.recv().ok());
                let Some((i, line)) = next else { break };
                if answer_tx.send((i, answer(&line))).is_err() {
                    break;
                }
            });
        }
        drop((answer_tx, line_rx));
        let mut waiting = std::collections::BTreeMap::new();
        let mut next = 0;
        for (i, json) in answer_rx {
            waiting.insert(i, json);
            while let Some(json) = waiting.remove(&next) {
                writeln!(output, "{json}").and_then(|()| output.flush()).map_err(|e| format!("writing standard output: {e}"))?;
                next += 1;
                written(next);
            }
        }
        reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

fn analyze_audio(engine: &EmoSense, file: &std::path::Path, options: &AudioOptions) -> Result<ExitCode, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let bar = progress::Bar::new("speech");
    let options = AudioOptions { progress: bar.progress(), ..options.clone() };
    let result = engine.audio().analyze(&file.display().to_string(), &bytes, &options);
    drop(bar);
    print_result(result)
}

fn analyze_faces(engine: &EmoSense, file: &std::path::Path, options: &FaceOptions, annotate: Option<&std::path::Path>) -> Result<ExitCode, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let bar = progress::Bar::new("video");
    let options = FaceOptions { progress: bar.progress(), ..options.clone() };
    let mut result = engine.face().analyze(&file.display().to_string(), &bytes, &options);
    drop(bar);
    if let (Ok(result), Some(path)) = (&mut result, annotate) {
        let png = result.annotated_png.take().unwrap_or_default();
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    print_result(result)
}

fn analyze_multimodal(engine: &EmoSense, text: Option<&str>, audio: Option<&Path>, video: Option<&Path>, tier: Option<Tier>) -> Result<ExitCode, String> {
    let read = |file: Option<&Path>| file.map(|f| std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))).transpose();
    let (audio, video) = (read(audio)?, read(video)?);
    let input = MultimodalInput { text, audio: audio.as_deref(), video: video.as_deref() };
    print_result(engine.analyze_multimodal(&input, &MultimodalOptions { tier, ..MultimodalOptions::default() }))
}

/// Prints a result as one JSON line, warning on stderr when a tier or modality answered lower than it should have (a
/// model missing or failing); or the error, as the API's error items are, with exit status 1.
fn print_result(result: emosense_core::Result<impl serde::Serialize + LowerTiers>) -> Result<ExitCode, String> {
    match result {
        Ok(result) => {
            for warning in result.lower_tiers() {
                eprintln!("emosense: warning: {warning}");
            }
            println!("{}", serde_json::to_string(&result).map_err(|e| e.to_string())?);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("{}", error_line(e));
            Ok(ExitCode::from(1))
        }
    }
}

/// An error as one JSON line: the API's error item.
fn error_line(error: emosense_core::Error) -> String {
    serde_json::to_string(&emosense_http::ApiError::from(error).item()).unwrap_or_default()
}

/// What an answer says of the tiers or modalities that answered lower than asked because a model is missing or failed.
trait LowerTiers {
    fn lower_tiers(&self) -> Vec<String>;
}

impl LowerTiers for AnalysisResult {
    fn lower_tiers(&self) -> Vec<String> {
        self.metadata.skipped_tiers.iter().map(|skipped| format!("answered from a lower tier: {skipped}")).collect()
    }
}

impl LowerTiers for MultimodalResult {
    fn lower_tiers(&self) -> Vec<String> {
        let degraded = self.metadata.degraded_modalities.iter().map(|m| m.as_str());
        degraded.map(|m| format!("{m} answered from a lower tier (see modalities.{m}.metadata.skipped_tiers)")).collect()
    }
}

fn print_features(engine: &EmoSense, files: &[PathBuf]) -> Result<ExitCode, String> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write = |value: serde_json::Value| writeln!(out, "{value}").map_err(|e| format!("writing standard output: {e}"));
    write(serde_json::json!({"feature_names": emosense_core::audio::feature_names()}))?;
    for file in files {
        let name = file.display().to_string();
        let prepared = std::fs::read(file).map_err(|e| e.to_string()).and_then(|bytes| engine.audio().prepare("audio", &bytes).map_err(|e| e.to_string()));
        match prepared {
            Ok(prepared) => {
                let windows: Vec<serde_json::Value> = AudioAnalyzer::windows(&prepared)
                    .into_iter()
                    .map(|window| serde_json::json!({"features": window.features, "encoder_mel": window.encoder_mel.iter().map(|frame| frame.to_vec()).collect::<Vec<_>>()}))
                    .collect();
                write(serde_json::json!({"file": name, "windows": windows}))?;
            }
            Err(e) => write(serde_json::json!({"file": name, "error": e}))?,
        }
    }
    Ok(ExitCode::SUCCESS)
}
