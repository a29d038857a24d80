//! Any bytes as an audio file: WAV (PCM, μ-law, A-law), FLAC, Ogg Vorbis and Opus, MP3 and MP4/M4A decoding,
//! resampling and trimming.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    let _ = support::shared_engine().audio().prepare("audio", data);
});
