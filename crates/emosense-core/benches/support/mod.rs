//! Measurement helpers and inputs shared by the latency benches.

#![allow(dead_code)]

use std::io::Cursor;

use image::{imageops, ImageFormat, RgbImage};

/// The `p` quantile (0..1) of sorted milliseconds, to 0.001 ms.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    (sorted[rank] * 1000.0).round() / 1000.0
}

/// Peak resident memory of this process so far, in MB (Linux).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some((kb / 1024.0 * 10.0).round() / 10.0)
}

/// An image of `tests/data/images`.
pub fn read_image(name: &str) -> Vec<u8> {
    read_fixture("images", name)
}

/// A video of `tests/data/video`.
pub fn read_video(name: &str) -> Vec<u8> {
    read_fixture("video", name)
}

fn read_fixture(folder: &str, name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../tests/data/{folder}/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

/// The 512 px portrait scaled to 480 px high on a 640 x 480 grey canvas, as JPEG.
pub fn photo_640x480() -> Vec<u8> {
    let face = image::load_from_memory(&read_image("portrait.jpg")).expect("portrait").into_rgb8();
    let face = imageops::resize(&face, 480, 480, imageops::FilterType::Triangle);
    let mut canvas = RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
    imageops::replace(&mut canvas, &face, 80, 0);
    let mut jpeg = Vec::new();
    canvas.write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).expect("encode");
    jpeg
}

/// Milliseconds of `iterations` calls of `call`, sorted.
pub fn timed(iterations: usize, mut call: impl FnMut()) -> Vec<f64> {
    let mut times: Vec<f64> = (0..iterations)
        .map(|_| {
            let started = std::time::Instant::now();
            call();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

const PASSAGE: &str = "I honestly did not expect the concert to be this good, the band played every song I wanted \
and the crowd was singing along the whole night. Afterwards we walked home through the rain, laughing about \
how terrible our seats were and how little it mattered. Tomorrow I have to go back to work, which makes me a bit \
sad, but I am grateful for evenings like this one and for friends who drag me out of the house when I would \
rather stay in. The ticket prices were outrageous though, and the parking was a disaster that nearly ruined it.";

/// A prefix of the passage (repeated as needed) that encodes to `tokens` ids including [CLS] and [SEP].
pub fn text_with_tokens(tokenizer: &tokenizers::Tokenizer, tokens: usize) -> String {
    let words: Vec<&str> = PASSAGE.split_whitespace().cycle().take(tokens * 2).collect();
    let count = |n: usize| tokenizer.encode(words[..n].join(" "), true).map(|e| e.len()).unwrap_or(usize::MAX);
    let n = (1..words.len()).take_while(|&n| count(n) <= tokens).last().unwrap_or(1);
    words[..n].join(" ")
}
