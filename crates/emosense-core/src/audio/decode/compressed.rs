//! FLAC, Ogg Vorbis, MP3 and AAC in MP4/M4A through `symphonia`, and Opus in Ogg (browser and phone voice notes)
//! demuxed by `symphonia` and decoded by the pure-Rust `opus-decoder`: the first decodable audio track, every packet
//! decoded and down-mixed as it comes, the length checked against the limit as it grows.

use std::io::Cursor;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{self, CodecType, DecoderOptions, CODEC_TYPE_NULL, CODEC_TYPE_OPUS};
use symphonia::core::formats::Packet;
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
    let mp4_entries = match container {
        "mp4" => container::mp4::check(bytes).map_err(|e| Error::invalid(field, format!("is not a readable {sniffed} file: {e}")))?,
        _ => Vec::new(),
    };
    let stream = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    hint.with_extension(sniffed);
    let mut format = symphonia::default::get_probe()
        .format(&hint, stream, &FormatOptions::default(), &MetadataOptions::default())
        .map_err(broken)?
        .format;
    let codecs = symphonia::default::get_codecs();
    let readable = |codec: CodecType| codec == CODEC_TYPE_OPUS || (codec != CODEC_TYPE_NULL && codecs.get_codec(codec).is_some());
    let Some(track) = format.tracks().iter().find(|t| readable(t.codec_params.codec)) else {
        let found: Vec<&str> = format.tracks().iter().map(|t| t.codec_params.codec).filter(|c| *c != CODEC_TYPE_NULL).map(codec_name).collect();
        let tracks: Vec<String> = mp4_entries.iter().map(container::mp4::codec_name).collect();
        return Err(Error::unsupported(
            field,
            match (found.is_empty(), tracks.is_empty()) {
                (false, _) => format!("is a {sniffed} file whose audio is {}, which this service does not decode (it reads FLAC, Vorbis, Opus, MP3, AAC)", found.join(", ")),
                (true, false) => format!("is a {sniffed} file without an audio track this service decodes (FLAC, Vorbis, Opus, MP3, AAC): it holds {}", tracks.join(", ")),
                (true, true) => format!("is a {sniffed} file without an audio track this service decodes (FLAC, Vorbis, Opus, MP3, AAC)"),
            },
        ));
    };
    let (track_id, params) = (track.id, track.codec_params.clone());
    let codec = match codecs.get_codec(params.codec).map(|d| d.short_name) {
        _ if params.codec == CODEC_TYPE_OPUS => "opus",
        Some("flac") => "flac",
        Some("vorbis") => "vorbis",
        Some("mp3") => "mp3",
        Some("aac") => "aac",
        _ => "other",
    };
    if let Some(rate) = params.sample_rate {
        check_layout(field, rate, params.channels.map_or(1, |c| c.count()))?;
    }
    let mut decoder = if codec == "opus" {
        let channels = params.channels.map_or(1, |c| c.count());
        let opus = opus_decoder::OpusDecoder::new(OPUS_RATE, channels)
            .map_err(|_| Error::unsupported(field, format!("is Opus with {channels} channels; mono and stereo are read")))?;
        PacketDecoder::new(DecoderKind::Opus { decoder: opus, channels })
    } else {
        PacketDecoder::new(DecoderKind::Symphonia(codecs.make(&params, &DecoderOptions::default()).map_err(broken)?))
    };
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
        // A damaged packet is skipped, as players do; a file with no good packet fails below.
        let Some((rate, channels, interleaved)) = decoder.decode(&packet).map_err(broken)? else { continue };
        check_layout(field, rate, channels)?;
        if layout.is_some_and(|known| known != (rate, channels)) {
            return Err(Error::invalid(field, "changes its sample rate or channel count midway"));
        }
        layout = Some((rate, channels));
        samples.extend(down_mix(interleaved, channels));
        check_duration(field, samples.len() as u64, rate)?;
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

/// Opus is decoded at its native rate.
const OPUS_RATE: u32 = 48_000;
/// The longest Opus packet (120 ms at 48 kHz), per channel.
const OPUS_MAX_FRAME: usize = 5_760;

/// What turns the track's packets into samples, with the buffer of the last packet's interleaved samples.
struct PacketDecoder {
    kind: DecoderKind,
    samples: Vec<f32>,
}

enum DecoderKind {
    Symphonia(Box<dyn codecs::Decoder>),
    /// Opus, which `symphonia` demuxes but does not decode, with the stream's channel count.
    Opus { decoder: opus_decoder::OpusDecoder, channels: usize },
}

impl PacketDecoder {
    fn new(kind: DecoderKind) -> Self {
        PacketDecoder { kind, samples: Vec::new() }
    }

    /// Rate, channel count and interleaved samples of one packet; `None` for a damaged packet.
    fn decode(&mut self, packet: &Packet) -> std::result::Result<Option<(u32, usize, &[f32])>, SymphoniaError> {
        match &mut self.kind {
            DecoderKind::Symphonia(decoder) => {
                let decoded = match decoder.decode(packet) {
                    Ok(decoded) => decoded,
                    Err(SymphoniaError::DecodeError(_)) => return Ok(None),
                    Err(e) => return Err(e),
                };
                let spec = *decoded.spec();
                let mut buffer = SampleBuffer::<f32>::new(decoded.capacity() as u64, spec);
                buffer.copy_interleaved_ref(decoded);
                self.samples.clear();
                self.samples.extend_from_slice(buffer.samples());
                Ok(Some((spec.rate, spec.channels.count(), &self.samples)))
            }
            DecoderKind::Opus { decoder, channels } => {
                self.samples.resize(OPUS_MAX_FRAME * *channels, 0.0);
                match decoder.decode_float(&packet.data, &mut self.samples, false) {
                    Ok(frames) => Ok(Some((OPUS_RATE, *channels, &self.samples[..frames * *channels]))),
                    Err(_) => Ok(None),
                }
            }
        }
    }
}

/// Display name of a codec `symphonia` can name but this service does not decode.
fn codec_name(codec: CodecType) -> &'static str {
    match codec {
        codecs::CODEC_TYPE_ALAC => "ALAC",
        codecs::CODEC_TYPE_WAVPACK => "WavPack",
        codecs::CODEC_TYPE_MP1 => "MPEG Layer I",
        codecs::CODEC_TYPE_MP2 => "MPEG Layer II",
        codecs::CODEC_TYPE_SPEEX => "Speex",
        codecs::CODEC_TYPE_ATRAC1 | codecs::CODEC_TYPE_ATRAC3 | codecs::CODEC_TYPE_ATRAC3PLUS | codecs::CODEC_TYPE_ATRAC9 => "ATRAC",
        codecs::CODEC_TYPE_WMA => "WMA",
        codecs::CODEC_TYPE_EAC3 => "Dolby Digital Plus (E-AC-3)",
        codecs::CODEC_TYPE_AC4 => "Dolby AC-4",
        codecs::CODEC_TYPE_DCA => "DTS",
        codecs::CODEC_TYPE_ADPCM_G722 | codecs::CODEC_TYPE_ADPCM_G726 | codecs::CODEC_TYPE_ADPCM_G726LE => "G.722/G.726 ADPCM",
        codecs::CODEC_TYPE_ADPCM_MS | codecs::CODEC_TYPE_ADPCM_IMA_WAV | codecs::CODEC_TYPE_ADPCM_IMA_QT => "ADPCM",
        _ => "a codec this service does not know",
    }
}
