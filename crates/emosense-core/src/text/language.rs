//! The language a text is written in, by whatlang's trigram detector (pure Rust, 70 languages, no model files).

use serde::Serialize;
use whatlang::{Lang, Script};

/// What the detector read: `metadata.language` of text answers.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DetectedLanguage {
    /// ISO 639-3 code (`eng`, `deu`, `cmn`, ...).
    pub code: &'static str,
    /// English name of the language.
    pub name: &'static str,
    /// Writing system (`Latin`, `Mandarin`, `Cyrillic`, ...).
    pub script: String,
    /// The detector's confidence, 0 to 1.
    pub confidence: f64,
    /// Whether the detector deems the answer reliable (long enough text, clear winner).
    pub reliable: bool,
    #[serde(skip)]
    #[schemars(skip)]
    lang: Lang,
}

impl DetectedLanguage {
    /// Whether the text is in none of `languages`.
    pub fn is_none_of(&self, languages: &[Lang]) -> bool {
        !languages.contains(&self.lang)
    }
}

/// Least detector confidence at which a Latin-script text's language is told. On subtitle lines (XED) and Reddit
/// comments (GoEmotions) 0.1-0.2 % of English lines were told as another language at 0.5 (3-6 % at 0.2), while
/// 15-51 % of the German, Spanish, French, Italian, Dutch, Portuguese and Finnish lines were told, 94-100 % right.
pub const MIN_LATIN_CONFIDENCE: f64 = 0.5;

/// Detects the language of `text`; `None` when the detector cannot tell: too little text (emojis, digits, a few
/// words), or Latin letters below [`MIN_LATIN_CONFIDENCE`] (short Latin-script texts are easily mistaken for another
/// Latin-script language; other scripts say enough on their own).
pub fn detect(text: &str) -> Option<DetectedLanguage> {
    let info = whatlang::detect(text)?;
    if info.script() == Script::Latin && info.confidence() < MIN_LATIN_CONFIDENCE {
        return None;
    }
    Some(DetectedLanguage {
        code: info.lang().code(),
        name: info.lang().eng_name(),
        script: info.script().name().to_owned(),
        confidence: (info.confidence() * 1000.0).round() / 1000.0,
        reliable: info.is_reliable(),
        lang: info.lang(),
    })
}

#[cfg(test)]
mod tests {
    use super::detect;
    use whatlang::Lang;

    #[test]
    fn reads_the_language_of_ordinary_sentences() {
        let cases = [
            ("I can't believe they cancelled my flight again, this is the worst week ever.", "eng"),
            ("My biopsy results come back tomorrow and I can't sleep at all.", "eng"),
            ("Ich kann nicht glauben, dass sie meinen Flug schon wieder gestrichen haben.", "deu"),
            ("Das ist der schönste Tag meines Lebens, ich bin so glücklich.", "deu"),
            ("Estoy muy enfadado porque la compañía aérea ha cancelado mi vuelo otra vez y nadie me explica nada.", "spa"),
            ("Je n'arrive pas à croire qu'ils aient encore annulé mon vol.", "fra"),
            ("J'ai tellement peur de rentrer seule à la maison ce soir.", "fra"),
            ("我非常生气，他们又取消了我的航班。", "cmn"),
            ("Я очень рад видеть тебя снова, мой друг.", "rus"),
        ];
        for (text, code) in cases {
            let found = detect(text).unwrap_or_else(|| panic!("nothing detected in {text:?}"));
            assert_eq!(found.code, code, "{text:?}: {found:?}");
        }
    }

    #[test]
    fn other_scripts_are_told_even_when_short() {
        let chinese = detect("我非常生气").expect("detected");
        assert!(chinese.is_none_of(&[Lang::Eng]), "{chinese:?}");
        let english = detect("I am very angry with all of you right now, this is the last time I ask.").expect("detected");
        assert!(english.code == "eng" && !english.is_none_of(&[Lang::Eng]), "{english:?}");
    }

    #[test]
    fn too_little_text_is_not_guessed() {
        assert_eq!(detect("😡😡😡 123"), None);
        assert_eq!(detect("lol ok"), None);
    }
}
