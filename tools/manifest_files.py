"""File entries of model manifests (models-quantized/<modality>/manifest.json): name, size and sha256 of each file,
tagged with the weight precision it is for, and marked when the binary compiles it in.

The Rust registry checks every sha256 when it loads a model, so build scripts call `refresh` right after they write
new model files (before evaluating them with the release binary), and the manifest writers call `entry` for the
final manifest.

Usage: python3 tools/manifest_files.py MODALITY   (refreshes models-quantized/MODALITY/manifest.json in place)
"""
import hashlib
import json
import os
import re
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PRECISION = re.compile(r"\.(int8|fp32)\.onnx$")


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
    """Entries of `names`; for each int8 graph, its fp32 twin too when that file exists (fp32 files are built, not
    committed)."""
    out = []
    for name in names:
        out.append(entry(folder, name, embedded))
        twin = name.replace(".int8.onnx", ".fp32.onnx")
        if twin != name and os.path.exists(os.path.join(folder, twin)):
            out.append(entry(folder, twin))
    return out


def write(folder, manifest):
    """Writes `manifest` as `folder`/manifest.json, as every manifest is written (indent 1, UTF-8, final newline)."""
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")


def refresh(modality):
    """Rewrites the sizes and sha256 of every file the manifest lists, adding fp32 twins that exist."""
    folder = os.path.join(REPO, "models-quantized", modality)
    path = os.path.join(folder, "manifest.json")
    manifest = json.load(open(path))
    for model in manifest["models"]:
        files = []
        for f in model["files"]:
            if f.get("precision") == "fp32":
                continue
            if os.path.exists(os.path.join(folder, f["name"])):
                files += entries(folder, [f["name"]], f.get("embedded", False))
            else:
                files.append(f)
        model["files"] = files
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    refresh(sys.argv[1])
