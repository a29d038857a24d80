//! Reading int8 ONNX models into tract quickly.
//!
//! The shipped models keep their weights int8 behind `DequantizeLinear` (3.6x smaller files). tract folds those
//! constant nodes to f32 while typing the graph, but evaluates them with generic broadcasting several times over;
//! for the text transformer that was 150 of its 270 ms load. Folding them once, here, in one pass over the bytes
//! gives tract the same f32 weights (bit for bit) for a fraction of the time.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use tract_onnx::pb::{self, tensor_proto::DataType};
use tract_onnx::prelude::*;

use crate::emotion::EmotionScores;
use crate::registry::{LabelMapping, ScoreKind};

/// The ONNX model at `path`, with its constant int8 dequantizations already folded to f32.
pub(crate) fn read_model(path: &Path) -> TractResult<InferenceModel> {
    let onnx = tract_onnx::onnx();
    let mut proto = onnx.proto_model_for_path(path)?;
    if let Some(graph) = proto.graph.as_mut() {
        fold_constant_dequantization(graph);
    }
    onnx.model_for_proto_model(&proto)
}

/// The seven emotion probabilities of each row of a classifier's output `[rows, labels]`, its labels mapped by
/// `labels`; an error when the output has another shape.
pub(crate) fn emotions_per_row(output: &Tensor, rows: usize, labels: &LabelMapping, kind: ScoreKind) -> TractResult<Vec<EmotionScores>> {
    let scores = output.to_plain_array_view::<f32>()?;
    if scores.shape() != [rows, labels.labels()] {
        return Err(tract_onnx::tract_core::internal::format_err!("unexpected output shape {:?}", scores.shape()));
    }
    Ok(scores.outer_iter().map(|row| labels.emotions(kind, &row.iter().copied().collect::<Vec<f32>>())).collect())
}

/// Replaces every `DequantizeLinear` whose inputs are all initializers (int8 weights with one scale and zero point
/// per channel of its axis, or one for the whole tensor) by an f32 initializer holding its output. Other nodes are left
/// to tract. Returns how many nodes were folded.
fn fold_constant_dequantization(graph: &mut pb::GraphProto) -> usize {
    let index: HashMap<String, usize> = graph.initializer.iter().enumerate().map(|(i, t)| (t.name.clone(), i)).collect();
    let mut folded = Vec::new();
    let mut consumed = HashSet::new();
    for node in std::mem::take(&mut graph.node) {
        let inputs: Option<Vec<&pb::TensorProto>> = node.input.iter().map(|name| index.get(name).map(|&i| &graph.initializer[i])).collect();
        let output = match inputs {
            Some(inputs) if node.op_type == "DequantizeLinear" && node.output.len() == 1 => dequantize(&node, &inputs),
            _ => None,
        };
        match output {
            Some(mut tensor) => {
                tensor.name = node.output[0].clone();
                consumed.extend(node.input.iter().cloned());
                folded.push(tensor);
            }
            None => graph.node.push(node),
        }
    }
    let count = folded.len();
    let still_used: HashSet<&String> = graph.node.iter().flat_map(|n| n.input.iter()).collect();
    let consumed: HashSet<String> = consumed.into_iter().filter(|name| !still_used.contains(name)).collect();
    graph.initializer.retain(|t| !consumed.contains(&t.name));
    graph.initializer.extend(folded);
    count
}

/// The f32 output of one constant `DequantizeLinear`, or `None` when its form is not one handled here: int8
/// weights of any rank with one scale (and zero point) for the whole tensor or one per index of `axis`.
fn dequantize(node: &pb::NodeProto, inputs: &[&pb::TensorProto]) -> Option<pb::TensorProto> {
    let (weights, scale, zero) = match inputs {
        [w, s] => (*w, *s, None),
        [w, s, z] => (*w, *s, Some(*z)),
        _ => return None,
    };
    let dims: Vec<usize> = weights.dims.iter().map(|&d| usize::try_from(d).ok()).collect::<Option<_>>()?;
    let rank = i64::try_from(dims.len()).ok()?;
    let axis = node.attribute.iter().find(|a| a.name == "axis").map_or(1, |a| a.i);
    let axis = usize::try_from(if axis < 0 { axis + rank } else { axis }).ok().filter(|&a| a < dims.len().max(1))?;
    let channels = dims.get(axis).copied().unwrap_or(1);
    let inner: usize = dims.iter().skip(axis + 1).product();
    let values = int8_values(weights).filter(|v| v.len() == dims.iter().product::<usize>())?;
    let per_channel = |values: Vec<f32>| match values.len() {
        1 => Some(vec![values[0]; channels]),
        n if n == channels => Some(values),
        _ => None,
    };
    let scale = per_channel(f32_values(scale)?)?;
    let zero = match zero {
        Some(z) => per_channel(int8_values(z)?.into_iter().map(f32::from).collect())?,
        None => vec![0.0; channels],
    };
    let raw = values
        .iter()
        .enumerate()
        .flat_map(|(i, &q)| {
            let channel = (i / inner.max(1)) % channels;
            ((f32::from(q) - zero[channel]) * scale[channel]).to_le_bytes()
        })
        .collect();
    Some(pb::TensorProto { dims: weights.dims.clone(), data_type: DataType::Float as i32, raw_data: raw, ..Default::default() })
}

fn int8_values(tensor: &pb::TensorProto) -> Option<Vec<i8>> {
    if tensor.data_type != DataType::Int8 as i32 {
        return None;
    }
    if tensor.raw_data.is_empty() {
        tensor.int32_data.iter().map(|&v| i8::try_from(v).ok()).collect()
    } else {
        Some(tensor.raw_data.iter().map(|&b| b as i8).collect())
    }
}

fn f32_values(tensor: &pb::TensorProto) -> Option<Vec<f32>> {
    if tensor.data_type != DataType::Float as i32 {
        return None;
    }
    if tensor.raw_data.is_empty() {
        Some(tensor.float_data.clone())
    } else {
        Some(tensor.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int8(name: &str, dims: &[i64], values: &[i8]) -> pb::TensorProto {
        let raw_data = values.iter().map(|&v| v as u8).collect();
        pb::TensorProto { name: name.into(), dims: dims.to_vec(), data_type: DataType::Int8 as i32, raw_data, ..Default::default() }
    }

    fn float(name: &str, values: &[f32]) -> pb::TensorProto {
        let dims = vec![values.len() as i64];
        pb::TensorProto { name: name.into(), dims, data_type: DataType::Float as i32, float_data: values.to_vec(), ..Default::default() }
    }

    fn node(op: &str, inputs: &[&str], output: &str) -> pb::NodeProto {
        pb::NodeProto {
            op_type: op.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            ..Default::default()
        }
    }

    #[test]
    fn constant_per_column_dequantization_becomes_an_f32_initializer() {
        let mut graph = pb::GraphProto {
            node: vec![node("DequantizeLinear", &["w", "s", "z"], "w_f32"), node("MatMul", &["x", "w_f32"], "y")],
            initializer: vec![int8("w", &[2, 3], &[1, -2, 3, -128, 0, 127]), float("s", &[0.5, 0.25, 2.0]), int8("z", &[3], &[0, 1, 0])],
            ..Default::default()
        };
        assert_eq!(fold_constant_dequantization(&mut graph), 1);
        assert_eq!(graph.node.len(), 1);
        assert_eq!(graph.node[0].op_type, "MatMul");
        let [folded] = &graph.initializer[..] else { panic!("the int8 inputs must be dropped: {:?}", graph.initializer) };
        assert_eq!((folded.name.as_str(), folded.dims.as_slice()), ("w_f32", &[2i64, 3][..]));
        assert_eq!(f32_values(folded).unwrap(), [0.5, -0.75, 6.0, -64.0, -0.25, 254.0]);
    }

    #[test]
    fn per_output_channel_conv_weights_fold_on_axis_zero() {
        let mut dequantize = node("DequantizeLinear", &["w", "s"], "w_f32");
        dequantize.attribute.push(pb::AttributeProto { name: "axis".into(), i: 0, ..Default::default() });
        let mut graph = pb::GraphProto {
            node: vec![dequantize, node("Conv", &["x", "w_f32"], "y")],
            initializer: vec![int8("w", &[2, 1, 1, 2], &[1, -1, 2, 4]), float("s", &[0.5, 0.25])],
            ..Default::default()
        };
        assert_eq!(fold_constant_dequantization(&mut graph), 1);
        let [folded] = &graph.initializer[..] else { panic!("{:?}", graph.initializer) };
        assert_eq!(folded.dims, [2, 1, 1, 2]);
        assert_eq!(f32_values(folded).unwrap(), [0.5, -0.5, 0.5, 1.0]);
    }

    #[test]
    fn dequantization_of_a_runtime_input_is_left_to_tract() {
        let mut graph = pb::GraphProto {
            node: vec![node("DequantizeLinear", &["x", "s"], "x_f32")],
            initializer: vec![float("s", &[0.5])],
            ..Default::default()
        };
        assert_eq!(fold_constant_dequantization(&mut graph), 0);
        assert_eq!((graph.node.len(), graph.initializer.len()), (1, 1));
    }
}
