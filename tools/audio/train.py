"""Trains the speech emotion models on Emo-DB from the features the Rust code computes, evaluates them
leave-one-speaker-out, and writes models-quantized/audio/{model.int8.onnx, linear.json, manifest.json}
(model.fp32.onnx too, not committed).

Usage: tools/.venv/bin/python tools/audio/train.py [--data ../shared/data/emodb] [--emosense target/release/emosense]

Features: `emosense features` over every clip and over augmented copies of the training clips (white noise at
20 dB SNR, speed 0.9 and 1.1 by resampling), one vector per 4 s window. Labels: the Emo-DB letter; boredom (L) is
mapped to neutral; there is no surprise class, so both models give surprise ~0. Evaluation: each of the 8
speakers held out in turn, models trained on the other 7 (augmented copies of training speakers only), a clip's
scores the mean over its windows; accuracy and UAR (mean per-class recall over the 6 classes) over all 443 clips.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import soundfile
from onnx import TensorProto, helper, numpy_helper
from scipy.signal import resample_poly
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "models-quantized", "audio")
LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
LETTERS = {"W": "anger", "L": "neutral", "E": "disgust", "A": "fear", "F": "joy", "T": "sadness", "N": "neutral"}
TRAINED = [l for l in LABELS if l != "surprise"]
SEED = 7
MLP_PARAMS = dict(hidden_layer_sizes=(128,), alpha=0.3, learning_rate_init=1e-3, max_iter=400, random_state=SEED)
LOGREG_C = 0.05


def features(emosense, paths):
    out = subprocess.run([emosense, "features", *paths], check=True, capture_output=True, text=True).stdout
    lines = [json.loads(l) for l in out.splitlines()]
    names = lines[0]["feature_names"]
    result = {}
    for line in lines[1:]:
        if "error" in line:
            sys.exit(f"{line['file']}: {line['error']}")
        result[line["file"]] = np.array(line["windows"], dtype=np.float32)
    return names, result


def augmented_copies(paths, folder):
    """Writes noisy and speed-changed copies of each clip; returns {copy path: original path}."""
    rng = np.random.default_rng(SEED)
    copies = {}
    for path in paths:
        audio, rate = soundfile.read(path, dtype="float32")
        stem = os.path.splitext(os.path.basename(path))[0]
        power = float(np.mean(audio ** 2))
        noisy = audio + rng.normal(0, np.sqrt(power / 100.0), audio.shape).astype(np.float32)
        variants = {"noise": noisy, "slow": resample_poly(audio, 10, 9), "fast": resample_poly(audio, 9, 10)}
        for name, signal in variants.items():
            target = os.path.join(folder, f"{stem}_{name}.wav")
            soundfile.write(target, np.clip(signal, -1, 1), rate, subtype="PCM_16")
            copies[target] = path
    return copies


def clip_label(path):
    return LABELS.index(LETTERS[os.path.basename(path)[5]])


def speaker(path):
    return os.path.basename(path)[:2]


def stack(vectors, paths):
    x = np.concatenate([vectors[p] for p in paths])
    y = np.concatenate([[clip_label(p)] * len(vectors[p]) for p in paths])
    return x, y


def full_probabilities(model, x):
    """Probabilities over all 7 labels (0 for labels the model never saw)."""
    p = np.zeros((len(x), len(LABELS)))
    p[:, model.classes_] = model.predict_proba(x)
    return p


def mlp_logits(weights, x):
    (w1, b1), (w2, b2) = weights
    return np.maximum(x @ w1 + b1, 0) @ w2 + b2


def quantize_columns(w):
    scale = np.abs(w).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def dequantized(weights):
    return [(quantize_columns(w)[0].astype(np.float32) * quantize_columns(w)[1], b) for w, b in weights]


def mlp_weights(model):
    """The MLP's layers with the output layer widened to all 7 labels (absent labels: weight 0, bias -30)."""
    w1, w2 = model.coefs_
    b1, b2 = model.intercepts_
    w2_full = np.zeros((w2.shape[0], len(LABELS)), dtype=np.float32)
    b2_full = np.full(len(LABELS), -30.0, dtype=np.float32)
    w2_full[:, model.classes_] = w2
    b2_full[model.classes_] = b2
    return [(w1.astype(np.float32), b1.astype(np.float32)), (w2_full, b2_full)]


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def score(true, predicted):
    true, predicted = np.array(true), np.array(predicted)
    recalls = {LABELS[c]: float(np.mean(predicted[true == c] == c)) for c in sorted(set(true))}
    return {"clips": len(true), "accuracy": round(float(np.mean(true == predicted)), 4),
            "uar": round(float(np.mean(list(recalls.values()))), 4),
            "recall": {k: round(v, 3) for k, v in recalls.items()}}


def loso(paths, vectors, augmented):
    speakers = sorted({speaker(p) for p in paths})
    predictions = {"secondary": [], "primary_fp32": [], "primary_int8": []}
    truth = []
    for held_out in speakers:
        train = [p for p in paths if speaker(p) != held_out]
        test = [p for p in paths if speaker(p) == held_out]
        train_all = train + [c for c, original in augmented.items() if speaker(original) != held_out]
        x, y = stack(vectors, train_all)
        scaler = StandardScaler().fit(x)
        logreg = LogisticRegression(C=LOGREG_C, max_iter=3000).fit(scaler.transform(x), y)
        mlp = MLPClassifier(**MLP_PARAMS).fit(scaler.transform(x), y)
        weights = mlp_weights(mlp)
        for clip in test:
            z = scaler.transform(vectors[clip])
            truth.append(clip_label(clip))
            predictions["secondary"].append(int(full_probabilities(logreg, z).mean(axis=0).argmax()))
            predictions["primary_fp32"].append(int(softmax(mlp_logits(weights, z)).mean(axis=0).argmax()))
            predictions["primary_int8"].append(int(softmax(mlp_logits(dequantized(weights), z)).mean(axis=0).argmax()))
        print(f"held out speaker {held_out}: {len(test)} clips", file=sys.stderr)
    return {name: score(truth, p) for name, p in predictions.items()}


def fallback_scores(emosense, paths):
    """The rules need no training, so every clip is unseen: their accuracy over all clips, through the CLI."""
    predicted = []
    for path in paths:
        out = subprocess.run([emosense, "analyze", "audio", "--tier", "fallback", path], check=True, capture_output=True, text=True)
        predicted.append(LABELS.index(json.loads(out.stdout)["dominant_emotion"]))
    return score([clip_label(p) for p in paths], predicted)


def mlp_onnx(weights, scaler, n_features, quantize):
    nodes, inits = [], [numpy_helper.from_array(scaler.mean_.astype(np.float32), "mean"),
                        numpy_helper.from_array(scaler.scale_.astype(np.float32), "scale")]
    nodes += [helper.make_node("Sub", ["features", "mean"], ["centred"]),
              helper.make_node("Div", ["centred", "scale"], ["h0"])]
    for i, (w, b) in enumerate(weights):
        name = f"w{i}"
        if quantize:
            q, s = quantize_columns(w)
            inits += [numpy_helper.from_array(q, name + "_int8"), numpy_helper.from_array(s, name + "_scale"),
                      numpy_helper.from_array(np.zeros(w.shape[1], dtype=np.int8), name + "_zero")]
            nodes.append(helper.make_node("DequantizeLinear", [name + "_int8", name + "_scale", name + "_zero"], [name], axis=1))
        else:
            inits.append(numpy_helper.from_array(w, name))
        inits.append(numpy_helper.from_array(b, f"b{i}"))
        nodes += [helper.make_node("MatMul", [f"h{i}", name], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"])]
        if i + 1 < len(weights):
            nodes.append(helper.make_node("Relu", [f"a{i}"], [f"h{i + 1}"]))
    nodes.append(helper.make_node("Identity", [f"a{len(weights) - 1}"], ["logits"]))
    graph = helper.make_graph(
        nodes, "emosense_audio_mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", len(LABELS)])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="emosense tools/audio/train.py")
    onnx.checker.check_model(model)
    return model


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "emodb"))
    parser.add_argument("--emosense", default=os.path.join(REPO, "target", "release", "emosense"))
    args = parser.parse_args()
    started = time.time()
    wav = os.path.join(args.data, "wav")
    paths = sorted(os.path.join(wav, f) for f in os.listdir(wav) if f.endswith(".wav"))
    with tempfile.TemporaryDirectory() as folder:
        augmented = augmented_copies(paths, folder)
        names, vectors = features(args.emosense, paths + sorted(augmented))
    metrics = loso(paths, vectors, augmented)
    metrics["fallback"] = fallback_scores(args.emosense, paths)
    print(json.dumps(metrics, indent=1), file=sys.stderr)

    x, y = stack(vectors, paths + sorted(augmented))
    scaler = StandardScaler().fit(x)
    logreg = LogisticRegression(C=LOGREG_C, max_iter=3000).fit(scaler.transform(x), y)
    mlp = MLPClassifier(**MLP_PARAMS).fit(scaler.transform(x), y)
    os.makedirs(OUT, exist_ok=True)
    weights = np.zeros((len(LABELS), len(names)))
    bias = np.full(len(LABELS), -30.0)
    weights[logreg.classes_] = logreg.coef_
    bias[logreg.classes_] = logreg.intercept_
    with open(os.path.join(OUT, "linear.json"), "w") as f:
        json.dump({"labels": LABELS, "feature_names": names, "mean": scaler.mean_.round(6).tolist(),
                   "scale": scaler.scale_.round(6).tolist(), "weights": weights.round(6).tolist(),
                   "bias": bias.round(6).tolist()}, f)
    for precision, quantize in (("int8", True), ("fp32", False)):
        onnx.save(mlp_onnx(mlp_weights(mlp), scaler, len(names), quantize), os.path.join(OUT, f"model.{precision}.onnx"))

    data = {"name": "Berlin Database of Emotional Speech (Emo-DB), 8 of 10 speakers, 443 clips",
            "licence": "free for research per its authors; redistribution unstated (not in this repository)",
            "labels": "W anger, E disgust, A fear, F joy, T sadness, N neutral, L boredom -> neutral; no surprise",
            "augmentation": "white noise at 20 dB SNR, speed 0.9 and 1.1 (training speakers only)",
            "evaluation": "leave one speaker out over all 8 speakers; clip score = mean over its 4 s windows"}
    common = {"licence": "Apache-2.0 (weights trained here)", "data": data, "input": {
        "features": f"{len(names)} values from `emosense features` (names in linear.json), per 4 s window of 16 kHz "
                    "mono audio, silence trimmed, RMS normalised to -20 dBFS"},
        "note": "Emo-DB has no surprise class: these models give surprise ~0."}
    sources = [{"package": p, "registry": "PyPI", "version": __import__("importlib").metadata.version(p)}
               for p in ("scikit-learn", "numpy", "onnx")]
    manifest = {"modality": "audio", "models": [
        {"id": "audio-mlp-emodb", "tier": "primary", "version": "1.0.0",
         "description": "MLP (150 -> 128 ReLU -> 7) over standardised speech features, int8 weights per column",
         **common, "source": sources, "training": {**{k: v for k, v in MLP_PARAMS.items()}, "seconds": round(time.time() - started)},
         "files": [{"name": "model.int8.onnx", "bytes": os.path.getsize(os.path.join(OUT, "model.int8.onnx")),
                    "sha256": sha256(os.path.join(OUT, "model.int8.onnx"))}],
         "contract": {"input": "features float32 [N, 150]", "output": "logits float32 [N, 7] in labels order"},
         "metrics": {"loso_fp32": metrics["primary_fp32"], "loso_int8": metrics["primary_int8"]}},
        {"id": "audio-logreg-emodb", "tier": "secondary", "version": "1.0.0",
         "description": "multinomial logistic regression over standardised speech features", **common,
         "source": sources, "training": {"C": LOGREG_C},
         "files": [{"name": "linear.json", "bytes": os.path.getsize(os.path.join(OUT, "linear.json")),
                    "sha256": sha256(os.path.join(OUT, "linear.json"))}],
         "metrics": {"loso": metrics["secondary"]}},
        {"id": "audio-prosody-rules", "tier": "fallback", "version": "1.0.0",
         "description": "documented arousal/valence rules from pitch range, loudness range, spectral centroid, "
                        "rate and pitch slope (crates/emosense-core/src/audio/prosody.rs); compiled in",
         "licence": "Apache-2.0", "files": [], "metrics": {"all_clips": metrics["fallback"]}}]}
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(json.dumps({k: {m: v[m] for m in ("accuracy", "uar")} for k, v in metrics.items()}))


if __name__ == "__main__":
    main()
