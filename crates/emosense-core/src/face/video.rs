//! Video: H.264 in MP4/QuickTime (demuxed by the `mp4` crate, decoded by OpenH264 compiled from the source it ships
//! with) and animated GIF (the `image` crate). Frames are sampled at a fixed interval within a frame budget and each
//! sampled frame is handed on as soon as it is decoded, so a video is never held decoded in memory.

use std::collections::BinaryHeap;
use std::cmp::Reverse;
use std::io::Cursor;

use ::image::codecs::gif::GifDecoder;
use ::image::{AnimationDecoder, DynamicImage, ImageDecoder, RgbImage};
use openh264::decoder::{Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;
use openh264::OpenH264API;
use serde::Serialize;

use crate::budget::{Budget, Progress};
use crate::container;
use crate::error::{Error, Result};
use crate::limits::Limit;

/// A video container read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// MP4 or QuickTime (an `ftyp` box first).
    Mp4,
    /// A GIF of more than one frame.
    AnimatedGif,
}

impl Container {
    /// Recognises a video by its first bytes; a GIF counts as video when its blocks hold more than one frame (read
    /// without decoding any pixel).
    pub fn sniff(bytes: &[u8]) -> Option<Container> {
        match bytes {
            [_, _, _, _, b'f', b't', b'y', b'p', ..] => Some(Container::Mp4),
            [b'G', b'I', b'F', b'8', ..] => container::gif::layout(bytes, 2).filter(|l| l.frames > 1).map(|_| Container::AnimatedGif),
            _ => None,
        }
    }
}

/// Which frames are analysed: one every `interval_s` seconds (the first at 0), at most `max_frames` of them; a video
/// longer than `interval_s × max_frames` is sampled evenly over its whole length instead.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub interval_s: f64,
    pub max_frames: usize,
}

impl Sampling {
    /// The interval used for a video of `duration_s` seconds.
    fn interval_for(&self, duration_s: f64) -> f64 {
        self.interval_s.max(duration_s / self.max_frames.max(1) as f64)
    }
}

/// What decoding a video may cost.
#[derive(Debug, Clone, Copy)]
pub struct VideoLimits<'a> {
    /// Most pixels a frame may have (`MAX_VIDEO_FRAME_PIXELS`), checked from the header before decoding.
    pub frame_pixels: Limit,
    pub sampling: Sampling,
    /// Checked before each frame is decoded.
    pub budget: &'a Budget,
    /// Told the time of each sampled frame once it is analysed, of the duration when the container declares one.
    pub progress: &'a Progress,
}

/// What was read from a video.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct VideoInfo {
    /// `mp4` or `gif`.
    pub container: &'static str,
    /// `h264` or `gif`.
    pub codec: &'static str,
    pub width: u32,
    pub height: u32,
    pub duration_s: f64,
    /// Frames decoded (every frame of an H.264 stream is decoded: later frames are predicted from earlier ones).
    pub frames_decoded: usize,
    /// Seconds between analysed frames.
    pub sample_interval_s: f64,
}

/// Picks the frames to analyse from frames arriving in display order.
struct Sampler {
    interval_s: f64,
    next_s: f64,
    max_frames: usize,
    taken: usize,
}

impl Sampler {
    fn new(sampling: Sampling, duration_s: f64) -> Self {
        Sampler { interval_s: sampling.interval_for(duration_s), next_s: 0.0, max_frames: sampling.max_frames, taken: 0 }
    }

    /// Whether the frame shown at `t` seconds is analysed (the first frame at or after each sampling time).
    fn take(&mut self, t: f64) -> bool {
        if self.taken >= self.max_frames || t + 1e-9 < self.next_s {
            return false;
        }
        while self.next_s <= t + 1e-9 {
            self.next_s += self.interval_s;
        }
        self.taken += 1;
        true
    }

    fn done(&self) -> bool {
        self.taken >= self.max_frames
    }
}

/// Decodes `bytes` as `container` and calls `visit(t, frame)` for each sampled frame in time order; `field` names
/// the request field in errors. Videos whose frames would have more than `limits.frame_pixels` pixels are
/// refused first; decoding stops when the budget runs out.
pub fn for_each_sampled_frame(
    field: &str,
    bytes: &[u8],
    container: Container,
    limits: &VideoLimits<'_>,
    mut visit: impl FnMut(f64, &RgbImage) -> Result<()>,
) -> Result<VideoInfo> {
    container::decoding(field, || match container {
        Container::Mp4 => read_mp4(field, bytes, limits, &mut visit),
        Container::AnimatedGif => read_gif(field, bytes, limits, &mut visit),
    })
}

fn check_pixels(field: &str, width: u32, height: u32, limit: Limit) -> Result<()> {
    let pixels = u64::from(width) * u64::from(height);
    limit.check(field, pixels)?;
    if pixels == 0 {
        return Err(Error::invalid(field, "declares a video with no pixels"));
    }
    Ok(())
}

fn read_mp4(field: &str, bytes: &[u8], limits: &VideoLimits<'_>, visit: &mut dyn FnMut(f64, &RgbImage) -> Result<()>) -> Result<VideoInfo> {
    let VideoLimits { frame_pixels, sampling, budget, progress } = *limits;
    container::mp4::check(bytes).map_err(|e| Error::invalid(field, format!("is not a readable MP4/QuickTime file: {e}")))?;
    let mut reader = mp4::Mp4Reader::read_header(Cursor::new(bytes), bytes.len() as u64)
        .map_err(|e| Error::invalid(field, format!("is not a readable MP4/QuickTime file: {e}")))?;
    let video_tracks: Vec<&mp4::Mp4Track> =
        reader.tracks().values().filter(|t| matches!(t.track_type(), Ok(mp4::TrackType::Video))).collect();
    let Some(track) = video_tracks.iter().find(|t| matches!(t.media_type(), Ok(mp4::MediaType::H264))).copied() else {
        let found: Vec<String> = video_tracks.iter().map(|t| t.box_type().map_or_else(|_| "an unknown codec".to_owned(), |b| b.to_string())).collect();
        let what = if found.is_empty() { "no video track".to_owned() } else { format!("video in {}", found.join(", ")) };
        return Err(Error::unsupported(field, format!("holds {what}; the video codec read is H.264 (avc1)")));
    };
    let (width, height) = (u32::from(track.width()), u32::from(track.height()));
    check_pixels(field, width, height, frame_pixels)?;
    let timescale = f64::from(track.timescale().max(1));
    let duration_s = track.duration().as_secs_f64();
    let length_size = track.trak.mdia.minf.stbl.stsd.avc1.as_ref().map_or(4, |avc| usize::from(avc.avcc.length_size_minus_one & 0x03) + 1);
    let (track_id, sample_count) = (track.track_id(), track.sample_count());
    let mut headers = Vec::new();
    for nal in [track.sequence_parameter_set(), track.picture_parameter_set()] {
        let nal = nal.map_err(|e| Error::invalid(field, format!("has no H.264 parameter sets: {e}")))?;
        headers.extend_from_slice(&[0, 0, 0, 1]);
        headers.extend_from_slice(nal);
    }
    let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
    let mut decoder = Decoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|e| Error::Model { model: "openh264".into(), message: e.to_string() })?;
    let undecodable = |e: openh264::Error| Error::invalid(field, format!("could not be decoded as H.264: {e}"));
    decoder.decode(&headers).map_err(undecodable)?;
    let mut sampler = Sampler::new(sampling, duration_s);
    // Frames leave the decoder in display order: the n-th frame out is shown at the n-th smallest presentation time.
    // Times count from the first frame shown (B-frames shift every presentation time by the reordering delay).
    let mut pending_times: BinaryHeap<Reverse<i64>> = BinaryHeap::new();
    let (mut decoded, mut first_pts) = (0, None);
    let mut show = |yuv: &openh264::decoder::DecodedYUV<'_>, pending: &mut BinaryHeap<Reverse<i64>>, sampler: &mut Sampler| -> Result<()> {
        // The stream's own parameter sets, not the container, say how large a decoded frame is.
        let (frame_width, frame_height) = yuv.dimensions();
        check_pixels(field, frame_width as u32, frame_height as u32, frame_pixels)?;
        let frame = to_rgb(yuv);
        decoded += 1;
        let pts = pending.pop().map_or(0, |Reverse(pts)| pts);
        let t = (pts - *first_pts.get_or_insert(pts)).max(0) as f64 / timescale;
        if !sampler.take(t) {
            return Ok(());
        }
        visit(round3(t), &frame)?;
        progress.report(t, Some(duration_s), "s");
        Ok(())
    };
    for sample_id in 1..=sample_count {
        budget.check()?;
        let sample = reader
            .read_sample(track_id, sample_id)
            .map_err(|e| Error::invalid(field, format!("sample {sample_id} could not be read: {e}")))?
            .ok_or_else(|| Error::invalid(field, format!("is truncated: sample {sample_id} of {sample_count} is missing")))?;
        pending_times.push(Reverse(sample.start_time as i64 + i64::from(sample.rendering_offset)));
        let packet = annex_b(field, &sample.bytes, length_size)?;
        if let Some(yuv) = decoder.decode(&packet).map_err(undecodable)? {
            show(&yuv, &mut pending_times, &mut sampler)?;
        }
        if sampler.done() {
            break;
        }
    }
    if !sampler.done() {
        for yuv in decoder.flush_remaining().map_err(undecodable)?.iter() {
            show(yuv, &mut pending_times, &mut sampler)?;
        }
    }
    drop(show);
    if decoded == 0 {
        return Err(Error::invalid(field, "holds no decodable H.264 frame"));
    }
    Ok(VideoInfo { container: "mp4", codec: "h264", width, height, duration_s: round3(duration_s), frames_decoded: decoded, sample_interval_s: round3(sampling.interval_for(duration_s)) })
}

/// An MP4 sample (NAL units each behind a big-endian length of `length_size` bytes) as an Annex B byte stream.
fn annex_b(field: &str, mut sample: &[u8], length_size: usize) -> Result<Vec<u8>> {
    let mut stream = Vec::with_capacity(sample.len() + 16);
    while !sample.is_empty() {
        let corrupt = || Error::invalid(field, "holds a corrupt H.264 sample (a NAL unit runs past its sample)");
        let length = sample.get(..length_size).ok_or_else(corrupt)?.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
        let nal = sample.get(length_size..length_size + length).ok_or_else(corrupt)?;
        stream.extend_from_slice(&[0, 0, 0, 1]);
        stream.extend_from_slice(nal);
        sample = &sample[length_size + length..];
    }
    Ok(stream)
}

fn to_rgb(yuv: &openh264::decoder::DecodedYUV<'_>) -> RgbImage {
    let (width, height) = yuv.dimensions();
    let mut rgb = vec![0; width * height * 3];
    yuv.write_rgb8(&mut rgb);
    RgbImage::from_raw(width as u32, height as u32, rgb).unwrap_or_default()
}

fn read_gif(field: &str, bytes: &[u8], limits: &VideoLimits<'_>, visit: &mut dyn FnMut(f64, &RgbImage) -> Result<()>) -> Result<VideoInfo> {
    let VideoLimits { frame_pixels, sampling, budget, progress } = *limits;
    let undecodable = |e: ::image::ImageError| Error::invalid(field, format!("could not be decoded as an animated GIF: {e}"));
    let decoder = GifDecoder::new(Cursor::new(bytes)).map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    check_pixels(field, width, height, frame_pixels)?;
    // A GIF declares no duration up front: frames are sampled at the interval, within the frame budget.
    let mut sampler = Sampler::new(sampling, 0.0);
    let (mut t, mut decoded) = (0.0f64, 0);
    let mut frames = decoder.into_frames();
    loop {
        budget.check()?;
        let Some(frame) = frames.next() else { break };
        let frame = frame.map_err(undecodable)?;
        let (numerator, denominator) = frame.delay().numer_denom_ms();
        // Browsers show frames without a delay for 0.1 s.
        let delay_s = if numerator == 0 { 0.1 } else { f64::from(numerator) / f64::from(denominator.max(1)) / 1000.0 };
        decoded += 1;
        if sampler.take(t) {
            visit(round3(t), &DynamicImage::ImageRgba8(frame.into_buffer()).into_rgb8())?;
            progress.report(t, None, "s");
        }
        t += delay_s;
        if sampler.done() {
            break;
        }
    }
    Ok(VideoInfo { container: "gif", codec: "gif", width, height, duration_s: round3(t), frames_decoded: decoded, sample_interval_s: sampling.interval_s })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_takes_the_first_frame_at_or_after_each_time() {
        let mut sampler = Sampler::new(Sampling { interval_s: 0.5, max_frames: 10 }, 3.0);
        let taken: Vec<f64> = (0..30).map(|i| f64::from(i) * 0.1).filter(|&t| sampler.take(t)).collect();
        assert_eq!(taken.len(), 6);
        for (got, want) in taken.iter().zip([0.0, 0.5, 1.0, 1.5, 2.0, 2.5]) {
            assert!((got - want).abs() < 1e-6, "{taken:?}");
        }
    }

    #[test]
    fn long_videos_are_sampled_evenly_within_the_budget() {
        let sampling = Sampling { interval_s: 0.5, max_frames: 4 };
        assert_eq!(sampling.interval_for(60.0), 15.0);
        let mut sampler = Sampler::new(sampling, 60.0);
        let taken: Vec<f64> = (0..600).map(|i| f64::from(i) * 0.1).filter(|&t| sampler.take(t)).collect();
        assert_eq!(taken.len(), 4);
        assert!((taken[3] - 45.0).abs() < 1e-6, "{taken:?}");
    }

    #[test]
    fn annex_b_replaces_lengths_with_start_codes() {
        let sample = [0, 0, 0, 2, 0x65, 0xAA, 0, 0, 0, 1, 0x41];
        assert_eq!(annex_b("f", &sample, 4).unwrap(), vec![0, 0, 0, 1, 0x65, 0xAA, 0, 0, 0, 1, 0x41]);
        assert!(annex_b("f", &[0, 0, 0, 9, 1], 4).is_err(), "a length past the end is corrupt");
    }

    #[test]
    fn containers_are_sniffed() {
        assert_eq!(Container::sniff(b"\0\0\0\x18ftypmp42\0\0\0\0"), Some(Container::Mp4));
        assert_eq!(Container::sniff(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(Container::sniff(b"GIF89a broken"), None, "an unreadable GIF is left to the image decoder");
        let one_frame = [&b"GIF89a\x60\xea\x60\xea\x80\0\0\0\0\0\xff\xff\xff"[..], b"\x2c\0\0\0\0\x01\0\x01\0\0\x02\x02\x4c\x01\0\x3b"].concat();
        assert_eq!(Container::sniff(&one_frame), None, "a 60000x60000 GIF of one frame is an image, found without decoding it");
    }
}
