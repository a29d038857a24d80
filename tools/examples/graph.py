"""The ONNX graph of an example custom model: given nodes, inputs and initializers, one output `logits` [batch,
labels], opset 13, checked."""
import onnx
from onnx import TensorProto, helper


def classifier(name, nodes, inputs, labels, initializers):
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(labels)])]
    model = helper.make_model(helper.make_graph(nodes, name, inputs, outputs, initializers),
                              opset_imports=[helper.make_opsetid("", 13)], producer_name="emosense tools/examples")
    onnx.checker.check_model(model)
    return model
