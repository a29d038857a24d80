//! Transformer classifiers (the primary tier, a fine-tuned MiniLM, and custom text models), with the
//! tokenizer, window, graph inputs and labels their manifest names.
//!
//! Preprocess: tokenize the whole text once, split it into sentences, pack the sentences' tokens into chunks that
//! fit the model window. Model: batches of chunks, padded to the longest. Postprocess: per chunk, softmax (for
//! logits) and the manifest's label map onto the seven emotions, then a token-weighted mean per text.

use std::ops::Range;
use std::path::Path;

use tokenizers::Tokenizer;
use tract_onnx::prelude::*;

use crate::inference::{Dim, Graph, GraphSpec, InputFact};

use super::segment::{pack, sentences};
use super::{Scored, TextModel};
use crate::budget::Budget;
use crate::emotion::EmotionScores;
use crate::error::{Error, LoadError, Result};
use crate::registry::{InputContract, LabelMapping, ModelEntry, ScoreKind};

/// Special tokens that open and close a sequence, by tokenizer family (BERT's WordPiece, then RoBERTa's BPE).
const SEQUENCE_MARKS: [(&str, &str); 2] = [("[CLS]", "[SEP]"), ("<s>", "</s>")];

/// The loaded classifier: its graph loaded for any batch and sequence size.
pub struct Transformer {
    graph: Graph,
    tokenizer: Tokenizer,
    cls: u32,
    sep: u32,
    /// Most tokens per model run, the marks included.
    window: usize,
    output: ScoreKind,
    labels: LabelMapping,
    id: String,
}

/// One chunk to score: the text it belongs to and its token ids (with special tokens).
struct Chunk {
    owner: usize,
    ids: Vec<i64>,
}

impl Transformer {
    /// Loads the ONNX graph and the tokenizer its manifest names (side by side on two threads: cold start is what
    /// users wait for), optimises the graph for any batch and sequence length, and checks it against the manifest:
    /// input names, and one output value per label.
    pub fn load(entry: &ModelEntry) -> std::result::Result<Self, LoadError> {
        let id = entry.id().to_owned();
        let contract = |message: String| LoadError::ContractMismatch { model: id.clone(), message };
        let Some(InputContract::Tokens { tokenizer, max_tokens, inputs, output, .. }) = &entry.manifest.input else {
            return Err(contract("its input contract is not of kind tokens".into()));
        };
        let labels = entry.manifest.label_mapping().map_err(|e| contract(e.0))?;
        let (graph_path, tokenizer_path) = (entry.only_graph()?, entry.named(tokenizer)?);
        let (graph, tokenizer) = std::thread::scope(|scope| {
            let tokenizer = scope.spawn(|| Self::tokenizer(&tokenizer_path));
            let tokens = || InputFact::i64([Dim::Any("batch"), Dim::Any("sequence")]);
            let spec = GraphSpec { inputs: vec![tokens(), tokens()], input_names: Some(&inputs[..]), labels: Some(labels.labels()), ..GraphSpec::default() };
            let graph = Graph::load(&graph_path, &id, &spec, entry.inference);
            let tokenizer = tokenizer.join().unwrap_or_else(|_| Err(LoadError::unreadable(&tokenizer_path, "tokenizer loading panicked")));
            (graph, tokenizer)
        });
        let (graph, tokenizer) = (graph?, tokenizer?);
        let (cls, sep) = SEQUENCE_MARKS
            .iter()
            .find_map(|(open, close)| Some((tokenizer.token_to_id(open)?, tokenizer.token_to_id(close)?)))
            .ok_or_else(|| contract(format!("the tokenizer has none of the sequence marks {SEQUENCE_MARKS:?}")))?;
        Ok(Transformer { graph, tokenizer, cls, sep, window: *max_tokens, output: *output, labels, id })
    }

    fn tokenizer(path: &Path) -> std::result::Result<Tokenizer, LoadError> {
        let mut tokenizer = Tokenizer::from_file(path).map_err(|e| LoadError::unreadable(path, e))?;
        tokenizer.with_truncation(None).map_err(|e| LoadError::unreadable(path, e))?;
        tokenizer.with_padding(None);
        Ok(tokenizer)
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
        Ok((encoding.get_ids().to_vec(), pack(&spans, self.window - 2)))
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
        let outputs = self.graph.run(inputs).map_err(|e| self.error(e))?;
        crate::onnx::emotions_per_row(&outputs[0], chunks.len(), &self.labels, self.output).map_err(|e| self.error(e))
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
}
