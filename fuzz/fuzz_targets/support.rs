//! The engine the fuzz targets drive: no model files, so every modality answers from the tiers that need none and
//! each run spends its time in decoding and parsing, with budgets small enough that one input stays fast.
//! Included by several targets, each of which uses part of it.

#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::Duration;

use emosense_core::{Config, EmoSense, Limits};

/// Lets panics that the code under test catches (third-party decoders run behind `catch_unwind`, and their panics
/// are answered as corrupt files) pass silently; one that escapes still aborts the run, as libFuzzer's harness
/// catches it at the top and aborts.
pub fn tolerate_caught_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// The engine a target's runs share, made on the first run (which also sets the panic hook).
pub fn shared_engine() -> &'static EmoSense {
    static ENGINE: OnceLock<EmoSense> = OnceLock::new();
    ENGINE.get_or_init(|| {
        tolerate_caught_panics();
        engine()
    })
}

/// An engine without models, a 1 MiB file limit, 4 megapixels, 8 video frames and a 10 s deadline.
pub fn engine() -> EmoSense {
    EmoSense::new(Config {
        model_dir: std::env::temp_dir().join("emosense-fuzz-no-models"),
        limits: Limits { audio_bytes: 1 << 20, media_bytes: 1 << 20, image_pixels: 4 << 20, video_frame_pixels: 1 << 20, text_chars: 2000 },
        max_video_frames: 8,
        request_timeout: Duration::from_secs(10),
        ..Config::default()
    })
}
