"""Trains the speech emotion models on Emo-DB from what the Rust code computes, evaluates them leave-one-speaker-out,
and writes models-quantized/audio/{model.int8.onnx, linear.json, manifest.json} (model.fp32.onnx too, not committed).

Usage: python tools/audio/train.py [--data ../shared/data/emodb] [--emosense target/release/emosense]
(packages: tools/audio/requirements.txt; about 20 minutes on 2 CPU cores, most of it the eight CNN folds).

Inputs: `emosense features` over every clip and over augmented copies of the training clips (white noise at 20 dB
SNR, speed 0.9 and 1.1 by resampling): per 4 s window a summary feature vector and its log-mel frames. Labels: the
Emo-DB letter; boredom (L) is mapped to neutral; there is no surprise class, so every model gives surprise ~0.

Models: the primary tier is one ONNX graph averaging the probabilities of an MLP over the standardised feature
vector (scikit-learn) and a small CNN over log-mel frames (PyTorch); the secondary tier is a logistic regression
over the same feature vector (linear.json, run in pure Rust).

Evaluation: each of the 8 speakers held out in turn, models trained on the other 7 (augmented copies of training
speakers only), a clip's scores the mean over its windows; accuracy and UAR (mean per-class recall over the 6
classes) over all 443 clips. int8 figures use the same per-channel weight quantisation as the shipped graph.
"""
import argparse
import copy
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import soundfile
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper
from scipy.signal import resample_poly
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from torch import nn

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "models-quantized", "audio")
LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
LETTERS = {"W": "anger", "L": "neutral", "E": "disgust", "A": "fear", "F": "joy", "T": "sadness", "N": "neutral"}
TRAINED = len(LABELS) - 1  # every label but surprise, which is last
MELS = 40
SEED = 7
MLP_PARAMS = dict(hidden_layer_sizes=(128,), alpha=0.3, learning_rate_init=1e-3, max_iter=400, random_state=SEED)
LOGREG_C = 0.05
CNN_PARAMS = dict(channels=[16, 32, 64, 64], crop_frames=200, epochs=30, batch=32, max_lr=3e-3, weight_decay=1e-2,
                  label_smoothing=0.1, dropout=0.3, freq_masks=2, max_freq_mask=5, time_masks=2, max_time_mask=20)
SURPRISE_LOG_PROBABILITY = float(np.log(1e-6))


def analysis_windows(emosense, paths):
    """{path: [(features [D], log_mel [T, 40]), ...]} from `emosense features`, and the feature names."""
    proc = subprocess.Popen([emosense, "features", *paths], stdout=subprocess.PIPE, text=True)
    names, result = None, {}
    for line in proc.stdout:
        record = json.loads(line)
        if names is None:
            names = record["feature_names"]
        elif "error" in record:
            sys.exit(f"{record['file']}: {record['error']}")
        else:
            result[record["file"]] = [(np.array(w["features"], dtype=np.float32), np.array(w["log_mel"], dtype=np.float32))
                                      for w in record["windows"]]
    if proc.wait() != 0:
        sys.exit("emosense features failed")
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


def items(windows, paths):
    """Training items, one per window: (features [n, D], log-mel list, labels [n])."""
    pairs = [(w, clip_label(p)) for p in paths for w in windows[p]]
    return (np.stack([w[0] for w, _ in pairs]), [w[1] for w, _ in pairs], np.array([label for _, label in pairs]))


class Cnn(nn.Module):
    """Conv blocks over (time, mel) with max pooling, mean over mel, then mean and max over time."""

    def __init__(self, band_mean, band_std):
        super().__init__()
        self.register_buffer("band_mean", torch.tensor(band_mean))
        self.register_buffer("band_std", torch.tensor(band_std))
        layers, width = [], 1
        channels = CNN_PARAMS["channels"]
        for i, out in enumerate(channels):
            layers += [nn.Conv2d(width, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
            if i + 1 < len(channels):
                layers.append(nn.MaxPool2d(2))
            width = out
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(CNN_PARAMS["dropout"])
        self.head = nn.Linear(2 * width, TRAINED)

    def forward(self, log_mel):
        x = ((log_mel - self.band_mean) / self.band_std).unsqueeze(1)
        h = self.body(x).mean(dim=3)
        return self.head(self.dropout(torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)))


def crop(log_mel, rng):
    """A random `crop_frames` stretch, the clip repeated first when it is shorter."""
    size = CNN_PARAMS["crop_frames"]
    if len(log_mel) < size:
        log_mel = np.tile(log_mel, (size // len(log_mel) + 1, 1))
    start = rng.integers(0, len(log_mel) - size + 1)
    return log_mel[start:start + size]


def spec_augment(log_mel, rng):
    x = log_mel.copy()
    fill = x.mean()
    for _ in range(CNN_PARAMS["freq_masks"]):
        width = rng.integers(0, CNN_PARAMS["max_freq_mask"] + 1)
        start = rng.integers(0, MELS - width + 1)
        x[:, start:start + width] = fill
    for _ in range(CNN_PARAMS["time_masks"]):
        width = rng.integers(0, CNN_PARAMS["max_time_mask"] + 1)
        start = rng.integers(0, len(x) - width + 1)
        x[start:start + width] = fill
    return x


def train_cnn(log_mels, labels):
    rng = np.random.default_rng(SEED)
    torch.manual_seed(SEED)
    frames = np.concatenate(log_mels)
    cnn = Cnn(frames.mean(axis=0), frames.std(axis=0) + 1e-3)
    batch, epochs = CNN_PARAMS["batch"], CNN_PARAMS["epochs"]
    optimizer = torch.optim.AdamW(cnn.parameters(), lr=CNN_PARAMS["max_lr"], weight_decay=CNN_PARAMS["weight_decay"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=CNN_PARAMS["max_lr"],
                                                   total_steps=epochs * ((len(labels) + batch - 1) // batch))
    for _ in range(epochs):
        cnn.train()
        order = rng.permutation(len(labels))
        for start in range(0, len(order), batch):
            chosen = order[start:start + batch]
            x = torch.tensor(np.stack([spec_augment(crop(log_mels[i], rng), rng) for i in chosen]))
            loss = F.cross_entropy(cnn(x), torch.tensor(labels[chosen]), label_smoothing=CNN_PARAMS["label_smoothing"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return cnn.eval()


class Primary(nn.Module):
    """The shipped graph: mean of the MLP's and the CNN's probabilities, as log-probabilities over all 7 labels."""

    def __init__(self, scaler, mlp, cnn):
        super().__init__()
        self.register_buffer("feature_mean", torch.tensor(scaler.mean_, dtype=torch.float32))
        self.register_buffer("feature_scale", torch.tensor(scaler.scale_, dtype=torch.float32))
        self.hidden = nn.Linear(*mlp.coefs_[0].shape)
        self.output = nn.Linear(*mlp.coefs_[1].shape)
        with torch.no_grad():
            for layer, w, b in ((self.hidden, mlp.coefs_[0], mlp.intercepts_[0]), (self.output, mlp.coefs_[1], mlp.intercepts_[1])):
                layer.weight.copy_(torch.tensor(w.T))
                layer.bias.copy_(torch.tensor(b))
        self.cnn = cnn

    def forward(self, features, log_mel):
        mlp = self.output(torch.relu(self.hidden((features - self.feature_mean) / self.feature_scale)))
        mean = (F.softmax(mlp, dim=1) + F.softmax(self.cnn(log_mel), dim=1)) / 2
        surprise = torch.full_like(mean[:, :1], SURPRISE_LOG_PROBABILITY)
        return torch.cat([torch.log(mean.clamp_min(1e-7)), surprise], dim=1)


def quantized(weight):
    """Symmetric int8 per slice of axis 0, with the scales, and the dequantised weight."""
    flat = weight.reshape(weight.shape[0], -1)
    scale = np.abs(flat).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.round(flat / scale[:, None]), -127, 127).astype(np.int8)
    return q.reshape(weight.shape), scale.astype(np.float32), (q * scale[:, None]).reshape(weight.shape).astype(np.float32)


def with_int8_weights(model):
    """A copy of `model` whose conv and linear weights are replaced by their int8 round trip."""
    clone = copy.deepcopy(model)
    with torch.no_grad():
        for module in clone.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.copy_(torch.tensor(quantized(module.weight.numpy())[2]))
    return clone


def window_probabilities(model, windows):
    """Clip probabilities (mean over its windows) from a model's log-probabilities."""
    with torch.no_grad():
        per_window = [torch.exp(model(torch.tensor(f)[None], torch.tensor(m)[None]))[0].numpy() for f, m in windows]
    return np.mean(per_window, axis=0)


def full_probabilities(model, x):
    """Probabilities over all 7 labels (0 for labels the model never saw)."""
    p = np.zeros((len(x), len(LABELS)))
    p[:, model.classes_] = model.predict_proba(x)
    return p


def score(true, predicted):
    true, predicted = np.array(true), np.array(predicted)
    recalls = {LABELS[c]: float(np.mean(predicted[true == c] == c)) for c in sorted(set(true))}
    return {"clips": len(true), "accuracy": round(float(np.mean(true == predicted)), 4),
            "uar": round(float(np.mean(list(recalls.values()))), 4),
            "recall": {k: round(v, 3) for k, v in recalls.items()}}


def fit(windows, paths):
    """Scaler, logistic regression, MLP, CNN and the primary graph trained on `paths`."""
    features, log_mels, labels = items(windows, paths)
    scaler = StandardScaler().fit(features)
    standardised = scaler.transform(features)
    logreg = LogisticRegression(C=LOGREG_C, max_iter=3000).fit(standardised, labels)
    mlp = MLPClassifier(**MLP_PARAMS).fit(standardised, labels)
    cnn = train_cnn(log_mels, labels)
    return scaler, logreg, mlp, Primary(scaler, mlp, cnn).eval()


def loso(paths, windows, augmented):
    speakers = sorted({speaker(p) for p in paths})
    names = ("secondary", "mlp_alone", "cnn_alone", "primary_fp32", "primary_int8")
    predictions = {name: [] for name in names}
    truth = []
    for held_out in speakers:
        started = time.time()
        train = [p for p in paths if speaker(p) != held_out]
        train += [c for c, original in augmented.items() if speaker(original) != held_out]
        scaler, logreg, mlp, primary = fit(windows, train)
        primary_int8 = with_int8_weights(primary)
        for clip in (p for p in paths if speaker(p) == held_out):
            truth.append(clip_label(clip))
            z = scaler.transform(np.stack([f for f, _ in windows[clip]]))
            predictions["secondary"].append(int(full_probabilities(logreg, z).mean(axis=0).argmax()))
            predictions["mlp_alone"].append(int(mlp.predict_proba(z).mean(axis=0).argmax()))
            with torch.no_grad():
                cnn = [F.softmax(primary.cnn(torch.tensor(m)[None]), dim=1)[0].numpy() for _, m in windows[clip]]
            predictions["cnn_alone"].append(int(np.mean(cnn, axis=0).argmax()))
            predictions["primary_fp32"].append(int(window_probabilities(primary, windows[clip]).argmax()))
            predictions["primary_int8"].append(int(window_probabilities(primary_int8, windows[clip]).argmax()))
        print(f"held out speaker {held_out}: {time.time() - started:.0f} s", file=sys.stderr)
    return {name: score(truth, p) for name, p in predictions.items()}


def fallback_scores(emosense, paths):
    """The rules need no training, so every clip is unseen: their accuracy over all clips, through the CLI."""
    predicted = []
    for path in paths:
        out = subprocess.run([emosense, "analyze", "audio", "--tier", "fallback", path], check=True, capture_output=True, text=True)
        predicted.append(LABELS.index(json.loads(out.stdout)["dominant_emotion"]))
    return score([clip_label(p) for p in paths], predicted)


def export(model, n_features, path, quantize):
    """ONNX with symbolic batch N and frame count T; with `quantize`, conv and linear weights become int8 behind
    DequantizeLinear (per output channel)."""
    example = (torch.zeros(1, n_features), torch.zeros(1, 300, MELS))
    with tempfile.TemporaryDirectory() as folder:
        raw = os.path.join(folder, "model.onnx")
        torch.onnx.export(model, example, raw, dynamo=False, input_names=["features", "log_mel"],
                          output_names=["log_probabilities"], opset_version=13,
                          dynamic_axes={"features": {0: "N"}, "log_mel": {0: "N", 1: "T"}, "log_probabilities": {0: "N"}})
        graph_model = onnx.load(raw)
    graph = graph_model.graph
    if quantize:
        weights = {node.input[1] for node in graph.node if node.op_type in ("Conv", "Gemm", "MatMul") and len(node.input) > 1}
        replaced, nodes = [], []
        for init in list(graph.initializer):
            value = numpy_helper.to_array(init)
            if init.name in weights and value.ndim >= 2:
                q, scale, _ = quantized(value)
                replaced.append(init)
                graph.initializer.extend([numpy_helper.from_array(q, init.name + "_int8"),
                                          numpy_helper.from_array(scale, init.name + "_scale"),
                                          numpy_helper.from_array(np.zeros(len(scale), dtype=np.int8), init.name + "_zero")])
                nodes.append(helper.make_node("DequantizeLinear", [init.name + "_int8", init.name + "_scale", init.name + "_zero"],
                                              [init.name], axis=0))
        for init in replaced:
            graph.initializer.remove(init)
        for i, node in enumerate(nodes):
            graph.node.insert(i, node)
    graph_model.producer_name = "emosense tools/audio/train.py"
    onnx.checker.check_model(graph_model)
    onnx.save(graph_model, path)


def check_against_rust(emosense, model, windows, paths):
    """Largest difference between the Rust answer with the written int8 graph and this script's int8 model."""
    worst = 0.0
    for path in paths:
        out = json.loads(subprocess.run([emosense, "analyze", "audio", "--tier", "primary", path], check=True,
                                        capture_output=True, text=True, env={**os.environ, "EMOTION_MODEL_CACHE_DIR": os.path.join(REPO, "models-quantized")}).stdout)
        rust = np.array([out["emotions"][label] for label in LABELS])
        python = window_probabilities(model, windows[path])
        python = python / python.sum()
        worst = max(worst, float(np.abs(rust - python).max()))
    return worst


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "emodb"))
    parser.add_argument("--emosense", default=os.path.join(REPO, "target", "release", "emosense"))
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    started = time.time()
    wav = os.path.join(args.data, "wav")
    paths = sorted(os.path.join(wav, f) for f in os.listdir(wav) if f.endswith(".wav"))
    with tempfile.TemporaryDirectory() as folder:
        augmented = augmented_copies(paths, folder)
        names, windows = analysis_windows(args.emosense, paths + sorted(augmented))
    metrics = loso(paths, windows, augmented)
    metrics["fallback"] = fallback_scores(args.emosense, paths)
    print(json.dumps(metrics, indent=1), file=sys.stderr)

    scaler, logreg, mlp, primary = fit(windows, paths + sorted(augmented))
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
        export(primary, len(names), os.path.join(OUT, f"model.{precision}.onnx"), quantize)
    agreement = check_against_rust(args.emosense, with_int8_weights(primary), windows, paths[::40])
    print(f"largest difference between Rust and Python int8 probabilities over {len(paths[::40])} clips: {agreement:.5f}", file=sys.stderr)

    data = {"name": "Berlin Database of Emotional Speech (Emo-DB), 8 of 10 speakers, 443 clips",
            "licence": "free for research per its authors; redistribution unstated (not in this repository)",
            "labels": "W anger, E disgust, A fear, F joy, T sadness, N neutral, L boredom -> neutral; no surprise",
            "augmentation": "white noise at 20 dB SNR, speed 0.9 and 1.1 (training speakers only); SpecAugment masks and "
                            "random 2 s crops for the CNN",
            "evaluation": "leave one speaker out over all 8 speakers; clip score = mean over its 4 s windows"}
    common = {"licence": "Apache-2.0 (weights trained here)", "data": data,
              "note": "Emo-DB has no surprise class: these models give surprise ~0."}
    features_input = (f"{len(names)} values from `emosense features` (names in linear.json), per 4 s window of 16 kHz "
                      "mono audio, silence trimmed, RMS normalised to -20 dBFS")
    sources = [{"package": p, "registry": "PyPI", "version": importlib.metadata.version(p)}
               for p in ("scikit-learn", "torch", "numpy", "onnx")]
    manifest = {"modality": "audio", "models": [
        {"id": "audio-cnn-mlp-emodb", "tier": "primary", "version": "2.0.0",
         "description": f"mean of two networks' probabilities: a CNN over log-mel frames (conv 3x3 "
                        f"{'-'.join(map(str, CNN_PARAMS['channels']))} with batch norm and 2x2 max pooling, mean over "
                        f"bands, mean and max over time, linear) and an MLP ({len(names)} -> 128 ReLU -> 6) over the "
                        "standardised feature vector; int8 weights per output channel",
         **common, "input": {"features": features_input,
                             "log_mel": f"the same window's {MELS}-band log-mel frames in dB (32 ms Hann frames every 10 ms)"},
         "source": sources,
         "training": {"mlp": MLP_PARAMS, "cnn": CNN_PARAMS, "seconds": round(time.time() - started)},
         "files": [{"name": "model.int8.onnx", "bytes": os.path.getsize(os.path.join(OUT, "model.int8.onnx")),
                    "sha256": sha256(os.path.join(OUT, "model.int8.onnx"))}],
         "contract": {"input": f"features float32 [N, {len(names)}], log_mel float32 [N, T, {MELS}]",
                      "output": "log_probabilities float32 [N, 7] in labels order"},
         "metrics": {"loso_fp32": metrics["primary_fp32"], "loso_int8": metrics["primary_int8"],
                     "loso_mlp_alone_fp32": metrics["mlp_alone"], "loso_cnn_alone_fp32": metrics["cnn_alone"],
                     "rust_vs_python_int8_max_probability_difference": round(agreement, 5)}},
        {"id": "audio-logreg-emodb", "tier": "secondary", "version": "2.0.0",
         "description": "multinomial logistic regression over standardised speech features", **common,
         "input": {"features": features_input}, "source": sources[:1] + sources[2:], "training": {"C": LOGREG_C},
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
