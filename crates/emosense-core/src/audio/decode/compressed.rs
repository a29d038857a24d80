//! FLAC, Ogg Vorbis, MP3 and AAC in MP4/M4A through `symphonia`: the first decodable audio track, every packet
//! decoded and down-mixed as it comes, the length checked against the limit as it grows.

use std::io::Cursor;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::{check_duration, check_layout, down_mix, Decoded, SourceFormat};
use crate::container;
use crate::error::{Error, Result};

/// Decodes `bytes`, whose container [`super::sniff`] named `sniffed`.
pub(super) fn decode(field: &str, bytes: &[u8], sniffed: &'static str) -> Result<Decoded> {
    let container = if sniffed == "m4a" { "mp4" } else { sniffed };
    let broken = |e: SymphoniaError| Error::invalid(field, format!("is not a readable {sniffed} file: {e}"));
    if container == "mp4" {
        container::mp4::check(bytes).map_err(|e| Error::invalid(field, format!("is not a readable {sniffed} file: {e}")))?;
    }
    let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(sniffed);
    let mut format = symphonia::default::get_probe()
        .format(&hint, stream, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(broken)?
        .format;
    let codecs = symphonia::default::get_codecs();
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL && codecs.get_codec(t.codec_params.codec).is_some())
        .ok_or_else(|| Error::unsupported(field, format!("is a {sniffed} file without an audio track this service decodes (FLAC, Vorbis, MP3, AAC)")))?;
    let (track_id, params) = (track.id, track.codec_params.clone());
    let codec = match codecs.get_codec(params.codec).map(|d| d.short_name) {
        Some("flac") => "flac",
        Some("vorbis") => "vorbis",
        Some("mp3") => "mp3",
        Some("aac") => "aac",
        _ => "other",
    };
    if let Some(rate) = params.sample_rate {
        check_layout(field, rate, params.channels.map_or(1, |c| c.count()))?;
    }
    let mut decoder = codecs.make(&params, &DecoderOptions::default()).map_err(broken)?;
    let mut samples = Vec::new();
    let mut layout: Option<(u32, usize)> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => return Err(broken(e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            // A damaged packet is skipped, as players do; a file with no good packet fails below.
            Err(SymphoniaError::DecodeError(_)) => continue,
            Err(e) => return Err(broken(e)),
        };
        let spec = *decoded.spec();
        let channels = spec.channels.count();
        check_layout(field, spec.rate, channels)?;
        if layout.is_some_and(|known| known != (spec.rate, channels)) {
            return Err(Error::invalid(field, "changes its sample rate or channel count midway"));
        }
        layout = Some((spec.rate, channels));
        let mut buffer = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
        buffer.copy_interleaved_ref(decoded);
        samples.extend(down_mix(buffer.samples(), channels));
        check_duration(field, samples.len() as u64, spec.rate)?;
    }
    let Some((sample_rate, channels)) = layout.filter(|_| !samples.is_empty()) else {
        return Err(Error::invalid(field, format!("holds no decodable {sniffed} audio")));
    };
    let lossless = codec == "flac";
    Ok(Decoded {
        samples,
        sample_rate,
        source: SourceFormat {
            container,
            codec,
            sample_rate,
            channels: u16::try_from(channels).unwrap_or(u16::MAX),
            bits_per_sample: if lossless { params.bits_per_sample.and_then(|b| u16::try_from(b).ok()) } else { None },
            sample_format: if lossless { "int" } else { "float" },
        },
    })
}
