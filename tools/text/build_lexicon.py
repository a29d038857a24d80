"""Fallback text tier: an emotion keyword lexicon derived by smoothed log-odds from the train splits of every source
(common.SOURCES: GoEmotions-Ekman and XED English), emojis read as their names.

A word enters the lexicon for the emotion whose documents it is most over-represented in (log-odds >= 1.5, seen in
at least 3 documents of that emotion and 5 overall). Swear words never enter: the word list of the PyPI package
better-profanity (0.7.0, MIT) with its plain inflections (-s, -ing, -in, -ed, -er, -ers, -y) is left out, because
swearing strengthens whatever is said ("fucking awesome") rather than naming an emotion. Scoring (mirrored by `crates/emosense-core/src/text/lexicon.rs`):
each cue adds its weight to its emotion; a cue within NEGATION_SCOPE words after a negator instead adds its weight
times NEGATION_WEIGHT to the emotion named in `negated` (joy -> sadness, the others -> neutral), so "not happy"
reads as sad. Probabilities are a softmax over the
seven scores, each starting from `bias` (the neutral bias carries texts without cues); calibrate.fit chooses the bias
(neutral offset and label-prior correction) and a temperature on the dev splits, and the temperature is folded into
the cue weights and bias. Writes models-quantized/text/lexicon.json.
"""
import collections
import json
import math
import os
import sys

import numpy as np

from better_profanity import profanity

sys.path.insert(0, os.path.dirname(__file__))
import calibrate  # noqa: E402
from common import BUILD, LABELS, OUT, SOURCES, evaluate_sources, load_sources, soft_targets, words  # noqa: E402

NEGATORS = ["not", "no", "never", "nothing", "nobody", "none", "neither", "nor", "without", "hardly", "cannot",
            "dont", "didnt", "doesnt", "isnt", "wasnt", "arent", "werent", "cant", "couldnt", "wont", "wouldnt",
            "shouldnt", "aint"]
NEGATION_SCOPE = 3
NEGATION_WEIGHT = 1.0
NEGATED = {"joy": "sadness", "anger": "neutral", "disgust": "neutral", "fear": "neutral", "sadness": "neutral",
           "surprise": "neutral"}


NEUTRAL_BIASES = tuple(np.round(np.arange(0.0, 4.01, 0.25), 2))
PROFANITY_SUFFIXES = ("", "s", "ing", "in", "ed", "er", "ers", "y")


def swear_words():
    profanity.load_censor_words()
    return {str(w) for w in profanity.CENSOR_WORDSET if " " not in str(w)}


def is_swear_word(word, swearing):
    return any(word.endswith(s) and word[: len(word) - len(s)] in swearing for s in PROFANITY_SUFFIXES)


def is_negator(word):
    return word in NEGATORS or word.endswith("n't")


def derive(texts, labels, swearing):
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
        if c < 5 or is_negator(w) or is_swear_word(w, swearing):
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


def main():
    x_train, y_train, _ = load_sources("train")
    x_dev, y_dev, dev_source = load_sources("dev")
    swearing = swear_words()
    cues = derive(x_train, y_train, swearing)
    raw = np.array([scores(t, cues) for t in x_dev])
    prior = soft_targets(y_train).mean(axis=0)
    temperature, bias, calibration = calibrate.fit(raw, soft_targets(y_dev), dev_source, prior, NEUTRAL_BIASES)
    dev = evaluate_sources((raw + bias).argmax(axis=1), y_dev, dev_source, SOURCES, "dev")
    print(json.dumps(calibration))
    cues = {w: [label, round(weight / temperature, 4)] for w, (label, weight) in cues.items()}
    lexicon = {"labels": LABELS, "bias": [round(float(b) / temperature, 4) for b in bias], "negators": NEGATORS,
               "negation_scope": NEGATION_SCOPE, "negation_weight": NEGATION_WEIGHT, "negated": NEGATED, "cues": cues}
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "lexicon.json"), "w") as f:
        json.dump(lexicon, f, separators=(",", ":"))
    os.makedirs(BUILD, exist_ok=True)
    json.dump({"cues": len(cues), "swear_words_left_out": len(swearing), "dev": dev, "calibration": calibration},
              open(os.path.join(BUILD, "lexicon.json"), "w"), indent=1)
    print("cues", len(cues), collections.Counter(v[0] for v in cues.values()))


if __name__ == "__main__":
    main()
