//! Evaluation of the text tiers on GoEmotions-Ekman: accuracy and macro-F1 on single-label rows, computed by the
//! same code that serves requests.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use emosense_core::text::MAX_BATCH_TEXTS;
use emosense_core::{EmoSense, Emotion, TextOptions, Tier};
use serde_json::json;

/// Reads `<data>/goemotions/ekman/<split>.tsv` (text, label ids, id) and prints the metrics as JSON.
pub fn eval_text(engine: &EmoSense, data: &Path, split: &str, tier: Option<Tier>) -> Result<ExitCode, String> {
    let path = data.join("goemotions/ekman").join(format!("{split}.tsv"));
    let contents = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut texts = Vec::new();
    for (n, line) in contents.lines().enumerate() {
        let mut columns = line.split('\t');
        let (Some(text), Some(ids)) = (columns.next(), columns.next()) else {
            return Err(format!("{}:{}: expected text<TAB>labels<TAB>id", path.display(), n + 1));
        };
        let labels: Vec<usize> = ids.split(',').map(|i| i.parse().map_err(|_| format!("{}:{}: bad label {i:?}", path.display(), n + 1))).collect::<Result<_, _>>()?;
        if labels.len() == 1 {
            texts.push((text.to_owned(), labels[0]));
        }
    }
    let options = TextOptions { tier, sentences: false };
    let started = Instant::now();
    let mut predicted = Vec::with_capacity(texts.len());
    let mut answered_by = String::new();
    for block in texts.chunks(MAX_BATCH_TEXTS) {
        let batch: Vec<String> = block.iter().map(|(t, _)| t.clone()).collect();
        let results = engine.text().analyze_batch(&batch, &options).map_err(|e| e.to_string())?;
        answered_by = results.first().map(|r| r.metadata.model.clone()).unwrap_or_default();
        predicted.extend(results.iter().map(|r| r.dominant_emotion.index()));
    }
    let gold: Vec<usize> = texts.iter().map(|(_, l)| *l).collect();
    let (accuracy, f1) = metrics(&predicted, &gold);
    let per_class: serde_json::Map<String, serde_json::Value> =
        Emotion::ALL.iter().zip(&f1).map(|(e, f)| (e.as_str().to_owned(), json!(round(*f)))).collect();
    let report = json!({
        "split": split,
        "rows": gold.len(),
        "model": answered_by,
        "precision": engine.config().precision.as_str(),
        "accuracy": round(accuracy),
        "macro_f1": round(f1.iter().sum::<f64>() / f1.len() as f64),
        "per_class_f1": per_class,
        "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    });
    println!("{report}");
    Ok(ExitCode::SUCCESS)
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
    use super::metrics;

    #[test]
    fn accuracy_and_f1() {
        let (acc, f1) = metrics(&[0, 0, 1, 1], &[0, 1, 1, 1]);
        assert_eq!(acc, 0.75);
        assert!((f1[0] - 2.0 / 3.0).abs() < 1e-9);
        assert!((f1[1] - 0.8).abs() < 1e-9);
        assert_eq!(f1[2], 0.0);
    }
}
