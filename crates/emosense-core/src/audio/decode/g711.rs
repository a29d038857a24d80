//! G.711 telephony audio in WAV files (μ-law and A-law, 8 bits per sample, format tags 7 and 6, also inside
//! WAVE_FORMAT_EXTENSIBLE), which `hound` does not read: the RIFF chunks are walked within the file's bytes and
//! every byte expanded to 16-bit linear PCM by the ITU-T G.711 tables.

use super::{check_duration, check_layout, down_mix, Decoded, SourceFormat};
use crate::error::{Error, Result};

/// A G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Law {
    MuLaw,
    ALaw,
}

impl Law {
    fn from_tag(tag: u16) -> Option<Law> {
        match tag {
            7 => Some(Law::MuLaw),
            6 => Some(Law::ALaw),
            _ => None,
        }
    }

    fn codec(self) -> &'static str {
        match self {
            Law::MuLaw => "mulaw",
            Law::ALaw => "alaw",
        }
    }

    /// The 16-bit linear sample of one coded byte.
    fn expand(self, byte: u8) -> i16 {
        match self {
            Law::MuLaw => {
                let u = !byte;
                let magnitude = ((i32::from(u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07);
                (if u & 0x80 != 0 { 0x84 - magnitude } else { magnitude - 0x84 }) as i16
            }
            Law::ALaw => {
                let a = byte ^ 0x55;
                let mantissa = i32::from(a & 0x0F) << 4;
                let magnitude = match (a >> 4) & 0x07 {
                    0 => mantissa + 8,
                    exponent => (mantissa + 0x108) << (exponent - 1),
                };
                (if a & 0x80 != 0 { magnitude } else { -magnitude }) as i16
            }
        }
    }
}

/// The RIFF chunks of a WAVE file after its 12-byte header: id and body (cut at the end of the file).
fn chunks(bytes: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8], usize)> {
    let mut offset: usize = 12;
    std::iter::from_fn(move || {
        let header = bytes.get(offset..offset.checked_add(8)?)?;
        let id: [u8; 4] = header[..4].try_into().ok()?;
        let declared = u32::from_le_bytes(header[4..8].try_into().ok()?) as usize;
        let start = offset + 8;
        let body = &bytes[start..start.saturating_add(declared).min(bytes.len())];
        offset = start.saturating_add(declared).saturating_add(declared & 1);
        Some((id, body, declared))
    })
}

/// The law of a WAVE file whose `fmt ` chunk declares μ-law or A-law, or `None` for any other file.
pub(super) fn law(bytes: &[u8]) -> Option<Law> {
    let (_, fmt, _) = chunks(bytes).find(|(id, _, _)| id == b"fmt ")?;
    let tag = u16::from_le_bytes(fmt.get(..2)?.try_into().ok()?);
    match tag {
        0xFFFE => Law::from_tag(u16::from_le_bytes(fmt.get(24..26)?.try_into().ok()?)),
        tag => Law::from_tag(tag),
    }
}

/// Decodes a G.711 WAV file (see [`law`]) to mono samples in [-1, 1].
pub(super) fn decode(field: &str, bytes: &[u8], law: Law) -> Result<Decoded> {
    let (_, fmt, _) = chunks(bytes).find(|(id, _, _)| id == b"fmt ").ok_or_else(|| Error::invalid(field, "is a WAV file without a fmt chunk"))?;
    if fmt.len() < 16 {
        return Err(Error::invalid(field, "is a WAV file whose fmt chunk is cut short"));
    }
    let channels = usize::from(u16::from_le_bytes([fmt[2], fmt[3]]));
    let sample_rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
    let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
    check_layout(field, sample_rate, channels)?;
    if bits != 8 {
        return Err(Error::unsupported(field, format!("is {} WAV with {bits} bits per sample; G.711 stores 8", law.codec())));
    }
    let (_, data, declared) = chunks(bytes).find(|(id, _, _)| id == b"data").ok_or_else(|| Error::invalid(field, "is a WAV file without a data chunk"))?;
    if data.len() < declared {
        return Err(Error::invalid(field, format!("is truncated: its header declares {declared} samples but the file holds {}", data.len())));
    }
    let frames = data.len() / channels;
    if frames == 0 {
        return Err(Error::invalid(field, "holds no audio samples"));
    }
    check_duration(field, frames as u64, sample_rate)?;
    let interleaved: Vec<f32> = data[..frames * channels].iter().map(|&b| f32::from(law.expand(b)) / 32_768.0).collect();
    Ok(Decoded {
        samples: down_mix(&interleaved, channels).collect(),
        sample_rate,
        source: SourceFormat {
            container: "wav",
            codec: law.codec(),
            sample_rate,
            channels: u16::try_from(channels).unwrap_or(u16::MAX),
            bits_per_sample: Some(8),
            sample_format: "int",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion_follows_the_g711_tables() {
        assert_eq!([0xFF, 0x7F, 0x00, 0x80].map(|b| Law::MuLaw.expand(b)), [0, 0, -32_124, 32_124]);
        assert_eq!([0xD5, 0x55, 0xAA, 0x2A].map(|b| Law::ALaw.expand(b)), [8, -8, 32_256, -32_256]);
        // Both laws are monotonic over their positive codes.
        let positive: Vec<i16> = (0x80..=0xFFu8).rev().map(|b| Law::MuLaw.expand(b)).collect();
        assert!(positive.windows(2).all(|w| w[0] <= w[1]), "{positive:?}");
    }

    fn g711_wav(tag: u16, channels: u16, data: &[u8], declared: u32) -> Vec<u8> {
        let mut fmt = Vec::new();
        for (value, width) in [(u32::from(tag), 2), (u32::from(channels), 2), (8_000, 4), (8_000 * u32::from(channels), 4), (u32::from(channels), 2), (8, 2)] {
            fmt.extend_from_slice(&value.to_le_bytes()[..width]);
        }
        let mut file = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        file.extend_from_slice(&16u32.to_le_bytes());
        file.extend_from_slice(&fmt);
        file.extend_from_slice(b"data");
        file.extend_from_slice(&declared.to_le_bytes());
        file.extend_from_slice(data);
        file
    }

    #[test]
    fn stereo_mulaw_is_down_mixed_and_bad_files_are_named() {
        let file = g711_wav(7, 2, &[0x80, 0x00, 0x80, 0x80], 4);
        assert_eq!(law(&file), Some(Law::MuLaw));
        let decoded = decode("audio", &file, Law::MuLaw).unwrap();
        assert_eq!(decoded.samples, vec![0.0, 32_124.0 / 32_768.0]);
        assert_eq!((decoded.source.codec, decoded.source.channels, decoded.sample_rate), ("mulaw", 2, 8_000));
        assert_eq!(law(&g711_wav(1, 1, &[0; 4], 4)), None, "PCM is hound's");
        let truncated = decode("audio", &g711_wav(6, 1, &[0; 4], 4_000), Law::ALaw).unwrap_err();
        assert!(truncated.to_string().contains("truncated"), "{truncated}");
        let huge_rate = decode("audio", &g711_wav(6, 0, &[0; 4], 4), Law::ALaw).unwrap_err();
        assert!(huge_rate.to_string().contains("channels"), "{huge_rate}");
    }
}
