//! The size limits of inputs: one type, read from the environment once (as part of [`crate::Config`]), whose
//! checks every entry point uses; each refusal names the variable that sets the limit.

use crate::error::{Error, Result};
use crate::media::MediaKind;

/// Every size limit of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `MAX_TEXT_LENGTH`: characters per text (5000).
    pub text_chars: usize,
    /// `MAX_AUDIO_FILE_SIZE`: bytes per audio file (10MB).
    pub audio_bytes: u64,
    /// `MAX_VIDEO_FILE_SIZE`: bytes per image or video file (50MB).
    pub media_bytes: u64,
    /// `MAX_IMAGE_PIXELS`: width × height an image may declare before it is decoded (25000000, a 24-megapixel
    /// photo; decoding holds about 3-4 bytes per pixel).
    pub image_pixels: u64,
    /// `MAX_VIDEO_FRAME_PIXELS`: width × height a video frame may have, checked from the container before decoding
    /// (8294400, 3840 × 2160).
    pub video_frame_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            text_chars: 5000,
            audio_bytes: 10 * 1024 * 1024,
            media_bytes: 50 * 1024 * 1024,
            image_pixels: 25_000_000,
            video_frame_pixels: 3840 * 2160,
        }
    }
}

/// One limit: its value, its unit and the variable that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub value: u64,
    pub unit: &'static str,
    pub variable: &'static str,
}

impl Limit {
    /// Refuses `actual` above the limit, naming request field `field`.
    pub fn check(self, field: &str, actual: u64) -> Result<()> {
        if actual > self.value { Err(self.refusal(field, actual)) } else { Ok(()) }
    }

    /// The error for `actual` in `field`, over the limit.
    pub fn refusal(self, field: &str, actual: u64) -> Error {
        Error::TooLarge { field: field.to_owned(), actual, limit: self.value, unit: self.unit, limit_source: self.variable }
    }
}

impl Limits {
    /// Characters per text.
    pub fn text(&self) -> Limit {
        Limit { value: self.text_chars as u64, unit: "characters", variable: "MAX_TEXT_LENGTH" }
    }

    /// Bytes per audio file.
    pub fn audio_file(&self) -> Limit {
        Limit { value: self.audio_bytes, unit: "bytes", variable: "MAX_AUDIO_FILE_SIZE" }
    }

    /// Bytes per image or video file.
    pub fn media_file(&self) -> Limit {
        Limit { value: self.media_bytes, unit: "bytes", variable: "MAX_VIDEO_FILE_SIZE" }
    }

    /// Pixels an image may declare.
    pub fn image(&self) -> Limit {
        Limit { value: self.image_pixels, unit: "pixels", variable: "MAX_IMAGE_PIXELS" }
    }

    /// Pixels per video frame.
    pub fn video_frame(&self) -> Limit {
        Limit { value: self.video_frame_pixels, unit: "pixels per frame", variable: "MAX_VIDEO_FRAME_PIXELS" }
    }

    /// Bytes a file of `kind` may hold (a text file: 4 bytes a character at most in UTF-8, and a byte order mark).
    pub fn file(&self, kind: MediaKind) -> Limit {
        match kind {
            MediaKind::Text => Limit { value: self.text_chars as u64 * 4 + 3, unit: "bytes", variable: "MAX_TEXT_LENGTH" },
            MediaKind::Audio => self.audio_file(),
            MediaKind::Video => self.media_file(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_refuses_only_what_is_over_it_and_names_its_variable() {
        let limits = Limits { audio_bytes: 100, ..Limits::default() };
        assert!(limits.audio_file().check("audio", 100).is_ok());
        let err = limits.audio_file().check("audio", 101).unwrap_err();
        assert_eq!(err.to_string(), "audio is 101 bytes; the limit is 100 bytes (MAX_AUDIO_FILE_SIZE)");
        assert_eq!(limits.file(MediaKind::Text).value, 20_003);
        assert_eq!(limits.file(MediaKind::Video), limits.media_file());
    }
}
