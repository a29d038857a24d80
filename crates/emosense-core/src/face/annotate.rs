//! The image with each face's box and label ("joy 87") drawn, as PNG: for people who would rather look.

use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage};

use super::FaceResult;
use crate::emotion::Emotion;
use crate::error::{Error, Result};

/// Glyphs 3 px wide and 5 high, one row of three bits per digit of each string ('1' = ink).
const GLYPHS: &[(char, [&str; 5])] = &[
    ('a', ["010", "101", "111", "101", "101"]),
    ('d', ["110", "101", "101", "101", "110"]),
    ('e', ["111", "100", "110", "100", "111"]),
    ('f', ["111", "100", "110", "100", "100"]),
    ('g', ["011", "100", "101", "101", "011"]),
    ('i', ["111", "010", "010", "010", "111"]),
    ('j', ["001", "001", "001", "101", "010"]),
    ('l', ["100", "100", "100", "100", "111"]),
    ('n', ["101", "111", "111", "101", "101"]),
    ('o', ["010", "101", "101", "101", "010"]),
    ('p', ["110", "101", "110", "100", "100"]),
    ('r', ["110", "101", "110", "101", "101"]),
    ('s', ["011", "100", "010", "001", "110"]),
    ('t', ["111", "010", "010", "010", "010"]),
    ('u', ["101", "101", "101", "101", "111"]),
    ('y', ["101", "101", "010", "010", "010"]),
    ('0', ["111", "101", "101", "101", "111"]),
    ('1', ["010", "110", "010", "010", "111"]),
    ('2', ["110", "001", "010", "100", "111"]),
    ('3', ["110", "001", "010", "001", "110"]),
    ('4', ["101", "101", "111", "001", "001"]),
    ('5', ["111", "100", "110", "001", "110"]),
    ('6', ["011", "100", "111", "101", "111"]),
    ('7', ["111", "001", "010", "010", "010"]),
    ('8', ["111", "101", "111", "101", "111"]),
    ('9', ["111", "101", "111", "001", "110"]),
];

/// Colour of each emotion's boxes.
fn colour(emotion: Emotion) -> Rgb<u8> {
    Rgb(match emotion {
        Emotion::Anger => [230, 40, 40],
        Emotion::Disgust => [120, 170, 30],
        Emotion::Fear => [150, 60, 200],
        Emotion::Joy => [255, 200, 0],
        Emotion::Neutral => [200, 200, 200],
        Emotion::Sadness => [40, 110, 230],
        Emotion::Surprise => [255, 120, 0],
    })
}

/// PNG bytes of `image` with every face drawn.
pub(super) fn draw(image: &RgbImage, faces: &[FaceResult]) -> Result<Vec<u8>> {
    let mut canvas = image.clone();
    let scale = (canvas.width().max(canvas.height()) / 400).max(2);
    for face in faces {
        let ink = colour(face.dominant_emotion);
        let b = face.face_box;
        let (x0, y0, x1, y1) = (b.x as i64, b.y as i64, (b.x + b.width) as i64, (b.y + b.height) as i64);
        let thickness = i64::from(scale);
        fill(&mut canvas, x0, y0, x1, y0 + thickness, ink);
        fill(&mut canvas, x0, y1 - thickness, x1, y1, ink);
        fill(&mut canvas, x0, y0, x0 + thickness, y1, ink);
        fill(&mut canvas, x1 - thickness, y0, x1, y1, ink);
        let label = format!("{} {}", face.dominant_emotion.as_str(), (face.confidence * 100.0).round() as u32);
        let step = 4 * i64::from(scale);
        let label_height = 7 * i64::from(scale);
        let top = if y0 >= label_height { y0 - label_height } else { y1 };
        fill(&mut canvas, x0, top, x0 + step * label.chars().count() as i64 + i64::from(scale), top + label_height, ink);
        for (i, c) in label.chars().enumerate() {
            text_glyph(&mut canvas, c, x0 + i64::from(scale) + step * i as i64, top + i64::from(scale), scale);
        }
    }
    let mut png = Vec::new();
    canvas
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| Error::Model { model: "annotate".into(), message: e.to_string() })?;
    Ok(png)
}

fn text_glyph(canvas: &mut RgbImage, c: char, x: i64, y: i64, scale: u32) {
    let Some((_, rows)) = GLYPHS.iter().find(|(g, _)| *g == c) else { return };
    let s = i64::from(scale);
    for (row, bits) in rows.iter().enumerate() {
        for (col, bit) in bits.chars().enumerate() {
            if bit == '1' {
                let (px, py) = (x + col as i64 * s, y + row as i64 * s);
                fill(canvas, px, py, px + s, py + s, Rgb([0, 0, 0]));
            }
        }
    }
}

/// Paints the rectangle `[x0, x1) × [y0, y1)`, clipped to the canvas.
fn fill(canvas: &mut RgbImage, x0: i64, y0: i64, x1: i64, y1: i64, ink: Rgb<u8>) {
    let (w, h) = (i64::from(canvas.width()), i64::from(canvas.height()));
    for y in y0.clamp(0, h)..y1.clamp(0, h) {
        for x in x0.clamp(0, w)..x1.clamp(0, w) {
            canvas.put_pixel(x as u32, y as u32, ink);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emotion::EmotionScores;
    use crate::face::FaceBox;

    #[test]
    fn every_label_character_has_a_glyph() {
        for emotion in Emotion::ALL {
            for c in emotion.as_str().chars().chain("0123456789".chars()) {
                assert!(GLYPHS.iter().any(|(g, _)| *g == c), "no glyph for {c:?}");
            }
        }
    }

    #[test]
    fn boxes_are_drawn_in_the_emotion_colour() {
        let image = RgbImage::new(100, 100);
        let emotions = EmotionScores::from_logits(&[0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0]);
        let face = FaceResult {
            face_box: FaceBox { x: 20.0, y: 30.0, width: 50.0, height: 50.0 },
            score: 0.9,
            dominant_emotion: Emotion::Joy,
            confidence: 0.95,
            emotions,
            geometry: None,
            landmark_presence: None,
            landmarks: None,
        };
        let png = draw(&image, &[face]).unwrap();
        let drawn = image::load_from_memory(&png).unwrap().into_rgb8();
        assert_eq!(*drawn.get_pixel(20, 50), colour(Emotion::Joy));
        assert_eq!(*drawn.get_pixel(50, 50), Rgb([0, 0, 0]));
    }
}
