"""Fallback text tier: an emotion keyword lexicon derived from GoEmotions-Ekman train by smoothed log-odds.

A word enters the lexicon for the emotion whose documents it is most over-represented in (log-odds >= 1.5, seen in
at least 3 documents of that emotion and 5 overall). Scoring (mirrored by `crates/emosense-core/src/text/lexicon.rs`):
each cue adds its weight to its emotion; a cue within NEGATION_SCOPE words after a negator instead adds its weight
times NEGATION_WEIGHT to the emotion named in `negated` (joy -> sadness, the others -> neutral), so "not happy"
reads as sad. Probabilities are a softmax over the
six emotion scores and `neutral_bias` (+ negated weight) for neutral; `neutral_bias` is chosen on the dev split.
Writes models-quantized/text/lexicon.json.
"""
import collections
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import BUILD, LABELS, OUT, evaluate, load, words  # noqa: E402

NEGATORS = ["not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without", "hardly", "cannot",
            "dont", "didnt", "doesnt", "isnt", "wasnt", "arent", "werent", "cant", "couldnt", "wont", "wouldnt",
            "shouldnt", "aint"]
NEGATION_SCOPE = 3
NEGATION_WEIGHT = 1.0
NEGATED = {"joy": "sadness", "anger": "neutral", "disgust": "neutral", "fear": "neutral", "sadness": "neutral",
           "surprise": "neutral"}


def is_negator(word):
    return word in NEGATORS or word.endswith("n't")


def derive(texts, labels):
    emotions = [l for l in LABELS if l != "neutral"]
    counts = {l: collections.Counter() for l in LABELS}
    total = collections.Counter()
    for text, y in zip(texts, labels):
        ws = set(words(text))
        for lab in y:
            counts[LABELS[lab]].update(ws)
        total.update(ws)
    n_docs = {l: sum(1 for y in labels if LABELS.index(l) in y) for l in LABELS}
    n = len(texts)
    cues = {}
    for w, c in total.items():
        if c < 5 or is_negator(w):
            continue
        best, best_score = None, 0.0
        for lab in emotions:
            a, b = counts[lab][w], c - counts[lab][w]
            s = math.log((a + 1) / (n_docs[lab] - a + 1)) - math.log((b + 1) / (n - n_docs[lab] - b + 1))
            if a >= 3 and s > best_score:
                best, best_score = lab, s
        if best and best_score >= 1.5:
            cues[w] = [best, round(best_score, 3)]
    return dict(sorted(cues.items()))


def scores(text, cues):
    s = dict.fromkeys(LABELS, 0.0)
    since_negator = NEGATION_SCOPE + 1
    for w in words(text):
        if is_negator(w):
            since_negator = 0
            continue
        since_negator += 1
        if w in cues:
            lab, weight = cues[w]
            if since_negator <= NEGATION_SCOPE:
                s[NEGATED[lab]] += NEGATION_WEIGHT * weight
            else:
                s[lab] += weight
    return np.array([s[l] for l in LABELS])


def predict(texts, cues, neutral_bias):
    bias = np.zeros(len(LABELS))
    bias[LABELS.index("neutral")] = neutral_bias
    return [int(np.argmax(scores(t, cues) + bias)) for t in texts]


def main():
    x_train, y_train = load("train")
    x_dev, y_dev = load("dev")
    cues = derive(x_train, y_train)
    best = None
    for neutral_bias in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0):
        res = evaluate(predict(x_dev, cues, neutral_bias), y_dev, f"dev neutral_bias={neutral_bias}")
        if best is None or res["macro_f1"] > best[0]["macro_f1"]:
            best = (res, neutral_bias)
    res, neutral_bias = best
    lexicon = {"labels": LABELS, "neutral_bias": neutral_bias, "negators": NEGATORS, "negation_scope": NEGATION_SCOPE,
               "negation_weight": NEGATION_WEIGHT,
               "negated": NEGATED, "cues": cues}
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "lexicon.json"), "w") as f:
        json.dump(lexicon, f, separators=(",", ":"))
    os.makedirs(BUILD, exist_ok=True)
    json.dump({"cues": len(cues), "neutral_bias": neutral_bias, "dev": res}, open(os.path.join(BUILD, "lexicon.json"), "w"), indent=1)
    print("cues", len(cues), collections.Counter(v[0] for v in cues.values()), "neutral_bias", neutral_bias)


if __name__ == "__main__":
    main()
