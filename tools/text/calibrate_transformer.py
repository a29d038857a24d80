"""Calibrates the fine-tuned classifier (calibrate.fit on the dev logits written by train_transformer.py), folds the
label-prior correction and temperature into its linear head and exports the shipped fp32 ONNX again.

Also scores each source's test split with the fp32 model before and after calibration, once, for the recipe table:
the parameters were fixed on dev. Writes $EMOSENSE_BUILD/calibration.json and emotion_minilm.fp32.onnx.
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import calibrate  # noqa: E402
from common import BUILD, evaluate, load_sources, soft_targets  # noqa: E402
from train_transformer import export_onnx, load_trained, predict  # noqa: E402


def test_report(logits, labels, name):
    res = evaluate(logits.argmax(axis=1), labels, name)
    rows, gold = calibrate.single(soft_targets(labels))
    res["ece"] = round(calibrate.ece(calibrate.softmax(logits[rows]), gold), 4)
    return res


def main():
    model, tok = load_trained()
    dev = np.load(os.path.join(BUILD, "dev_logits.npz"))
    sources = [str(s) for s in dev["sources"]]
    _, y_train, _ = load_sources("train", sources)
    prior = soft_targets(y_train).mean(axis=0)
    temperature, bias, report = calibrate.fit(dev["logits"], dev["targets"], dev["source"], prior)
    print(json.dumps(report))
    report["test"] = {}
    for source in sources:
        texts, labels, _ = load_sources("test", [source])
        logits = predict(model, tok, texts)
        report["test"][source] = {
            "uncalibrated": test_report(logits, labels, f"{source} test uncalibrated"),
            "calibrated": test_report((logits + bias) / temperature, labels, f"{source} test calibrated"),
        }
    with torch.no_grad():
        model.head.weight /= temperature
        model.head.bias.copy_((model.head.bias + torch.tensor(bias, dtype=torch.float32)) / temperature)
    export_onnx(model, tok, os.path.join(BUILD, "emotion_minilm.fp32.onnx"))
    report["bias"] = [round(float(b), 4) for b in bias]
    json.dump(report, open(os.path.join(BUILD, "calibration.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
