//! Voice activity: Silero VAD's batched 16 kHz graph (PyPI `silero-vad` 6.2.3, MIT; `vad.onnx`, fp32 as packaged)
//! gives each 32 ms frame a speech probability in one graph run, and Silero's hysteresis rules turn them into
//! speech spans. Input `input` `[S, 576]` (each 512-sample frame after the 64 samples before it), `h` and `c`
//! `[1, 1, 128]` zeros; output `speech_probs` `[S, 1]`.

use std::ops::Range;

use tract_onnx::prelude::*;

use crate::error::{Error, LoadError, Result};
use crate::inference::{Dim, Graph, GraphSpec, InputFact};
use crate::registry::ModelEntry;

/// Samples per frame (32 ms at 16 kHz).
pub const FRAME: usize = 512;
/// Samples of the previous frame each frame is read with.
const CONTEXT: usize = 64;
/// Size of the LSTM state.
const STATE: usize = 128;
/// A frame at or above this probability starts speech (Silero's default threshold)...
const SPEECH_START: f32 = 0.5;
/// ...and speech goes on until frames fall below this one.
const SPEECH_END: f32 = SPEECH_START - 0.15;
/// Pauses shorter than this many frames (about 100 ms) stay inside the speech around them.
const MIN_PAUSE_FRAMES: usize = 3;
/// Bursts of speech shorter than this many frames (about 250 ms) are dropped.
const MIN_SPEECH_FRAMES: usize = 8;
/// Samples added to each end of a speech span (30 ms), as Silero does.
const PAD: usize = 480;

/// The loaded detector.
pub(super) struct VoiceActivity {
    graph: Graph,
    id: String,
}

impl VoiceActivity {
    /// Loads the entry's graph for any number of frames.
    pub(super) fn load(entry: &ModelEntry) -> std::result::Result<Self, LoadError> {
        let state = || InputFact::f32(InputFact::fixed(&[1, 1, STATE]));
        let inputs = vec![InputFact::f32([Dim::Any("frames"), Dim::Fixed(CONTEXT + FRAME)]), state(), state()];
        let graph = Graph::load(&entry.only_graph()?, entry.id(), &GraphSpec { inputs, ..GraphSpec::default() }, entry.inference)?;
        Ok(VoiceActivity { graph, id: entry.id().to_owned() })
    }

    /// Speech probability of every 512-sample frame of 16 kHz `samples` (the last one zero-padded).
    pub(super) fn probabilities(&self, samples: &[f32]) -> Result<Vec<f32>> {
        let error = |e: TractError| Error::Model { model: self.id.clone(), message: format!("{e:#}") };
        let count = samples.len().div_ceil(FRAME);
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut padded = vec![0f32; CONTEXT + count * FRAME];
        padded[CONTEXT..CONTEXT + samples.len()].copy_from_slice(samples);
        let rows: Vec<f32> = (0..count).flat_map(|i| padded[i * FRAME..i * FRAME + CONTEXT + FRAME].iter().copied()).collect();
        let input = tract_ndarray::Array2::from_shape_vec((count, CONTEXT + FRAME), rows).map_err(|e| error(e.into()))?;
        let state = || Tensor::from(tract_ndarray::Array3::<f32>::zeros((1, 1, STATE))).into();
        let outputs = self.graph.run(tvec!(Tensor::from(input).into(), state(), state())).map_err(error)?;
        Ok(outputs[0].to_plain_array_view::<f32>().map_err(error)?.iter().copied().collect())
    }
}

/// Sample ranges of speech in `len` samples, from per-frame `probabilities`: speech starts at a frame reaching
/// [`SPEECH_START`] and ends after [`MIN_PAUSE_FRAMES`] frames below [`SPEECH_END`]; bursts under
/// [`MIN_SPEECH_FRAMES`] are dropped, and each span is padded by [`PAD`] samples (less than half the shortest
/// pause, so spans never overlap).
pub(super) fn speech_spans(probabilities: &[f32], len: usize) -> Vec<Range<usize>> {
    let mut frames: Vec<Range<usize>> = Vec::new();
    let mut start = None;
    let mut quiet = 0;
    for (i, &p) in probabilities.iter().enumerate() {
        match start {
            None if p >= SPEECH_START => {
                start = Some(i);
                quiet = 0;
            }
            Some(first) if p < SPEECH_END => {
                quiet += 1;
                if quiet >= MIN_PAUSE_FRAMES {
                    frames.push(first..i + 1 - quiet);
                    start = None;
                }
            }
            Some(_) => quiet = 0,
            None => {}
        }
    }
    if let Some(first) = start {
        frames.push(first..probabilities.len() - quiet);
    }
    frames
        .into_iter()
        .filter(|f| f.len() >= MIN_SPEECH_FRAMES)
        .map(|span| (span.start * FRAME).saturating_sub(PAD)..(span.end * FRAME + PAD).min(len))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probabilities(pattern: &[(f32, usize)]) -> Vec<f32> {
        pattern.iter().flat_map(|&(p, n)| std::iter::repeat_n(p, n)).collect()
    }

    #[test]
    fn speech_needs_a_start_above_threshold_and_ends_after_a_pause() {
        let p = probabilities(&[(0.1, 10), (0.9, 20), (0.4, 5), (0.8, 10), (0.1, 10), (0.9, 12), (0.2, 3)]);
        let len = p.len() * FRAME;
        // 0.4 is above the end threshold: the first two bursts are one span; then a pause of 10 frames.
        assert_eq!(speech_spans(&p, len), vec![10 * FRAME - PAD..45 * FRAME + PAD, 55 * FRAME - PAD..67 * FRAME + PAD]);
    }

    #[test]
    fn short_bursts_are_dropped_and_spans_stay_apart() {
        let p = probabilities(&[(0.9, 5), (0.0, 10), (0.9, 10), (0.0, 3), (0.9, 10)]);
        assert_eq!(speech_spans(&p, p.len() * FRAME), vec![15 * FRAME - PAD..25 * FRAME + PAD, 28 * FRAME - PAD..38 * FRAME]);
        assert!(speech_spans(&[0.3; 100], 100 * FRAME).is_empty());
    }
}
