"""Shared helpers for the text model pipeline: GoEmotions-Ekman loading, the word tokenizer that the Rust
secondary and fallback tiers reproduce exactly, and the evaluation used for every tier."""
import json
import os
import re

import numpy as np

LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("EMOSENSE_DATA", os.path.join(REPO, "..", "shared", "data"))
BUILD = os.environ.get("EMOSENSE_BUILD", os.path.join(REPO, "target", "modelgen", "text"))
OUT = os.path.join(REPO, "models-quantized", "text")

# Same rule as `crates/emosense-core/src/text/words.rs`: lower-case, then runs of [a-z0-9'].
WORD_RE = re.compile(r"[a-z0-9']+")


def words(text):
    return WORD_RE.findall(text.lower())


def load(split):
    """Rows of GoEmotions-Ekman `split` as (texts, sorted label-id lists)."""
    texts, labels = [], []
    with open(os.path.join(DATA, "goemotions", "ekman", f"{split}.tsv"), encoding="utf-8") as f:
        for line in f:
            text, ids, _ = line.rstrip("\n").split("\t")
            texts.append(text)
            labels.append(sorted(int(i) for i in ids.split(",")))
    return texts, labels


def evaluate(pred, gold, name=""):
    """Accuracy and macro-F1 on single-label rows (top-1 prediction vs the one gold label)."""
    pred = np.asarray(pred)
    single = np.array([len(y) == 1 for y in gold])
    gold1 = np.array([y[0] for y in gold])
    p, g = pred[single], gold1[single]
    f1s = []
    for c in range(len(LABELS)):
        tp = int(((p == c) & (g == c)).sum())
        fp = int(((p == c) & (g != c)).sum())
        fn = int(((p != c) & (g == c)).sum())
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    res = {
        "name": name,
        "rows": int(single.sum()),
        "accuracy": round(float((p == g).mean()), 4),
        "macro_f1": round(float(np.mean(f1s)), 4),
        "per_class_f1": {l: round(f, 3) for l, f in zip(LABELS, f1s)},
    }
    print(json.dumps(res), flush=True)
    return res
