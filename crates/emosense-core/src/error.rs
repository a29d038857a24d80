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
