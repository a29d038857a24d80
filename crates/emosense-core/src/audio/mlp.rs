//! Primary tier: a small MLP over the standardised feature vector (standardisation inside the graph), int8
//! weights behind `DequantizeLinear`, run by tract. Input `features` `[N, D]`, output `logits` `[N, 7]`.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use super::{features, AudioModel};
use crate::emotion::EmotionScores;
use crate::error::{Error, Result};

pub(super) struct Mlp {
    plan: Arc<TypedRunnableModel>,
    version: String,
}

impl Mlp {
    /// Loads and optimises the ONNX graph for a symbolic batch of feature vectors.
    pub(super) fn load(path: &Path, version: String) -> std::result::Result<Self, String> {
        let plan = (|| -> TractResult<_> {
            let graph = crate::onnx::read_model(path)?;
            let batch = graph.sym("N");
            graph.with_input_fact(0, f32::fact([batch.to_dim(), features::names().len().to_dim()]).into())?.into_optimized()?.into_runnable()
        })()
        .map_err(|e| format!("{}: {e:#}", path.display()))?;
        Ok(Mlp { plan, version })
    }
}

impl AudioModel for Mlp {
    fn score(&self, windows: &[Vec<f32>]) -> Result<Vec<EmotionScores>> {
        let width = features::names().len();
        let flat: Vec<f32> = windows.iter().flatten().copied().collect();
        let error = |e: TractError| Error::Model { model: super::PRIMARY_MODEL.into(), message: format!("{e:#}") };
        let input = tract_ndarray::Array2::from_shape_vec((windows.len(), width), flat).map_err(|e| error(e.into()))?;
        let outputs = self.plan.run(tvec!(Tensor::from(input).into())).map_err(error)?;
        let logits = outputs[0].to_plain_array_view::<f32>().map_err(error)?;
        Ok(logits
            .rows()
            .into_iter()
            .map(|row| EmotionScores::from_logits(&std::array::from_fn(|i| row[i])))
            .collect())
    }

    fn version(&self) -> &str {
        &self.version
    }
}
