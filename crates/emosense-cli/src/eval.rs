//! Evaluation with the same code that serves requests: the text tiers on GoEmotions-Ekman (accuracy and macro-F1
//! on single-label rows), the face expression models on FER2013's aligned faces, and the speech tiers on a folder
//! of labelled clips (unweighted average recall over the labels it holds).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use emosense_core::text::MAX_BATCH_TEXTS;
use emosense_core::{AudioOptions, EmoSense, Emotion, TextOptions, Tier};
use serde_json::json;

/// Labelled text sources: GoEmotions-Ekman (`goemotions`, its published splits), XED English (`xed-en`, split by
/// [`split_of`]) and XED's projections to other languages (`xed-<lang>`, e.g. `xed-de`; every line, for any split:
/// no model is trained on them).
fn read_text_source(data: &Path, source: &str, split: &str) -> Result<Vec<(String, Vec<usize>)>, String> {
    let read = |path: PathBuf| match std::fs::read_to_string(&path) {
        Ok(contents) => Ok((path, contents)),
        Err(e) => Err(format!("{}: {e}", path.display())),
    };
    let parse_ids = |path: &Path, n: usize, ids: &str| -> Result<Vec<usize>, String> {
        ids.split(',').map(|i| i.trim().parse().map_err(|_| format!("{}:{}: bad label {i:?}", path.display(), n + 1))).collect()
    };
    let mut rows = Vec::new();
    if source == "goemotions" {
        let (path, contents) = read(data.join("goemotions/ekman").join(format!("{split}.tsv")))?;
        for (n, line) in contents.lines().enumerate() {
            let mut columns = line.split('\t');
            let (Some(text), Some(ids)) = (columns.next(), columns.next()) else {
                return Err(format!("{}:{}: expected text<TAB>labels<TAB>id", path.display(), n + 1));
            };
            rows.push((text.to_owned(), parse_ids(&path, n, ids)?));
        }
        return Ok(rows);
    }
    let Some(language) = source.strip_prefix("xed-") else {
        return Err(format!("unknown source {source:?}: goemotions, xed-en or xed-<language>"));
    };
    let mut lines = Vec::new();
    if language == "en" {
        let folder = data.join("xed/AnnotatedData");
        let (path, contents) = read(folder.join("en-annotated.tsv"))?;
        for (n, line) in contents.lines().enumerate() {
            let (text, ids) = line.rsplit_once('\t').ok_or_else(|| format!("{}:{}: expected text<TAB>labels", path.display(), n + 1))?;
            lines.push((text.to_owned(), parse_ids(&path, n, ids)?));
        }
        let (_, contents) = read(folder.join("neu_en.txt"))?;
        for line in contents.lines() {
            if let Some(("9", text)) = line.split_once('\t') {
                lines.push((text.trim_matches('\t').to_owned(), vec![9]));
            }
        }
        lines.retain(|(text, _)| split_of(text) == split);
    } else {
        // Some projection files hold stray lines (a text broken by a line break, alignment records with more
        // columns): only `text<TAB>labels` lines with valid labels are read.
        let (path, contents) = read(data.join("xed/Projections").join(format!("{language}-projections.tsv")))?;
        for (n, line) in contents.lines().enumerate() {
            let mut columns = line.split('\t');
            if let (Some(text), Some(ids), None) = (columns.next(), columns.next(), columns.next()) {
                if let Ok(ids) = parse_ids(&path, n, ids) {
                    lines.push((text.to_owned(), ids));
                }
            }
        }
    }
    for (text, ids) in lines {
        let mut labels: Vec<usize> = ids.iter().filter_map(|id| xed_label(*id)).map(Emotion::index).collect();
        labels.sort_unstable();
        labels.dedup();
        if !labels.is_empty() && !text.trim().is_empty() {
            rows.push((text, labels));
        }
    }
    Ok(rows)
}

/// XED's Plutchik label ids (1-based, alphabetical; 9 marks neutral lines) as emotions; anticipation (2) and trust
/// (8) have none.
fn xed_label(id: usize) -> Option<Emotion> {
    match id {
        1 => Some(Emotion::Anger),
        3 => Some(Emotion::Disgust),
        4 => Some(Emotion::Fear),
        5 => Some(Emotion::Joy),
        6 => Some(Emotion::Sadness),
        7 => Some(Emotion::Surprise),
        9 => Some(Emotion::Neutral),
        _ => None,
    }
}

/// Split of a line of a source without published splits (`tools/text/common.py` applies the same rule): FNV-1a 64
/// of `emosense-split:` and the trimmed text, modulo 10: 0 is `test`, 1 is `dev`, the rest `train`. Equal lines
/// share a split.
pub fn split_of(text: &str) -> &'static str {
    let hash = "emosense-split:".bytes().chain(text.trim().bytes()).fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    match hash % 10 {
        0 => "test",
        1 => "dev",
        _ => "train",
    }
}

/// Reliability bins of the calibration report.
const CALIBRATION_BINS: usize = 10;

/// Evaluates one text tier on the single-label rows of a source's split and prints accuracy, macro-F1, expected
/// calibration error, the reliability bins and the share of answers per label as JSON.
pub fn eval_text(engine: &EmoSense, data: &Path, source: &str, split: &str, tier: Option<Tier>) -> Result<ExitCode, String> {
    let texts: Vec<(String, usize)> = read_text_source(data, source, split)?.into_iter().filter(|(_, l)| l.len() == 1).map(|(t, l)| (t, l[0])).collect();
    let options = TextOptions { tier, ..TextOptions::default() };
    let started = Instant::now();
    let mut predicted = Vec::with_capacity(texts.len());
    let mut confidence = Vec::with_capacity(texts.len());
    let mut languages: BTreeMap<String, usize> = BTreeMap::new();
    let mut answered_by = String::new();
    let bar = crate::progress::Bar::new("texts");
    for block in texts.chunks(MAX_BATCH_TEXTS) {
        bar.update(predicted.len() as f64, Some(texts.len() as f64), "texts");
        let batch: Vec<String> = block.iter().map(|(t, _)| t.clone()).collect();
        let results = engine.text().analyze_batch(&batch, &options).and_then(|items| items.into_iter().collect::<emosense_core::Result<Vec<_>>>()).map_err(|e| e.to_string())?;
        answered_by = results.first().map(|r| r.metadata.model.clone()).unwrap_or_default();
        for result in &results {
            predicted.push(result.dominant_emotion.index());
            confidence.push(f64::from(result.confidence));
            let language = result.metadata.details.text.as_ref().and_then(|t| t.language.as_ref()).map_or("unknown", |l| l.code);
            *languages.entry(language.to_owned()).or_default() += 1;
        }
    }
    drop(bar);
    let gold: Vec<usize> = texts.iter().map(|(_, l)| *l).collect();
    let mut report = serde_json::Map::new();
    report.insert("source".into(), source.into());
    report.insert("split".into(), split.into());
    report.extend(scores_report(&predicted, &gold));
    let (ece, bins) = calibration(&predicted, &confidence, &gold);
    report.insert("ece".into(), json!(round(ece)));
    report.insert("reliability".into(), bins.into());
    let answered: serde_json::Map<String, serde_json::Value> = Emotion::ALL
        .iter()
        .map(|e| (e.as_str().to_owned(), json!(round(predicted.iter().filter(|p| **p == e.index()).count() as f64 / predicted.len().max(1) as f64))))
        .collect();
    report.insert("answered".into(), answered.into());
    let mut languages: Vec<(String, usize)> = languages.into_iter().collect();
    languages.sort_by(|a, b| b.1.cmp(&a.1));
    let languages: serde_json::Map<String, serde_json::Value> =
        languages.iter().take(5).map(|(code, n)| (code.clone(), json!(round(*n as f64 / gold.len().max(1) as f64)))).collect();
    report.insert("languages".into(), languages.into());
    report.insert("model".into(), answered_by.into());
    report.insert("precision".into(), engine.config().precision.as_str().into());
    report.insert("seconds".into(), json!((started.elapsed().as_secs_f64() * 10.0).round() / 10.0));
    println!("{}", serde_json::Value::Object(report));
    Ok(ExitCode::SUCCESS)
}

/// Expected calibration error (the row-weighted gap between confidence and accuracy over equal-width confidence
/// bins) and the bins as `{confidence, accuracy, rows}`.
fn calibration(predicted: &[usize], confidence: &[f64], gold: &[usize]) -> (f64, Vec<serde_json::Value>) {
    let mut sums = [(0.0_f64, 0.0_f64, 0_usize); CALIBRATION_BINS];
    for ((p, c), g) in predicted.iter().zip(confidence).zip(gold) {
        let bin = ((c * CALIBRATION_BINS as f64) as usize).min(CALIBRATION_BINS - 1);
        sums[bin].0 += c;
        sums[bin].1 += f64::from(u8::from(p == g));
        sums[bin].2 += 1;
    }
    let ece = sums.iter().map(|(c, a, _)| (c - a).abs()).sum::<f64>() / gold.len().max(1) as f64;
    let bins = sums
        .iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(c, a, n)| json!({"confidence": round(c / *n as f64), "accuracy": round(a / *n as f64), "rows": n}))
        .collect();
    (ece, bins)
}

/// FER2013 folder names and the labels they hold.
const FER_FOLDERS: [(&str, Emotion); 7] = [
    ("angry", Emotion::Anger),
    ("disgust", Emotion::Disgust),
    ("fear", Emotion::Fear),
    ("happy", Emotion::Joy),
    ("neutral", Emotion::Neutral),
    ("sad", Emotion::Sadness),
    ("surprise", Emotion::Surprise),
];
/// Faces per model run.
const FACE_BATCH: usize = 64;

/// Which FER2013 faces to evaluate on.
pub struct FaceEvalSet<'a> {
    /// Folder holding the split folders.
    pub data: &'a Path,
    /// Split folder under `data`, holding `<label>/*.jpg`.
    pub split: &'a str,
    /// A file listing `<label>/<file name>` per line: only those faces.
    pub files: Option<&'a Path>,
}

impl FaceEvalSet<'_> {
    /// Every face of the set, sorted by label folder then name, with its label index.
    fn faces(&self) -> Result<Vec<(std::path::PathBuf, usize)>, String> {
        let root = self.data.join(self.split);
        let listed: Option<std::collections::HashSet<String>> = match self.files {
            Some(list) => Some(std::fs::read_to_string(list).map_err(|e| format!("{}: {e}", list.display()))?.lines().map(str::to_owned).collect()),
            None => None,
        };
        let mut files = Vec::new();
        for (folder, emotion) in FER_FOLDERS {
            let dir = root.join(folder);
            let mut names: Vec<String> = std::fs::read_dir(&dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .filter(|name| listed.as_ref().is_none_or(|l| l.contains(&format!("{folder}/{name}"))))
                .collect();
            names.sort();
            files.extend(names.into_iter().map(|name| (dir.join(name), emotion.index())));
        }
        if files.is_empty() {
            return Err(format!("{}: no faces", root.display()));
        }
        Ok(files)
    }
}

/// Scores every face of `set` as an aligned crop with each expression model and their weighted mean (and with the
/// lower tiers when asked), prints the metrics as JSON, and writes each face's probabilities to `probabilities`.
pub fn eval_face(engine: &EmoSense, set: &FaceEvalSet, probabilities: Option<&Path>, all_tiers: bool) -> Result<ExitCode, String> {
    let files = set.faces()?;
    let mut probability_lines = String::new();
    let started = Instant::now();
    let tiers = if all_tiers { vec![Tier::Primary, Tier::Secondary, Tier::Fallback] } else { vec![Tier::Primary] };
    let mut predictions: Vec<(String, Vec<usize>)> = Vec::new();
    let bar = crate::progress::Bar::new("faces");
    for (i, block) in files.chunks(FACE_BATCH).enumerate() {
        bar.update((i * FACE_BATCH) as f64, Some(files.len() as f64), "faces");
        let images = block
            .iter()
            .map(|(path, _)| {
                let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                engine.face().decode("image", &bytes).map(|d| d.rgb).map_err(|e| format!("{}: {e}", path.display()))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let mut block_predictions = Vec::new();
        for &tier in &tiers {
            let members = engine.face().score_aligned(&images, tier).map_err(|e| e.to_string())?;
            if members.len() > 1 {
                block_predictions.push(("ensemble".to_owned(), emosense_core::face::mean_of_members(&members)));
            }
            block_predictions.extend(members.into_iter().map(|m| (m.name.to_owned(), m.scores)));
        }
        if probabilities.is_some() {
            for (i, (path, label)) in block.iter().enumerate() {
                let mut line = serde_json::Map::new();
                line.insert("file".into(), path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default().into());
                line.insert("label".into(), Emotion::ALL[*label].as_str().into());
                for (name, scores) in &block_predictions {
                    line.insert(name.clone(), json!(scores[i].as_array()));
                }
                probability_lines.push_str(&serde_json::Value::Object(line).to_string());
                probability_lines.push('\n');
            }
        }
        for (name, scores) in block_predictions {
            let labels = scores.iter().map(|s| s.dominant().0.index());
            match predictions.iter_mut().find(|(n, _)| *n == name) {
                Some((_, all)) => all.extend(labels),
                None => predictions.push((name, labels.collect())),
            }
        }
    }
    drop(bar);
    let gold: Vec<usize> = files.iter().map(|(_, l)| *l).collect();
    let models: serde_json::Map<String, serde_json::Value> =
        predictions.iter().map(|(name, predicted)| (name.clone(), serde_json::Value::Object(scores_report(predicted, &gold)))).collect();
    if let Some(path) = probabilities {
        std::fs::write(path, probability_lines).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let report = json!({
        "data": set.split,
        "rows": gold.len(),
        "precision": engine.config().precision.as_str(),
        "models": models,
        "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    });
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// Folder names of speech corpora (matched without case) and the labels they hold.
const SPEECH_FOLDERS: [(&str, Emotion); 14] = [
    ("angry", Emotion::Anger),
    ("anger", Emotion::Anger),
    ("disgust", Emotion::Disgust),
    ("fear", Emotion::Fear),
    ("fearful", Emotion::Fear),
    ("happy", Emotion::Joy),
    ("joy", Emotion::Joy),
    ("calm", Emotion::Neutral),
    ("neutral", Emotion::Neutral),
    ("sad", Emotion::Sadness),
    ("sadness", Emotion::Sadness),
    ("surprise", Emotion::Surprise),
    ("surprised", Emotion::Surprise),
    ("boredom", Emotion::Neutral),
];

/// Scores every clip under `<data>/<label folder>/` with each tier, the answer being the largest probability among
/// the labels the folders hold, and prints clips, accuracy, unweighted average recall and per-label recall as JSON.
/// Clips that cannot be analysed (too short, silent) are counted, not scored.
pub fn eval_audio(engine: &EmoSense, data: &Path) -> Result<ExitCode, String> {
    let mut clips = Vec::new();
    let entries = std::fs::read_dir(data).map_err(|e| format!("{}: {e}", data.display()))?;
    for entry in entries.flatten().filter(|e| e.path().is_dir()) {
        let name = entry.file_name().to_string_lossy().to_lowercase();
        let Some((_, emotion)) = SPEECH_FOLDERS.iter().find(|(folder, _)| *folder == name) else { continue };
        let mut files: Vec<_> = std::fs::read_dir(entry.path()).map_err(|e| e.to_string())?.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        clips.extend(files.into_iter().map(|path| (path, *emotion)));
    }
    if clips.is_empty() {
        return Err(format!("{}: no folder named after an emotion ({})", data.display(), SPEECH_FOLDERS.map(|(f, _)| f).join(", ")));
    }
    let mut present: Vec<Emotion> = clips.iter().map(|(_, e)| *e).collect();
    present.sort_by_key(|e| e.index());
    present.dedup();
    let started = Instant::now();
    let mut tiers = serde_json::Map::new();
    for tier in [Tier::Primary, Tier::Secondary, Tier::Fallback] {
        let options = AudioOptions { tier: Some(tier), ..AudioOptions::default() };
        let (mut gold, mut predicted, mut skipped, mut model) = (Vec::new(), Vec::new(), 0usize, String::new());
        let bar = crate::progress::Bar::new(tier.as_str());
        for (i, (path, emotion)) in clips.iter().enumerate() {
            bar.update(i as f64, Some(clips.len() as f64), "clips");
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            match engine.audio().analyze("audio", &bytes, &options) {
                Ok(result) => {
                    model = result.metadata.model.clone();
                    let best = present.iter().max_by(|a, b| result.emotions.get(**a).total_cmp(&result.emotions.get(**b))).copied().unwrap_or(Emotion::Neutral);
                    gold.push(emotion.index());
                    predicted.push(best.index());
                }
                Err(emosense_core::Error::InvalidInput { .. }) => skipped += 1,
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
        let recall: serde_json::Map<String, serde_json::Value> = present
            .iter()
            .map(|e| {
                let of_label: Vec<usize> = gold.iter().zip(&predicted).filter(|(g, _)| **g == e.index()).map(|(_, p)| *p).collect();
                let hits = of_label.iter().filter(|p| **p == e.index()).count();
                (e.as_str().to_owned(), json!(round(hits as f64 / of_label.len().max(1) as f64)))
            })
            .collect();
        let uar = recall.values().filter_map(|v| v.as_f64()).sum::<f64>() / recall.len() as f64;
        let (accuracy, _) = metrics(&predicted, &gold);
        tiers.insert(tier.as_str().to_owned(), json!({"model": model, "clips": gold.len(), "skipped": skipped, "accuracy": round(accuracy), "uar": round(uar), "recall": recall}));
    }
    let report = json!({
        "data": data.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        "labels": present.iter().map(|e| e.as_str()).collect::<Vec<_>>(),
        "precision": engine.config().precision.as_str(),
        "tiers": tiers,
        "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    });
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// `{rows, accuracy, macro_f1, per_class_f1}` of `predicted` against `gold`.
fn scores_report(predicted: &[usize], gold: &[usize]) -> serde_json::Map<String, serde_json::Value> {
    let (accuracy, f1) = metrics(predicted, gold);
    let per_class: serde_json::Map<String, serde_json::Value> =
        Emotion::ALL.iter().zip(&f1).map(|(e, f)| (e.as_str().to_owned(), json!(round(*f)))).collect();
    let mut report = serde_json::Map::new();
    report.insert("rows".into(), gold.len().into());
    report.insert("accuracy".into(), json!(round(accuracy)));
    report.insert("macro_f1".into(), json!(round(f1.iter().sum::<f64>() / f1.len() as f64)));
    report.insert("per_class_f1".into(), per_class.into());
    report
}

/// Accuracy and per-class F1 of `predicted` against `gold` (label indices).
fn metrics(predicted: &[usize], gold: &[usize]) -> (f64, Vec<f64>) {
    let correct = predicted.iter().zip(gold).filter(|(p, g)| p == g).count();
    let f1 = (0..Emotion::ALL.len())
        .map(|c| {
            let tp = predicted.iter().zip(gold).filter(|(p, g)| **p == c && **g == c).count() as f64;
            let fp = predicted.iter().zip(gold).filter(|(p, g)| **p == c && **g != c).count() as f64;
            let fn_ = predicted.iter().zip(gold).filter(|(p, g)| **p != c && **g == c).count() as f64;
            if tp == 0.0 { 0.0 } else { 2.0 * tp / (2.0 * tp + fp + fn_) }
        })
        .collect();
    (correct as f64 / gold.len().max(1) as f64, f1)
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::{calibration, metrics, split_of};

    #[test]
    fn calibration_error_is_the_gap_between_confidence_and_accuracy() {
        let (ece, bins) = calibration(&[0, 0, 1, 1], &[0.95, 0.95, 0.55, 0.55], &[0, 0, 0, 1]);
        assert!((ece - (0.5 * 0.05 + 0.5 * 0.05)).abs() < 1e-9, "{ece}");
        assert_eq!(bins.len(), 2);
        let (ece, _) = calibration(&[0, 1], &[0.9, 0.9], &[1, 0]);
        assert!((ece - 0.9).abs() < 1e-9);
    }

    #[test]
    fn split_rule_matches_the_tools() {
        // Values from tools/text/common.py split_of.
        assert_eq!(split_of("Yeah I was just telling him."), "train");
        assert_eq!(split_of("  Yeah I was just telling him.  "), "train");
        assert_eq!(split_of("Two pair 10s and sixes."), "test");
    }

    #[test]
    fn accuracy_and_f1() {
        let (acc, f1) = metrics(&[0, 0, 1, 1], &[0, 1, 1, 1]);
        assert_eq!(acc, 0.75);
        assert!((f1[0] - 2.0 / 3.0).abs() < 1e-9);
        assert!((f1[1] - 0.8).abs() < 1e-9);
        assert_eq!(f1[2], 0.0);
    }
}
