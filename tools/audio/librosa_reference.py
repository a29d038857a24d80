"""Writes tests/data/audio/librosa_reference.json: librosa's log-mel and MFCC of a fixed test signal with the
settings the Rust features use, for crates/emosense-core/src/audio/features.rs to compare against.
Usage: tools/.venv/bin/python tools/audio/librosa_reference.py   (needs librosa from PyPI)"""
import json
import os

import librosa
import numpy as np

RATE, FRAMES = 16000, [0, 40, 90]


def signal():
    """The same signal as `reference_signal()` in features.rs: three tones, the top one fading in."""
    t = np.arange(RATE, dtype=np.float64) / RATE
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 1330 * t) + 0.1 * t * np.sin(2 * np.pi * 3100 * t)
    return y.astype(np.float32)


mel = librosa.feature.melspectrogram(y=signal(), sr=RATE, n_fft=512, hop_length=160, center=False, window="hann",
                                     power=2.0, n_mels=40, fmin=0.0, fmax=8000.0, htk=False, norm="slaney")
log_mel = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0)
mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=13, dct_type=2, norm="ortho")
out = {"librosa": librosa.__version__, "frames": FRAMES,
       "log_mel": [log_mel[:, f].round(4).tolist() for f in FRAMES],
       "mfcc": [mfcc[:, f].round(4).tolist() for f in FRAMES], "frame_count": int(mel.shape[1])}
path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "audio", "librosa_reference.json")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print(path, out["librosa"], out["frame_count"])
