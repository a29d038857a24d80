//! Any bytes as an audio file: WAV, FLAC, Ogg Vorbis, MP3 and MP4/M4A decoding, resampling and trimming.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    let _ = support::shared_engine().audio().prepare("audio", data);
});
