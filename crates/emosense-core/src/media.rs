//! Files of any modality: what kind of input a file holds (from its first bytes, never its name), and analysis of a
//! whole file by the modality that reads it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::result::AnalysisResult;
use crate::tier::Tier;
use crate::{AudioOptions, Budget, EmoSense, FaceOptions, TextOptions};

/// The modality a file is analysed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    /// UTF-8 plain text.
    Text,
    /// Speech (WAV, FLAC, Ogg Vorbis or Opus, MP3, M4A).
    Audio,
    /// Faces in an image or video.
    Video,
}

impl MediaKind {
    /// The kind's name in requests.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Text => "text",
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }

    /// Reads the kind from a file's first bytes: audio containers, image and video containers, else UTF-8 text
    /// without control characters. `None` when it is none of these.
    pub fn sniff(bytes: &[u8]) -> Option<MediaKind> {
        match crate::audio::sniff(bytes) {
            Some("mp4") => return Some(MediaKind::Video),
            Some(_) => return Some(MediaKind::Audio),
            None => {}
        }
        if image::guess_format(bytes).is_ok() {
            return Some(MediaKind::Video);
        }
        let prefix = &bytes[..bytes.len().min(4096)];
        let text = match std::str::from_utf8(prefix) {
            Ok(text) => text,
            // A multi-byte character cut at the end of the prefix is still text.
            Err(e) if e.error_len().is_none() => std::str::from_utf8(&prefix[..e.valid_up_to()]).unwrap_or_default(),
            Err(_) => return None,
        };
        let control = |c: char| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}');
        (!bytes.is_empty() && !text.chars().any(control)).then_some(MediaKind::Text)
    }
}

impl EmoSense {
    /// Analyses a whole file as `kind` (the modality's defaults, from `tier` down); `field` names it in errors.
    pub fn analyze_file(&self, field: &str, kind: MediaKind, bytes: &[u8], tier: Option<Tier>, budget: &Budget) -> Result<AnalysisResult> {
        match kind {
            MediaKind::Text => {
                let text = std::str::from_utf8(bytes).map_err(|e| {
                    Error::unsupported(field, format!("is not UTF-8 plain text (invalid byte at offset {})", e.valid_up_to()))
                })?;
                let text = text.strip_prefix('\u{feff}').unwrap_or(text);
                self.text().analyze_field(field, text, &TextOptions { tier, budget: budget.clone(), ..TextOptions::default() })
            }
            MediaKind::Audio => self.audio().analyze(field, bytes, &AudioOptions { tier, budget: budget.clone(), ..AudioOptions::default() }),
            MediaKind::Video => self.face().analyze(field, bytes, &FaceOptions { tier, budget: budget.clone(), ..FaceOptions::default() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_magic_bytes() {
        assert_eq!(MediaKind::sniff(b"RIFF\x24\0\0\0WAVEfmt "), Some(MediaKind::Audio));
        assert_eq!(MediaKind::sniff(b"fLaC\0\0\0\x22"), Some(MediaKind::Audio));
        assert_eq!(MediaKind::sniff(b"\x89PNG\r\n\x1a\n\0\0"), Some(MediaKind::Video));
        assert_eq!(MediaKind::sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some(MediaKind::Video));
        assert_eq!(MediaKind::sniff(b"\0\0\0\x18ftypmp42\0\0\0\0"), Some(MediaKind::Video));
        assert_eq!(MediaKind::sniff(b"\0\0\0\x1cftypM4A \0\0\x02\0"), Some(MediaKind::Audio), "an M4A brand is audio");
        assert_eq!(MediaKind::sniff("Quelle journée, j'en suis ravie !\n".as_bytes()), Some(MediaKind::Text));
        assert_eq!(MediaKind::sniff(b"PK\x03\x04\x14\0\0\0"), None, "a zip archive is none of them");
        assert_eq!(MediaKind::sniff(b""), None);
        let cut = "héllo".as_bytes();
        assert_eq!(MediaKind::sniff(&cut[..2]), Some(MediaKind::Text), "a character cut at the end is still text");
    }
}
