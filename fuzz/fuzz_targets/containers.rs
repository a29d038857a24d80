//! Any bytes through the structural checks that guard the demuxers: the MP4 box walk and the GIF block walk.
#![no_main]

use emosense_core::container::{gif, mp4};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mp4::check(data);
    let _ = gif::layout(data, 1 + usize::from(data.first().copied().unwrap_or(0)));
});
