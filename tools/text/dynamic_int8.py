"""Rewrites the shipped text model (int8 weights behind DequantizeLinear, computed in f32) into integer compute with
the same weights: each MatMul over a dequantized weight becomes DynamicQuantizeLinear(x) -> MatMulInteger(x_q, W_q,
x_zero) -> Cast -> Mul(x_scale * w_scale), the form onnxruntime's dynamic quantization produces. Used by
tools/bench/text_bench.py to compare runtimes on integer compute, not only integer storage.

    tools/.venv/bin/python tools/text/dynamic_int8.py models-quantized/text/model.int8.onnx OUT.onnx
"""
import sys

import onnx
from onnx import TensorProto, helper


def rewrite(source, destination):
    """Writes the integer-compute form of `source` to `destination`; returns how many MatMuls were rewritten."""
    model = onnx.load(source)
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    dequantized = {n.output[0]: n for n in graph.node
                   if n.op_type == "DequantizeLinear" and all(i in initializers for i in n.input)}
    nodes, rewritten = [], 0
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.output[0] in dequantized:
            continue
        if node.op_type == "MatMul" and node.input[1] in dequantized:
            weights = dequantized[node.input[1]]
            p = node.name or node.output[0]
            nodes += [
                helper.make_node("DynamicQuantizeLinear", [node.input[0]], [p + "_xq", p + "_xs", p + "_xz"]),
                helper.make_node("MatMulInteger", [p + "_xq", weights.input[0], p + "_xz"], [p + "_i32"]),
                helper.make_node("Cast", [p + "_i32"], [p + "_f"], to=TensorProto.FLOAT),
                helper.make_node("Mul", [p + "_xs", weights.input[1]], [p + "_scale"]),
                helper.make_node("Mul", [p + "_f", p + "_scale"], [node.output[0]]),
            ]
            rewritten += 1
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    used = {i for n in graph.node for i in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    onnx.save(model, destination)
    return rewritten


if __name__ == "__main__":
    print("rewrote", rewrite(sys.argv[1], sys.argv[2]), "MatMuls")
