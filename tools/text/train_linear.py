"""Secondary text tier: TF-IDF (word 1-2-grams) + multinomial logistic regression on the train splits of every
source (common.SOURCES: GoEmotions-Ekman and XED English), emojis read as their names.

Words are `common.words` (lower-case runs of [a-z0-9']), exactly what the Rust tier computes. C and class weighting
are chosen by the mean over sources of the dev macro-F1; then calibrate.fit chooses the label-prior correction and
temperature on the dev splits, folded into the weights and bias. Writes models-quantized/text/linear.json:
vocabulary (term -> column), idf, weights (row-major, one row of 7 per column), bias. Inference in Rust: sublinear
tf (1 + ln tf) x idf, L2-normalised, dot weights + bias, softmax.
"""
import json
import os
import sys

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, os.path.dirname(__file__))
import calibrate  # noqa: E402
from common import BUILD, LABELS, OUT, SOURCES, evaluate_sources, load_sources, soft_targets, words  # noqa: E402


def expand(texts, labels):
    """One row per (text, label) with weight 1/len(labels), so multi-label rows count once in total."""
    xs, ys, ws = [], [], []
    for t, y in zip(texts, labels):
        for lab in y:
            xs.append(t)
            ys.append(lab)
            ws.append(1.0 / len(y))
    return xs, np.array(ys), np.array(ws)


def main():
    x_train, y_train, _ = load_sources("train")
    x_dev, y_dev, dev_source = load_sources("dev")
    vec = TfidfVectorizer(analyzer=lambda t: ngrams(words(t)), min_df=3, sublinear_tf=True, norm="l2", smooth_idf=True)
    xs, ys, ws = expand(x_train, y_train)
    a_train = vec.fit_transform(xs)
    a_dev = vec.transform(x_dev)
    best = None
    for c in (1.0, 2.0, 4.0, 8.0):
        for balanced in (False, True):
            clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced" if balanced else None)
            clf.fit(a_train, ys, sample_weight=ws)
            results = evaluate_sources(clf.predict(a_dev), y_dev, dev_source, SOURCES, f"dev C={c} balanced={balanced}")
            score = float(np.mean([r["macro_f1"] for r in results]))
            if best is None or score > best[0]:
                best = (score, results, clf, c, balanced)
    score, results, clf, c, balanced = best
    prior = soft_targets(y_train).mean(axis=0)
    temperature, bias, calibration = calibrate.fit(clf.decision_function(a_dev), soft_targets(y_dev), dev_source, prior)
    print(json.dumps(calibration))
    vocab = {term: int(i) for term, i in vec.vocabulary_.items()}
    model = {
        "labels": LABELS,
        "ngram_max": 2,
        "vocabulary": vocab,
        "idf": [round(float(v), 5) for v in vec.idf_],
        "weights": [round(float(v), 5) for v in (clf.coef_.T / temperature).reshape(-1)],
        "bias": [round(float(v), 5) for v in (clf.intercept_ + bias) / temperature],
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "linear.json"), "w") as f:
        json.dump(model, f, separators=(",", ":"))
    os.makedirs(BUILD, exist_ok=True)
    json.dump({"C": c, "class_weight_balanced": balanced, "features": len(vocab), "train_rows": len(x_train),
               "dev_mean_macro_f1": round(score, 4), "dev": results, "calibration": calibration},
              open(os.path.join(BUILD, "linear.json"), "w"), indent=1)
    print("features", len(vocab), "C", c, "balanced", balanced)


def ngrams(tokens):
    return tokens + [a + " " + b for a, b in zip(tokens, tokens[1:])]


if __name__ == "__main__":
    main()
