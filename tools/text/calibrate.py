"""Calibration of a text tier's scores, chosen on the dev splits only: logits' = (logits + bias) / T.

* bias (label-prior correction): bias = -alpha * log(train label prior) + beta on neutral, (alpha, beta) on a grid,
  picked by the mean over sources of the dev macro-F1: the sources' label mixes differ and neutral is where an unsure
  model hides, so the correction moves answers off the training prior.
* T (temperature, applied after the bias so it keeps every answer): minimises the negative log-likelihood of the
  dev rows (soft targets for multi-label rows), the proper scoring rule of temperature scaling, so `confidence` (the
  top probability) tracks how often the top answer is right; the expected calibration error per source is reported
  before and after, and the T that would minimise it beside.

`fit(logits, targets, source, prior)` returns the parameters and dev figures; train_transformer/train_linear/
build_lexicon fold them into the shipped weights.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import per_class_f1  # noqa: E402

ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
NEUTRAL_SHIFTS = tuple(np.round(np.arange(-1.5, 0.76, 0.25), 2))
NEUTRAL = 4
BINS = 10


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def macro_f1(pred, gold):
    return float(np.mean(per_class_f1(pred, gold)))


def ece(probs, gold):
    """Expected calibration error of the top answer over equal-width confidence bins (as `emosense eval`)."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    bins = np.minimum((conf * BINS).astype(int), BINS - 1)
    total = 0.0
    for b in range(BINS):
        sel = bins == b
        if sel.any():
            total += abs(conf[sel].mean() - (pred[sel] == gold[sel]).mean()) * sel.sum()
    return total / len(gold)


def single(targets):
    """Rows with one label and that label."""
    rows = np.flatnonzero((targets > 0).sum(axis=1) == 1)
    return rows, targets[rows].argmax(axis=1)


def bias_for(prior, alpha, shift):
    bias = -alpha * np.log(prior)
    bias = bias - bias.mean()
    bias[NEUTRAL] += shift
    return bias


def fit(logits, targets, source, prior, neutral_shifts=NEUTRAL_SHIFTS):
    """(temperature, bias, report) chosen on these dev rows; `source` is each row's source index."""
    sources = np.unique(source)
    rows, gold = single(targets)

    def mean_f1(bias):
        pred = (logits[rows] + bias).argmax(axis=1)
        return float(np.mean([macro_f1(pred[source[rows] == s], gold[source[rows] == s]) for s in sources]))

    grid = [(mean_f1(bias_for(prior, a, b)), a, b) for a in ALPHAS for b in neutral_shifts]
    best_f1, alpha, shift = max(grid)
    bias = bias_for(prior, alpha, shift)

    def nll(t):
        logp = np.log(softmax((logits + bias) / t) + 1e-12)
        return float(-(targets * logp).sum(axis=1).mean())

    def mean_ece(t):
        probs = softmax((logits[rows] + bias) / t)
        return float(np.mean([ece(probs[source[rows] == s], gold[source[rows] == s]) for s in sources]))

    temps = np.exp(np.linspace(np.log(0.2), np.log(5.0), 241))
    temperature = float(temps[np.argmin([nll(t) for t in temps])])
    ece_temperature = float(temps[np.argmin([mean_ece(t) for t in temps])])
    report = {"alpha": alpha, "neutral_shift": float(shift), "temperature": round(temperature, 4),
              "dev_nll": round(nll(temperature), 4), "ece_optimal_temperature": round(ece_temperature, 4),
              "dev_mean_ece_at_ece_optimum": round(mean_ece(ece_temperature), 4),
              "dev_mean_macro_f1_before": round(mean_f1(np.zeros(len(prior))), 4), "dev_mean_macro_f1": round(best_f1, 4)}
    for s in sources:
        sel = rows[source[rows] == s]
        g = targets[sel].argmax(axis=1)
        report[f"dev_ece_before_{s}"] = round(ece(softmax(logits[sel]), g), 4)
        report[f"dev_ece_{s}"] = round(ece(softmax((logits[sel] + bias) / temperature), g), 4)
    return temperature, bias, report
