//! Sentence splitting and packing of token spans into model-sized chunks.

use std::ops::Range;

/// Byte ranges of the sentences of `text`, trimmed, in order. A sentence ends after `.`, `!`, `?` or `…` (with any
/// closing quotes or brackets) followed by whitespace, or at a line break. Text without any such break is one sentence.
pub fn sentences(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = if c == '\n' {
            Some(i)
        } else if matches!(c, '.' | '!' | '?' | '…') {
            let mut end = i + c.len_utf8();
            while let Some(&(j, next)) = chars.peek() {
                if matches!(next, '.' | '!' | '?' | '…' | '"' | '\'' | ')' | ']' | '”' | '’') {
                    end = j + next.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            chars.peek().filter(|(_, next)| next.is_whitespace()).map(|_| end)
        } else {
            None
        };
        if let Some(end) = end {
            push_trimmed(text, start..end, &mut out);
            start = end;
        }
    }
    push_trimmed(text, start..text.len(), &mut out);
    out
}

fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let piece = &text[range.clone()];
    let lead = piece.len() - piece.trim_start().len();
    let trimmed = piece.trim();
    if !trimmed.is_empty() {
        let start = range.start + lead;
        out.push(start..start + trimmed.len());
    }
}

/// Packs consecutive spans (sentences, as token ranges) into chunks of at most `max` tokens; a span longer than
/// `max` is cut into pieces of `max`. Chunks cover every token of every span, in order.
pub fn pack(spans: &[Range<usize>], max: usize) -> Vec<Range<usize>> {
    let mut chunks: Vec<Range<usize>> = Vec::new();
    for span in spans.iter().filter(|s| !s.is_empty()) {
        if let Some(last) = chunks.last_mut() {
            if span.end - last.start <= max {
                last.end = span.end;
                continue;
            }
        }
        let mut start = span.start;
        while start < span.end {
            let end = (start + max).min(span.end);
            chunks.push(start..end);
            start = end;
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts<'a>(text: &'a str, ranges: &[Range<usize>]) -> Vec<&'a str> {
        ranges.iter().map(|r| &text[r.clone()]).collect()
    }

    #[test]
    fn splits_sentences() {
        let t = "I love it! Really?? \"Yes.\" Version 2.5 is out\nnext line… end";
        assert_eq!(texts(t, &sentences(t)), ["I love it!", "Really??", "\"Yes.\"", "Version 2.5 is out", "next line…", "end"]);
        assert_eq!(texts("no break here", &sentences("no break here")), ["no break here"]);
        assert!(sentences("   \n  ").is_empty());
    }

    #[test]
    fn packs_and_cuts() {
        assert_eq!(pack(&[0..3, 3..5, 5..12, 12..13], 5), vec![0..5, 5..10, 10..13]);
        assert_eq!(pack(&[0..2, 2..4], 8), vec![0..4]);
        assert!(pack(&[], 8).is_empty());
    }
}
