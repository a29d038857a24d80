//! GIF: the canvas size and the number of frames read from the block structure alone, without decompressing any
//! pixel, so a file can be sized up (and refused) before a decoder allocates its canvas.

/// What a GIF's blocks declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Logical screen (canvas) width and height.
    pub width: u32,
    pub height: u32,
    /// Image descriptors found, counted up to the `count_up_to` asked for.
    pub frames: usize,
}

/// Reads the canvas size and counts frames (stopping at `count_up_to`); `None` when `bytes` is not a GIF whose
/// header and block chain can be followed that far.
pub fn layout(bytes: &[u8], count_up_to: usize) -> Option<Layout> {
    if !(bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a")) || bytes.len() < 13 {
        return None;
    }
    let width = u32::from(u16::from_le_bytes([bytes[6], bytes[7]]));
    let height = u32::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let mut at = 13 + colour_table_len(bytes[10]);
    let mut frames = 0;
    while frames < count_up_to {
        match *bytes.get(at)? {
            // Extension: label, then data sub-blocks.
            0x21 => at = skip_sub_blocks(bytes, at + 2)?,
            // Image descriptor: 9 bytes, an optional local colour table, the LZW code size, then data sub-blocks.
            0x2C => {
                let packed = *bytes.get(at + 9)?;
                frames += 1;
                at = skip_sub_blocks(bytes, at + 10 + colour_table_len(packed) + 1)?;
            }
            0x3B => break,
            _ => return None,
        }
    }
    Some(Layout { width, height, frames })
}

/// Bytes of the colour table a packed field declares (none when its top bit is clear).
fn colour_table_len(packed: u8) -> usize {
    if packed & 0x80 == 0 { 0 } else { 3 << ((packed & 0x07) + 1) }
}

/// The offset after the sub-blocks starting at `at` (each a length byte and that many bytes; 0 ends them).
fn skip_sub_blocks(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = usize::from(*bytes.get(at)?);
        at += 1 + len;
        if len == 0 {
            return Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GIF of `frames` 1x1 frames on a `width` x `height` canvas, with a global two-colour table.
    fn tiny_frames(width: u16, height: u16, frames: usize) -> Vec<u8> {
        let frame: &[u8] = b"\x21\xf9\x04\0\0\0\0\0\x2c\0\0\0\0\x01\0\x01\0\0\x02\x02\x4c\x01\0";
        [&b"GIF89a"[..], &width.to_le_bytes(), &height.to_le_bytes(), b"\x80\0\0\0\0\0\xff\xff\xff", &frame.repeat(frames), b"\x3b"].concat()
    }

    #[test]
    fn reads_canvas_and_counts_frames_without_decoding() {
        assert_eq!(layout(&tiny_frames(60000, 60000, 1), 2), Some(Layout { width: 60000, height: 60000, frames: 1 }));
        assert_eq!(layout(&tiny_frames(7000, 7000, 300), 2).map(|l| l.frames), Some(2));
        let real = std::fs::read(format!("{}/../../tests/data/video/faces.gif", env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert_eq!(layout(&real, 2).map(|l| (l.width, l.frames)), Some((160, 2)));
    }

    #[test]
    fn broken_chains_are_not_followed() {
        let gif = tiny_frames(10, 10, 3);
        assert_eq!(layout(&gif[..20], 2), None);
        assert_eq!(layout(b"GIF89a", 2), None);
        assert_eq!(layout(b"\x89PNG\r\n\x1a\n and more bytes", 2), None);
    }
}
