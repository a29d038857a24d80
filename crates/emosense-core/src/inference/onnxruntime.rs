//! ONNX Runtime through the `ort` crate, its shared library loaded at run time: `ORT_DYLIB_PATH` when set (the
//! `libonnxruntime.so` of the `onnxruntime` or `onnxruntime-gpu` wheel, or of a release archive), else
//! `libonnxruntime.so` on the loader's search path.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use ort::session::builder::GraphOptimizationLevel;
use ort::value::{DynValue, TensorElementType, ValueType};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::format_err;

use super::{check_inputs, check_label_output, Device, Dim, ElementType, GraphSpec, Refusal};

/// The process's ONNX Runtime environment, created on first use; `Err` says why the library could not be used.
fn environment() -> Result<&'static ort::environment::Environment, String> {
    static ENVIRONMENT: OnceLock<Result<ort::environment::Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            let library = std::env::var_os("ORT_DYLIB_PATH").unwrap_or_else(|| "libonnxruntime.so".into());
            let builder = ort::init_from(&library)
                .map_err(|e| format!("cannot load ONNX Runtime from {} (set ORT_DYLIB_PATH to its libonnxruntime.so): {e}", Path::new(&library).display()))?;
            builder.with_name("emosense").build().map_err(|e| format!("ONNX Runtime did not start: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Loads the library and, for CUDA, checks that its CUDA execution provider is there and finds a GPU.
pub(super) fn check(device: Device) -> Result<(), String> {
    environment()?;
    match device {
        Device::Cpu => Ok(()),
        Device::Cuda => cuda_check(),
    }
}

fn cuda_check() -> Result<(), String> {
    use ort::ep::ExecutionProvider;
    match <ort::ep::CUDA as ExecutionProvider>::is_available() {
        Ok(true) => {
            let environment = environment()?;
            let mut builder = ort::session::Session::builder(environment).map_err(message)?;
            ort::ep::CUDA::default().register(&mut builder).map_err(|e| format!("the CUDA execution provider did not start (no GPU, or no CUDA/cuDNN libraries): {}", message(e)))
        }
        Ok(false) => Err("this ONNX Runtime library has no CUDA execution provider (use the onnxruntime-gpu library)".into()),
        Err(e) => Err(format!("cannot tell whether ONNX Runtime can use CUDA: {}", message(e))),
    }
}

/// A loaded ONNX Runtime session. Runs take turns: `ort` runs a session through a mutable borrow.
pub(super) struct Session {
    session: Mutex<ort::session::Session>,
    /// The graph's inputs, in order.
    inputs: Vec<String>,
    /// The outputs handed back, in order.
    outputs: Vec<String>,
}

impl Session {
    /// Loads the graph at `path` for `device` (on the CPU one intra-op thread, or one per core where the spec asks
    /// for every core, as tract runs it) and checks
    /// it against `spec` from the graph's own input and output types. ONNX Runtime's rewrites of int8 weights into
    /// its own quantized kernels are turned off: they move the text model's logits by up to 0.02, so the weights
    /// are used in f32 as tract uses them and both backends give the same answers.
    pub(super) fn load(path: &Path, spec: &GraphSpec, device: Device) -> Result<Session, Refusal> {
        let unreadable = |e: ort::Error| Refusal::Unreadable(message(e));
        let environment = environment().map_err(Refusal::Unreadable)?;
        let mut builder = ort::session::Session::builder(environment)
            .and_then(|b| b.with_optimization_level(GraphOptimizationLevel::Level3).map_err(Into::into))
            .and_then(|b| b.with_intra_threads(if spec.all_cores { all_cores() } else { 1 }).map_err(Into::into))
            .and_then(|b| b.with_config_entry("session.disable_quant_qdq", "1").map_err(Into::into))
            .map_err(unreadable)?;
        if device == Device::Cuda {
            builder = with_cuda(builder).map_err(Refusal::Unreadable)?;
        }
        let session = builder.commit_from_file(path).map_err(unreadable)?;
        let inputs: Vec<String> = session.inputs().iter().map(|i| i.name().to_owned()).collect();
        check_inputs(&inputs, spec)?;
        for (outlet, fact) in session.inputs().iter().zip(&spec.inputs) {
            if !reads(outlet.dtype(), fact.element, &fact.dims) {
                return Err(Refusal::Contract(format!("the graph's input {} is {:?}; the model feeds it {fact}", outlet.name(), outlet.dtype())));
            }
        }
        let outputs: Vec<String> = if spec.outputs.is_empty() {
            session.outputs().iter().map(|o| o.name().to_owned()).collect()
        } else {
            let known: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
            if let Some(missing) = spec.outputs.iter().find(|name| !known.contains(name)) {
                return Err(Refusal::Contract(format!("the graph has no output {missing}")));
            }
            spec.outputs.iter().map(|s| (*s).to_owned()).collect()
        };
        if let Some(labels) = spec.labels {
            let first = session.outputs().iter().find(|o| o.name() == outputs[0]).map(|o| o.dtype().clone());
            let shape = first.as_ref().and_then(ValueType::tensor_shape).map(|s| s.to_vec()).unwrap_or_default();
            let per_row = shape.last().copied().filter(|&d| d >= 0);
            check_label_output(shape.len(), per_row, labels, &format!("{shape:?}"))?;
        }
        Ok(Session { session: Mutex::new(session), inputs, outputs })
    }

    /// Runs the session on tract tensors, giving tract tensors back.
    pub(super) fn run(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let values = inputs.iter().map(|tensor| to_ort(tensor)).collect::<TractResult<Vec<DynValue>>>()?;
        let mut session = self.session.lock().map_err(|_| format_err!("an earlier run of this session panicked"))?;
        let outputs = session.run(self.inputs.iter().map(String::as_str).zip(values).collect::<Vec<_>>()).map_err(|e| format_err!("{}", message(e)))?;
        self.outputs
            .iter()
            .map(|name| {
                let value = outputs.get(name).ok_or_else(|| format_err!("ONNX Runtime gave no output {name}"))?;
                let (shape, data) = value.try_extract_tensor::<f32>().map_err(|e| format_err!("output {name}: {e}"))?;
                let shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
                Ok(Tensor::from_shape(&shape, data)?.into_tvalue())
            })
            .collect()
    }
}

fn with_cuda(builder: ort::session::builder::SessionBuilder) -> Result<ort::session::builder::SessionBuilder, String> {
    builder.with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()]).map_err(|e| format!("the CUDA execution provider did not start: {}", message(e)))
}

/// Whether a graph input of type `dtype` takes what the model feeds it: the element type, the rank, and every
/// size both fix.
fn reads(dtype: &ValueType, element: ElementType, dims: &[Dim]) -> bool {
    let expected = match element {
        ElementType::F32 => TensorElementType::Float32,
        ElementType::I64 => TensorElementType::Int64,
    };
    let Some(shape) = dtype.tensor_shape() else { return false };
    dtype.tensor_type() == Some(expected)
        && shape.len() == dims.len()
        && shape.iter().zip(dims).all(|(&graph, dim)| match dim {
            Dim::Fixed(size) => graph < 0 || graph == *size as i64,
            Dim::Any(_) => true,
        })
}

fn all_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// An ONNX Runtime error as one line of text (its messages end with a line break).
fn message(e: impl std::fmt::Display) -> String {
    e.to_string().trim_end().to_owned()
}

fn to_ort(tensor: &Tensor) -> TractResult<DynValue> {
    let shape: Vec<i64> = tensor.shape().iter().map(|&d| d as i64).collect();
    let value = match tensor.datum_type() {
        DatumType::F32 => ort::value::Tensor::from_array((shape, tensor.to_plain_array_view::<f32>()?.iter().copied().collect::<Vec<f32>>())).map(|t| t.into_dyn()),
        DatumType::I64 => ort::value::Tensor::from_array((shape, tensor.to_plain_array_view::<i64>()?.iter().copied().collect::<Vec<i64>>())).map(|t| t.into_dyn()),
        other => return Err(format_err!("inputs of type {other:?} are not passed to ONNX Runtime")),
    };
    value.map_err(|e| format_err!("{e}"))
}
