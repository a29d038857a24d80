//! Image decoding: format sniffed from magic bytes, declared size checked against the pixel budget before any pixel
//! is allocated, EXIF orientation applied, and crops that may reach past the image edge (filled with black).

use std::io::Cursor;

use image::{imageops, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use serde::Serialize;

use crate::error::{Error, Result};

/// The image formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    Jpeg,
    Png,
    Webp,
    Gif,
    Bmp,
}

impl SourceFormat {
    fn of(format: ImageFormat) -> Option<Self> {
        Some(match format {
            ImageFormat::Jpeg => SourceFormat::Jpeg,
            ImageFormat::Png => SourceFormat::Png,
            ImageFormat::WebP => SourceFormat::Webp,
            ImageFormat::Gif => SourceFormat::Gif,
            ImageFormat::Bmp => SourceFormat::Bmp,
            _ => return None,
        })
    }
}

/// A decoded image, upright, in RGB.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub rgb: RgbImage,
    pub source: SourceFormat,
    /// Whether an EXIF orientation other than upright was applied.
    pub reoriented: bool,
}

/// Decodes an image file; `field` names the request field in errors. Files declaring more than `max_pixels` pixels
/// are refused from their header.
pub fn decode(field: &str, bytes: &[u8], max_pixels: u64) -> Result<Decoded> {
    if bytes.is_empty() {
        return Err(Error::invalid(field, "is empty"));
    }
    let format = image::guess_format(bytes).ok().and_then(|f| SourceFormat::of(f).map(|s| (f, s)));
    let Some((format, source)) = format else {
        return Err(Error::unsupported(field, format!("is not an image in a format read here (JPEG, PNG, WebP, GIF, BMP); {}", describe(bytes))));
    };
    let undecodable = |e: image::ImageError| Error::invalid(field, format!("could not be decoded as {source:?}: {e}"));
    if source == SourceFormat::Jpeg && !ends_jpeg(bytes) {
        return Err(Error::invalid(field, "could not be decoded as Jpeg: the file is truncated (no end-of-image marker after the image data)"));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_alloc = Some(max_pixels.saturating_mul(4).max(64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(Error::TooLarge { field: field.to_owned(), actual: pixels, limit: max_pixels, unit: "pixels", limit_source: "MAX_IMAGE_PIXELS" });
    }
    if pixels == 0 {
        return Err(Error::invalid(field, "declares an image with no pixels"));
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    Ok(Decoded { rgb: image.into_rgb8(), source, reoriented: orientation != image::metadata::Orientation::NoTransforms })
}

/// Whether a JPEG file has its end-of-image marker after its last start-of-scan (the decoder would otherwise fill a
/// truncated file's missing rows with grey).
fn ends_jpeg(bytes: &[u8]) -> bool {
    let marker = |code: u8| bytes.windows(2).rposition(|w| w == [0xFF, code]);
    match (marker(0xDA), marker(0xD9)) {
        (Some(scan), Some(end)) => end > scan,
        _ => false,
    }
}

/// What a file that is not a readable image looks like, for the error message.
fn describe(bytes: &[u8]) -> &'static str {
    match bytes {
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => "this looks like an MP4/QuickTime video",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => "this looks like a WAV file",
        [0x1a, 0x45, 0xdf, 0xa3, ..] => "this looks like a WebM/Matroska video",
        _ if image::guess_format(bytes).is_ok() => "this image format is not read",
        _ => "the first bytes match no known image format",
    }
}

/// A box in image pixels: top-left corner and size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct FaceBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl FaceBox {
    /// Area in square pixels.
    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    /// Intersection over union with another box.
    pub fn iou(&self, other: &FaceBox) -> f32 {
        let w = (self.x + self.width).min(other.x + other.width) - self.x.max(other.x);
        let h = (self.y + self.height).min(other.y + other.height) - self.y.max(other.y);
        let intersection = w.max(0.0) * h.max(0.0);
        let union = self.area() + other.area() - intersection;
        if union > 0.0 { intersection / union } else { 0.0 }
    }

    /// The box grown by `fraction` of its size on every side.
    pub fn grown(&self, fraction: f32) -> FaceBox {
        FaceBox { x: self.x - fraction * self.width, y: self.y - fraction * self.height, width: self.width * (1.0 + 2.0 * fraction), height: self.height * (1.0 + 2.0 * fraction) }
    }

    /// The square of side `scale × max(width, height)` with the same centre.
    pub fn square(&self, scale: f32) -> FaceBox {
        let side = scale * self.width.max(self.height);
        FaceBox { x: self.x + self.width / 2.0 - side / 2.0, y: self.y + self.height / 2.0 - side / 2.0, width: side, height: side }
    }

    /// The box clipped to an image of `width × height`.
    pub fn clipped(&self, width: u32, height: u32) -> FaceBox {
        let (x0, y0) = (self.x.clamp(0.0, width as f32), self.y.clamp(0.0, height as f32));
        let (x1, y1) = ((self.x + self.width).clamp(0.0, width as f32), (self.y + self.height).clamp(0.0, height as f32));
        FaceBox { x: x0, y: y0, width: x1 - x0, height: y1 - y0 }
    }
}

/// The pixels under `region` (rounded to whole pixels), black where it reaches past the image.
pub fn crop(image: &RgbImage, region: &FaceBox) -> RgbImage {
    let (x0, y0) = (region.x.round() as i64, region.y.round() as i64);
    let width = (region.width.round() as i64).max(1) as u32;
    let height = (region.height.round() as i64).max(1) as u32;
    let inside = x0 >= 0 && y0 >= 0 && x0 + i64::from(width) <= i64::from(image.width()) && y0 + i64::from(height) <= i64::from(image.height());
    if inside {
        return imageops::crop_imm(image, x0 as u32, y0 as u32, width, height).to_image();
    }
    let mut canvas = RgbImage::new(width, height);
    imageops::replace(&mut canvas, image, -x0, -y0);
    canvas
}

/// `image` centred on a black square of side `max(width, height)`.
pub fn pad_to_square_centred(image: &RgbImage) -> RgbImage {
    let side = image.width().max(image.height());
    if image.width() == image.height() {
        return image.clone();
    }
    let mut canvas = RgbImage::new(side, side);
    imageops::replace(&mut canvas, image, i64::from((side - image.width()) / 2), i64::from((side - image.height()) / 2));
    canvas
}

/// Resizes with a triangle (bilinear, anti-aliased when shrinking) filter, as the models' reference code did.
pub fn resize(image: &RgbImage, width: u32, height: u32) -> RgbImage {
    if image.dimensions() == (width, height) {
        return image.clone();
    }
    imageops::resize(image, width, height, imageops::FilterType::Triangle)
}

/// ITU-R 601 luma of an RGB pixel, 0..255 (the grey conversion the mini-Xception models were trained with).
pub fn luma(pixel: &image::Rgb<u8>) -> f32 {
    let [r, g, b] = pixel.0;
    (f32::from(r) * 299.0 + f32::from(g) * 587.0 + f32::from(b) * 114.0) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        RgbImage::from_pixel(width, height, image::Rgb([10, 200, 30])).write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).unwrap();
        bytes
    }

    #[test]
    fn decodes_png_and_reads_its_format() {
        let decoded = decode("image", &png(6, 4), 1000).unwrap();
        assert_eq!((decoded.rgb.dimensions(), decoded.source, decoded.reoriented), ((6, 4), SourceFormat::Png, false));
    }

    #[test]
    fn pixel_budget_is_checked_from_the_header() {
        let err = decode("image", &png(40, 30), 1000).unwrap_err();
        assert!(matches!(err, Error::TooLarge { actual: 1200, limit: 1000, .. }), "{err}");
    }

    #[test]
    fn bad_files_are_told_apart() {
        assert_eq!(decode("image", b"", 10).unwrap_err().kind(), crate::ErrorKind::InvalidInput);
        let text = decode("image", b"hello, not an image", 10).unwrap_err();
        assert_eq!(text.kind(), crate::ErrorKind::UnsupportedFormat);
        let video = decode("image", b"\0\0\0\x18ftypmp42\0\0\0\0", 10).unwrap_err();
        assert!(video.to_string().contains("MP4"), "{video}");
        let bytes = png(64, 64);
        let truncated = decode("image", &bytes[..bytes.len() / 2], 100_000).unwrap_err();
        assert_eq!(truncated.kind(), crate::ErrorKind::InvalidInput, "{truncated}");
        let mut jpeg = Vec::new();
        RgbImage::from_pixel(64, 64, image::Rgb([90, 90, 90])).write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
        assert!(decode("image", &jpeg, 100_000).is_ok());
        let cut = decode("image", &jpeg[..jpeg.len() - 40], 100_000).unwrap_err();
        assert!(cut.to_string().contains("truncated"), "{cut}");
    }

    #[test]
    fn crops_past_the_edge_are_black() {
        let image = RgbImage::from_pixel(4, 4, image::Rgb([255, 255, 255]));
        let c = crop(&image, &FaceBox { x: -2.0, y: 2.0, width: 4.0, height: 4.0 });
        assert_eq!(c.dimensions(), (4, 4));
        assert_eq!(c.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(c.get_pixel(2, 0).0, [255, 255, 255]);
        assert_eq!(c.get_pixel(2, 2).0, [0, 0, 0]);
    }

    #[test]
    fn boxes_overlap_and_grow() {
        let a = FaceBox { x: 0.0, y: 0.0, width: 2.0, height: 2.0 };
        let b = FaceBox { x: 1.0, y: 0.0, width: 2.0, height: 2.0 };
        assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(a.grown(0.5), FaceBox { x: -1.0, y: -1.0, width: 4.0, height: 4.0 });
        assert_eq!(FaceBox { x: 0.0, y: 0.0, width: 2.0, height: 4.0 }.square(1.5).width, 6.0);
    }
}
