//! Image decoding: format sniffed from magic bytes, declared size checked against the pixel budget before any pixel
//! is allocated, EXIF orientation applied, and crops that may reach past the image edge (filled with black).

use std::io::Cursor;

use image::{imageops, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::limits::Limit;

/// The image formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "ImageFormat")]
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

/// Decodes an image file; `field` names the request field in errors. Files declaring more pixels than `pixels`
/// allows are refused from their header.
pub fn decode(field: &str, bytes: &[u8], pixels: Limit) -> Result<Decoded> {
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
    limits.max_alloc = Some(pixels.value.saturating_mul(4).max(64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    let declared = u64::from(width) * u64::from(height);
    pixels.check(field, declared)?;
    if declared == 0 {
        return Err(Error::invalid(field, "declares an image with no pixels"));
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let rgb = decode_rgb(decoder, width, height).map_err(undecodable)?;
    let mut image = DynamicImage::ImageRgb8(rgb);
    image.apply_orientation(orientation);
    Ok(Decoded { rgb: image.into_rgb8(), source, reoriented: orientation != image::metadata::Orientation::NoTransforms })
}

/// The decoder's pixels as RGB. 8-bit RGB and RGBA (nearly every photo and screenshot) are decoded into one buffer
/// that is compacted in place, so a large image is held once rather than twice.
fn decode_rgb(decoder: impl ImageDecoder, width: u32, height: u32) -> image::ImageResult<RgbImage> {
    let stride = match decoder.color_type() {
        image::ColorType::Rgb8 => 3,
        image::ColorType::Rgba8 => 4,
        _ => return Ok(DynamicImage::from_decoder(decoder)?.into_rgb8()),
    };
    let mut buffer = vec![0; usize::try_from(decoder.total_bytes()).unwrap_or(usize::MAX)];
    decoder.read_image(&mut buffer)?;
    if stride == 4 {
        for pixel in 0..buffer.len() / 4 {
            buffer.copy_within(pixel * 4..pixel * 4 + 3, pixel * 3);
        }
        buffer.truncate(buffer.len() / 4 * 3);
        buffer.shrink_to_fit();
    }
    RgbImage::from_raw(width, height, buffer).ok_or_else(|| {
        image::ImageError::Limits(image::error::LimitError::from_kind(image::error::LimitErrorKind::DimensionError))
    })
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

    /// The box moved by `(dx, dy)`.
    pub fn translated(&self, dx: f32, dy: f32) -> FaceBox {
        FaceBox { x: self.x + dx, y: self.y + dy, ..*self }
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

/// Crops larger than this many pixels are resized straight from the image instead of being copied first (a crop
/// reaching past the edge of a large image would otherwise allocate a canvas larger than the image itself).
const COPIED_CROP_PIXELS: u64 = 4 << 20;

/// The pixels under `region` resized to `width × height`: [`crop`] then [`resize`], without the intermediate copy
/// when the crop lies inside the image or is large.
pub fn crop_resized(image: &RgbImage, region: &FaceBox, width: u32, height: u32) -> RgbImage {
    let (x0, y0) = (region.x.round() as i64, region.y.round() as i64);
    let (crop_width, crop_height) = ((region.width.round() as i64).max(1), (region.height.round() as i64).max(1));
    let (x1, y1) = (x0 + crop_width, y0 + crop_height);
    let (image_width, image_height) = (i64::from(image.width()), i64::from(image.height()));
    if x0 >= 0 && y0 >= 0 && x1 <= image_width && y1 <= image_height {
        let view = imageops::crop_imm(image, x0 as u32, y0 as u32, crop_width as u32, crop_height as u32);
        return imageops::resize(&*view, width, height, imageops::FilterType::Triangle);
    }
    if (crop_width * crop_height) as u64 <= COPIED_CROP_PIXELS {
        return resize(&crop(image, region), width, height);
    }
    // The part inside the image, resized to where it lands in the output; the rest stays black.
    let mut canvas = RgbImage::new(width, height);
    let (inside_x0, inside_y0) = (x0.clamp(0, image_width), y0.clamp(0, image_height));
    let (inside_x1, inside_y1) = (x1.clamp(0, image_width), y1.clamp(0, image_height));
    if inside_x1 <= inside_x0 || inside_y1 <= inside_y0 {
        return canvas;
    }
    let (scale_x, scale_y) = (f64::from(width) / crop_width as f64, f64::from(height) / crop_height as f64);
    let to_output = |v: i64, origin: i64, scale: f64| ((v - origin) as f64 * scale).round() as i64;
    let (out_x0, out_y0) = (to_output(inside_x0, x0, scale_x), to_output(inside_y0, y0, scale_y));
    let out_width = (to_output(inside_x1, x0, scale_x) - out_x0).max(1) as u32;
    let out_height = (to_output(inside_y1, y0, scale_y) - out_y0).max(1) as u32;
    let view = imageops::crop_imm(image, inside_x0 as u32, inside_y0 as u32, (inside_x1 - inside_x0) as u32, (inside_y1 - inside_y0) as u32);
    let part = imageops::resize(&*view, out_width, out_height, imageops::FilterType::Triangle);
    imageops::replace(&mut canvas, &part, out_x0, out_y0);
    canvas
}

/// The pixels under `region` centred on a black square and resized to `size × size`: [`crop`], then
/// [`pad_to_square_centred`], then [`resize`], without the intermediate copies when the crop is large.
pub fn letterboxed(image: &RgbImage, region: &FaceBox, size: u32) -> RgbImage {
    let (crop_width, crop_height) = ((region.width.round() as i64).max(1) as u32, (region.height.round() as i64).max(1) as u32);
    if u64::from(crop_width) * u64::from(crop_height) <= COPIED_CROP_PIXELS {
        return resize(&pad_to_square_centred(&crop(image, region)), size, size);
    }
    let side = f64::from(crop_width.max(crop_height));
    let scaled = |v: u32| ((f64::from(v) * f64::from(size) / side).round() as u32).clamp(1, size);
    let (width, height) = (scaled(crop_width), scaled(crop_height));
    let part = crop_resized(image, region, width, height);
    let mut canvas = RgbImage::new(size, size);
    imageops::replace(&mut canvas, &part, i64::from((size - width) / 2), i64::from((size - height) / 2));
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

    fn pixels(most: u64) -> Limit {
        crate::limits::Limits { image_pixels: most, ..Default::default() }.image()
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        RgbImage::from_pixel(width, height, image::Rgb([10, 200, 30])).write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).unwrap();
        bytes
    }

    #[test]
    fn decodes_png_and_reads_its_format() {
        let decoded = decode("image", &png(6, 4), pixels(1000)).unwrap();
        assert_eq!((decoded.rgb.dimensions(), decoded.source, decoded.reoriented), ((6, 4), SourceFormat::Png, false));
        assert!(decoded.rgb.pixels().all(|p| p.0 == [10, 200, 30]));
        let mut rgba = Vec::new();
        image::RgbaImage::from_fn(5, 3, |x, y| image::Rgba([x as u8, y as u8, 7, 100])).write_to(&mut Cursor::new(&mut rgba), ImageFormat::Png).unwrap();
        let decoded = decode("image", &rgba, pixels(1000)).unwrap();
        assert_eq!(decoded.rgb.get_pixel(4, 2).0, [4, 2, 7], "alpha dropped, colours kept");
        let mut grey = Vec::new();
        image::GrayImage::from_pixel(2, 2, image::Luma([77])).write_to(&mut Cursor::new(&mut grey), ImageFormat::Png).unwrap();
        assert_eq!(decode("image", &grey, pixels(1000)).unwrap().rgb.get_pixel(1, 1).0, [77, 77, 77]);
    }

    #[test]
    fn pixel_budget_is_checked_from_the_header() {
        let err = decode("image", &png(40, 30), pixels(1000)).unwrap_err();
        assert!(matches!(err, Error::TooLarge { actual: 1200, limit: 1000, .. }), "{err}");
    }

    #[test]
    fn bad_files_are_told_apart() {
        assert_eq!(decode("image", b"", pixels(10)).unwrap_err().kind(), crate::ErrorKind::InvalidInput);
        let text = decode("image", b"hello, not an image", pixels(10)).unwrap_err();
        assert_eq!(text.kind(), crate::ErrorKind::UnsupportedFormat);
        let video = decode("image", b"\0\0\0\x18ftypmp42\0\0\0\0", pixels(10)).unwrap_err();
        assert!(video.to_string().contains("MP4"), "{video}");
        let bytes = png(64, 64);
        let truncated = decode("image", &bytes[..bytes.len() / 2], pixels(100_000)).unwrap_err();
        assert_eq!(truncated.kind(), crate::ErrorKind::InvalidInput, "{truncated}");
        let mut jpeg = Vec::new();
        RgbImage::from_pixel(64, 64, image::Rgb([90, 90, 90])).write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg).unwrap();
        assert!(decode("image", &jpeg, pixels(100_000)).is_ok());
        let cut = decode("image", &jpeg[..jpeg.len() - 40], pixels(100_000)).unwrap_err();
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
    fn crops_resize_alike_whatever_their_size() {
        let image = RgbImage::from_fn(3000, 2000, |x, y| image::Rgb([(x / 12) as u8, (y / 8) as u8, 128]));
        let inside = FaceBox { x: 100.0, y: 50.0, width: 800.0, height: 600.0 };
        assert_eq!(crop_resized(&image, &inside, 64, 48), resize(&crop(&image, &inside), 64, 48), "inside the image: the same pixels");
        let past_the_edge = FaceBox { x: -1000.0, y: -600.0, width: 4500.0, height: 3000.0 };
        let exact = resize(&crop(&image, &past_the_edge), 90, 60);
        let direct = crop_resized(&image, &past_the_edge, 90, 60);
        let mean_difference = exact.as_raw().iter().zip(direct.as_raw()).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>() / exact.as_raw().len() as f64;
        assert!(mean_difference < 1.5, "differs only where the image edge falls between output pixels: {mean_difference}");
        let letterbox_exact = resize(&pad_to_square_centred(&crop(&image, &past_the_edge)), 112, 112);
        let letterbox = letterboxed(&image, &past_the_edge, 112);
        let mean_difference = letterbox_exact.as_raw().iter().zip(letterbox.as_raw()).map(|(a, b)| f64::from(a.abs_diff(*b))).sum::<f64>() / letterbox.as_raw().len() as f64;
        assert!(mean_difference < 1.5, "{mean_difference}");
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
