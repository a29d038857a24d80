"""Voice activity detector for the speech pipeline: Silero VAD's batched ("sequence") 16 kHz ONNX graph from PyPI's
`silero-vad` (MIT), with int8 encoder conv weights per output channel (tools/int8.py; the Fourier basis and the LSTM
stay fp32), checked against
the shipped fp32 graph in onnxruntime on Emo-DB clips, a tone and noise.

Usage: python tools/audio/vad.py [--data ../shared/data]   (also run by tools/audio/train.py, which writes the
manifest entry this returns). Writes models-quantized/audio/vad.onnx.

Contract: `input` float32 [S, 576]: S frames of 512 samples of 16 kHz audio, each preceded by the last 64 samples of
the frame before (zeros for the first); `h`, `c` float32 [1, 1, 128] (zeros at the start); output `speech_probs`
[S, 1], the probability that each 32 ms frame holds speech.
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import onnxruntime
import soundfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import manifest_files  # noqa: E402
from int8 import weight_only_int8  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "models-quantized", "audio", "vad.onnx")
PACKAGE = ("silero-vad", "6.2.3")
WHEEL = f"silero_vad-{PACKAGE[1]}-py3-none-any.whl"
MEMBER = "silero_vad/data/silero_vad_16k_sequence.onnx"
FRAME, CONTEXT = 512, 64
STFT_BASIS = "stft.forward_basis_buffer"  # the Fourier basis, kept fp32: int8 moves probabilities by up to 0.36


def frames(audio):
    """[S, 576]: each 512-sample frame after the 64 samples before it (the last frame zero-padded)."""
    count = (len(audio) + FRAME - 1) // FRAME
    padded = np.zeros(count * FRAME + CONTEXT, dtype=np.float32)
    padded[CONTEXT:CONTEXT + len(audio)] = audio
    return np.stack([padded[i * FRAME:i * FRAME + CONTEXT + FRAME] for i in range(count)])


def probabilities(session, audio):
    state = np.zeros((1, 1, 128), dtype=np.float32)
    return session.run(["speech_probs"], {"input": frames(audio), "h": state, "c": state})[0].reshape(-1)


def test_signals(data):
    rng = np.random.default_rng(0)
    t = np.arange(32000) / 16000
    signals = {"tone": 0.1 * np.sin(2 * np.pi * 440 * t), "noise": 0.05 * rng.standard_normal(len(t))}
    for path in sorted(glob.glob(os.path.join(data, "emodb", "wav", "*.wav")))[::20]:
        audio, rate = soundfile.read(path, dtype="float32")
        signals[os.path.basename(path)] = audio[::1] if rate == 16000 else np.interp(
            np.arange(0, len(audio), rate / 16000), np.arange(len(audio)), audio)
    return {name: s.astype(np.float32) for name, s in signals.items()}


def build(wheel, data):
    """Writes the graph and returns its manifest entry (with what int8 weights would change)."""
    with zipfile.ZipFile(wheel) as archive, open(OUT, "wb") as f:
        f.write(archive.read(MEMBER))
    with tempfile.TemporaryDirectory() as folder:
        int8 = os.path.join(folder, "vad.int8.onnx")
        weight_only_int8(OUT, int8, keep=(STFT_BASIS,))
        reference = onnxruntime.InferenceSession(OUT, providers=["CPUExecutionProvider"])
        quantized = onnxruntime.InferenceSession(int8, providers=["CPUExecutionProvider"])
        worst, flips, total = 0.0, 0, 0
        speech = {}
        for name, signal in test_signals(data).items():
            p, q = probabilities(reference, signal), probabilities(quantized, signal)
            worst = max(worst, float(np.abs(p - q).max()))
            flips += int(np.sum((p >= 0.5) != (q >= 0.5)))
            total += len(p)
            speech[name] = round(float(np.mean(p >= 0.5)), 3)
    print(f"vad int8 vs fp32: largest probability difference {worst:.4f}, frames flipped at 0.5: {flips} of {total}; "
          f"speech fraction tone {speech['tone']}, noise {speech['noise']}", file=sys.stderr)
    return {"id": "audio-silero-vad", "tier": "primary", "role": "voice_activity", "runtime": "tract",
            "architecture": "silero-vad", "version": PACKAGE[1],
            "description": "Silero VAD's batched 16 kHz graph: per 32 ms frame, the probability of speech",
            "licence": "MIT", "source": [{"package": PACKAGE[0], "registry": "PyPI", "version": PACKAGE[1], "file": MEMBER}],
            "input": {"kind": "speech", "sample_rate": 16000, "reads": {"kind": "waveform", "scaling": "as_prepared"},
                      "description": "each 512-sample frame after the 64 samples before it (runs before every tier)"},
            "contract": {"input": "input float32 [S, 576] (each 512-sample frame after the 64 samples before it), h and c float32 [1, 1, 128] zeros",
                         "output": "speech_probs float32 [S, 1]"},
            "conversion": "none: shipped fp32, as packaged (int8 conv weights measured, see metrics)",
            "files": manifest_files.entries(os.path.dirname(OUT), [os.path.basename(OUT)]),
            "metrics": {"int8_conv_weights_vs_fp32_max_probability_difference": round(worst, 4),
                        "int8_conv_weights_vs_fp32_frames_flipped_at_0.5": f"{flips} of {total}",
                        "speech_fraction_of_frames": {"tone_440_hz": speech["tone"], "white_noise": speech["noise"]}}}


def fetch_wheel(folder):
    path = os.path.join(folder, WHEEL)
    if not os.path.exists(path):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", folder, "==".join(PACKAGE)], check=True)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data"))
    args = parser.parse_args()
    print(build(fetch_wheel(os.path.join(REPO, "target", "modelgen", "audio", "dl")), args.data))
