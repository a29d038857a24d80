//! Emojis read as words: each emoji becomes its CLDR short name between spaces ("😭" → " loudly crying face "), so
//! every tier reads them with the words it knows. The table is `models-quantized/text/emoji.tsv`, written by
//! `tools/text/emoji_table.py`; `tools/text/common.py` (`EmojiNames`) applies the same rule to training text.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The emoji table, compiled into the binary.
const EMOJI_TSV: &str = include_str!("../../../../models-quantized/text/emoji.tsv");

/// Code points dropped before matching: variation selectors and skin-tone modifiers (a toned or text-style emoji
/// reads as its base form).
fn ignored(c: char) -> bool {
    matches!(c, '\u{FE0E}' | '\u{FE0F}' | '\u{1F3FB}'..='\u{1F3FF}')
}

struct EmojiNames {
    names: HashMap<&'static str, &'static str>,
    /// Code points of the longest emoji.
    longest: usize,
}

fn table() -> &'static EmojiNames {
    static TABLE: OnceLock<EmojiNames> = OnceLock::new();
    TABLE.get_or_init(|| {
        let names: HashMap<&str, &str> = EMOJI_TSV.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split_once('\t')).collect();
        let longest = names.keys().map(|k| k.chars().count()).max().unwrap_or(1);
        EmojiNames { names, longest }
    })
}

/// `text` with every emoji replaced by its name; borrowed unchanged when it holds no character outside ASCII (no
/// emoji of the table is ASCII).
pub fn with_names(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let table = table();
    let chars: Vec<char> = text.chars().filter(|c| !ignored(*c)).collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut candidate = String::new();
    let mut i = 0;
    'chars: while i < chars.len() {
        if !chars[i].is_ascii() {
            for n in (1..=table.longest.min(chars.len() - i)).rev() {
                candidate.clear();
                candidate.extend(&chars[i..i + n]);
                if let Some(name) = table.names.get(candidate.as_str()) {
                    out.push(' ');
                    out.push_str(name);
                    out.push(' ');
                    i += n;
                    continue 'chars;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::with_names;

    #[test]
    fn emojis_become_their_names() {
        assert_eq!(with_names("ok 😡😡😡"), "ok  enraged face  enraged face  enraged face ");
        assert_eq!(with_names("😭"), " loudly crying face ");
        assert_eq!(with_names("🙂"), " slightly smiling face ");
    }

    #[test]
    fn tones_selectors_and_sequences_read_as_one_emoji() {
        assert_eq!(with_names("👍🏽"), " thumbs up ");
        assert_eq!(with_names("❤️"), with_names("❤"));
        assert_eq!(with_names("👨‍👩‍👧"), " family man woman girl ");
    }

    #[test]
    fn text_without_emojis_is_unchanged() {
        assert!(matches!(with_names("plain text #1"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(with_names("café naïve 我非常生气"), "café naïve 我非常生气");
    }
}
