"""Trains the facial-expression CNN shipped as `expression_emosense` on FER2013 Training (48 x 48 grey faces).

A VGG-style network (four blocks of two 3x3 convolutions with batch norm, global average pooling) trained with the
augmentations that matter for FER: random affine (rotation, scale, translation), horizontal flips, brightness and
contrast jitter, random erasing, and label smoothing; SGD with Nesterov momentum and a one-cycle learning rate.

A fixed 10 % of Training (stratified, seed 0) is held out: the epoch count, width and recipe are chosen on it, and it
is the data the ensemble weights are chosen on later. FER2013 PublicTest is never read here.

Usage (packages from tools/requirements.txt):
  tools/.venv/bin/python tools/face/train_expression.py probe            # seconds per epoch for each width
  tools/.venv/bin/python tools/face/train_expression.py train [--epochs N] [--width W]
  tools/.venv/bin/python tools/face/train_expression.py export           # ONNX fp32 + int8, checked in onnxruntime
  tools/.venv/bin/python tools/face/train_expression.py golden           # tests/data/images/face_48.expression_input.json

Outputs go to target/modelgen/face/ (checkpoint, training log, held-out file list) and models-quantized/face/
(expression_emosense.{int8,fp32}.onnx; only int8 is committed). Data are read from $EMOSENSE_DATA (default
../shared/data).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from int8 import weight_only_int8  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DATA = os.environ.get("EMOSENSE_DATA", os.path.join(REPO, "..", "shared", "data"))
BUILD = os.path.join(REPO, "target", "modelgen", "face")
OUT = os.path.join(REPO, "models-quantized", "face")
CHECKPOINT = os.path.join(BUILD, "expression_emosense.pt")
LOG = os.path.join(BUILD, "expression_emosense_train.jsonl")
HOLDOUT_LIST = os.path.join(BUILD, "fer2013_train_holdout.txt")
GOLDEN = os.path.join(REPO, "tests", "data", "images", "face_48.expression_input.json")
GOLDEN_IMAGE = os.path.join(REPO, "tests", "data", "images", "face_48.png")
# Output order, the same as the other FER2013-trained members (the Rust side maps it onto the seven emotions).
FOLDERS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
SIZE = 48
HOLDOUT_FRACTION = 0.1
SEED = 0


def grey(rgb):
    """ITU-R 601 luma as float, exactly as the Rust preprocessing computes it (no rounding to integers)."""
    rgb = np.asarray(rgb, dtype=np.float32)
    return (rgb[..., 0] * 299.0 + rgb[..., 1] * 587.0 + rgb[..., 2] * 114.0) / 1000.0


def model_input(path):
    """The network's input for an aligned 48 x 48 face file: luma / 255, shape [1, 48, 48]."""
    image = Image.open(path)
    rgb = np.asarray(image.convert("RGB"))
    if rgb.shape[:2] != (SIZE, SIZE):
        raise ValueError(f"{path}: {rgb.shape[1]}x{rgb.shape[0]}, expected {SIZE}x{SIZE}")
    return (grey(rgb) / 255.0)[None].astype(np.float32)


def load_training():
    """Every FER2013 Training face as uint8 [N, 48, 48] (grey files, so luma = the stored value), labels, paths."""
    root = os.path.join(DATA, "fer2013-train")
    images, labels, paths = [], [], []
    for label, folder in enumerate(FOLDERS):
        names = sorted(os.listdir(os.path.join(root, folder)))
        for name in names:
            path = os.path.join(root, folder, name)
            images.append(np.asarray(Image.open(path).convert("L")))
            labels.append(label)
            paths.append(os.path.join(folder, name))
    return np.stack(images), np.array(labels), paths


def split(labels):
    """Stratified held-out indices (HOLDOUT_FRACTION of each class, seed SEED) and the training indices."""
    rng = np.random.RandomState(SEED)
    holdout = []
    for c in range(len(FOLDERS)):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        holdout.extend(idx[: int(round(len(idx) * HOLDOUT_FRACTION))])
    holdout = np.sort(np.array(holdout))
    train = np.setdiff1d(np.arange(len(labels)), holdout)
    return train, holdout


class ExpressionNet(nn.Module):
    """Four VGG blocks (widths w, 2w, 4w, 8w) at 48, 24, 12 and 6 px, global average pooling, dropout, linear."""

    def __init__(self, width=32):
        super().__init__()
        layers, channels = [], 1
        for block in range(4):
            out = width * 2 ** block
            for _ in range(2):
                layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                channels = out
            if block < 3:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.dropout = nn.Dropout(0.4)
        self.classifier = nn.Linear(channels, len(FOLDERS))

    def forward(self, x):
        x = (x - 0.5) / 0.25
        x = self.features(x).mean(dim=(2, 3))
        return self.classifier(self.dropout(x))


class Probabilities(nn.Module):
    """The exported graph: softmax over the logits."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def augment(x, generator):
    """Random affine (rotation +-15 deg, scale 0.85-1.15, shift +-10 %), flips, brightness/contrast, erasing."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(15)
    scale = 1 + (torch.rand(n, generator=generator) * 2 - 1) * 0.15
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * 0.2
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * 0.3
    brightness = (torch.rand(n, 1, 1, 1, generator=generator) * 2 - 1) * 0.15
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean + brightness).clamp(0, 1)
    erase = torch.rand(n, generator=generator) < 0.5
    for i in torch.nonzero(erase).flatten().tolist():
        h, w = torch.randint(8, 20, (2,), generator=generator).tolist()
        top, left = torch.randint(0, SIZE - h, (1,), generator=generator).item(), torch.randint(0, SIZE - w, (1,), generator=generator).item()
        x[i, :, top:top + h, left:left + w] = torch.rand(1, generator=generator).item()
    return x


def evaluate(net, images, labels, batch=512):
    """Accuracy and macro-F1, plain and averaged with the mirror image (as the service runs it), and the probabilities."""
    net.eval()
    probs, mirrored = [], []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            x = images[start:start + batch]
            probs.append(torch.softmax(net(x), 1))
            mirrored.append(torch.softmax(net(torch.flip(x, dims=[3])), 1))
    probs, mirrored = torch.cat(probs), torch.cat(mirrored)
    both = (probs + mirrored) / 2
    return {"plain": scores(probs.argmax(1).numpy(), labels), "mirror_mean": scores(both.argmax(1).numpy(), labels)}, both.numpy()


def scores(predicted, gold):
    f1 = []
    for c in range(len(FOLDERS)):
        tp = np.sum((predicted == c) & (gold == c))
        fp = np.sum((predicted == c) & (gold != c))
        fn = np.sum((predicted != c) & (gold == c))
        f1.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return {"accuracy": round(float(np.mean(predicted == gold)), 4), "macro_f1": round(float(np.mean(f1)), 4),
            "per_class_f1": {FOLDERS[c]: round(float(f1[c]), 4) for c in range(len(FOLDERS))}}


def tensors():
    images, labels, paths = load_training()
    train, holdout = split(labels)
    x = torch.from_numpy(images).float().div_(255.0).unsqueeze(1)
    return x, labels, paths, train, holdout


def train(args):
    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    os.makedirs(BUILD, exist_ok=True)
    x, labels, paths, train_idx, holdout_idx = tensors()
    with open(HOLDOUT_LIST, "w") as f:
        f.write("".join(paths[i] + "\n" for i in holdout_idx))
    y = torch.from_numpy(labels)
    net = ExpressionNet(args.width).to(memory_format=torch.channels_last)
    steps_per_epoch = math.ceil(len(train_idx) / args.batch)
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch, pct_start=0.15)
    generator = torch.Generator().manual_seed(SEED)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    best, log = -1.0, open(LOG, "w")
    recipe = {k: v for k, v in vars(args).items() if k != "command"} | {"seed": SEED, "holdout_fraction": HOLDOUT_FRACTION,
                                                                       "train_rows": len(train_idx), "holdout_rows": len(holdout_idx)}
    log.write(json.dumps({"recipe": recipe}) + "\n")
    for epoch in range(args.epochs):
        started = time.time()
        net.train()
        order = train_idx[torch.randperm(len(train_idx), generator=generator).numpy()]
        total = 0.0
        for step in range(steps_per_epoch):
            batch = order[step * args.batch:(step + 1) * args.batch]
            xb = augment(x[batch].clone(), generator).contiguous(memory_format=torch.channels_last)
            loss = loss_fn(net(xb), y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
        result, _ = evaluate(net, x[holdout_idx], labels[holdout_idx])
        entry = {"epoch": epoch + 1, "loss": round(total / len(train_idx), 4), "seconds": round(time.time() - started, 1), "holdout": result}
        log.write(json.dumps(entry) + "\n")
        log.flush()
        print(json.dumps(entry), flush=True)
        if result["mirror_mean"]["accuracy"] > best:
            best = result["mirror_mean"]["accuracy"]
            torch.save({"width": args.width, "state": net.state_dict(), "epoch": epoch + 1, "holdout": result, "recipe": recipe}, CHECKPOINT)


def probe(args):
    """Seconds per epoch for each width, from 20 training steps."""
    torch.set_num_threads(args.threads)
    x, labels, _, train_idx, _ = tensors()
    y = torch.from_numpy(labels)
    generator = torch.Generator().manual_seed(SEED)
    for width in (16, 24, 32, 48):
        net = ExpressionNet(width).to(memory_format=torch.channels_last)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        steps = 20
        started = None
        for step in range(steps + 2):
            if step == 2:
                started = time.time()
            batch = train_idx[step * args.batch:(step + 1) * args.batch]
            xb = augment(x[batch].clone(), generator).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(net(xb), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        per_step = (time.time() - started) / steps
        params = sum(p.numel() for p in net.parameters())
        print(json.dumps({"width": width, "params": params, "seconds_per_epoch": round(per_step * len(train_idx) / args.batch, 1)}), flush=True)


def export(args):
    """ONNX fp32 (input `input` [N, 1, 48, 48] grey in [0, 1], output `probabilities` [N, 7]) and its int8 copy,
    both checked against PyTorch on the held-out faces."""
    import onnxruntime as ort

    saved = torch.load(CHECKPOINT)
    net = ExpressionNet(saved["width"])
    net.load_state_dict(saved["state"])
    net.eval()
    fp32 = os.path.join(OUT, "expression_emosense.fp32.onnx")
    int8 = os.path.join(OUT, "expression_emosense.int8.onnx")
    torch.onnx.export(Probabilities(net).eval(), torch.zeros(2, 1, SIZE, SIZE), fp32, input_names=["input"], output_names=["probabilities"],
                      dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=13, dynamo=False)
    weight_only_int8(fp32, int8)
    x, labels, _, _, holdout_idx = tensors()
    xh = x[holdout_idx].numpy()
    with torch.no_grad():
        reference = torch.softmax(net(x[holdout_idx]), 1).numpy()
    report = {"checkpoint_epoch": saved["epoch"], "holdout_pytorch": saved["holdout"], "recipe": saved["recipe"]}
    for name, path in (("fp32", fp32), ("int8", int8)):
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        out = session.run(None, {"input": xh})[0]
        report[f"{name}_vs_pytorch_max_abs"] = float(np.abs(out - reference).max())
        report[f"holdout_{name}_accuracy"] = round(float(np.mean(out.argmax(1) == labels[holdout_idx])), 4)
    with open(os.path.join(BUILD, "expression_emosense_export.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))


def golden(args):
    """The network input Python computes for the golden fixture, which the Rust preprocessing must reproduce."""
    x = model_input(GOLDEN_IMAGE)
    with open(GOLDEN, "w") as f:
        json.dump({"image": os.path.relpath(GOLDEN_IMAGE, REPO), "shape": [1, 1, SIZE, SIZE],
                   "input": [round(float(v), 7) for v in x.ravel()]}, f)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["probe", "train", "export", "golden"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    {"probe": probe, "train": train, "export": export, "golden": golden}[args.command](args)


if __name__ == "__main__":
    main()
