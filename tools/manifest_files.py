"""File entries of model manifests (models-quantized/<modality>/manifest.json): name, size and sha256 of each file,
tagged with the weight precision it is for, and marked when the binary compiles it in.

The Rust registry checks every sha256 when it loads a model, so build scripts call `refresh` right after they write
new model files (before evaluating them with the release binary), and the manifest writers call `entry` for the
final manifest.

Usage: python3 tools/manifest_files.py MODALITY [FOLDER]   (refreshes FOLDER/manifest.json in place; FOLDER defaults
to models-quantized/MODALITY; tools/container/assemble.sh refreshes the copy an image holds)
"""
import hashlib
import json
import os
import re
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PRECISION = re.compile(r"\.(int8|fp16|fp32)\.onnx$")
FULL_PRECISIONS = ("fp32", "fp16")


def entry(folder, name, embedded=False):
    """The manifest entry of file `name` in `folder`."""
    data = open(os.path.join(folder, name), "rb").read()
    out = {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    precision = PRECISION.search(name)
    if precision:
        out["precision"] = precision.group(1)
    if embedded:
        out["embedded"] = True
    return out


def entries(folder, names, embedded=False):
    """Entries of `names`; for each int8 graph, its fp32 and fp16 twins too when those files exist (they are built,
    not committed)."""
    out = []
    for name in names:
        out.append(entry(folder, name, embedded))
        for precision in FULL_PRECISIONS:
            twin = name.replace(".int8.onnx", f".{precision}.onnx")
            if twin != name and os.path.exists(os.path.join(folder, twin)):
                out.append(entry(folder, twin))
    return out


def write(folder, manifest):
    """Writes `manifest` as `folder`/manifest.json, as every manifest is written (indent 1, UTF-8, final newline)."""
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")


def refresh(modality, folder=None):
    """Rewrites the sizes and sha256 of every file the manifest lists, adding full-precision twins that exist."""
    folder = folder or os.path.join(REPO, "models-quantized", modality)
    path = os.path.join(folder, "manifest.json")
    manifest = json.load(open(path))
    for model in manifest["models"]:
        files = []
        for f in model["files"]:
            if f.get("precision") in FULL_PRECISIONS:
                continue
            if os.path.exists(os.path.join(folder, f["name"])):
                files += entries(folder, [f["name"]], f.get("embedded", False))
            else:
                files.append(f)
        model["files"] = files
    write(folder, manifest)


if __name__ == "__main__":
    refresh(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
