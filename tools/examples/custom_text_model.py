"""Builds examples/custom-text-model/: a small custom text model in the form EmoSense discovers in
EMOTION_MODEL_CACHE_DIR (a folder with manifest.json, an ONNX graph and its tokenizer.json).

The model is a readable keyword classifier, written by hand so the example needs no training data: each word of a
small vocabulary adds a score to one of ten labels of its own ("happy", "love", "angry", "annoyed", "disgusted",
"scared", "sad", "surprised", "calm", "other"), summed over the text's tokens. The manifest maps those labels onto
the seven emotions: two labels merge into joy, two into anger, "other" is dropped. It shows the contract a real model
(a fine-tuned transformer exported to ONNX) must meet: inputs `input_ids` and `attention_mask` (int64 [batch,
tokens]), output one logit per label ([batch, labels]), a tokenizer with [CLS] and [SEP].

Usage: tools/.venv/bin/python tools/examples/custom_text_model.py   (needs onnx, numpy from tools/requirements.txt)
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import manifest_files  # noqa: E402
import graph as graph_builder  # noqa: E402  (beside this script)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "examples", "custom-text-model")
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
CUES = {
    "happy": ["happy", "glad", "great", "wonderful", "delighted", "yay"],
    "love": ["love", "adore", "lovely", "sweet"],
    "angry": ["angry", "furious", "rage", "outraged"],
    "annoyed": ["annoyed", "annoying", "irritated", "ugh"],
    "disgusted": ["disgusting", "gross", "disgusted", "revolting"],
    "scared": ["scared", "afraid", "terrified", "worried"],
    "sad": ["sad", "unhappy", "miserable", "crying", "lonely"],
    "surprised": ["surprised", "wow", "unexpected", "shocked"],
    "calm": ["calm", "fine", "okay", "ok"],
    "other": ["banana", "spreadsheet"],
}
LABELS = list(CUES)
LABEL_MAP = {"happy": "joy", "love": "joy", "angry": "anger", "annoyed": "anger", "disgusted": "disgust",
             "scared": "fear", "sad": "sadness", "surprised": "surprise", "calm": "neutral", "other": None}
CUE_WEIGHT = 3.0
BIAS = {"calm": 1.0}


def tokenizer(vocab):
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False,
              "special": True} for i, t in enumerate(SPECIAL)]
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": {"type": "Lowercase"}, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None,
            "decoder": None, "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}}


def graph(vocab):
    table = np.zeros((len(vocab), len(LABELS)), dtype=np.float32)
    for label, words in CUES.items():
        for word in words:
            table[vocab[word], LABELS.index(label)] = CUE_WEIGHT
    bias = np.array([BIAS.get(label, 0.0) for label in LABELS], dtype=np.float32)
    nodes = [
        helper.make_node("Gather", ["word_scores", "input_ids"], ["token_scores"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask", "last_axis"], ["mask_3d"]),
        helper.make_node("Mul", ["token_scores", "mask_3d"], ["kept_scores"]),
        helper.make_node("ReduceSum", ["kept_scores", "token_axis"], ["summed"], keepdims=0),
        helper.make_node("Add", ["summed", "bias"], ["logits"]),
    ]
    initializers = [numpy_helper.from_array(table, "word_scores"), numpy_helper.from_array(bias, "bias"),
                    numpy_helper.from_array(np.array([2], dtype=np.int64), "last_axis"),
                    numpy_helper.from_array(np.array([1], dtype=np.int64), "token_axis")]
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"]) for name in ("input_ids", "attention_mask")]
    return graph_builder.classifier("keyword_classifier", nodes, inputs, LABELS, initializers)


def main():
    os.makedirs(OUT, exist_ok=True)
    words = [w for ws in CUES.values() for w in ws]
    vocab = {token: i for i, token in enumerate(SPECIAL + words)}
    with open(os.path.join(OUT, "tokenizer.json"), "w") as f:
        json.dump(tokenizer(vocab), f, indent=1)
        f.write("\n")
    onnx.save(graph(vocab), os.path.join(OUT, "model.onnx"))
    manifest = {"models": [{
        "id": "keyword-emotions-example",
        "version": "1.0.0",
        "modality": "text",
        "description": "example custom model: hand-written keyword scores over ten labels of its own, mapped onto "
                       "the seven emotions (tools/examples/custom_text_model.py)",
        "tier": "primary",
        "runtime": "tract",
        "architecture": "text-encoder-classifier",
        "files": manifest_files.entries(OUT, ["model.onnx", "tokenizer.json"]),
        "labels": LABELS,
        "label_map": LABEL_MAP,
        "input": {"kind": "tokens", "tokenizer": "tokenizer.json", "max_tokens": 64,
                  "inputs": ["input_ids", "attention_mask"], "output": "logits",
                  "description": "lower-cased words and punctuation (WordLevel), [CLS] ... [SEP]"},
        "licence": "Apache-2.0",
        "metrics": {"note": "an example of the format, not a trained model: no accuracy is claimed"},
    }]}
    manifest_files.write(OUT, manifest)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
