//! Errors of the core crate. Front ends map [`Error::kind`] to their own status codes in one place.

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is well-formed but not acceptable (empty text, unknown option, wrong type).
    InvalidInput,
    /// The input exceeds a configured limit.
    TooLarge,
    /// The input is in a format this build does not read (an MP3 where WAV is expected, a PNG as audio).
    UnsupportedFormat,
    /// No rung of a modality's tier ladder could answer.
    ModelUnavailable,
    /// A model failed while running on valid input.
    Internal,
    /// The analysis ran past the request's deadline.
    DeadlineExceeded,
    /// The analysis was stopped because nobody waits for its answer any more.
    Cancelled,
}

/// Errors returned by analysis and configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request field is missing, empty or has a value that cannot be used.
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    /// A request field holds data in a format that is not read.
    #[error("{field}: {message}")]
    UnsupportedFormat { field: String, message: String },
    /// A request field exceeds a limit set by an environment variable.
    #[error("{field} is {actual} {unit}; the limit is {limit} {unit} ({limit_source})")]
    TooLarge { field: String, actual: u64, limit: u64, unit: &'static str, limit_source: &'static str },
    /// Every tier from the requested one down failed to load or run.
    #[error("no {modality} model could answer: {reasons}")]
    ModelUnavailable { modality: &'static str, reasons: String },
    /// A loaded model failed on valid input.
    #[error("model {model} failed: {message}")]
    Model { model: String, message: String },
    /// The analysis ran past the request's deadline and was stopped.
    #[error("the analysis took longer than {seconds} s (REQUEST_TIMEOUT) and was stopped")]
    DeadlineExceeded { seconds: f64 },
    /// The analysis was stopped because its client went away.
    #[error("the analysis was cancelled")]
    Cancelled,
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput { field: field.into(), message: message.into() }
    }

    /// Shorthand for [`Error::UnsupportedFormat`].
    pub fn unsupported(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::UnsupportedFormat { field: field.into(), message: message.into() }
    }

    /// Whether the error is about the request rather than a model: bad input, or a deadline or cancellation
    /// that would stop any other model too.
    pub fn is_about_the_request(&self) -> bool {
        !matches!(self.kind(), ErrorKind::ModelUnavailable | ErrorKind::Internal)
    }

    /// The category of the error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput { .. } => ErrorKind::InvalidInput,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::UnsupportedFormat { .. } => ErrorKind::UnsupportedFormat,
            Error::ModelUnavailable { .. } => ErrorKind::ModelUnavailable,
            Error::Model { .. } => ErrorKind::Internal,
            Error::DeadlineExceeded { .. } => ErrorKind::DeadlineExceeded,
            Error::Cancelled => ErrorKind::Cancelled,
        }
    }
}

/// Why a model could not be loaded. Each kind asks for a different fix: a missing file is a deployment that left it
/// out, a checksum mismatch a damaged or swapped file, a bad manifest a description to correct, a contract mismatch a
/// graph that does not read or write what its manifest says.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    /// A file the manifest lists is not on disk.
    #[error("{path}: file not found")]
    MissingFile { path: String },
    /// A file's bytes do not have the sha256 its manifest lists.
    #[error("{path}: sha256 is {actual}, the manifest lists {expected}")]
    ChecksumMismatch { path: String, expected: String, actual: String },
    /// A manifest that cannot be read or describes a model that cannot exist.
    #[error("{path}: {message}")]
    BadManifest { path: String, message: String },
    /// The manifest does not list a file the model's architecture needs at the configured precision.
    #[error("model {model}: the manifest {message}")]
    NotInManifest { model: String, message: String },
    /// The graph's inputs or outputs differ from the manifest's input contract or label list.
    #[error("model {model}: {message}")]
    ContractMismatch { model: String, message: String },
    /// A file is there but cannot be read or parsed as the model it should be.
    #[error("{path}: {message}")]
    Unreadable { path: String, message: String },
}

impl LoadError {
    /// The error's kind as the API names it.
    pub fn kind(&self) -> &'static str {
        match self {
            LoadError::MissingFile { .. } => "missing_file",
            LoadError::ChecksumMismatch { .. } => "checksum_mismatch",
            LoadError::BadManifest { .. } => "bad_manifest",
            LoadError::NotInManifest { .. } => "not_in_manifest",
            LoadError::ContractMismatch { .. } => "contract_mismatch",
            LoadError::Unreadable { .. } => "unreadable",
        }
    }

    /// A file that cannot be parsed as the model it should be.
    pub fn unreadable(path: &std::path::Path, message: impl std::fmt::Display) -> Self {
        LoadError::Unreadable { path: path.display().to_string(), message: format!("{message:#}") }
    }
}

/// A configuration variable with an unusable value.
#[derive(Debug, thiserror::Error)]
#[error("{variable}={value:?}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub value: String,
    pub message: String,
}

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
