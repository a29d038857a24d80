//! What is compiled into the binary from the model folder: each modality's manifest (used where a deployment
//! carries no folder for it) and the files of the rungs that must always load.

use super::Modality;

const TEXT_MANIFEST: &str = include_str!("../../../../models-quantized/text/manifest.json");
const AUDIO_MANIFEST: &str = include_str!("../../../../models-quantized/audio/manifest.json");
const FACE_MANIFEST: &str = include_str!("../../../../models-quantized/face/manifest.json");
const TEXT_LEXICON: &[u8] = include_bytes!("../../../../models-quantized/text/lexicon.json");

/// The manifest of `modality` as built.
pub(super) fn manifest(modality: Modality) -> &'static str {
    match modality {
        Modality::Text => TEXT_MANIFEST,
        Modality::Audio => AUDIO_MANIFEST,
        Modality::Face => FACE_MANIFEST,
    }
}

/// A compiled-in model file.
pub(super) fn file(modality: Modality, name: &str) -> Option<&'static [u8]> {
    match (modality, name) {
        (Modality::Text, "lexicon.json") => Some(TEXT_LEXICON),
        _ => None,
    }
}
