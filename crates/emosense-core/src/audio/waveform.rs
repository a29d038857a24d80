//! Custom speech models: one ONNX graph that reads the waveform of each analysis window, `[batch, samples]` float32
//! at the pipeline's 16 kHz (the form wav2vec2-style audio classifiers export to), and gives one score per label;
//! the manifest's label map turns them into the seven emotions.

use tract_onnx::prelude::*;

use super::{AudioModel, Window};
use crate::emotion::EmotionScores;
use crate::error::{Error, LoadError, Result};
use crate::inference::{Dim, Graph, GraphSpec, InputFact};
use crate::registry::{InputContract, LabelMapping, ModelEntry, ScoreKind, SpeechInput, WaveformScaling};

/// A loaded waveform classifier: its graph loaded for any batch and length.
pub(super) struct WaveformClassifier {
    graph: Graph,
    scaling: WaveformScaling,
    output: ScoreKind,
    labels: LabelMapping,
    id: String,
}

impl WaveformClassifier {
    /// Loads the model's one graph and checks it against the manifest: one input, one output value per label.
    pub(super) fn load(entry: &ModelEntry) -> std::result::Result<Self, LoadError> {
        let contract = |message: String| LoadError::ContractMismatch { model: entry.id().to_owned(), message };
        let Some(InputContract::Speech { reads: SpeechInput::Waveform { scaling }, output: Some(output), .. }) = &entry.manifest.input else {
            return Err(contract("its input contract is not a waveform of kind speech".into()));
        };
        let labels = entry.manifest.label_mapping().map_err(|e| contract(e.0))?;
        let spec = GraphSpec { inputs: vec![InputFact::f32([Dim::Any("batch"), Dim::Any("samples")])], labels: Some(labels.labels()), ..GraphSpec::default() };
        let graph = Graph::load(&entry.only_graph()?, entry.id(), &spec, entry.inference)?;
        Ok(WaveformClassifier { graph, scaling: *scaling, output: *output, labels, id: entry.id().to_owned() })
    }

    /// The window's samples as the graph reads them.
    fn scaled(&self, samples: &[f32]) -> Vec<f32> {
        match self.scaling {
            WaveformScaling::AsPrepared => samples.to_vec(),
            WaveformScaling::ZeroMeanUnitVariance => {
                let n = samples.len().max(1) as f32;
                let mean = samples.iter().sum::<f32>() / n;
                let deviation = (samples.iter().map(|s| (s - mean).powi(2)).sum::<f32>() / n + 1e-7).sqrt();
                samples.iter().map(|s| (s - mean) / deviation).collect()
            }
        }
    }

    /// Scores windows of equal length in one batch.
    fn score_batch(&self, windows: &[Window]) -> Result<Vec<EmotionScores>> {
        let error = |e: TractError| Error::Model { model: self.id.clone(), message: format!("{e:#}") };
        let length = windows[0].samples.len();
        let samples: Vec<f32> = windows.iter().flat_map(|w| self.scaled(&w.samples)).collect();
        let input = Tensor::from_shape(&[windows.len(), length], &samples).map_err(error)?;
        let outputs = self.graph.run(tvec!(input.into())).map_err(error)?;
        crate::onnx::emotions_per_row(&outputs[0], windows.len(), &self.labels, self.output).map_err(error)
    }
}

impl AudioModel for WaveformClassifier {
    fn score(&self, windows: &[Window]) -> Result<Vec<EmotionScores>> {
        super::score_in_batches(windows, |w| w.samples.len(), |batch| self.score_batch(batch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emotion::Emotion;
    use crate::registry::{Manifest, Modality};
    use crate::Precision;
    use std::sync::Arc;

    fn example() -> WaveformClassifier {
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/custom-speech-model");
        let manifest: Manifest = serde_json::from_slice(&std::fs::read(folder.join("manifest.json")).unwrap()).unwrap();
        let model = manifest.models.into_iter().next().unwrap();
        model.validate(None).unwrap();
        WaveformClassifier::load(&ModelEntry { manifest: Arc::new(model), modality: Modality::Audio, folder, custom: true, precision: Precision::Int8, inference: crate::Inference::default() }).unwrap()
    }

    /// What the example graph computes (tools/examples/custom_speech_model.py), written out: brightness and peak of
    /// the window scaled to zero mean and unit variance, a linear layer, softmax, and the labels shared out.
    fn written_out(samples: &[f32]) -> [f32; 7] {
        let n = samples.len() as f32;
        let mean = samples.iter().sum::<f32>() / n;
        let deviation = (samples.iter().map(|s| (s - mean).powi(2)).sum::<f32>() / n + 1e-7).sqrt();
        let scaled: Vec<f32> = samples.iter().map(|s| (s - mean) / deviation).collect();
        let brightness = scaled.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f32>() / (n - 1.0);
        let peak = scaled.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        let logits = [6.0 * brightness + 0.5 * peak - 3.0, -6.0 * brightness - 0.25 * peak + 1.5, 0.0];
        let total: f32 = logits.iter().map(|l| l.exp()).sum();
        let [aroused, subdued, level] = logits.map(|l| l.exp() / total);
        let mut expected = [0.0; 7];
        for emotion in [Emotion::Anger, Emotion::Fear, Emotion::Joy, Emotion::Surprise] {
            expected[emotion.index()] = aroused / 4.0;
        }
        for emotion in [Emotion::Sadness, Emotion::Disgust] {
            expected[emotion.index()] = subdued / 2.0;
        }
        expected[Emotion::Neutral.index()] = level;
        expected
    }

    #[test]
    fn the_example_graph_scores_scaled_windows_of_any_length() {
        let tone: Vec<f32> = (0..16_000).map(|i| 0.3 * (i as f32 * 2.0 * std::f32::consts::PI * 150.0 / 16_000.0).sin()).collect();
        let clips = [crate::audio::test_noise(16_000), tone.clone(), tone[..8_000].to_vec()];
        let windows: Vec<Window> =
            clips.iter().map(|samples| Window { span: 0..samples.len(), samples: samples.clone(), features: Vec::new(), encoder_mel: Vec::new() }).collect();
        let scores = example().score(&windows).unwrap();
        for (clip, scores) in clips.iter().zip(&scores) {
            let expected = written_out(clip);
            for emotion in Emotion::ALL {
                assert!((scores.get(emotion) - expected[emotion.index()]).abs() < 1e-4, "{emotion:?}: {scores:?} vs {expected:?}");
            }
        }
        assert!(scores[0].get(Emotion::Anger) > scores[1].get(Emotion::Anger), "noise is brighter than a low tone");
        assert!(scores[1].get(Emotion::Sadness) > scores[0].get(Emotion::Sadness));
    }
}
