//! Any bytes as an image or video: JPEG, PNG, WebP, GIF, BMP decoding, MP4 demuxing and H.264 decoding, animated
//! GIF frames, through the face route's analysis (no models: decoding is what runs).
#![no_main]

use std::sync::OnceLock;

use emosense_core::FaceOptions;
use libfuzzer_sys::fuzz_target;

#[path = "support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    static ENGINE: OnceLock<emosense_core::EmoSense> = OnceLock::new();
    let engine = ENGINE.get_or_init(|| {
        support::tolerate_caught_panics();
        support::engine()
    });
    let options = FaceOptions { aligned_face: data.first().is_some_and(|b| b & 1 == 1), ..FaceOptions::default() };
    let _ = engine.face().analyze("image", data, &options);
});
