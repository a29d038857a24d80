"""Builds examples/custom-speech-model/: a small custom speech model in the form EmoSense discovers in
EMOTION_MODEL_CACHE_DIR (a folder with manifest.json and one ONNX graph of architecture waveform-classifier).

The model is a readable arousal scorer, written by hand so the example needs no training data. It reads each
analysis window's waveform ([batch, samples] float32 at 16 kHz, scaled by the pipeline to zero mean and unit
variance, as wav2vec2-style feature extractors do) and computes two numbers: brightness, the mean absolute
difference between neighbouring samples (high for hissy, tense voices and noise, low for dull ones), and peak, the
largest absolute sample (the crest factor, as the variance is 1). A linear layer turns them into logits of three
labels of its own, "aroused", "subdued" and "level", and the manifest maps those onto the seven emotions: "aroused"
shared by anger, fear, joy and surprise, "subdued" by sadness and disgust, "level" to neutral. It shows the contract
a real model (a fine-tuned wav2vec2 or HuBERT classifier exported to ONNX) must meet.

Usage: tools/.venv/bin/python tools/examples/custom_speech_model.py   (needs onnx, numpy from tools/requirements.txt)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import manifest_files  # noqa: E402
import graph as graph_builder  # noqa: E402  (beside this script)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "examples", "custom-speech-model")
LABELS = ["aroused", "subdued", "level"]
LABEL_MAP = {"aroused": ["anger", "fear", "joy", "surprise"], "subdued": ["sadness", "disgust"], "level": "neutral"}
# Logits = [brightness, peak] @ WEIGHTS + BIAS, one column per label.
WEIGHTS = np.array([[6.0, -6.0, 0.0],
                    [0.5, -0.25, 0.0]], dtype=np.float32)
BIAS = np.array([-3.0, 1.5, 0.0], dtype=np.float32)


def graph():
    big = np.iinfo(np.int64).max
    constants = {"one": [1], "zero": [0], "end": [big], "minus_one": [-1], "time_axis": [1]}
    nodes = [
        helper.make_node("Slice", ["waveform", "one", "end", "time_axis"], ["later"]),
        helper.make_node("Slice", ["waveform", "zero", "minus_one", "time_axis"], ["earlier"]),
        helper.make_node("Sub", ["later", "earlier"], ["step"]),
        helper.make_node("Abs", ["step"], ["step_size"]),
        helper.make_node("ReduceMean", ["step_size"], ["brightness"], axes=[1], keepdims=1),
        helper.make_node("Abs", ["waveform"], ["magnitude"]),
        helper.make_node("ReduceMax", ["magnitude"], ["peak"], axes=[1], keepdims=1),
        helper.make_node("Concat", ["brightness", "peak"], ["features"], axis=1),
        helper.make_node("MatMul", ["features", "weights"], ["weighted"]),
        helper.make_node("Add", ["weighted", "bias"], ["logits"]),
    ]
    initializers = [numpy_helper.from_array(WEIGHTS, "weights"), numpy_helper.from_array(BIAS, "bias")]
    initializers += [numpy_helper.from_array(np.array(v, dtype=np.int64), k) for k, v in constants.items()]
    inputs = [helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["batch", "samples"])]
    return graph_builder.classifier("arousal_scorer", nodes, inputs, LABELS, initializers)


def main():
    os.makedirs(OUT, exist_ok=True)
    onnx.save(graph(), os.path.join(OUT, "model.onnx"))
    manifest = {"models": [{
        "id": "arousal-example",
        "version": "1.0.0",
        "modality": "audio",
        "description": "example custom speech model: hand-written arousal scores from the waveform's brightness and "
                       "peak over three labels of its own, mapped onto the seven emotions "
                       "(tools/examples/custom_speech_model.py)",
        "tier": "primary",
        "runtime": "tract",
        "architecture": "waveform-classifier",
        "files": manifest_files.entries(OUT, ["model.onnx"]),
        "labels": LABELS,
        "label_map": LABEL_MAP,
        "input": {"kind": "speech", "sample_rate": 16000, "reads": {"kind": "waveform", "scaling": "zero_mean_unit_variance"},
                  "output": "logits",
                  "description": "float32 [N, samples] at 16 kHz, one analysis window per row, zero mean and unit "
                                 "variance; output [N, 3] logits"},
        "licence": "Apache-2.0",
        "metrics": {"note": "an example of the format, not a trained model: no accuracy is claimed"},
    }]}
    manifest_files.write(OUT, manifest)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
