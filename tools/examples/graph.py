"""The ONNX graph of an example custom model: given nodes, inputs and initializers, one output `logits` [batch,
labels], opset 13 in IR version 7 (the IR that came with opset 13, which every ONNX Runtime since 1.6 reads), checked."""
import onnx
from onnx import TensorProto, helper


def classifier(name, nodes, inputs, labels, initializers):
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(labels)])]
    model = helper.make_model(helper.make_graph(nodes, name, inputs, outputs, initializers),
                              opset_imports=[helper.make_opsetid("", 13)], producer_name="emosense tools/examples",
                              ir_version=7)
    onnx.checker.check_model(model)
    return model
