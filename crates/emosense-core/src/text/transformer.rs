//! Primary tier: a fine-tuned MiniLM classifier (int8 ONNX) run by tract, with a WordPiece tokenizer.
//!
//! Preprocess: tokenize the whole text once, split it into sentences, pack the sentences' tokens into chunks that
//! fit the model window. Model: batches of chunks, padded to the longest. Postprocess: softmax per chunk, then a
//! token-weighted mean per text.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use tokenizers::Tokenizer;
use tract_onnx::prelude::*;

use super::segment::{pack, sentences};
use super::{Scored, TextModel};
use crate::budget::Budget;
use crate::emotion::EmotionScores;
use crate::error::{Error, Result};

/// Tokens per chunk, including `[CLS]` and `[SEP]`.
pub const WINDOW_TOKENS: usize = 128;

/// The loaded classifier: an optimised tract plan with symbolic batch and sequence sizes.
pub struct Transformer {
    plan: Arc<TypedRunnableModel>,
    tokenizer: Tokenizer,
    cls: u32,
    sep: u32,
    id: String,
    version: String,
}

/// One chunk to score: the text it belongs to and its token ids (with special tokens).
struct Chunk {
    owner: usize,
    ids: Vec<i64>,
}

impl Transformer {
    /// Loads the ONNX model and `tokenizer.json` (side by side on two threads: cold start is what users wait for),
    /// and optimises the graph for any batch and sequence length.
    pub fn load(model: &Path, tokenizer: &Path, id: String, version: String) -> std::result::Result<Self, String> {
        let (plan, tokenizer) = std::thread::scope(|scope| {
            let tokenizer = scope.spawn(|| Self::tokenizer(tokenizer));
            let plan = Self::plan(model).map_err(|e| format!("{}: {e:#}", model.display()));
            (plan, tokenizer.join().unwrap_or_else(|_| Err("tokenizer loading panicked".to_owned())))
        });
        let (plan, tokenizer) = (plan?, tokenizer?);
        let special = |t: &str| tokenizer.token_to_id(t).ok_or_else(|| format!("tokenizer has no {t} token"));
        let (cls, sep) = (special("[CLS]")?, special("[SEP]")?);
        Ok(Transformer { plan, tokenizer, cls, sep, id, version })
    }

    fn tokenizer(path: &Path) -> std::result::Result<Tokenizer, String> {
        let mut tokenizer = Tokenizer::from_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
        tokenizer.with_truncation(None).map_err(|e| e.to_string())?;
        tokenizer.with_padding(None);
        Ok(tokenizer)
    }

    fn plan(model: &Path) -> TractResult<Arc<TypedRunnableModel>> {
        let graph = crate::onnx::read_model(model)?;
        let (batch, seq) = (graph.sym("B"), graph.sym("S"));
        graph
            .with_input_fact(0, i64::fact([batch.clone().to_dim(), seq.clone().to_dim()]).into())?
            .with_input_fact(1, i64::fact([batch.to_dim(), seq.to_dim()]).into())?
            .into_optimized()?
            .into_runnable()
    }

    /// Splits one text into chunk token ranges (sentence-packed, without special tokens) over its encoding.
    fn chunks(&self, text: &str) -> Result<(Vec<u32>, Vec<Range<usize>>)> {
        let encoding = self.tokenizer.encode(text, false).map_err(|e| self.error(e))?;
        let offsets = encoding.get_offsets();
        let mut spans = Vec::new();
        let mut token = 0;
        for sentence in sentences(text) {
            let start = token;
            while token < offsets.len() && offsets[token].0 < sentence.end {
                token += 1;
            }
            spans.push(start..token);
        }
        if token < offsets.len() {
            spans.push(token..offsets.len());
        }
        Ok((encoding.get_ids().to_vec(), pack(&spans, WINDOW_TOKENS - 2)))
    }

    fn run(&self, chunks: &[&Chunk]) -> Result<Vec<EmotionScores>> {
        let width = chunks.iter().map(|c| c.ids.len()).max().unwrap_or(0);
        let mut ids = vec![0i64; chunks.len() * width];
        let mut mask = vec![0i64; chunks.len() * width];
        for (row, chunk) in chunks.iter().enumerate() {
            ids[row * width..row * width + chunk.ids.len()].copy_from_slice(&chunk.ids);
            mask[row * width..row * width + chunk.ids.len()].fill(1);
        }
        let shape = [chunks.len(), width];
        let inputs = tvec![
            Tensor::from_shape(&shape, &ids).map_err(|e| self.error(e))?.into(),
            Tensor::from_shape(&shape, &mask).map_err(|e| self.error(e))?.into(),
        ];
        let outputs = self.plan.run(inputs).map_err(|e| self.error(e))?;
        let logits = outputs[0].to_plain_array_view::<f32>().map_err(|e| self.error(e))?;
        if logits.shape() != [chunks.len(), 7] {
            return Err(self.error(format!("unexpected output shape {:?}", logits.shape())));
        }
        Ok(logits
            .outer_iter()
            .map(|row| {
                let mut l = [0.0f32; 7];
                l.iter_mut().zip(row.iter()).for_each(|(d, s)| *d = *s);
                EmotionScores::from_logits(&l)
            })
            .collect())
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Model { model: self.id.clone(), message: e.to_string() }
    }
}

impl TextModel for Transformer {
    fn score(&self, texts: &[&str], batch_size: usize, budget: &Budget) -> Result<Vec<Scored>> {
        let mut chunks = Vec::new();
        let mut tokens = vec![0usize; texts.len()];
        for (owner, text) in texts.iter().enumerate() {
            let (ids, ranges) = self.chunks(text)?;
            tokens[owner] = ids.len();
            for range in ranges {
                let mut chunk_ids = Vec::with_capacity(range.len() + 2);
                chunk_ids.push(i64::from(self.cls));
                chunk_ids.extend(ids[range].iter().map(|&i| i64::from(i)));
                chunk_ids.push(i64::from(self.sep));
                chunks.push(Chunk { owner, ids: chunk_ids });
            }
            if tokens[owner] == 0 {
                chunks.push(Chunk { owner, ids: vec![i64::from(self.cls), i64::from(self.sep)] });
            }
        }
        // Similar lengths share a batch, so little compute goes to padding.
        let mut order: Vec<&Chunk> = chunks.iter().collect();
        order.sort_by_key(|c| c.ids.len());
        let mut parts: Vec<Vec<(EmotionScores, f32)>> = vec![Vec::new(); texts.len()];
        for batch in order.chunks(batch_size.max(1)) {
            budget.check()?;
            for (chunk, scores) in batch.iter().zip(self.run(batch)?) {
                parts[chunk.owner].push((scores, chunk.ids.len() as f32));
            }
        }
        Ok(parts
            .iter()
            .zip(tokens)
            .map(|(p, tokens)| Scored {
                scores: EmotionScores::weighted_mean(p.iter().map(|(s, w)| (s, *w))),
                tokens,
                chunks: p.len(),
            })
            .collect())
    }

    fn version(&self) -> &str {
        &self.version
    }
}
