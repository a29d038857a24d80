"""Weight-only int8 for the conv and speech graphs (faces, speech encoder): the form tract folds back to f32 at load."""
import numpy as np
import onnx
from onnx import helper, numpy_helper


def weight_only_int8(src, dst, keep=()):
    """Every Conv/Gemm/MatMul weight initializer (but those named in `keep`) becomes int8 (symmetric, one scale per
    output channel) behind a DequantizeLinear; activations stay float, so tract folds the weights back to f32 at load."""
    model = onnx.load(src)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    targets = {n.input[1] for n in g.node if n.op_type in ("Conv", "Gemm", "MatMul") and len(n.input) > 1
               and n.input[1] in inits and n.input[1] not in keep}
    new_nodes = []
    for name in sorted(targets):
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        if w.size < 64:
            continue
        users = [n for n in g.node if len(n.input) > 1 and n.input[1] == name]
        transposed = all(n.op_type == "Gemm" and any(a.name == "transB" and a.i == 1 for a in n.attribute) for n in users)
        axis = 0 if all(n.op_type == "Conv" for n in users) or transposed else 1
        reduce = tuple(i for i in range(w.ndim) if i != axis)
        amax = np.abs(w).max(axis=reduce)
        scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
        shape = [1] * w.ndim
        shape[axis] = -1
        q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        g.initializer.remove(inits[name])
        g.initializer.extend([numpy_helper.from_array(q, name + "_q"), numpy_helper.from_array(scale, name + "_scale"),
                              numpy_helper.from_array(np.zeros(scale.shape, np.int8), name + "_zero")])
        new_nodes.append(helper.make_node("DequantizeLinear", [name + "_q", name + "_scale", name + "_zero"], [name],
                                          axis=axis, name=name + "_dequantize"))
    for i, node in enumerate(new_nodes):
        g.node.insert(i, node)
    if model.opset_import[0].version < 13:
        model.opset_import[0].version = 13
    onnx.checker.check_model(model)
    onnx.save(model, dst)
