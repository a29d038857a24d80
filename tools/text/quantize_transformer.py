"""Quantize the fine-tuned fp32 ONNX classifier to int8 weights that tract folds at load time.

* MatMul weights: int8, symmetric, one scale per output column, behind `DequantizeLinear` (tract folds this
  into fp32 constants at load, so inference runs at fp32 speed from a 4x smaller file).
* Word-embedding table: int8 rows with one scale per row, gathered first and scaled after
  (`Gather(int8) -> Cast -> Mul(Gather(scale))`): a `DequantizeLinear` in front of the `Gather` is not folded by tract
  and would dequantize the whole table on every call.
* Everything else (LayerNorm, biases, the small position/type embeddings, the 7x384 head) stays fp32.

Reads $EMOSENSE_BUILD/emotion_minilm.fp32.onnx and tokenizer.json; writes models-quantized/text/model.int8.onnx,
model.fp32.onnx (not committed; used for the int8-vs-fp32 evaluation), tokenizer.json and labels.json, then checks
onnxruntime logits of int8 against fp32 on rows spread over the dev splits.
"""
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from common import BUILD, LABELS, OUT, load_sources  # noqa: E402

WORD_EMBEDDINGS = "enc.embeddings.word_embeddings.weight"


def quantize_columns(w):
    scale = np.abs(w).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    return np.clip(np.round(w / scale), -127, 127).astype(np.int8), scale.astype(np.float32)


def quantize(model):
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    new_nodes = []
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits and len(inits[node.input[1]].dims) == 2:
            name = node.input[1]
            w = numpy_helper.to_array(inits[name])
            q, scale = quantize_columns(w)
            graph.initializer.remove(inits.pop(name))
            graph.initializer.extend([
                numpy_helper.from_array(q, name + "_int8"),
                numpy_helper.from_array(scale, name + "_scale"),
                numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), name + "_zero"),
            ])
            new_nodes.append(helper.make_node(
                "DequantizeLinear", [name + "_int8", name + "_scale", name + "_zero"], [name], axis=1, name=name + "_dq"))
        elif node.op_type == "Gather" and node.input[0] == WORD_EMBEDDINGS:
            table = numpy_helper.to_array(inits[WORD_EMBEDDINGS])
            q_t, scale_t = quantize_columns(table.T)
            graph.initializer.remove(inits.pop(WORD_EMBEDDINGS))
            graph.initializer.extend([
                numpy_helper.from_array(q_t.T.copy(), "word_embeddings_int8"),
                numpy_helper.from_array(scale_t.reshape(-1, 1), "word_embeddings_scale"),
            ])
            ids, out = node.input[1], node.output[0]
            new_nodes += [
                helper.make_node("Gather", ["word_embeddings_int8", ids], ["we_rows_int8"], axis=0, name="we_gather_int8"),
                helper.make_node("Cast", ["we_rows_int8"], ["we_rows"], to=TensorProto.FLOAT, name="we_cast"),
                helper.make_node("Gather", ["word_embeddings_scale", ids], ["we_row_scale"], axis=0, name="we_gather_scale"),
                helper.make_node("Mul", ["we_rows", "we_row_scale"], [out], name="we_scale"),
            ]
            continue
        new_nodes.append(node)
    del graph.node[:]
    graph.node.extend(new_nodes)
    # Shape hints written by the exporter pin batch sizes; tract infers shapes itself.
    del graph.value_info[:]
    onnx.checker.check_model(model)
    return model


def check_against_fp32(fp32_path, int8_path, tokenizer_path, n=512):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_path)
    tok.no_padding()
    tok.no_truncation()
    texts, _, _ = load_sources("dev")
    texts = texts[:: max(1, len(texts) // n)][:n]
    sessions = [ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in (fp32_path, int8_path)]
    agree, max_diff = 0, 0.0
    for text in texts:
        ids = np.array([tok.encode(text).ids[:128]], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        a, b = (s.run(None, feeds)[0] for s in sessions)
        agree += int(a.argmax() == b.argmax())
        max_diff = max(max_diff, float(np.abs(a - b).max()))
    return {"dev_rows": len(texts), "top1_agreement": agree / len(texts), "max_abs_logit_diff": round(max_diff, 4)}


def main():
    os.makedirs(OUT, exist_ok=True)
    fp32_src = os.path.join(BUILD, "emotion_minilm.fp32.onnx")
    fp32_out, int8_out = os.path.join(OUT, "model.fp32.onnx"), os.path.join(OUT, "model.int8.onnx")
    shutil.copyfile(fp32_src, fp32_out)
    shutil.copyfile(os.path.join(BUILD, "tokenizer.json"), os.path.join(OUT, "tokenizer.json"))
    json.dump(LABELS, open(os.path.join(OUT, "labels.json"), "w"))
    onnx.save(quantize(onnx.load(fp32_src)), int8_out)
    report = check_against_fp32(fp32_out, int8_out, os.path.join(OUT, "tokenizer.json"))
    report["int8_bytes"] = os.path.getsize(int8_out)
    report["fp32_bytes"] = os.path.getsize(fp32_out)
    json.dump(report, open(os.path.join(BUILD, "quantize.json"), "w"), indent=1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
