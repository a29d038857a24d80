//! WAV decoding: PCM 8/16/24/32-bit integer and 32-bit float, any channel count (down-mixed to mono), any rate.

use std::io::Cursor;

use serde::Serialize;

use crate::error::{Error, Result};

/// Longest audio analysed, in seconds (longer clips are refused rather than cut).
pub const MAX_AUDIO_SECONDS: f64 = 120.0;

/// Decoded audio: mono samples in [-1, 1] at the file's own rate, and what the file was.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub source: SourceFormat,
}

/// The file's format as read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SourceFormat {
    pub container: &'static str,
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
    /// `int` or `float`.
    pub sample_format: &'static str,
}

/// Names the container of `bytes` by its magic bytes, when it is a known audio format.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => Some("wav"),
        [b'f', b'L', b'a', b'C', ..] => Some("flac"),
        [b'O', b'g', b'g', b'S', ..] => Some("ogg"),
        [b'I', b'D', b'3', ..] | [0xFF, 0xFB | 0xF3 | 0xF2, ..] => Some("mp3"),
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => Some("mp4/m4a"),
        _ => None,
    }
}

/// Decodes a WAV file given as bytes; `field` names the request field in errors.
pub fn decode(field: &str, bytes: &[u8]) -> Result<Decoded> {
    if bytes.is_empty() {
        return Err(Error::invalid(field, "is empty"));
    }
    match sniff(bytes) {
        Some("wav") => {}
        Some(other) => return Err(Error::unsupported(field, format!("{other} audio is not supported; send WAV (PCM or 32-bit float)"))),
        None if bytes.starts_with(b"RIFF") => return Err(Error::invalid(field, "is a RIFF file but not WAVE audio, or its header is truncated")),
        None => return Err(Error::unsupported(field, "is not audio: expected a WAV file (RIFF/WAVE header)")),
    }
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| Error::invalid(field, format!("is not a readable WAV file: {e}")))?;
    let spec = reader.spec();
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(Error::invalid(field, format!("declares {} channels at {} Hz", spec.channels, spec.sample_rate)));
    }
    let declared_frames = u64::from(reader.duration());
    if declared_frames == 0 {
        return Err(Error::invalid(field, "holds no audio samples"));
    }
    let seconds = declared_frames as f64 / f64::from(spec.sample_rate);
    if seconds > MAX_AUDIO_SECONDS {
        return Err(Error::TooLarge {
            field: field.to_owned(),
            actual: seconds.ceil() as u64,
            limit: MAX_AUDIO_SECONDS as u64,
            unit: "seconds",
            limit_source: "the longest audio analysed",
        });
    }
    let interleaved = read_samples(field, reader, spec)?;
    let channels = usize::from(spec.channels);
    let declared = declared_frames as usize * channels;
    if interleaved.len() < declared {
        return Err(Error::invalid(
            field,
            format!("is truncated: its header declares {declared} samples but the file holds {}", interleaved.len()),
        ));
    }
    let samples = interleaved.chunks_exact(channels).map(|frame| frame.iter().sum::<f32>() / channels as f32).collect();
    Ok(Decoded {
        samples,
        sample_rate: spec.sample_rate,
        source: SourceFormat {
            container: "wav",
            sample_rate: spec.sample_rate,
            channels: spec.channels,
            bits_per_sample: spec.bits_per_sample,
            sample_format: match spec.sample_format {
                hound::SampleFormat::Int => "int",
                hound::SampleFormat::Float => "float",
            },
        },
    })
}

/// All samples as f32 in [-1, 1]; stops at the end of the data actually present.
fn read_samples(field: &str, mut reader: hound::WavReader<Cursor<&[u8]>>, spec: hound::WavSpec) -> Result<Vec<f32>> {
    let unsupported = |what: String| Error::unsupported(field, what);
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => collect(field, reader.samples::<f32>(), |s| s),
        (hound::SampleFormat::Int, bits @ 1..=32) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            collect(field, reader.samples::<i32>(), |s| s as f32 * scale)
        }
        (format, bits) => Err(unsupported(format!("{bits}-bit {format:?} samples are not supported"))),
    }
}

fn collect<S>(field: &str, samples: hound::WavSamples<'_, Cursor<&[u8]>, S>, to_f32: impl Fn(S) -> f32) -> Result<Vec<f32>>
where
    S: hound::Sample,
{
    let declared = samples.len();
    let mut out = Vec::with_capacity(declared);
    for sample in samples {
        match sample {
            Ok(s) => out.push(to_f32(s)),
            Err(e) => {
                return Err(Error::invalid(
                    field,
                    format!("is truncated or corrupt: its header declares {declared} samples, reading stopped after {} ({e})", out.len()),
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A WAV file of `frames` frames made by `sample(frame, channel)`, written by hound.
    pub(crate) fn wav(spec: hound::WavSpec, frames: usize, sample: impl Fn(usize, usize) -> f64) -> Vec<u8> {
        let mut cursor = Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut cursor, spec).unwrap();
        let full_scale = (1i64 << (spec.bits_per_sample - 1)) as f64;
        for frame in 0..frames {
            for channel in 0..usize::from(spec.channels) {
                let value = sample(frame, channel);
                match spec.sample_format {
                    hound::SampleFormat::Float => writer.write_sample(value as f32).unwrap(),
                    hound::SampleFormat::Int if spec.bits_per_sample == 8 => writer.write_sample((value * 127.0).round() as i8).unwrap(),
                    hound::SampleFormat::Int => writer.write_sample(((value * (full_scale - 1.0)).round()) as i32).unwrap(),
                }
            }
        }
        writer.finalize().unwrap();
        cursor.into_inner()
    }

    pub(crate) fn spec(channels: u16, sample_rate: u32, bits: u16, format: hound::SampleFormat) -> hound::WavSpec {
        hound::WavSpec { channels, sample_rate, bits_per_sample: bits, sample_format: format }
    }

    #[test]
    fn every_sample_format_decodes_to_the_same_signal() {
        let tone = |i: usize, _| 0.5 * (i as f64 * 0.05).sin();
        for (bits, format) in [(8, hound::SampleFormat::Int), (16, hound::SampleFormat::Int), (24, hound::SampleFormat::Int), (32, hound::SampleFormat::Int), (32, hound::SampleFormat::Float)] {
            let decoded = decode("audio", &wav(spec(1, 8000, bits, format), 800, tone)).unwrap();
            assert_eq!((decoded.samples.len(), decoded.sample_rate, decoded.source.bits_per_sample), (800, 8000, bits));
            let worst = decoded.samples.iter().enumerate().map(|(i, s)| (f64::from(*s) - tone(i, 0)).abs()).fold(0.0, f64::max);
            assert!(worst < if bits == 8 { 0.02 } else { 1e-3 }, "{bits}-bit {format:?}: error {worst}");
        }
    }

    #[test]
    fn channels_are_averaged() {
        let decoded = decode("audio", &wav(spec(2, 44_100, 16, hound::SampleFormat::Int), 100, |_, c| if c == 0 { 0.5 } else { -0.1 })).unwrap();
        assert_eq!(decoded.source.channels, 2);
        assert!(decoded.samples.iter().all(|s| (s - 0.2).abs() < 1e-3));
    }

    #[test]
    fn bad_files_get_clear_errors() {
        let good = wav(spec(1, 16_000, 16, hound::SampleFormat::Int), 1600, |i, _| (i as f64 * 0.1).sin() * 0.3);
        let message = |bytes: &[u8]| decode("audio", bytes).unwrap_err().to_string();
        assert!(message(b"").contains("empty"));
        assert!(message(b"hello, this is text and not a sound").contains("not audio"));
        assert!(message(b"fLaC\0\0\0\x22").contains("flac audio is not supported"));
        assert!(message(&good[..30]).contains("WAV"), "{}", message(&good[..30]));
        assert!(message(&good[..good.len() - 1000]).contains("truncated"), "{}", message(&good[..good.len() - 1000]));
        let empty = wav(spec(1, 16_000, 16, hound::SampleFormat::Int), 0, |_, _| 0.0);
        assert!(message(&empty).contains("no audio samples"));
        let long = wav(spec(1, 100, 8, hound::SampleFormat::Int), 100 * 121, |_, _| 0.0);
        assert!(matches!(decode("audio", &long), Err(Error::TooLarge { unit: "seconds", .. })));
    }
}
