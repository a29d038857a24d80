//! MP4/QuickTime (ISO base media): the box tree is walked once and refused when a box runs past its parent, has an
//! impossible size (under 8 bytes, or 0 anywhere but the last top-level box), nests deeper than any real file, or a
//! sample table declares more entries than its box holds. The demuxers read only files that pass, so a declared
//! count can never become an allocation larger than the file.

/// Deepest nesting of boxes accepted (real files stay under 10).
const MAX_DEPTH: usize = 16;
/// Most boxes accepted in one file (a real file has a few hundred; a fragmented one a few per second of media).
const MAX_BOXES: usize = 100_000;

/// Boxes that hold only other boxes.
const CONTAINERS: [&[u8; 4]; 13] =
    [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"mvex", b"moof", b"traf", b"mfra", b"udta", b"wave"];

/// How the boxes at one level are read.
#[derive(Clone, Copy, PartialEq)]
enum Level {
    /// Boxes of any kind, each read by its type.
    Boxes,
    /// The items of an `ilst` (metadata list): each holds boxes of its own.
    MetadataItems,
}

/// Bytes of fixed fields before the child boxes of a sample entry inside `stsd`, by entry type.
fn sample_entry_fields(kind: &[u8; 4]) -> Option<usize> {
    match kind {
        b"avc1" | b"avc3" | b"hvc1" | b"hev1" | b"mp4v" | b"av01" | b"vp09" => Some(78),
        b"mp4a" | b"alac" | b"fLaC" | b"Opus" | b"ac-3" | b"ec-3" => Some(28),
        _ => None,
    }
}

/// What a walk has seen so far.
#[derive(Default)]
struct Seen {
    boxes: usize,
    /// The type of every sample entry (one per track, normally): `avc1`, `hvc1`, `mp4a`, ...
    entries: Vec<[u8; 4]>,
}

/// Checks the box structure of `bytes` and returns the types of its sample entries (what codec each track holds);
/// the error says what is wrong and where.
pub fn check(bytes: &[u8]) -> Result<Vec<[u8; 4]>, String> {
    let mut seen = Seen::default();
    walk(bytes, 0, &mut seen, "file", Level::Boxes)?;
    Ok(seen.entries)
}

/// The name of the codec a sample entry type stands for, for messages.
pub fn codec_name(entry: &[u8; 4]) -> String {
    match entry {
        b"avc1" | b"avc3" => "H.264 video".into(),
        b"hvc1" | b"hev1" => "HEVC (H.265) video".into(),
        b"av01" => "AV1 video".into(),
        b"vp09" => "VP9 video".into(),
        b"mp4v" => "MPEG-4 Part 2 video".into(),
        b"mp4a" => "AAC audio".into(),
        b"alac" => "ALAC audio".into(),
        b"fLaC" => "FLAC audio".into(),
        b"Opus" => "Opus audio".into(),
        b"ac-3" => "AC-3 audio".into(),
        b"ec-3" => "E-AC-3 audio".into(),
        other => format!("{:?}", String::from_utf8_lossy(other)),
    }
}

fn walk(data: &[u8], depth: usize, seen: &mut Seen, parent: &str, level: Level) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("boxes nest more than {MAX_DEPTH} deep"));
    }
    let top = depth == 0;
    let mut rest = data;
    while !rest.is_empty() {
        seen.boxes += 1;
        if seen.boxes > MAX_BOXES {
            return Err(format!("holds more than {MAX_BOXES} boxes"));
        }
        if rest.len() < 8 {
            return Err(format!("a box header in {parent} is cut short"));
        }
        let kind: [u8; 4] = rest[4..8].try_into().unwrap_or_default();
        let name = String::from_utf8_lossy(&kind).escape_debug().to_string();
        let declared = u32::from_be_bytes(rest[..4].try_into().unwrap_or_default());
        let (size, header) = match declared {
            0 if top => (rest.len() as u64, 8),
            0 => return Err(format!("box {name:?} in {parent} declares size 0")),
            1 => {
                let large = rest.get(8..16).ok_or_else(|| format!("box {name:?} in {parent} is cut short"))?;
                (u64::from_be_bytes(large.try_into().unwrap_or_default()), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header as u64 {
            return Err(format!("box {name:?} in {parent} declares {size} bytes, less than its header"));
        }
        let size = match usize::try_from(size).ok().filter(|&s| s <= rest.len()) {
            Some(size) => size,
            // The last top-level box may be cut short (a truncated download); the demuxer reports what it misses.
            None if top => rest.len(),
            None => return Err(format!("box {name:?} declares {size} bytes but {parent} has {} left", rest.len())),
        };
        let body = &rest[header..size];
        let inside = |offset: usize| body.get(offset..).ok_or_else(|| format!("box {name:?} is cut short"));
        match &kind {
            _ if level == Level::MetadataItems || CONTAINERS.contains(&&kind) => walk(body, depth + 1, seen, &name, Level::Boxes)?,
            b"ilst" => walk(body, depth + 1, seen, &name, Level::MetadataItems)?,
            // A full box (version and flags) of boxes, except in QuickTime files, where `hdlr` follows at once.
            b"meta" => walk(inside(if body.get(4..8) == Some(b"hdlr") { 0 } else { 4 })?, depth + 1, seen, &name, Level::Boxes)?,
            // Version and flags, an entry count, then one box per data reference.
            b"dref" => walk(inside(8)?, depth + 1, seen, &name, Level::Boxes)?,
            b"stsd" => walk_entries(inside(8)?, depth + 1, seen)?,
            _ => check_table(&kind, body).map_err(|e| format!("box {name:?}: {e}"))?,
        }
        rest = &rest[size..];
    }
    Ok(())
}

/// The sample entries of `stsd` (after its version, flags and entry count): boxes whose children follow fixed fields.
fn walk_entries(mut rest: &[u8], depth: usize, seen: &mut Seen) -> Result<(), String> {
    while rest.len() >= 8 {
        let size = u32::from_be_bytes(rest[..4].try_into().unwrap_or_default()) as usize;
        if size < 8 || size > rest.len() {
            return Err(format!("a sample entry in \"stsd\" declares {size} bytes but {} are left", rest.len()));
        }
        let kind: [u8; 4] = rest[4..8].try_into().unwrap_or_default();
        seen.entries.push(kind);
        if let Some(fields) = sample_entry_fields(&kind) {
            // QuickTime sound descriptions version 1 and 2 carry 16 and 36 more bytes of fields.
            let extra = match (&kind, rest.get(16..18)) {
                (b"mp4a" | b"alac", Some([0, 1])) => 16,
                (b"mp4a" | b"alac", Some([0, 2])) => 36,
                _ => 0,
            };
            if let Some(children) = rest.get(8 + fields + extra..size) {
                let name = String::from_utf8_lossy(&kind).to_string();
                walk(children, depth + 1, seen, &name, Level::Boxes)?;
            }
        }
        rest = &rest[size..];
    }
    Ok(())
}

/// Sample and edit tables: the entries their count declares must fit in the box.
fn check_table(kind: &[u8; 4], body: &[u8]) -> Result<(), String> {
    let u32_at = |offset: usize| body.get(offset..offset + 4).map(|b| u64::from(u32::from_be_bytes(b.try_into().unwrap_or_default())));
    let version = body.first().copied().unwrap_or(0);
    let flags = u32_at(0).unwrap_or(0) & 0x00FF_FFFF;
    // (offset of the count, bytes before the entries, bytes per entry)
    let layout = match kind {
        b"stts" | b"ctts" | b"co64" => (4, 8, 8),
        b"stsc" => (4, 8, 12),
        b"stco" | b"stss" | b"stps" => (4, 8, 4),
        b"elst" => (4, 8, if version == 1 { 20 } else { 12 }),
        b"stsz" if u32_at(4) == Some(0) => (8, 12, 4),
        b"stsz" => return Ok(()),
        b"trun" => {
            let optional = [0x100, 0x200, 0x400, 0x800].iter().filter(|&&bit| flags & bit != 0).count() as u64 * 4;
            let before = 8 + if flags & 0x1 != 0 { 4 } else { 0 } + if flags & 0x4 != 0 { 4 } else { 0 };
            (4, before, optional)
        }
        _ => return Ok(()),
    };
    let (count_at, before, entry) = layout;
    let count = u32_at(count_at).ok_or("its entry count is cut short")?;
    let room = (body.len() as u64).saturating_sub(before);
    if count.saturating_mul(entry) > room {
        return Err(format!("declares {count} entries of {entry} bytes in {room} bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../../tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn real_files_pass_and_name_their_tracks() {
        for (name, entries) in [("video/faces.mp4", vec![*b"avc1"]), ("video/mpeg4-part2.mp4", vec![*b"mp4v"]), ("audio/tone.m4a", vec![*b"mp4a"]), ("audio/alac.m4a", vec![*b"alac"])] {
            assert_eq!(check(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}")), entries, "{name}");
        }
        assert_eq!(codec_name(b"hvc1"), "HEVC (H.265) video");
    }

    #[test]
    fn counts_beyond_the_box_are_refused() {
        let stsc = boxed(b"stsc", &[0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 1]);
        let file = boxed(b"moov", &boxed(b"trak", &boxed(b"mdia", &boxed(b"minf", &boxed(b"stbl", &stsc)))));
        let error = check(&file).unwrap_err();
        assert!(error.contains("stsc") && error.contains("4294967295 entries"), "{error}");
        let fits = boxed(b"stco", &[0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
        assert!(check(&boxed(b"moov", &boxed(b"trak", &boxed(b"mdia", &boxed(b"minf", &boxed(b"stbl", &fits)))))).is_ok());
    }

    #[test]
    fn impossible_sizes_are_refused() {
        let zero_inside = boxed(b"moov", &boxed(b"trak", b"\0\0\0\0zzzz"));
        assert!(check(&zero_inside).unwrap_err().contains("size 0"));
        for meta in [boxed(b"meta", &[&[0u8; 4][..], b"\0\0\0\0zzzz"].concat()), boxed(b"meta", &[&boxed(b"hdlr", &[0; 24])[..], b"\0\0\0\0zzzz"].concat())] {
            let zero_in_meta = boxed(b"moov", &boxed(b"udta", &meta));
            assert!(check(&zero_in_meta).unwrap_err().contains("size 0"), "metadata boxes are walked too");
        }
        let zero_in_item = boxed(b"moov", &boxed(b"udta", &boxed(b"meta", &[&[0u8; 4][..], &boxed(b"ilst", &boxed(b"\xa9nam", b"\0\0\0\0data"))].concat())));
        assert!(check(&zero_in_item).unwrap_err().contains("size 0"), "and the items of a metadata list");
        let overrun = boxed(b"moov", &[0, 0, 0, 200, b'f', b'r', b'e', b'e']);
        assert!(check(&overrun).unwrap_err().contains("200 bytes"));
        let tiny = boxed(b"moov", &[0, 0, 0, 4, b'f', b'r', b'e', b'e']);
        assert!(check(&tiny).unwrap_err().contains("less than its header"));
        let mut deep = boxed(b"free", b"");
        for _ in 0..40 {
            deep = boxed(b"moov", &deep);
        }
        assert!(check(&deep).unwrap_err().contains("nest"));
        let mut last_to_the_end = boxed(b"ftyp", b"isom\0\0\0\0");
        last_to_the_end.extend_from_slice(b"\0\0\0\0mdat some media");
        assert!(check(&last_to_the_end).is_ok(), "size 0 at the top level runs to the end of the file");
    }
}
