//! Any bytes as an audio file: WAV, FLAC, Ogg Vorbis, MP3 and MP4/M4A decoding, resampling and trimming.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[path = "support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    static ENGINE: OnceLock<emosense_core::EmoSense> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        support::tolerate_caught_panics();
        support::engine()
    });
    let _ = engine.audio().prepare("audio", data);
});
