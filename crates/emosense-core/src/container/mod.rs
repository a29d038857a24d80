//! Structural checks of untrusted container files, made before any demuxer or decoder reads them: every size and
//! count a header declares must fit in the bytes that are actually there, so no reader downstream can be made to
//! allocate, loop or seek beyond the file it was given.

pub mod gif;
pub mod mp4;

use crate::error::{Error, Result};

/// Runs a third-party demuxer or decoder over untrusted bytes: a panic in it is a corrupt file (422 naming
/// `field`), not a failure of the server.
pub(crate) fn decoding<T>(field: &str, decode: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode))
        .unwrap_or_else(|_| Err(Error::invalid(field, "could not be decoded: the file is corrupt")))
}
