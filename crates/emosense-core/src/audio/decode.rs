//! Audio decoding to mono f32 at the file's own rate: WAV (PCM 8/16/24/32-bit integer and 32-bit float) with
//! `hound`, and G.711 μ-law/A-law WAV here; FLAC, Ogg Vorbis, MP3 and AAC in MP4/M4A with the pure-Rust
//! `symphonia`. Any channel count (down-mixed), any rate.

use std::io::Cursor;

use serde::Serialize;

use crate::error::{Error, Result};

mod compressed;
mod g711;

/// Longest audio analysed, in seconds (longer clips are refused rather than cut).
pub const MAX_AUDIO_SECONDS: f64 = 120.0;
/// Sample rates accepted, in Hz: from narrow-band telephone audio to studio recordings. A file declaring another
/// rate is refused before decoding (a high declared rate would otherwise let a small file expand to
/// [`MAX_AUDIO_SECONDS`] of samples at that rate).
pub const SAMPLE_RATES: std::ops::RangeInclusive<u32> = 4_000..=192_000;
/// Most channels accepted.
pub const MAX_CHANNELS: usize = 32;

/// Decoded audio: mono samples in [-1, 1] at the file's own rate, and what the file was.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub source: SourceFormat,
}

/// The file's format as read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "AudioFormat")]
pub struct SourceFormat {
    /// `wav`, `flac`, `ogg`, `mp3` or `mp4`.
    pub container: &'static str,
    /// `pcm`, `mulaw`, `alaw`, `flac`, `vorbis`, `mp3` or `aac`.
    pub codec: &'static str,
    pub sample_rate: u32,
    pub channels: u16,
    /// Bits per stored sample; `null` for lossy codecs, which store no samples as such.
    pub bits_per_sample: Option<u16>,
    /// `int` or `float`: how the file stores samples (lossy codecs decode to `float`).
    pub sample_format: &'static str,
}

/// Names the container of `bytes` by its magic bytes, when it is a known audio format.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => Some("wav"),
        [b'f', b'L', b'a', b'C', ..] => Some("flac"),
        [b'O', b'g', b'g', b'S', ..] => Some("ogg"),
        [b'I', b'D', b'3', ..] | [0xFF, 0xFB | 0xF3 | 0xF2, ..] => Some("mp3"),
        [_, _, _, _, b'f', b't', b'y', b'p', b'M', b'4', b'A' | b'B', b' ', ..] => Some("m4a"),
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => Some("mp4"),
        _ => None,
    }
}

/// Decodes an audio file given as bytes, its format told by its first bytes; `field` names the request field in
/// errors.
pub fn decode(field: &str, bytes: &[u8]) -> Result<Decoded> {
    if bytes.is_empty() {
        return Err(Error::invalid(field, "is empty"));
    }
    match sniff(bytes) {
        Some("wav") => match g711::law(bytes) {
            Some(law) => g711::decode(field, bytes, law),
            None => decode_wav(field, bytes),
        },
        Some(container) => crate::container::decoding(field, || compressed::decode(field, bytes, container)),
        None if bytes.starts_with(b"RIFF") => Err(Error::invalid(field, "is a RIFF file but not WAVE audio, or its header is truncated")),
        None => Err(Error::unsupported(field, "is not audio: expected WAV, FLAC, Ogg (Vorbis or Opus), MP3 or M4A (AAC)")),
    }
}

/// Refuses a sample rate outside [`SAMPLE_RATES`] and more than [`MAX_CHANNELS`] channels (or none).
fn check_layout(field: &str, sample_rate: u32, channels: usize) -> Result<()> {
    if !SAMPLE_RATES.contains(&sample_rate) {
        return Err(Error::invalid(
            field,
            format!("declares a sample rate of {sample_rate} Hz; rates from {} to {} Hz are read", SAMPLE_RATES.start(), SAMPLE_RATES.end()),
        ));
    }
    if channels == 0 || channels > MAX_CHANNELS {
        return Err(Error::invalid(field, format!("declares {channels} channels; 1 to {MAX_CHANNELS} are read")));
    }
    Ok(())
}

/// Refuses audio longer than [`MAX_AUDIO_SECONDS`].
fn check_duration(field: &str, frames: u64, sample_rate: u32) -> Result<()> {
    let seconds = frames as f64 / f64::from(sample_rate);
    if seconds > MAX_AUDIO_SECONDS {
        return Err(Error::TooLarge {
            field: field.to_owned(),
            actual: seconds.ceil() as u64,
            limit: MAX_AUDIO_SECONDS as u64,
            unit: "seconds",
            limit_source: "the longest audio analysed",
        });
    }
    Ok(())
}

/// Averages interleaved frames of `channels` samples into mono.
fn down_mix(interleaved: &[f32], channels: usize) -> impl Iterator<Item = f32> + '_ {
    interleaved.chunks_exact(channels).map(move |frame| frame.iter().sum::<f32>() / channels as f32)
}

fn decode_wav(field: &str, bytes: &[u8]) -> Result<Decoded> {
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| Error::invalid(field, format!("is not a readable WAV file: {e}")))?;
    let spec = reader.spec();
    check_layout(field, spec.sample_rate, usize::from(spec.channels))?;
    let declared_frames = u64::from(reader.duration());
    if declared_frames == 0 {
        return Err(Error::invalid(field, "holds no audio samples"));
    }
    check_duration(field, declared_frames, spec.sample_rate)?;
    // Every sample takes at least one byte of the file: a header cannot make the decoder reserve more than that.
    let interleaved = read_samples(field, reader, spec, bytes.len())?;
    let channels = usize::from(spec.channels);
    let declared = declared_frames as usize * channels;
    if interleaved.len() < declared {
        return Err(Error::invalid(
            field,
            format!("is truncated: its header declares {declared} samples but the file holds {}", interleaved.len()),
        ));
    }
    Ok(Decoded {
        samples: down_mix(&interleaved, channels).collect(),
        sample_rate: spec.sample_rate,
        source: SourceFormat {
            container: "wav",
            codec: "pcm",
            sample_rate: spec.sample_rate,
            channels: spec.channels,
            bits_per_sample: Some(spec.bits_per_sample),
            sample_format: match spec.sample_format {
                hound::SampleFormat::Int => "int",
                hound::SampleFormat::Float => "float",
            },
        },
    })
}

/// All samples as f32 in [-1, 1]; stops at the end of the data actually present.
fn read_samples(field: &str, mut reader: hound::WavReader<Cursor<&[u8]>>, spec: hound::WavSpec, file_bytes: usize) -> Result<Vec<f32>> {
    let unsupported = |what: String| Error::unsupported(field, what);
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => collect(field, reader.samples::<f32>(), file_bytes, |s| s),
        (hound::SampleFormat::Int, bits @ 1..=32) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            collect(field, reader.samples::<i32>(), file_bytes, |s| s as f32 * scale)
        }
        (format, bits) => Err(unsupported(format!("{bits}-bit {format:?} samples are not supported"))),
    }
}

fn collect<S>(field: &str, samples: hound::WavSamples<'_, Cursor<&[u8]>, S>, file_bytes: usize, to_f32: impl Fn(S) -> f32) -> Result<Vec<f32>>
where
    S: hound::Sample,
{
    let declared = samples.len();
    let mut out = Vec::with_capacity(declared.min(file_bytes));
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
            assert_eq!((decoded.samples.len(), decoded.sample_rate, decoded.source.bits_per_sample), (800, 8000, Some(bits)));
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

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../../tests/data/audio/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn compressed_formats_decode_to_the_tone_they_hold() {
        for (name, container, codec, rate, channels) in [
            ("tone.flac", "flac", "flac", 22_050, 2),
            ("tone.ogg", "ogg", "vorbis", 44_100, 1),
            ("tone.mp3", "mp3", "mp3", 44_100, 1),
            ("tone.m4a", "mp4", "aac", 24_000, 1),
        ] {
            let decoded = decode("audio", &fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            let source = decoded.source;
            assert_eq!((source.container, source.codec, source.sample_rate, source.channels), (container, codec, rate, channels), "{name}");
            assert_eq!(source.bits_per_sample, (codec == "flac").then_some(16), "{name}");
            let seconds = decoded.samples.len() as f32 / rate as f32;
            assert!((1.45..1.6).contains(&seconds), "{name}: {seconds} s (encoders pad a little)");
            // The middle second: 440 cycles, two zero crossings each, and the tone's level (-18 dBFS peak, 3 dB less
            // in each channel of the stereo file).
            let middle = &decoded.samples[rate as usize / 4..rate as usize * 5 / 4];
            let crossings = middle.windows(2).filter(|w| (w[0] >= 0.0) != (w[1] >= 0.0)).count();
            assert!((870..=890).contains(&crossings), "{name}: {crossings} zero crossings in a second");
            let peak = middle.iter().fold(0.0f32, |m, s| m.max(s.abs()));
            assert!((0.08..0.14).contains(&peak), "{name}: peak {peak}");
        }
    }

    #[test]
    fn broken_compressed_files_get_clear_errors() {
        for name in ["tone.flac", "tone.ogg", "tone.m4a"] {
            let header_only = &fixture(name)[..24];
            let error = decode("audio", header_only).unwrap_err();
            assert!(matches!(error, Error::InvalidInput { .. }), "{name}: {error}");
        }
        let fake_mp3 = decode("audio", b"ID3\x04\0\0\0\0\0\0fake mp3").unwrap_err();
        assert!(matches!(fake_mp3, Error::InvalidInput { .. }) && fake_mp3.to_string().contains("mp3"), "{fake_mp3}");
        let video = std::fs::read(format!("{}/../../tests/data/video/faces.mp4", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let silent_video = decode("audio", &video).unwrap_err();
        assert!(matches!(silent_video, Error::UnsupportedFormat { .. }) && silent_video.to_string().contains("audio track"), "{silent_video}");
    }

    #[test]
    fn bad_files_get_clear_errors() {
        let good = wav(spec(1, 16_000, 16, hound::SampleFormat::Int), 1600, |i, _| (i as f64 * 0.1).sin() * 0.3);
        let message = |bytes: &[u8]| decode("audio", bytes).unwrap_err().to_string();
        assert!(message(b"").contains("empty"));
        assert!(message(b"hello, this is text and not a sound").contains("not audio"));
        assert!(message(b"fLaC\0\0\0\x22").contains("flac"), "{}", message(b"fLaC\0\0\0\x22"));
        assert!(message(&good[..30]).contains("WAV"), "{}", message(&good[..30]));
        assert!(message(&good[..good.len() - 1000]).contains("truncated"), "{}", message(&good[..good.len() - 1000]));
        let empty = wav(spec(1, 16_000, 16, hound::SampleFormat::Int), 0, |_, _| 0.0);
        assert!(message(&empty).contains("no audio samples"));
        let long = wav(spec(1, 4000, 8, hound::SampleFormat::Int), 4000 * 121, |_, _| 0.0);
        assert!(matches!(decode("audio", &long), Err(Error::TooLarge { unit: "seconds", .. })));
        let low = wav(spec(1, 100, 8, hound::SampleFormat::Int), 100, |_, _| 0.0);
        assert!(message(&low).contains("100 Hz"), "{}", message(&low));
    }
}
