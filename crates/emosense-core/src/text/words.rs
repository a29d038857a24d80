//! The word tokenizer of the secondary and fallback tiers: lower-case, then runs of `[a-z0-9']`.
//! `tools/text/common.py` applies the same rule when it builds their models.

/// Lower-cased words of `text`.
pub fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::words;

    #[test]
    fn splits_like_the_training_regex() {
        assert_eq!(words("I DON'T like it!! 2nd-time… café"), ["i", "don't", "like", "it", "2nd", "time", "caf"]);
        assert!(words("  ...  ").is_empty());
    }
}
