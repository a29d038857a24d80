"""Face-detection recall and precision at IoU 0.5 on the labelled photos of tools/face/detection_set.json, through
`emosense analyze image` (the whole pipeline: detector, tiles, rotations), and the main-face choice.

Usage: tools/.venv/bin/python tools/face/eval_detection.py [--bin target/release/emosense] [--packages DIR]
(--packages holds the extracted npm @vladmandic/face-api 1.7.15 and the scikit-image 0.24.0 wheel, as
tools/face/build.sh fetches them.) Prints one JSON object: totals and each image's matches.
"""
import argparse
import glob
import io
import json
import os
import subprocess
import tempfile
import zipfile

from PIL import Image

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SET = os.path.join(os.path.dirname(__file__), "detection_set.json")
IOU = 0.5


def iou(a, b):
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def turned_box(box, size, degrees):
    """`box` of an image of `size` after turning the image `degrees` clockwise, and the new size."""
    (x, y, w, h), (width, height) = box, size
    for _ in range(degrees // 90 % 4):
        x, y, w, h = height - (y + h), x, h, w
        width, height = height, width
    return [x, y, w, h], (width, height)


def load_source(sources, entry, packages):
    source = sources[entry["source"]]
    if "folder" in source:
        return Image.open(os.path.join(packages, source["folder"], entry["file"])).convert("RGB")
    wheel = zipfile.ZipFile(glob.glob(os.path.join(packages, "scikit_image-0.24.0-*.whl"))[0])
    return Image.open(io.BytesIO(wheel.read(f"{source['wheel_folder']}/{entry['file']}"))).convert("RGB")


def cases(labels, packages):
    """(name, image, boxes in the source's frame, degrees the source was turned to make the image)."""
    images = {e["file"]: (load_source(labels["sources"], e, packages), e["faces"]) for e in labels["images"]}
    for name, (image, faces) in images.items():
        yield name, image, faces, 0
    for v in labels["variants"]:
        image, faces = images[v["from"]]
        if "rotate" in v:
            # PIL turns counter-clockwise; the variant is the source turned clockwise.
            yield f"{v['from']} turned {v['rotate']}", image.rotate(-v["rotate"], expand=True), faces, v["rotate"]
        else:
            scale, (ax, ay) = v["scale"], v["at"]
            scaled = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
            canvas = Image.new("RGB", tuple(v["canvas"]), (128, 128, 128))
            canvas.paste(scaled, (ax, ay))
            moved = [[x * scale + ax, y * scale + ay, w * scale, h * scale] for x, y, w, h in faces]
            yield f"{v['from']} x{scale} on {v['canvas'][0]}x{v['canvas'][1]}", canvas, moved, 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(REPO, "target", "release", "emosense"))
    parser.add_argument("--packages", default=os.path.join(REPO, "target", "modelgen", "face", "dl"))
    args = parser.parse_args()
    labels = json.load(open(SET))
    env = dict(os.environ, EMOTION_MODEL_CACHE_DIR=os.environ.get("EMOTION_MODEL_CACHE_DIR", os.path.join(REPO, "models-quantized")))
    totals = {"faces": 0, "found": 0, "detections": 0, "true_detections": 0, "main_face_is_a_face": 0, "images_with_faces": 0}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, image, faces, turned in cases(labels, args.packages):
            path = os.path.join(tmp, "image.png")
            image.save(path)
            answer = json.loads(subprocess.run([args.bin, "analyze", "image", path], env=env, check=True, capture_output=True, text=True).stdout)
            # The answer's boxes refer to the stored image turned by metadata.image.rotated_degrees (0 when not turned).
            frame_turn = turned + answer["metadata"]["image"].get("rotated_degrees", 0)
            source_size = image.size if turned % 180 == 0 else image.size[::-1]
            expected = [turned_box(b, source_size, frame_turn)[0] for b in faces]
            detections = [f for f in answer.get("faces", []) if f["score"] > 0]
            boxes = [[f["box"][k] for k in ("x", "y", "width", "height")] for f in detections]
            matched, used = 0, set()
            for truth in expected:
                best = max(((iou(truth, b), i) for i, b in enumerate(boxes) if i not in used), default=(0.0, None))
                if best[0] >= IOU:
                    matched += 1
                    used.add(best[1])
            main = None
            if detections:
                # The main face is the one whose emotions the answer carries.
                main = next((i for i, f in enumerate(detections) if f["emotions"] == answer["emotions"]), None)
            main_is_face = bool(expected) and main is not None and main in used
            totals["faces"] += len(expected)
            totals["found"] += matched
            totals["detections"] += len(boxes)
            totals["true_detections"] += len(used)
            totals["images_with_faces"] += bool(expected)
            totals["main_face_is_a_face"] += main_is_face
            rows.append({"image": name, "faces": len(expected), "found": matched, "detections": len(boxes),
                         "face_search": answer["metadata"].get("face_search", "detector"), "main_face_is_a_face": main_is_face})
    totals["recall"] = round(totals["found"] / totals["faces"], 3)
    totals["precision"] = round(totals["true_detections"] / max(totals["detections"], 1), 3)
    print(json.dumps({"iou": IOU, "totals": totals, "images": rows}, indent=1))


if __name__ == "__main__":
    main()
