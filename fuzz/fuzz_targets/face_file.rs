//! Any bytes as an image or video: JPEG, PNG, WebP, GIF, BMP decoding, MP4 demuxing and H.264 decoding, animated
//! GIF frames, through the face route's analysis (no models: decoding is what runs).
#![no_main]

use emosense_core::FaceOptions;
use libfuzzer_sys::fuzz_target;

#[path = "support.rs"]
mod support;

fuzz_target!(|data: &[u8]| {
    let options = FaceOptions { aligned_face: data.first().is_some_and(|b| b & 1 == 1), ..FaceOptions::default() };
    let _ = support::shared_engine().face().analyze("image", data, &options);
});
