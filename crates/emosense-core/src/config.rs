//! Configuration, read once from the environment into a typed struct.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::ConfigError;
use crate::fusion::FusionPriors;
use crate::inference::{Backend, Device, Inference};
use crate::limits::Limits;

/// Which weight files are loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// int8 weights (the shipped models).
    Int8,
    /// Half-precision weights, where a model folder provides them (for GPUs).
    Fp16,
    /// Full-precision weights, where a model folder provides them.
    Fp32,
}

impl Precision {
    /// Name used in model file names (`model.int8.onnx`).
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Int8 => "int8",
            Precision::Fp16 => "fp16",
            Precision::Fp32 => "fp32",
        }
    }
}

/// Settings shared by every front end. Defaults are documented in README.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `EMOTION_INFERENCE_BACKEND` (`tract`, the default, or `onnxruntime`) and `EMOTION_MODEL_DEVICE` (`cpu`,
    /// the default, `cuda`, or `auto`: cuda where this build and host can, else cpu): what runs the ONNX graphs.
    pub inference: Inference,
    /// Why `EMOTION_MODEL_DEVICE=auto` chose the cpu, for the start-up log.
    pub device_note: Option<String>,
    /// `EMOTION_MODEL_CACHE_DIR`: folder holding one sub-folder per modality.
    pub model_dir: PathBuf,
    /// `EMOTION_ANALYSIS_BATCH_SIZE`: sequences per model run in batch analysis (16).
    pub batch_size: usize,
    /// `EMOTION_MODEL_PRECISION`: `int8` (default), `fp16` or `fp32`: which weight files are loaded.
    pub precision: Precision,
    /// `MAX_TEXT_LENGTH`, `MAX_AUDIO_FILE_SIZE`, `MAX_VIDEO_FILE_SIZE`, `MAX_IMAGE_PIXELS`, `MAX_VIDEO_FRAME_PIXELS`.
    pub limits: Limits,
    /// `VIDEO_SAMPLE_FPS`: video frames analysed per second (2).
    pub video_sample_fps: f64,
    /// `MAX_VIDEO_FRAMES`: most frames analysed per video; longer videos are sampled evenly (60).
    pub max_video_frames: usize,
    /// `EMOTION_WARMUP`: load models at start-up instead of on first use (off).
    pub warmup: bool,
    /// `REQUEST_TIMEOUT`: longest a request may take, reading its body included; past it the analysis stops and
    /// the answer is 503 (30s).
    pub request_timeout: Duration,
    /// `MAX_CONCURRENT_ANALYSES`: analyses running at once (the number of cores); more wait in a queue.
    pub max_concurrent_analyses: usize,
    /// `MAX_QUEUED_ANALYSES`: analyses waiting for a slot (64); past that a request gets 503 with Retry-After.
    pub max_queued_analyses: usize,
    /// `MAX_CONNECTIONS`: open connections the local server keeps (512); more are answered 503 and closed.
    pub max_connections: usize,
    /// `HEADER_READ_TIMEOUT`: how long the local server waits for a request's headers, on a new or an idle
    /// keep-alive connection (10s).
    pub header_read_timeout: Duration,
    /// `EMOTION_FUSION_PRIORS`: starting weight of each modality in multimodal fusion (`text=0.4,audio=0.3,face=0.3`).
    pub fusion_priors: FusionPriors,
    /// `EMOTION_ENSEMBLES`: named weighted means of text models, usable by name like any model
    /// (`name=model:weight,model:weight;name=...`; none by default).
    pub ensembles: Vec<EnsembleSpec>,
}

/// An ensemble defined in configuration: a name and its members' ids with their weights (normalised to sum to 1).
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleSpec {
    pub name: String,
    pub members: Vec<(String, f32)>,
}

impl EnsembleSpec {
    /// Parses `name=model:weight,model:weight;name=...`.
    pub fn parse_all(value: &str) -> Result<Vec<EnsembleSpec>, String> {
        let is_id = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        let mut ensembles: Vec<EnsembleSpec> = Vec::new();
        for definition in value.split(';').map(str::trim).filter(|d| !d.is_empty()) {
            let (name, members) = definition.split_once('=').ok_or_else(|| format!("{definition:?}: expected name=model:weight,..."))?;
            let name = name.trim();
            if !is_id(name) || ensembles.iter().any(|e| e.name == name) {
                return Err(format!("{name:?}: an ensemble name must be unique, made of letters, digits, '-', '_' or '.'"));
            }
            let mut parsed: Vec<(String, f32)> = Vec::new();
            for member in members.split(',').map(str::trim) {
                let (id, weight) = member.split_once(':').ok_or_else(|| format!("{member:?}: expected model:weight"))?;
                let weight: f32 = weight.trim().parse().ok().filter(|w: &f32| w.is_finite() && *w > 0.0).ok_or_else(|| format!("{member:?}: the weight must be a positive number"))?;
                let id = id.trim();
                if !is_id(id) || parsed.iter().any(|(m, _)| m == id) {
                    return Err(format!("{member:?}: each member is a model id, named once"));
                }
                parsed.push((id.to_owned(), weight));
            }
            if parsed.len() < 2 {
                return Err(format!("{name}: an ensemble needs at least two members"));
            }
            let total: f32 = parsed.iter().map(|(_, w)| w).sum();
            ensembles.push(EnsembleSpec { name: name.to_owned(), members: parsed.into_iter().map(|(id, w)| (id, w / total)).collect() });
        }
        Ok(ensembles)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            inference: Inference::default(),
            device_note: None,
            model_dir: default_model_dir(),
            batch_size: 16,
            precision: Precision::Int8,
            limits: Limits::default(),
            video_sample_fps: 2.0,
            max_video_frames: 60,
            warmup: false,
            request_timeout: Duration::from_secs(30),
            max_concurrent_analyses: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_queued_analyses: 64,
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
            fusion_priors: FusionPriors::default(),
            ensembles: Vec::new(),
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests); unset variables keep their defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        let get = |name: &'static str| lookup(name).map(|v| (name, v.trim().to_owned()));
        let requested_backend = get("EMOTION_INFERENCE_BACKEND");
        let backend = match &requested_backend {
            Some((var, value)) => Some(match value.to_ascii_lowercase().as_str() {
                "tract" => Backend::Tract,
                "onnxruntime" | "ort" => Backend::OnnxRuntime,
                _ => return Err(bad(var, value, "expected tract or onnxruntime")),
            }),
            None => None,
        };
        let device = get("EMOTION_MODEL_DEVICE");
        let on_cpu = Inference { backend: backend.unwrap_or(Backend::Tract), device: Device::Cpu };
        let on_cuda = Inference { backend: backend.unwrap_or(Backend::OnnxRuntime), device: Device::Cuda };
        config.inference = match &device {
            None => on_cpu,
            Some((var, value)) => match value.to_ascii_lowercase().as_str() {
                "cpu" => on_cpu,
                "cuda" | "gpu" => on_cuda.check().map(|()| on_cuda).map_err(|message| bad(var, value, &message))?,
                "auto" => match on_cuda.check() {
                    Ok(()) => on_cuda,
                    Err(why) => {
                        config.device_note = Some(format!("EMOTION_MODEL_DEVICE=auto: running on the cpu ({why})"));
                        on_cpu
                    }
                },
                _ => return Err(bad(var, value, "expected cpu, cuda or auto")),
            },
        };
        if let (Device::Cpu, Some((var, value))) = (config.inference.device, &requested_backend) {
            config.inference.check().map_err(|message| bad(var, value, &message))?;
        }
        if let Some((_, value)) = get("EMOTION_MODEL_CACHE_DIR") {
            config.model_dir = PathBuf::from(value);
        }
        if let Some((var, value)) = get("EMOTION_ANALYSIS_BATCH_SIZE") {
            config.batch_size = match value.parse::<usize>() {
                Ok(n) if (1..=1024).contains(&n) => n,
                _ => return Err(bad(var, &value, "expected a whole number from 1 to 1024")),
            };
        }
        if let Some((var, value)) = get("EMOTION_MODEL_PRECISION") {
            config.precision = match value.to_ascii_lowercase().as_str() {
                "int8" => Precision::Int8,
                "fp16" => Precision::Fp16,
                "fp32" => Precision::Fp32,
                _ => return Err(bad(var, &value, "expected int8, fp16 or fp32")),
            };
        }
        if let Some((var, value)) = get("MAX_TEXT_LENGTH") {
            config.limits.text_chars = match value.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => return Err(bad(var, &value, "expected a positive number of characters")),
            };
        }
        if let Some((var, value)) = get("MAX_AUDIO_FILE_SIZE") {
            config.limits.audio_bytes = parse_size(&value).ok_or_else(|| bad(var, &value, SIZE_HINT))?;
        }
        if let Some((var, value)) = get("MAX_VIDEO_FILE_SIZE") {
            config.limits.media_bytes = parse_size(&value).ok_or_else(|| bad(var, &value, SIZE_HINT))?;
        }
        if let Some((var, value)) = get("MAX_IMAGE_PIXELS") {
            config.limits.image_pixels = match value.parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => return Err(bad(var, &value, "expected a positive number of pixels")),
            };
        }
        if let Some((var, value)) = get("MAX_VIDEO_FRAME_PIXELS") {
            config.limits.video_frame_pixels = match value.parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => return Err(bad(var, &value, "expected a positive number of pixels")),
            };
        }
        if let Some((var, value)) = get("VIDEO_SAMPLE_FPS") {
            config.video_sample_fps = match value.parse::<f64>() {
                Ok(fps) if fps > 0.0 && fps <= 60.0 => fps,
                _ => return Err(bad(var, &value, "expected frames per second above 0, at most 60")),
            };
        }
        if let Some((var, value)) = get("MAX_VIDEO_FRAMES") {
            config.max_video_frames = match value.parse::<usize>() {
                Ok(n) if (1..=10_000).contains(&n) => n,
                _ => return Err(bad(var, &value, "expected a whole number from 1 to 10000")),
            };
        }
        if let Some((var, value)) = get("EMOTION_WARMUP") {
            config.warmup = match value.to_ascii_lowercase().as_str() {
                "1" | "true" => true,
                "0" | "false" | "" => false,
                _ => return Err(bad(var, &value, "expected 1 or 0")),
            };
        }
        if let Some((var, value)) = get("REQUEST_TIMEOUT") {
            config.request_timeout = parse_duration(&value).ok_or_else(|| bad(var, &value, DURATION_HINT))?;
        }
        if let Some((var, value)) = get("HEADER_READ_TIMEOUT") {
            config.header_read_timeout = parse_duration(&value).ok_or_else(|| bad(var, &value, DURATION_HINT))?;
        }
        for (name, field) in [
            ("MAX_CONCURRENT_ANALYSES", &mut config.max_concurrent_analyses),
            ("MAX_QUEUED_ANALYSES", &mut config.max_queued_analyses),
            ("MAX_CONNECTIONS", &mut config.max_connections),
        ] {
            if let Some((var, value)) = get(name) {
                *field = match value.parse::<usize>() {
                    Ok(n) if (1..=100_000).contains(&n) => n,
                    _ => return Err(bad(var, &value, "expected a whole number from 1 to 100000")),
                };
            }
        }
        if let Some((var, value)) = get("EMOTION_FUSION_PRIORS") {
            config.fusion_priors = FusionPriors::parse(&value).map_err(|message| bad(var, &value, &message))?;
        }
        if let Some((var, value)) = get("EMOTION_ENSEMBLES") {
            config.ensembles = EnsembleSpec::parse_all(&value).map_err(|message| bad(var, &value, &message))?;
        }
        Ok(config)
    }
}

const DURATION_HINT: &str = "expected a duration such as 30s, 500ms or 2m (above zero, at most an hour)";

/// Parses `30s`, `500ms`, `2m` or a number of seconds (`1.5`); zero and more than an hour are refused.
pub fn parse_duration(value: &str) -> Option<Duration> {
    let value = value.trim().to_ascii_lowercase();
    let (number, unit_seconds) = if let Some(ms) = value.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(s) = value.strip_suffix('s') {
        (s, 1.0)
    } else if let Some(m) = value.strip_suffix('m') {
        (m, 60.0)
    } else {
        (value.as_str(), 1.0)
    };
    let seconds = number.trim().parse::<f64>().ok()? * unit_seconds;
    (seconds > 0.0 && seconds <= 3600.0).then(|| Duration::from_secs_f64(seconds))
}

const SIZE_HINT: &str = "expected a size such as 10MB, 512KB or a number of bytes";

fn bad(variable: &'static str, value: &str, message: &str) -> ConfigError {
    ConfigError { variable, value: value.to_owned(), message: message.to_owned() }
}

/// Parses `10MB`, `512KB`, `1GB`, `2048B` or `2048` (binary units: 1KB = 1024 bytes). Zero is refused.
pub fn parse_size(value: &str) -> Option<u64> {
    let upper = value.trim().to_ascii_uppercase();
    let split = upper.find(|c: char| !c.is_ascii_digit()).unwrap_or(upper.len());
    let (digits, unit) = upper.split_at(split);
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "K" | "KIB" => 1 << 10,
        "MB" | "M" | "MIB" => 1 << 20,
        "GB" | "G" | "GIB" => 1 << 30,
        _ => return None,
    };
    digits.parse::<u64>().ok().and_then(|n| n.checked_mul(multiplier)).filter(|&n| n > 0)
}

/// `models-quantized/` next to the executable (Lambda zips), else in the working directory (Vercel bundles), else
/// the repository's.
fn default_model_dir() -> PathBuf {
    let beside_binary = std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join("models-quantized")));
    let in_working_dir = std::env::current_dir().ok().map(|dir| dir.join("models-quantized"));
    [beside_binary, in_working_dir]
        .into_iter()
        .flatten()
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models-quantized"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_when_unset() {
        let c = config(&[]).unwrap();
        assert_eq!(c.batch_size, 16);
        assert_eq!(c.limits.text_chars, 5000);
        assert_eq!(c.limits.audio_bytes, 10 * 1024 * 1024);
        assert_eq!(c.limits.media_bytes, 50 * 1024 * 1024);
        assert_eq!(c.limits.image_pixels, 25_000_000);
        assert_eq!(c.limits.video_frame_pixels, 3840 * 2160);
        assert_eq!((c.video_sample_fps, c.max_video_frames), (2.0, 60));
        assert_eq!(c.precision, Precision::Int8);
        assert_eq!(c.inference, Inference { backend: Backend::Tract, device: Device::Cpu });
        assert!(!c.warmup);
    }

    #[test]
    fn the_device_and_backend_are_checked_at_start_up() {
        let auto = config(&[("EMOTION_MODEL_DEVICE", "auto")]).unwrap();
        if cfg!(not(feature = "ort")) {
            assert_eq!(auto.inference, Inference { backend: Backend::Tract, device: Device::Cpu });
            assert!(auto.device_note.as_deref().is_some_and(|note| note.contains("running on the cpu (") && note.contains("--features")), "{:?}", auto.device_note);
        }
        let tract_on_cuda = config(&[("EMOTION_MODEL_DEVICE", "cuda"), ("EMOTION_INFERENCE_BACKEND", "tract")]).unwrap_err();
        assert!(tract_on_cuda.message.contains("cpu only"), "{tract_on_cuda}");
        assert_eq!(config(&[("EMOTION_INFERENCE_BACKEND", "quantum")]).unwrap_err().variable, "EMOTION_INFERENCE_BACKEND");
        if cfg!(not(feature = "ort")) {
            let err = config(&[("EMOTION_INFERENCE_BACKEND", "onnxruntime")]).unwrap_err();
            assert_eq!(err.variable, "EMOTION_INFERENCE_BACKEND");
            assert!(err.message.contains("--features ort"), "{err}");
        }
    }

    #[test]
    fn sizes_accept_units_and_bytes() {
        assert_eq!(parse_size("10MB"), Some(10 << 20));
        assert_eq!(parse_size("512KB"), Some(512 << 10));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size(" 2 gb "), Some(2 << 30));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("5TB"), None);
    }

    #[test]
    fn durations_accept_units_and_seconds() {
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Some(Duration::from_millis(1500)));
        for bad in ["0", "-1s", "2h", "soon", "7200"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        let c = config(&[("REQUEST_TIMEOUT", "5s"), ("MAX_CONCURRENT_ANALYSES", "3"), ("MAX_QUEUED_ANALYSES", "10"), ("MAX_CONNECTIONS", "100"), ("HEADER_READ_TIMEOUT", "2s")]).unwrap();
        assert_eq!((c.request_timeout, c.max_concurrent_analyses, c.max_queued_analyses, c.max_connections, c.header_read_timeout), (Duration::from_secs(5), 3, 10, 100, Duration::from_secs(2)));
        for var in ["REQUEST_TIMEOUT", "MAX_CONCURRENT_ANALYSES", "MAX_QUEUED_ANALYSES", "MAX_CONNECTIONS", "HEADER_READ_TIMEOUT", "MAX_VIDEO_FRAME_PIXELS"] {
            assert_eq!(config(&[(var, "0")]).unwrap_err().variable, var);
        }
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = config(&[("MAX_AUDIO_FILE_SIZE", "lots")]).unwrap_err();
        assert_eq!(err.variable, "MAX_AUDIO_FILE_SIZE");
        assert!(err.to_string().contains("MAX_AUDIO_FILE_SIZE"));
        assert_eq!(config(&[("EMOTION_ANALYSIS_BATCH_SIZE", "0")]).unwrap_err().variable, "EMOTION_ANALYSIS_BATCH_SIZE");
        assert_eq!(config(&[("EMOTION_MODEL_DEVICE", "cuda")]).unwrap_err().variable, "EMOTION_MODEL_DEVICE");
        assert_eq!(config(&[("EMOTION_MODEL_PRECISION", "int4")]).unwrap_err().variable, "EMOTION_MODEL_PRECISION");
        assert_eq!(config(&[("MAX_TEXT_LENGTH", "-1")]).unwrap_err().variable, "MAX_TEXT_LENGTH");
        assert_eq!(config(&[("EMOTION_WARMUP", "yes please")]).unwrap_err().variable, "EMOTION_WARMUP");
        assert_eq!(config(&[("MAX_IMAGE_PIXELS", "0")]).unwrap_err().variable, "MAX_IMAGE_PIXELS");
        assert_eq!(config(&[("VIDEO_SAMPLE_FPS", "0")]).unwrap_err().variable, "VIDEO_SAMPLE_FPS");
        assert_eq!(config(&[("MAX_VIDEO_FRAMES", "many")]).unwrap_err().variable, "MAX_VIDEO_FRAMES");
        for priors in ["text=0", "speech=1", "text", "text=-1", "face=nan"] {
            assert_eq!(config(&[("EMOTION_FUSION_PRIORS", priors)]).unwrap_err().variable, "EMOTION_FUSION_PRIORS", "{priors}");
        }
    }

    #[test]
    fn ensembles_parse_normalised_and_refuse_what_cannot_be_one() {
        let c = config(&[("EMOTION_ENSEMBLES", "blend = text-minilm-goemotions:3, mine:1 ; pair=a:1,b:1")]).unwrap();
        assert_eq!(c.ensembles.len(), 2);
        assert_eq!(c.ensembles[0].name, "blend");
        assert_eq!(c.ensembles[0].members, [("text-minilm-goemotions".to_owned(), 0.75), ("mine".to_owned(), 0.25)]);
        for bad in ["blend", "blend=a:1", "blend=a:1,a:2", "blend=a:0,b:1", "blend=a:x,b:1", "b d=a:1,b:1", "x=a:1,b:1;x=a:1,b:1"] {
            let err = config(&[("EMOTION_ENSEMBLES", bad)]).unwrap_err();
            assert_eq!(err.variable, "EMOTION_ENSEMBLES", "{bad}");
        }
        assert!(config(&[]).unwrap().ensembles.is_empty());
    }

    #[test]
    fn values_are_read() {
        let c = config(&[
            ("EMOTION_MODEL_CACHE_DIR", "/opt/models"),
            ("EMOTION_ANALYSIS_BATCH_SIZE", "32"),
            ("EMOTION_MODEL_PRECISION", "FP32"),
            ("MAX_TEXT_LENGTH", "100"),
            ("MAX_VIDEO_FILE_SIZE", "4MB"),
            ("EMOTION_WARMUP", "1"),
            ("EMOTION_FUSION_PRIORS", "face=0.6, text=0.2"),
        ])
        .unwrap();
        assert_eq!(c.model_dir, PathBuf::from("/opt/models"));
        assert_eq!(c.batch_size, 32);
        assert_eq!(c.precision, Precision::Fp32);
        assert_eq!(c.limits.text_chars, 100);
        assert_eq!(c.limits.media_bytes, 4 << 20);
        assert!(c.warmup);
        assert_eq!(c.fusion_priors, FusionPriors { text: 0.2, audio: 0.3, face: 0.6 });
    }
}
