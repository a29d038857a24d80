//! Running ONNX graphs on the configured backend: tract (pure Rust, always built, the default) or ONNX Runtime
//! (the `ort` feature: CPU, or CUDA with the onnxruntime-gpu library), loaded at run time from its
//! shared library.
//!
//! Every model loads its graph through [`Graph::load`] with a [`GraphSpec`] saying what it feeds the graph and
//! what it expects back; tensors cross the boundary as tract tensors whichever backend runs, so the models'
//! preprocessing and postprocessing are the same code on both.

#[cfg(feature = "ort")]
mod onnxruntime;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::error::LoadError;

/// What runs the ONNX graphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// tract, pure Rust, on the CPU (the default; the int8 weights are folded to f32 once at load).
    Tract,
    /// ONNX Runtime through its shared library (`ORT_DYLIB_PATH`); builds with the `ort` feature.
    OnnxRuntime,
}

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    Cpu,
    /// An NVIDIA GPU through ONNX Runtime's CUDA execution provider.
    Cuda,
}

/// The backend and device every ONNX graph of this process runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Inference {
    pub backend: Backend,
    pub device: Device,
}

impl Default for Inference {
    fn default() -> Self {
        Inference { backend: Backend::Tract, device: Device::Cpu }
    }
}

impl Inference {
    /// Whether this build can run `backend` on `device` on this host: loads ONNX Runtime's library (once per
    /// process) and, for CUDA, checks that its CUDA execution provider can start. The error says what is missing.
    pub fn check(self) -> Result<(), String> {
        match (self.backend, self.device) {
            (Backend::Tract, Device::Cpu) => Ok(()),
            (Backend::Tract, Device::Cuda) => Err("tract runs on the cpu only; cuda runs through onnxruntime".into()),
            #[cfg(feature = "ort")]
            (Backend::OnnxRuntime, device) => onnxruntime::check(device),
            #[cfg(not(feature = "ort"))]
            (Backend::OnnxRuntime, _) => Err("this build has no onnxruntime backend (build with --features ort)".into()),
        }
    }
}

/// The element type of a graph input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ElementType {
    F32,
    I64,
}

/// One dimension of a graph input: a fixed size, or any size (named as the graph names it in messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dim {
    Fixed(usize),
    Any(&'static str),
}

/// What a model feeds one input of its graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputFact {
    pub element: ElementType,
    pub dims: Vec<Dim>,
}

impl InputFact {
    /// A float32 input of `dims`.
    pub(crate) fn f32(dims: impl Into<Vec<Dim>>) -> Self {
        InputFact { element: ElementType::F32, dims: dims.into() }
    }

    /// An int64 input of `dims`.
    pub(crate) fn i64(dims: impl Into<Vec<Dim>>) -> Self {
        InputFact { element: ElementType::I64, dims: dims.into() }
    }

    /// Fixed sizes, each as a [`Dim::Fixed`].
    pub(crate) fn fixed(sizes: &[usize]) -> Vec<Dim> {
        sizes.iter().map(|&s| Dim::Fixed(s)).collect()
    }
}

impl fmt::Display for InputFact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(size) => size.to_string(),
                Dim::Any(name) => (*name).to_owned(),
            })
            .collect();
        let element = match self.element {
            ElementType::F32 => "float32",
            ElementType::I64 => "int64",
        };
        write!(f, "{element} [{}]", dims.join(", "))
    }
}

/// What a model feeds its graph and expects back; checked at load on every backend.
#[derive(Debug, Clone, Default)]
pub(crate) struct GraphSpec<'a> {
    /// Every input of the graph, in order.
    pub inputs: Vec<InputFact>,
    /// The inputs' names, when the manifest names them.
    pub input_names: Option<&'a [String]>,
    /// The outputs to compute, by name; empty for the graph's own outputs.
    pub outputs: &'a [&'a str],
    /// For a classifier: values per row its first output must hold (`[rows, labels]`).
    pub labels: Option<usize>,
    /// Whether one run spreads its work over every core (worth it for one large graph, such as the face detector;
    /// small graphs run one thread each, side by side).
    pub all_cores: bool,
}

impl GraphSpec<'_> {
    fn reads(&self) -> String {
        self.inputs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }
}

/// A loaded graph, ready to run on the configured backend.
pub(crate) struct Graph {
    runner: Runner,
    all_cores: bool,
}

enum Runner {
    Tract(Arc<TypedRunnableModel>),
    #[cfg(feature = "ort")]
    OnnxRuntime(onnxruntime::Session),
}

/// Why a graph could not be loaded: its file cannot be read as ONNX, or it does not take or give what the model
/// expects.
enum Refusal {
    Unreadable(String),
    Contract(String),
}

impl Graph {
    /// Loads the ONNX graph at `path` for the backend of `inference` and checks it against `spec`; a graph that
    /// reads or gives something else is a contract mismatch of `model`.
    pub(crate) fn load(path: &Path, model: &str, spec: &GraphSpec, inference: Inference) -> Result<Graph, LoadError> {
        let runner = match inference.backend {
            Backend::Tract => load_tract(path, spec).map(Runner::Tract),
            #[cfg(feature = "ort")]
            Backend::OnnxRuntime => onnxruntime::Session::load(path, spec, inference.device).map(Runner::OnnxRuntime),
            #[cfg(not(feature = "ort"))]
            Backend::OnnxRuntime => Err(Refusal::Unreadable("this build has no onnxruntime backend".into())),
        };
        match runner {
            Ok(runner) => Ok(Graph { runner, all_cores: spec.all_cores }),
            Err(Refusal::Unreadable(message)) => Err(LoadError::unreadable(path, message)),
            Err(Refusal::Contract(message)) => Err(LoadError::ContractMismatch { model: model.to_owned(), message }),
        }
    }

    /// Runs the graph on `inputs` (in the order of the spec's), giving its outputs (in the order of the spec's, or
    /// the graph's own).
    pub(crate) fn run(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        match &self.runner {
            Runner::Tract(plan) if self.all_cores => crate::parallel::with_all_cores(|| plan.run(inputs)),
            Runner::Tract(plan) => plan.run(inputs),
            #[cfg(feature = "ort")]
            Runner::OnnxRuntime(session) => session.run(inputs),
        }
    }
}

fn load_tract(path: &Path, spec: &GraphSpec) -> Result<Arc<TypedRunnableModel>, Refusal> {
    let unreadable = |e: TractError| Refusal::Unreadable(format!("{e:#}"));
    let mut graph = crate::onnx::read_model(path).map_err(unreadable)?;
    let names: Vec<String> = graph.input_outlets().map_err(unreadable)?.iter().map(|o| graph.node(o.node).name.clone()).collect();
    check_inputs(&names, spec)?;
    if !spec.outputs.is_empty() {
        let outlets = spec
            .outputs
            .iter()
            .map(|name| graph.find_outlet_label(name).ok_or_else(|| Refusal::Contract(format!("the graph has no output {name}"))))
            .collect::<Result<Vec<_>, Refusal>>()?;
        graph.select_output_outlets(&outlets).map_err(unreadable)?;
    }
    for (i, input) in spec.inputs.iter().enumerate() {
        let dims: TVec<TDim> = input
            .dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(size) => size.to_dim(),
                Dim::Any(name) => graph.sym(name).to_dim(),
            })
            .collect();
        let fact = match input.element {
            ElementType::F32 => f32::fact(dims),
            ElementType::I64 => i64::fact(dims),
        };
        graph = graph.with_input_fact(i, fact.into()).map_err(unreadable)?;
    }
    let typed = graph.into_optimized().map_err(|e| Refusal::Contract(format!("the graph does not read {}: {e:#}", spec.reads())))?;
    if let Some(labels) = spec.labels {
        let output = typed.output_fact(0).map_err(unreadable)?;
        let per_row = output.shape.iter().last().and_then(|d| d.as_i64());
        check_label_output(output.rank(), per_row, labels, &format!("{:?}", output.shape))?;
    }
    typed.into_runnable().map_err(unreadable)
}

/// The graph's input names against the spec's: as many, and the same names where the manifest gives them.
fn check_inputs(names: &[String], spec: &GraphSpec) -> Result<(), Refusal> {
    if let Some(expected) = spec.input_names {
        if names != expected {
            return Err(Refusal::Contract(format!("the graph's inputs are {names:?}, the manifest's input contract says {expected:?}")));
        }
    }
    if names.len() != spec.inputs.len() {
        return Err(Refusal::Contract(format!("the graph has {} inputs; the model feeds it {}: {}", names.len(), spec.inputs.len(), spec.reads())));
    }
    Ok(())
}

/// A classifier's first output must be `[rows, labels]`; `shape` is how the backend prints it.
fn check_label_output(rank: usize, per_row: Option<i64>, labels: usize, shape: &str) -> Result<(), Refusal> {
    if rank != 2 || per_row != Some(labels as i64) {
        return Err(Refusal::Contract(format!("the graph's output has shape {shape}; the manifest lists {labels} labels")));
    }
    Ok(())
}
