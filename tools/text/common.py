"""Shared helpers for the text model pipeline: the sources and their splits, the emoji names every tier reads, the
word tokenizer that the Rust secondary and fallback tiers reproduce exactly, and the evaluation used for every tier."""
import json
import os
import re

import numpy as np

LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("EMOSENSE_DATA", os.path.join(REPO, "..", "shared", "data"))
BUILD = os.environ.get("EMOSENSE_BUILD", os.path.join(REPO, "target", "modelgen", "text"))
OUT = os.path.join(REPO, "models-quantized", "text")
EMOJI_TABLE = os.path.join(OUT, "emoji.tsv")

# Training sources; every one has train, dev and test splits.
SOURCES = ["goemotions", "xed-en"]

# XED's Plutchik label ids (1-based, alphabetical) onto the seven labels; anticipation (2) and trust (8) have no
# counterpart and are dropped, and so is a line left with no label. 9 marks the neutral file's lines.
XED_LABELS = {1: 0, 3: 1, 4: 2, 5: 3, 6: 5, 7: 6, 9: 4}

# Same rule as `crates/emosense-core/src/text/words.rs`: lower-case, then runs of [a-z0-9'].
WORD_RE = re.compile(r"[a-z0-9']+")


def words(text):
    return WORD_RE.findall(text.lower())


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def split_of(text):
    """Split of a line of a source without published splits (mirrors `crates/emosense-cli/src/eval.rs`): FNV-1a 64 of
    the trimmed text, salted with `emosense-split:`, modulo 10: 0 is test, 1 is dev, the rest train. Equal lines
    always share a split, so no line is in two."""
    bucket = fnv1a64("emosense-split:" + text.strip()) % 10
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def xed_rows():
    """Every XED English line as (text, label ids); neutral lines from `neu_en.txt` (label 9, stored first)."""
    folder = os.path.join(DATA, "xed", "AnnotatedData")
    rows = []
    with open(os.path.join(folder, "en-annotated.tsv"), encoding="utf-8") as f:
        for line in f:
            text, _, ids = line.rstrip("\n").rpartition("\t")
            rows.append((text, [int(i) for i in ids.split(",")]))
    with open(os.path.join(folder, "neu_en.txt"), encoding="utf-8") as f:
        for line in f:
            ids, _, text = line.rstrip("\n").partition("\t")
            if ids.strip():
                rows.append((text.strip("\t"), [int(ids)]))
    return rows


def load(split, source="goemotions"):
    """Rows of `source`'s `split` as (texts, sorted label-id lists)."""
    texts, labels = [], []
    if source == "goemotions":
        with open(os.path.join(DATA, "goemotions", "ekman", f"{split}.tsv"), encoding="utf-8") as f:
            for line in f:
                text, ids, _ = line.rstrip("\n").split("\t")
                texts.append(text)
                labels.append(sorted(int(i) for i in ids.split(",")))
    elif source == "xed-en":
        for text, ids in xed_rows():
            mapped = sorted({XED_LABELS[i] for i in ids if i in XED_LABELS})
            if mapped and text.strip() and split_of(text) == split:
                texts.append(text)
                labels.append(mapped)
    else:
        raise ValueError(f"unknown source {source}")
    return texts, labels


def load_sources(split, sources=SOURCES):
    """Rows of several sources' `split` as the models read them (emojis as their names), concatenated, with each
    row's source index."""
    emoji_names = EmojiNames()
    texts, labels, origin = [], [], []
    for i, source in enumerate(sources):
        x, y = load(split, source)
        texts += [emoji_names(t) for t in x]
        labels += y
        origin += [i] * len(x)
    return texts, labels, np.array(origin)


def soft_targets(labels):
    """One row per text: 1/k on each of its k labels."""
    targets = np.zeros((len(labels), len(LABELS)), np.float32)
    for i, y in enumerate(labels):
        targets[i, y] = 1.0 / len(y)
    return targets


class EmojiNames:
    """Replaces each emoji with its CLDR short name between spaces (mirrors `crates/emosense-core/src/text/emoji.rs`):
    variation selectors and skin-tone modifiers are dropped, then the longest emoji of the table wins at each place."""

    IGNORED = {0xFE0E, 0xFE0F} | set(range(0x1F3FB, 0x1F400))

    def __init__(self, path=EMOJI_TABLE):
        self.names = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("#"):
                    continue
                emoji, name = line.rstrip("\n").split("\t")
                self.names[emoji] = name
        self.longest = max(len(e) for e in self.names)

    def __call__(self, text):
        chars = [c for c in text if ord(c) not in self.IGNORED]
        out, i = [], 0
        while i < len(chars):
            for n in range(min(self.longest, len(chars) - i), 0, -1):
                name = self.names.get("".join(chars[i : i + n]))
                if name is not None:
                    out.append(f" {name} ")
                    i += n
                    break
            else:
                out.append(chars[i])
                i += 1
        return "".join(out)


def per_class_f1(pred, gold):
    """F1 of each label, predicted against gold label ids (0 for a label never predicted right)."""
    f1s = []
    for c in range(len(LABELS)):
        tp = int(np.sum((pred == c) & (gold == c)))
        fp = int(np.sum((pred == c) & (gold != c)))
        fn = int(np.sum((pred != c) & (gold == c)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return f1s


def evaluate(pred, gold, name=""):
    """Accuracy and macro-F1 on single-label rows (top-1 prediction vs the one gold label)."""
    pred = np.asarray(pred)
    single = np.array([len(y) == 1 for y in gold])
    gold1 = np.array([y[0] for y in gold])
    p, g = pred[single], gold1[single]
    f1s = per_class_f1(p, g)
    res = {
        "name": name,
        "rows": int(single.sum()),
        "accuracy": round(float((p == g).mean()), 4),
        "macro_f1": round(float(np.mean(f1s)), 4),
        "per_class_f1": {l: round(f, 3) for l, f in zip(LABELS, f1s)},
    }
    print(json.dumps(res), flush=True)
    return res


def evaluate_sources(pred, gold, source, sources, name=""):
    """`evaluate` on each source's rows (`source` holds each row's index into `sources`)."""
    pred = np.asarray(pred)
    return [evaluate(pred[source == i], [gold[j] for j in np.flatnonzero(source == i)], f"{s} {name}".strip())
            for i, s in enumerate(sources)]
